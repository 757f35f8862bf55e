"""The command line, run in process: exit codes, one-line errors, outputs."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analyzer.cli import build_parser, main
from workbooks import workbook

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_exports"


def run(*argv, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, stdin=stdin)
    return code, out.getvalue(), err.getvalue()


def _commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "usage:" in text and len(text.splitlines()) > 3
    for action in build_parser()._subparsers._group_actions[0].choices[command]._actions:
        assert action.help, f"{command}: option {action.option_strings or action.dest} has no help"


def test_classify_writes_every_row_once_in_input_order(tmp_path):
    target = tmp_path / "out.csv"
    code, _, err = run("classify", str(SAMPLES), "-o", str(target))
    assert code == 0, err
    table = pd.read_csv(target, dtype=str, keep_default_na=False)
    keys = list(zip(table["source_file"], table["sheet"], table["source_row"]))
    assert len(keys) == len(set(keys)) == 205
    for column in ("source_file", "sheet", "source_row", "client", "error", "categories", "fixes", "template",
                   "account_code", "tax_type", "lock_date"):
        assert column in table.columns
    files = list(dict.fromkeys(table["source_file"]))
    assert files == sorted(files)  # a folder is read in name order
    assert "205 data row(s) from 6 file(s); skipped 2 (1 blank row, 1 totals row)" in err


def test_classify_jsonl_and_stdout(tmp_path):
    target = tmp_path / "out.jsonl"
    code, _, _ = run("classify", str(SAMPLES / "Summit Physio LLC - publishing errors Oct 2026.csv"), "-o", str(target))
    assert code == 0
    records = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 15 and {"categories", "client", "source_row"} <= set(records[0])
    code, out, _ = run("classify", str(SAMPLES / "Summit Physio LLC - publishing errors Oct 2026.csv"))
    assert code == 0 and len(pd.read_csv(io.StringIO(out))) == 15


def test_unreadable_input_exit_1_others_still_processed(tmp_path):
    bad = tmp_path / "old.xls"
    bad.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    good = tmp_path / "Acme Ltd.csv"
    good.write_text("Item ID,Error\n1,Invoice # must be unique.\n", encoding="utf-8")
    code, out, err = run("classify", str(bad), str(good), str(tmp_path / "missing.csv"))
    assert code == 1
    assert len(pd.read_csv(io.StringIO(out))) == 1
    lines = [line for line in err.splitlines() if line.startswith("publish-failures: ") and "old.xls" in line]
    assert len(lines) == 1 and "save it as .xlsx or .csv" in lines[0]
    assert "missing.csv: no such file or folder" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["classify"], "the following arguments are required"),
        (["nope"], "invalid choice"),
        (["classify", "x.csv", "--column", "error"], 'write it as ROLE="Header name"'),
        (["classify", "x.csv", "--column", "colour=Red"], "unknown role"),
        (["report", "x.csv", "--format", "pdf"], "--format 'pdf'"),
        (["classify", "x.csv", "--dayfirst", "--monthfirst"], "not allowed with"),
        (["classify", "x.csv", "--max-rows", "-5"], "--max-rows: -5 is not above 0"),
        (["classify", "x.csv", "--max-rows", "0"], "--max-rows: 0 is not above 0"),
        (["report", "x.csv", "--max-cells", "lots"], "'lots' is not a whole number"),
        (["report", "x.csv", "--max-file-mb", "-1"], "--max-file-mb: -1 is not a size above 0"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv, message):
    code, _, err = run(*argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert err.startswith("publish-failures")  # every line names the tool


def test_explain_text_and_json():
    code, out, _ = run("explain", "Error: The TaxType code 'INPUT2' cannot be used with account code '310'.")
    assert code == 0
    assert "tax_type_invalid_for_account" in out and "INPUT2" in out and "1. " in out
    code, out, _ = run("explain", "--json", "Account code '455' has been archived, or has been deleted.")
    (item,) = json.loads(out)
    assert item["category"] == "account_archived" and item["values"] == {"account_code": "455"}


def test_explain_unknown_message():
    code, out, _ = run("explain", "Something odd happened to item 12345")
    assert code == 0 and "unclassified" in out and "<NUM>" in out


ARCHIVED = "Account code '455' has been archived, or has been deleted."
UNIQUE = "Invoice # must be unique."


@pytest.mark.parametrize(
    "argv, stdin, message",
    [
        (["explain", ""], None, "the message is empty"),
        (["explain", "  \t "], None, "the message is empty"),
        (["explain", "\n\n"], None, "the message is empty"),
        (["explain", "--json", ""], None, "the message is empty"),
        (["explain", "-"], "", "standard input was empty"),
        (["explain", "-"], " \r\n\t\n", "standard input was empty"),
        (["explain", "--json", "-"], "", "standard input was empty"),
    ],
)
def test_explain_empty_message_is_a_usage_error(argv, stdin, message):
    code, out, err = run(*argv, stdin=None if stdin is None else io.StringIO(stdin))
    assert (code, out) == (2, "")
    (line,) = err.strip().splitlines()
    assert message in line and "Traceback" not in line


@pytest.mark.parametrize(
    "stdin, categories",
    [
        (ARCHIVED, ["account_archived"]),
        (ARCHIVED + "\n", ["account_archived"]),
        (f"{ARCHIVED}\n{UNIQUE}\n", ["account_archived", "invoice_number_not_unique"]),  # pasted over two lines
        (f"\r\n{UNIQUE}\r\n\r\n{ARCHIVED}", ["invoice_number_not_unique", "account_archived"]),
    ],
)
def test_explain_reads_all_of_standard_input_for_dash(stdin, categories):
    code, out, err = run("explain", "--json", "-", stdin=io.StringIO(stdin))
    assert (code, err) == (0, "")
    assert [item["category"] for item in json.loads(out)] == categories
    # the same explanation as the message given as an argument
    assert run("explain", "-", stdin=io.StringIO(stdin))[1] == run("explain", stdin)[1]


def test_explain_dash_reads_sys_stdin_by_default(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(UNIQUE))
    code, out, _ = run("explain", "-")
    assert code == 0 and "invoice_number_not_unique" in out


def test_explain_argument_does_not_read_standard_input():
    class Untouchable(io.StringIO):
        def read(self, *args):
            raise AssertionError("standard input was read")
    code, out, _ = run("explain", UNIQUE, stdin=Untouchable())
    assert code == 0 and "invoice_number_not_unique" in out


@pytest.mark.parametrize(
    "stdin, code, message",
    [
        (None, 2, "there is no standard input"),
    ],
)
def test_explain_dash_without_readable_standard_input(monkeypatch, stdin, code, message):
    monkeypatch.setattr("sys.stdin", stdin)
    got, out, err = run("explain", "-")
    assert (got, out) == (code, "")
    (line,) = err.strip().splitlines()
    assert message in line


def test_rules_table_and_json():
    code, out, _ = run("rules")
    assert code == 0 and "account_archived" in out and "refresh-categories" in out
    code, out, _ = run("rules", "--format", "json")
    data = json.loads(out)
    assert {c["id"] for c in data["categories"]} >= {"account_archived", "lock_date"}
    assert any(f["id"] == "manual-review" for f in data["fixes"])


def test_broken_catalog_file_is_a_usage_error(tmp_path):
    extra = tmp_path / "practice.toml"
    extra.write_text("[[category]]\nid = 'x'\n", encoding="utf-8")
    code, _, err = run("rules", "--catalog", str(extra))
    assert code == 2 and "practice.toml" in err and "missing" in err


def _pipeline(command: str, unbuffered: bool) -> subprocess.CompletedProcess:
    """`python -m analyzer ...` piped into a reader, through bash without pipefail; prints the
    analyzer's exit code on the last line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    script = f"set +o pipefail; {command}; echo \"exit=${{PIPESTATUS[0]}}\""
    script = script.replace("ANALYZER", f"'{sys.executable}' -m analyzer")
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize(
    "command, first_line, codes",
    [
        ("ANALYZER rules | head -1", "ID ", {0, 141}),  # small output may all fit in the pipe before head exits
        ("ANALYZER rules | true", None, {141}),  # the reader is gone before the first write
        ("ANALYZER rules --format json | head -1", "{", {0, 141}),
        # Megabytes: far more than the pipe and head's first read hold, whoever runs first (the
        # samples' 100 KB could all fit in one write when head read a large first block).
        ("ANALYZER classify BIG | head -1", "source_file,", {141}),
    ],
    ids=["rules-head", "rules-true", "rules-json-head", "classify-head"],
)
def test_output_piped_into_head_ends_quietly(command, first_line, codes, unbuffered, tmp_path):
    if "BIG" in command:
        big = tmp_path / "big.csv"
        row = '{n},15/10/2026,Supplier {n},10.00,GBP,"Account code \'455\' has been archived or deleted"\n'
        big.write_text("Item ID,Date,Supplier,Total Amount,Currency,Error\n"
                       + "".join(row.format(n=n) for n in range(20_000)), encoding="utf-8")
        command = command.replace("BIG", f"'{big}'")
    done = _pipeline(command, unbuffered)
    assert done.stderr == ""
    *shown, status = done.stdout.splitlines()
    assert int(status.removeprefix("exit=")) in codes
    if first_line is not None:
        assert len(shown) == 1 and shown[0].startswith(first_line)


