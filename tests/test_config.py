"""The run configuration: the example parses, and every mistake is one line naming file and key."""

import datetime as dt
import io
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.config import Config, ConfigError, Period, PeriodError, load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "analyzer.example.toml"


def test_example_config_parses():
    config = load_config(EXAMPLE)
    assert config.inputs == (str(ROOT / "sample_exports"),)
    assert config.formats == ("html", "xlsx")
    assert config.practice.startswith("Example & Co")
    assert config.client_aliases["harbour view dental limited"] == "Harbour View Dental Ltd"
    today = dt.date(2026, 11, 3)
    period = config.period_for(today)
    assert period == Period("October 2026", "2026-10")
    assert config.output_dir(period, today) == ROOT / "reports" / "2026-10"
    assert config.history_path() == ROOT / "reports" / "history.sqlite"


@pytest.mark.parametrize(
    "text, where",
    [
        ("inputz = []", "inputz: unknown key"),
        ("inputs = 'x.csv'", "inputs: must be a list, not str"),
        ("formats = ['pdf']", "formats: use"),
        ("date_order = 'sideways'", "date_order: must be"),
        ("[columns]\ncolour = 'Red'", "columns.colour: unknown role"),
        ("[columns]\nerror = ''", "columns.error: must be the column's header text"),
        ("[limits]\nmax_rows = -1", "limits.max_rows: must be a number from 1 to"),
        ("[limits]\nmax_bytes = 1", "limits.max_bytes: unknown limit"),
        ("[clients]\nAcme = 'ACME'", "clients.Acme: must be a list"),
        ("[clients]\nAcme = { aliases = ['A'], colour = 'red' }", "clients.Acme.colour: unknown key"),
        ("[clients]\nAcme = { currency = 'pounds' }", "clients.Acme.currency: must be a three-letter currency code"),
        ("currency = 'GB'", "currency: must be a three-letter currency code"),
        ("currency = 5", "currency: must be text"),
        ("[limits]\nmax_file_mb = inf", "limits.max_file_mb: must be a number from 1 to"),
        ("[limits]\nmax_file_mb = nan", "limits.max_file_mb: must be a number from 1 to"),
        ("[limits]\nmax_cells = 1e308", "limits.max_cells: must be a number from 1 to"),
        ("[limits]\nmax_rows = 0.5", "limits.max_rows: must be a number from 1 to"),
        ("[limits]\nmax_rows = 2.5", "limits.max_rows: must be a whole number"),
        ("lock_timeout = nan", "lock_timeout: must be a number of seconds"),
        ("lock_timeout = inf", "lock_timeout: must be a number of seconds"),
        ("[branding]\ntemplates = 5", "branding.templates: must be text, not int"),
        ("[columns]\nnonsense = 'X'", "columns.nonsense: unknown role"),
        ("[columns]\nerror = 5", "columns.error: must be the column's header text"),
        ("fail_on_unclassified = 'yes'", "fail_on_unclassified: must be true or false"),
        ("lock_timeout = true", "lock_timeout: must be a number"),
        ("inputs = [", "not valid TOML"),
        ("templates = 'no-such-folder'", "templates: no such folder"),
        ("output = 'reports/{Period}'", "output: {Period} is no placeholder; use {period}"),  # else one literal folder
        ("output = 'reports/{month}'", "output: {month} is no placeholder"),
        ("output = ''", "output: is empty"),  # else the config's own folder
        ("output = 'out/{period'", "output: 'out/{period' has {period} or {date} without one of its braces"),
        ("log_file = 'logs/run-{perod}.log'", "log_file: {perod} is no placeholder"),  # else one log for every month
        ("inputs = ['inbox/{month}']", "inputs: {month} is no placeholder"),
        ("database = 'db/{period}.sqlite'", "database: holds {period} or {date}; the history is one database"),
    ],
)
def test_broken_config_is_one_line_and_exit_2(tmp_path, text, where):
    path = tmp_path / "analyzer.toml"
    path.write_text(text + "\n", encoding="utf-8")
    err = io.StringIO()
    code = main(["run", "--config", str(path)], stdout=io.StringIO(), stderr=err)
    assert code == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1, lines
    assert str(path) in lines[0] and where in lines[0]


