"""The run configuration: the example parses, and every mistake is one line naming file and key."""

import datetime as dt
import io
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.config import Config, Period, load_config

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
        ("[limits]\nmax_rows = -1", "limits.max_rows: must be a positive number"),
        ("[limits]\nmax_bytes = 1", "limits.max_bytes: unknown limit"),
        ("[clients]\nAcme = 'ACME'", "clients.Acme: must be a list"),
        ("fail_on_unclassified = 'yes'", "fail_on_unclassified: must be true or false"),
        ("lock_timeout = true", "lock_timeout: must be a number"),
        ("inputs = [", "not valid TOML"),
        ("templates = 'no-such-folder'", "templates: no such folder"),
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
    "text, label, slug",
    [("October 2026", "October 2026", "2026-10"), ("2026-10", "October 2026", "2026-10"),
     ("Oct 2026", "October 2026", "2026-10"), ("Q3 2026", "Q3 2026", "q3-2026")],
)
def test_period(text, label, slug):
    assert Period.parse(text) == Period(label, slug)


def test_previous_month_crosses_the_year():
    assert Period.previous_month(dt.date(2027, 1, 4)) == Period("December 2026", "2026-12")


def test_output_placeholders():
    config = Config(output="/r/{period}/{date}")
    assert config.output_dir(Period("October 2026", "2026-10"), dt.date(2026, 11, 3)) == Path("/r/2026-10/2026-11-03")