class _ClosedPipe(io.StringIO):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize(
    "argv",
    [["rules"], ["rules", "--format", "json"], ["explain", UNIQUE], ["explain", "--json", UNIQUE],
     ["classify", str(SAMPLES / "Summit Physio LLC - publishing errors Oct 2026.csv")]],
)
def test_closed_standard_output_in_process(argv):
    err = io.StringIO()
    assert main(argv, stdout=_ClosedPipe(), stderr=err) == 141
    assert err.getvalue() == ""


def test_explain_without_the_practices_database_says_so_in_its_own_words(monkeypatch, tmp_path):
    """A shared database server that is down: the message is still explained, and the note does not
    carry the run's "nothing of this run was published", which means nothing for explain."""
    pytest.importorskip("psycopg")
    (tmp_path / "analyzer.toml").write_text('database = "postgresql://nobody@127.0.0.1:1/db"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, err = run("explain", ARCHIVED)
    assert code == 0 and "account_archived" in out
    (note,) = err.splitlines()
    assert "could not be read" in note and "cannot connect" in note and "explained with the catalog alone" in note
    assert "published" not in note


@pytest.mark.parametrize("value, words", [("-3", "not between 0"), ("1000", "and 64"), ("two", "not a whole number")])
def test_workers_out_of_range_is_a_usage_error(value, words, tmp_path):
    code, _, err = run("report", str(SAMPLES), "--out", str(tmp_path / "out"), "--workers", value)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["Oakridge Veterinary - failed items.xls", "Acme.ods", "Acme.xlsb"])