def test_clients_list_the_roster_with_aliases_and_currencies(tmp_path):
    path = tmp_path / "analyzer.toml"
    path.write_text('currency = "gbp"\n[clients]\n"Acme Ltd" = ["ACME"]\n'
                    '"Kea Ltd" = { aliases = ["KEA COFFEE"], currency = "nzd" }\n"Bolt Ltd" = {}\n', encoding="utf-8")
    config = load_config(path)
    assert config.clients == ("Acme Ltd", "Kea Ltd", "Bolt Ltd")
    assert config.client_aliases == {"acme": "Acme Ltd", "kea coffee": "Kea Ltd"}
    assert config.client_currencies == {"": "GBP", "kea ltd": "NZD"}


def test_a_log_file_that_is_a_folder(tmp_path):
    (tmp_path / "logs").mkdir()
    path = tmp_path / "analyzer.toml"
    path.write_text('inputs = ["x"]\nlog_file = "logs"\n', encoding="utf-8")
    err = io.StringIO()
    assert main(["run", "--config", str(path)], stdout=io.StringIO(), stderr=err) == 2
    assert "log_file: 'logs' is a folder" in err.getvalue() and len(err.getvalue().splitlines()) == 1


def test_missing_config_file(tmp_path):
    err = io.StringIO()
    assert main(["run", "--config", str(tmp_path / "nope.toml")], stderr=err) == 2
    assert "no such config file" in err.getvalue()


def test_no_config_in_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = io.StringIO()
    assert main(["run"], stderr=err) == 2
    assert "no analyzer.toml" in err.getvalue()


@pytest.mark.parametrize(
    "text",
    ["2026-10", "Oct 2026", "October 2026", "10/2026", "2026/10", "oct-2026", "OCTOBER 2026", "  october   2026 ",
     "Oct. 2026", "October, 2026", "10-2026", "2026-10\n"],
)
def test_period_forms_of_one_month(text):
    assert Period.parse(text) == Period("October 2026", "2026-10")


@pytest.mark.parametrize(
    "text, label, slug, start, end",
    [
        ("2026-1", "January 2026", "2026-01", dt.date(2026, 1, 1), dt.date(2026, 1, 31)),
        ("feb 2024", "February 2024", "2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),  # leap year
        ("Feb 2026", "February 2026", "2026-02", dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        ("sept 2026", "September 2026", "2026-09", dt.date(2026, 9, 1), dt.date(2026, 9, 30)),
        ("12/2026", "December 2026", "2026-12", dt.date(2026, 12, 1), dt.date(2026, 12, 31)),
    ],
)
def test_period_label_slug_and_dates(text, label, slug, start, end):
    period = Period.parse(text)
    assert (period.label, period.slug, period.start, period.end) == (label, slug, start, end)


def test_period_slugs_sort_by_date():
    texts = ["Nov 2026", "2025-12", "February 2026", "10/2026", "2026/1"]
    slugs = sorted(Period.parse(t).slug for t in texts)
    assert [Period.parse(s).label for s in slugs] == [
        "December 2025", "January 2026", "February 2026", "October 2026", "November 2026"]


@pytest.mark.parametrize(
    "text",
    ["sometime", "", "   ", "Q3 2026", "2026", "October", "13/2026", "2026-00", "2026-13", "Octember 2026",
     "2026-10-15", "0/2026", "0000-10", "Oct 26"],
)
def test_text_that_is_not_a_month_is_an_error(text):
    with pytest.raises(PeriodError) as raised:
        Period.parse(text)
    assert isinstance(raised.value, ValueError)
    assert "2026-10" in str(raised.value) and "October 2026" in str(raised.value)


@pytest.mark.parametrize("period", ["sometime", "Q3 2026", "2026-13", "0001-01", "9999-12"])
def test_config_period_that_is_not_a_month(tmp_path, period):
    path = tmp_path / "analyzer.toml"
    path.write_text(f'inputs = ["x.csv"]\nperiod = "{period}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="period"):
        load_config(path)
    err = io.StringIO()
    assert main(["run", "--config", str(path)], stdout=io.StringIO(), stderr=err) == 2
    (line,) = err.getvalue().strip().splitlines()
    assert str(path) in line and ": period: " in line and period in line and "2026-10" in line


@pytest.mark.parametrize("period, expected", [("", "October 2026"), ("  ", "October 2026"), ("2026-03", "March 2026")])
def test_config_period_blank_means_previous_month(tmp_path, period, expected):
    path = tmp_path / "analyzer.toml"
    path.write_text(f'inputs = ["x.csv"]\nperiod = "{period}"\n', encoding="utf-8")
    assert load_config(path).period_for(dt.date(2026, 11, 3)).label == expected


@pytest.mark.parametrize("period", ["sometime", "Q3 2026", "31/10/2026"])
def test_report_period_that_is_not_a_month_is_a_usage_error(tmp_path, period):
    err = io.StringIO()
    code = main(["report", str(ROOT / "sample_exports"), "--out", str(tmp_path / "out"), "--period", period],
                stdout=io.StringIO(), stderr=err)
    assert code == 2
    (line,) = err.getvalue().strip().splitlines()
    assert "--period" in line and period in line and "2026-10" in line and "October 2026" in line
    assert not (tmp_path / "out").exists()


def test_previous_month_crosses_the_year():
    assert Period.previous_month(dt.date(2027, 1, 4)) == Period("December 2026", "2026-12")


def test_output_placeholders():
    config = Config(output="/r/{period}/{date}")
    assert config.output_dir(Period("October 2026", "2026-10"), dt.date(2026, 11, 3)) == Path("/r/2026-10/2026-11-03")


@pytest.mark.parametrize("path", ["D:/Shares/{3F2504E0-4F89-11D3-9A0C-0305E82C3301}/exports", "Client {NZ}.csv"])
def test_braces_that_are_a_paths_own_are_not_placeholders(tmp_path, path):
    config = tmp_path / "analyzer.toml"
    config.write_text(f'inputs = ["{path}"]\nlog_file = "logs/{path.split("/")[-1]}.log"\n', encoding="utf-8")
    assert load_config(config).inputs[0].endswith(path.split("/")[-1])


def test_inputs_take_the_months_own_folder(tmp_path):
    for month in ("2026-09", "2026-10"):
        (tmp_path / "inbox" / month).mkdir(parents=True)
        (tmp_path / "inbox" / month / "Acme Ltd.csv").write_text(
            f"Item ID,Date,Total,Error\n{month[-2:]},01/{month[-2:]}/2026,5.00,Invoice # must be unique.\n", encoding="utf-8")
    path = tmp_path / "analyzer.toml"
    path.write_text('inputs = ["inbox/{period}"]\noutput = "reports/{period}"\nperiod = "October 2026"\n', encoding="utf-8")
    config = load_config(path)
    assert config.input_paths(Period("October 2026", "2026-10"), dt.date(2026, 11, 3)) == [str(tmp_path / "inbox" / "2026-10")]
    err = io.StringIO()
    assert main(["run", "--config", str(path)], stdout=io.StringIO(), stderr=err) == 0, err.getvalue()
    items = [line for line in err.getvalue().splitlines() if "data row(s)" in line or "row(s) read" in line]
    assert items and "1 row(s) read" in items[0]


def test_a_log_file_under_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    path = tmp_path / "analyzer.toml"
    path.write_text(f'inputs = ["x"]\nlog_file = "{(tmp_path / "afile" / "run.log").as_posix()}"\n', encoding="utf-8")
    err = io.StringIO()
    assert main(["run", "--config", str(path)], stdout=io.StringIO(), stderr=err) == 2
    assert "log_file: cannot write the log here" in err.getvalue() and len(err.getvalue().splitlines()) == 1


def test_a_path_from_the_home_folder_is_read_as_a_shell_would(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "analyzer.toml"
    path.write_text('inputs = ["~/exports"]\noutput = "~/reports/{period}"\n', encoding="utf-8")
    config = load_config(path)
    assert config.inputs == (str(tmp_path / "home" / "exports"),)
    assert config.output == str(tmp_path / "home" / "reports" / "{period}")