def test_an_old_spreadsheet_in_a_folder_is_a_failed_input_not_passed_over(tmp_path, name):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    (folder / "Acme Ltd.csv").write_text("Item ID,Error\n1,Invoice # must be unique.\n", encoding="utf-8")
    code, _, err = run("report", str(folder), "--out", str(tmp_path / "out"), "--no-history")
    assert code == 1
    (line,) = [line for line in err.splitlines() if name in line]
    assert "save it as .xlsx or .csv" in line and "passed over" not in line


def test_history_of_a_misspelt_client_names_the_closest(tmp_path):
    out = tmp_path / "out"
    assert run("report", str(SAMPLES), "--out", str(out))[0] == 0
    code, _, err = run("history", "--db", str(out / "history.sqlite"), "--client", "Sumit Physio LLC")
    assert code == 2 and "no such client" in err and err.index("Summit Physio LLC") < err.index("Bistro")
    code, out_text, _ = run("history", "--db", str(out / "history.sqlite"), "--client", "summit physio llc")
    assert code == 0 and "Summit Physio LLC" in out_text


def test_a_period_that_is_no_month_is_one_line_with_the_tools_name(tmp_path):
    code, _, err = run("report", str(SAMPLES), "--out", str(tmp_path / "out"), "--period", "2026-11-01")
    assert code == 2 and err.startswith("publish-failures: --period '2026-11-01': not a month")


CATEGORY = ("[[category]]\nid = '{id}'\ntitle = 'Frobnicator overflow'\ncause = 'c'\nfix = '{fix}'\n"
            "patterns = ['frobnicator overflow']\nexamples = ['frobnicator overflow']\n")


def test_a_practice_category_naming_an_undefined_fix_names_its_file(tmp_path):
    extra = tmp_path / "practice.toml"
    extra.write_text(CATEGORY.format(id="frobnicator", fix="no-such-fix"), encoding="utf-8")
    code, _, err = run("explain", "x", "--catalog", str(extra))
    assert code == 2 and f"{extra}: category 'frobnicator': fix 'no-such-fix' is not defined" in err


def test_a_practice_category_replacing_a_built_in_one_is_said(tmp_path):
    """Replacing by id is how a practice changes a built-in category; done by accident (a copied
    id) it silently changed what 'account code archived' means, so it is said each run."""
    extra = tmp_path / "practice.toml"
    extra.write_text(CATEGORY.format(id="account_archived", fix="manual-review"), encoding="utf-8")
    code, out, err = run("explain", "frobnicator overflow", "--catalog", str(extra))
    assert code == 0 and "Frobnicator overflow" in out
    assert f"note: {extra}: category 'account_archived' replaces the one of catalog.toml" in err
    code, _, err = run("explain", "frobnicator overflow", "--catalog", str(extra.with_name("none.toml")))
    assert code == 2 and "replaces" not in err


def test_a_practice_category_lacking_what_its_fix_groups_by_names_its_file(tmp_path):
    extra = tmp_path / "practice.toml"
    extra.write_text(CATEGORY.format(id="frobnicator", fix="refresh-categories"), encoding="utf-8")
    code, _, err = run("rules", "--catalog", str(extra))
    assert code == 2 and f"{extra}: category 'frobnicator' uses fix 'refresh-categories', which groups by" in err


def test_a_blank_client_name_is_a_usage_error(tmp_path):
    code, _, err = run("report", str(SAMPLES), "--out", str(tmp_path / "out"), "--as-client", " ")
    assert code == 2 and "the client's name is blank" in err and not (tmp_path / "out").exists()


def test_a_closed_reader_of_standard_error_does_not_fail_a_good_run(tmp_path):
    """A scheduler piping messages to a reader that went away: the run's exit code, not 141."""
    result = _pipeline(f"sleep 0.2 | true; ANALYZER report sample_exports --out '{tmp_path / 'out'}' --no-history"
                       " 2>&1 >/dev/null | true", unbuffered=False)
    assert result.stdout.strip().splitlines()[-1] == "exit=0", result.stderr
    assert (tmp_path / "out" / "index.html").is_file()


HARBOUR = SAMPLES / "Harbour View Dental Ltd - failed items Oct 2026.csv"


@pytest.mark.parametrize("command, undone", [
    (["classify", str(HARBOUR), "--db", "{db}", "-o", "{tmp}/out.csv"], "; nothing was written"),
    (["report", str(HARBOUR), "--history", "{db}", "--out", "{tmp}/out"], "; nothing of this run was recorded or published"),
    (["teach", "The widget flange jammed", "account_archived", "--db", "{db}"], "; nothing was taught or forgotten"),
    (["teach", "--list", "--db", "{db}"], ""),
    (["history", "--db", "{db}"], ""),
    (["clients", "--retire", "Acme Ltd", "--db", "{db}"], "; no client was retired or restored"),
    (["clients", "--db", "{db}"], ""),
])
def test_a_broken_database_says_what_the_command_left_undone(tmp_path, command, undone):
    """The store's message says what failed; each command says in its own words what it did not do
    (history only reads: it adds nothing, and a run's "nothing of this run was published" would be wrong)."""
    db = tmp_path / "history.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    code, _, err = run(*(part.replace("{db}", str(db)).replace("{tmp}", str(tmp_path)) for part in command))
    (line,) = err.strip().splitlines()
    assert code == 6 and str(db) in line and "move it aside to start a new one" in line, err
    assert line.endswith("move it aside to start a new one" + undone), line
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("setting, command, said", [
    ('database = "mysql://x@y/z"', ["run"], "{config}: database mysql://x@y/z: not a database this tool can use"),
    ('database = "mysql://x@y/z"', ["history"], "{config}: database mysql://x@y/z: not a database this tool can use"),
    ('database = "mysql://x@y/z"', ["teach", "--list"], "{config}: database mysql://x@y/z: not a database"),
    ('scheduler = "not an address"', ["run"], "{config}: scheduler 'not an address': not a scheduler address"),
])
def test_a_setting_of_the_config_that_cannot_be_used_names_the_file_and_key(tmp_path, setting, command, said):
    pytest.importorskip("distributed")
    config = tmp_path / "practice.toml"
    config.write_text(f'inputs = ["{SAMPLES.as_posix()}"]\noutput = "{(tmp_path / "out").as_posix()}"\n{setting}\n',
                      encoding="utf-8")
    code, _, err = run(*command, "--config", str(config))
    (line,) = err.strip().splitlines()
    assert code == 2 and line.startswith(f"publish-failures: {said.format(config=config)}"), line
    assert not (tmp_path / "out").exists()


def test_a_scheduler_given_on_the_command_line_is_named_as_the_option(tmp_path):
    pytest.importorskip("distributed")
    code, _, err = run("report", str(SAMPLES), "--out", str(tmp_path / "out"), "--scheduler", "nope")
    assert code == 2 and err.startswith("publish-failures: --scheduler 'nope': not a scheduler address")


@pytest.mark.parametrize("name, words", [
    ("folder", "is a folder; give a file name"),
    ("classified.xlsx", "not a workbook; name it .csv"),
])
def test_classify_output_it_cannot_write_as_asked_is_said_before_reading(tmp_path, name, words):
    (tmp_path / "folder").mkdir()
    code, _, err = run("classify", str(SAMPLES), "-o", str(tmp_path / name))
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "classified.xlsx").exists()


@pytest.mark.parametrize("data", [
    "Account code \u2018455\u2019 has been archived".encode("cp1252"),  # Notepad's "ANSI"
    "Account code '455' has been archived".encode("utf-16"),  # Excel's "Unicode text"
    "\ufeffAccount code '455' has been archived".encode("utf-8"),
])
def test_explain_reads_piped_text_saved_by_windows_tools(data):
    out, err = io.StringIO(), io.StringIO()
    code = main(["explain", "-"], stdout=out, stderr=err, stdin=io.TextIOWrapper(io.BytesIO(data)))
    assert code == 0 and "[account_archived]" in out.getvalue() and "account code: 455" in out.getvalue(), err.getvalue()


def test_explain_of_an_argument_the_terminal_could_not_decode():
    """Bytes that are not UTF-8 reach Python's argv as surrogates; printing them crashed."""
    given = "Account code \x92455\x92 has been archived".encode("latin-1").decode("utf-8", "surrogateescape")
    code, out, err = run("explain", given)
    assert code == 0 and "[account_archived]" in out and "Traceback" not in err


ITEMS = [["Item ID", "Supplier", "Error"], ["1", "Acme Supplies", "Invoice # must be unique."]]


def test_a_summary_sheet_and_a_hidden_sheet_beside_the_clients_sheets(tmp_path):
    """A Summary sheet (no error column) is no failure of the workbook: its rows are skipped and
    counted; a hidden sheet (an old client, set aside) is not read, and both are said."""
    book = workbook(tmp_path / "Practice Oct 2026.xlsx", {
        "Summary": [["Client", "Items"], ["Acme Ltd", 1], ["Old Ltd", 1]],
        "Acme Ltd": ITEMS,
        "Old Ltd": ITEMS,
    }, hidden=("Old Ltd",))
    code, out, err = run("classify", str(book))
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out), dtype=str)
    assert table["Item ID"].tolist() == ["1"] and table["client"].tolist() == ["Acme Ltd"]
    assert "hidden sheet(s) not read: 'Old Ltd'" in err and "sheet 'Summary' has no error column" in err
    assert "skipped 2 (2 summary-sheet rows)" in err


def test_a_workbook_one_of_whose_sheets_cannot_be_read_is_read_in_part(tmp_path):
    """--column naming a column one sheet has and the other has nothing like: that sheet's rows
    are read, the other's are not, and the workbook is neither read nor unread but read in part
    (manifest, index)."""
    book = workbook(tmp_path / "Practice Oct 2026.xlsx", {
        "Acme Ltd": [["Item ID", "Supplier", "Gross", "Error"], ["1", "Acme Supplies", "12.00", "Invoice # must be unique."]],
        "Bolt Ltd": ITEMS,
    })
    out = tmp_path / "out"
    code, _, err = run("report", str(book), "--out", str(out), "--column", "total=Gross", "--format", "html")
    assert code == 1 and "'Gross': no such column" in err, err
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    (entry,) = manifest["inputs"]
    assert (entry["status"], entry["rows"]) == ("partial", 1) and "Gross" in entry["message"]
    assert (manifest["totals"]["inputs_failed"], manifest["totals"]["inputs_partial"]) == (0, 1)
    assert "Read in part" in (out / "index.html").read_text(encoding="utf-8")


def test_a_workbook_whose_only_data_is_hidden_says_so(tmp_path):
    book = workbook(tmp_path / "Acme Ltd.xlsx", {"Cover": [["See data"]], "Data": ITEMS}, hidden=("Data",))
    code, _, err = run("classify", str(book))
    assert code == 1 and "hidden sheet(s) not read: 'Data'" in err and "Traceback" not in err, err


def test_a_client_name_merged_down_the_rows_of_its_items_names_each_row(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Failed items"
    for row in [["Client", "Item ID", "Error"], ["Acme Ltd", "1", "boom"], [None, "2", "boom"], [None, "3", "boom"],
                ["Beta Ltd", "4", "boom"], [None, "5", "boom"]]:
        sheet.append(row)
    sheet.merge_cells("A2:A4")
    sheet.merge_cells("A5:A6")
    book.save(tmp_path / "Practice merged Oct 2026.xlsx")
    code, out, err = run("classify", str(tmp_path / "Practice merged Oct 2026.xlsx"))
    table = pd.read_csv(io.StringIO(out), dtype=str)
    assert code == 0 and table["client"].tolist() == ["Acme Ltd"] * 3 + ["Beta Ltd"] * 2, err
    assert "2 cell(s) merged down a column read as their value in every row they cover" in err


@pytest.mark.parametrize("argv", [
    ["classify", str(SAMPLES / "Greenleaf Landscaping Pty Ltd - failed items Oct 2026.csv"), "--client", ""],
    ["classify", str(SAMPLES / "Greenleaf Landscaping Pty Ltd - failed items Oct 2026.csv"), "--client", "   "],
    ["report", str(SAMPLES / "Greenleaf Landscaping Pty Ltd - failed items Oct 2026.csv"), "--as-client", ""],
])
def test_a_blank_client_name_is_a_usage_error_for_classify_too(argv, tmp_path):
    code, out, err = run(*argv, "--out" if argv[0] == "report" else "-o", str(tmp_path / ("out" if argv[0] == "report" else "x.csv")))
    assert code == 2 and "the client's name is blank" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("given, expected", [
    ([], {"Acme Ltd": {"unknown": 12.5}, "Bolt Ltd": {"unknown": 3.0}}),
    (["--currency", "aud"], {"Acme Ltd": {"AUD": 12.5}, "Bolt Ltd": {"AUD": 3.0}}),
    (["--currency", "AUD", "--currency", "acme  ltd=NZD"], {"Acme Ltd": {"NZD": 12.5}, "Bolt Ltd": {"AUD": 3.0}}),
])
def test_currency_names_what_dollar_amounts_are_in(tmp_path, given, expected):
    """A $ alone is AUD, NZD, USD...: the tool says it does not know, unless told (as the config's
    currency keys tell it for scheduled runs)."""
    for client, amount in (("Acme Ltd", "$12.50"), ("Bolt Ltd", "$3.00")):
        (tmp_path / f"{client} - failed items.csv").write_text(
            "Item ID,Date,Supplier,Total,Error\n"
            f"1,15/10/2026,S,{amount},\"Account code '400' has been archived\"\n", encoding="utf-8")
    code, _, err = run("report", str(tmp_path), "--out", str(tmp_path / "out"), "--period", "2026-10", *given)
    assert code == 0, err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert {c["name"]: c["value"] for c in manifest["clients"]} == expected


@pytest.mark.parametrize("value", ["dollars", "=AUD", "Acme=A1", "AUS"])
def test_a_currency_that_is_no_code_is_a_usage_error(value):
    code, _, err = run("classify", "x.csv", "--currency", value)
    assert code == 2 and "--currency" in err and "three-letter currency code" in err and len(err.strip().splitlines()) == 1
