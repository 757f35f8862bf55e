"""Unattended month-end runs: run history across two months, repeatable output, the folder lock,
and a killed run leaving no partial report."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datetime as dt

import openpyxl
import pandas as pd
import pytest

from analyzer import history
from analyzer.cli import main
from analyzer.store import Store
from analyzer.write_staging import output_lock

HEADER = "Item ID,Date,Supplier,Total Amount,Currency,Error\n"
ARCHIVED = "Account code '455' has been archived, or has been deleted."
UNIQUE = "Invoice # must be unique."
LOCK = "The document date cannot be before the end of year lock date, currently set at 31-Mar-2026."

SEPTEMBER = {  # item id -> error
    "Acme Ltd": {"1001": ARCHIVED, "1002": ARCHIVED, "1003": UNIQUE},
    "Bolt Ltd": {"2001": LOCK},
}
OCTOBER = {
    "Acme Ltd": {"1002": ARCHIVED, "1003": UNIQUE, "1004": ARCHIVED},  # 1001 cleared, 1004 new
    "Bolt Ltd": {"2001": LOCK, "2002": LOCK},
}


def _exports(folder: Path, month: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for client, items in month.items():
        rows = "".join(f'{i},15/09/2026,Supplier {i},10.00,GBP,"{e}"\n' for i, e in items.items())
        (folder / f"{client} - failed items.csv").write_text(HEADER + rows, encoding="utf-8")
    return folder


def _config(tmp_path: Path, inputs: Path, period: str, database: str = "") -> Path:
    config = tmp_path / f"{period}.toml"
    config.write_text(
        f'inputs = ["{inputs.as_posix()}"]\noutput = "{(tmp_path / "out" / "{period}").as_posix()}"\n'
        f'period = "{period}"\nlock_timeout = 1\n' + (f'database = "{Path(database).as_posix() if "://" not in database else database}"\n' if database else ""),
        encoding="utf-8")
    return config


def _run(*argv):
    err = io.StringIO()
    return main(list(argv), stdout=io.StringIO(), stderr=err), err.getvalue()


@pytest.fixture
def two_months(tmp_path, database):
    """Two months' runs, the state in `database` (SQLite, then PostgreSQL)."""
    september = _config(tmp_path, _exports(tmp_path / "in-sep", SEPTEMBER), "September 2026", database)
    october = _config(tmp_path, _exports(tmp_path / "in-oct", OCTOBER), "October 2026", database)
    assert _run("run", "--config", str(september))[0] == 0
    assert _run("run", "--config", str(october))[0] == 0
    return tmp_path / "out"


def test_manifest_counts_new_carried_over_cleared(two_months, database):
    manifest = json.loads((two_months / "2026-10" / "manifest.json").read_text(encoding="utf-8"))
    clients = {c["name"]: c for c in manifest["clients"]}
    assert (clients["Acme Ltd"]["new"], clients["Acme Ltd"]["carried_over"], clients["Acme Ltd"]["cleared"]) == (1, 2, 1)
    assert (clients["Bolt Ltd"]["new"], clients["Bolt Ltd"]["carried_over"], clients["Bolt Ltd"]["cleared"]) == (1, 1, 0)
    first = json.loads((two_months / "2026-09" / "manifest.json").read_text(encoding="utf-8"))
    assert {c["name"]: (c["new"], c["carried_over"], c["cleared"]) for c in first["clients"]} == {
        "Acme Ltd": (3, 0, 0), "Bolt Ltd": (1, 0, 0)}
    assert Store(database).exists() and history.known_clients(database) == {"Acme Ltd", "Bolt Ltd"}


def test_reports_mark_carried_over_items(two_months):
    book = openpyxl.load_workbook(two_months / "2026-10" / "Acme Ltd.xlsx")
    text = " ".join(str(c.value) for row in book["Items"].iter_rows() for c in row if c.value is not None)
    assert "carried over" in text.lower()
    html = (two_months / "2026-10" / "Acme Ltd.html").read_text(encoding="utf-8")
    assert "carried over" in html.lower() and "cleared" in html.lower()


def test_history_command(two_months, database):
    out = io.StringIO()
    code = main(["history", "--db", database], stdout=out, stderr=io.StringIO())
    assert code == 0
    text = out.getvalue()
    assert "September 2026" in text and "October 2026" in text and "failing in more than one run" in text
    out = io.StringIO()
    main(["history", "--db", database, "--client", "bolt ltd", "--json"], stdout=out)
    data = json.loads(out.getvalue())
    assert {r["client"] for r in data["runs"]} == {"Bolt Ltd"}
    assert [r["item_id"] for r in data["recurring"]] == ["2001"]


def test_running_again_gives_identical_reports(tmp_path):
    inputs = _exports(tmp_path / "in", OCTOBER)
    config = _config(tmp_path, inputs, "October 2026")
    assert _run("run", "--config", str(config))[0] == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "out" / "2026-10").iterdir() if p.suffix in (".html", ".xlsx")}
    time.sleep(1.1)  # a new run time, which only manifest.json may show
    assert _run("run", "--config", str(config))[0] == 0
    second = {p.name: p.read_bytes() for p in (tmp_path / "out" / "2026-10").iterdir() if p.suffix in (".html", ".xlsx")}
    assert first.keys() == second.keys() and len(first) == 6
    assert [n for n in first if first[n] != second[n]] == []


def test_second_run_on_a_busy_folder_exits_with_a_clear_message(tmp_path):
    config = _config(tmp_path, _exports(tmp_path / "in", OCTOBER), "October 2026")
    with output_lock(tmp_path / "out" / "2026-10", timeout=0):
        code, err = _run("run", "--config", str(config))
    assert code == 4
    assert "another publish-failures run is writing here" in err and len(err.strip().splitlines()) <= 2


def test_fail_on_unclassified(tmp_path):
    inputs = _exports(tmp_path / "in", {"Acme Ltd": {"1": "Something nobody has seen before 42"}})
    config = _config(tmp_path, inputs, "October 2026")
    code, err = _run("run", "--config", str(config), "--fail-on-unclassified", "--quiet")
    # quiet, yet the one line a cron mail needs: why the job failed
    assert code == 3 and "1 item(s) hold errors the catalog does not recognise, so the run exits 3" in err
    assert _run("run", "--config", str(config), "--quiet") == (0, "")
    # Snoozed, the item is in no Unrecognised section: nothing to act on, no alarm
    book_path = tmp_path / "out" / "2026-10" / "Acme Ltd.xlsx"
    book = openpyxl.load_workbook(book_path)
    sheet = book["Items"]
    header = [c.value for c in sheet[1]]
    sheet.cell(2, header.index("Snooze until") + 1).value = dt.datetime(2027, 1, 31)
    book.save(book_path)
    assert _run("run", "--config", str(config), "--fail-on-unclassified", "--quiet") == (0, "")


@pytest.mark.parametrize(
    "formats, quiet, last_line",
    [
        ('["html", "xlsx"]', False, "publish-failures: open {out}/index.html"),
        ('["html"]', False, "publish-failures: open {out}/index.html"),
        ('["xlsx"]', False, "publish-failures: reports in {out}" + os.sep),
        ('["html", "xlsx"]', True, None),
        ('["xlsx"]', True, None),
    ],
)
def test_run_ends_saying_where_the_reports_are(tmp_path, formats, quiet, last_line):
    config = _config(tmp_path, _exports(tmp_path / "in", OCTOBER), "October 2026")
    config.write_text(config.read_text(encoding="utf-8") + f"formats = {formats}\n", encoding="utf-8")
    code, err = _run("run", "--config", str(config), *(["--quiet"] if quiet else []))
    assert code == 0
    out = tmp_path / "out" / "2026-10"
    if last_line is None:
        assert err == ""
    else:
        lines = err.splitlines()
        assert lines[-1] == last_line.format(out=out)
        assert sum("index.html" in line or line.endswith(f"{out}{os.sep}") for line in lines) == 1
        assert (out / "index.html").is_file() == ("html" in formats)


@pytest.mark.parametrize("formats, opened", [("html,xlsx", True), ("html", True), ("xlsx", False)])
def test_report_names_index_only_when_written(tmp_path, formats, opened):
    inputs = _exports(tmp_path / "in", OCTOBER)
    out = tmp_path / "out"
    code, err = _run("report", str(inputs), "--out", str(out), "--format", formats, "--no-history")
    assert code == 0
    assert (f"(open {out / 'index.html'})" in err) == opened == (out / "index.html").is_file()


def _complete(path: Path) -> bool:
    if path.suffix == ".html":
        return path.read_text(encoding="utf-8").rstrip().endswith("</html>")
    if path.suffix == ".xlsx":
        openpyxl.load_workbook(path, read_only=True).close()
        return True
    json.loads(path.read_text(encoding="utf-8"))
    return True


@pytest.mark.parametrize("delay", [0.8, 1.6, 2.4])
def test_killed_run_leaves_no_partial_report(tmp_path, delay):
    clients = {f"Client {n:03d}": {f"{n}{i:03d}": ARCHIVED for i in range(40)} for n in range(60)}
    inputs = _exports(tmp_path / "in", clients)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "analyzer", "report", str(inputs), "--out", str(out), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    time.sleep(delay)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finals = [p for p in out.glob("*") if p.suffix in (".html", ".xlsx", ".json")] if out.exists() else []
    assert all(_complete(p) for p in finals)


def test_reports_are_readable_like_other_new_files(tmp_path):
    config = _config(tmp_path, _exports(tmp_path / "in", OCTOBER), "October 2026")
    old = os.umask(0o022)
    try:
        assert _run("run", "--config", str(config))[0] == 0
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "out" / "2026-10").glob("*.*") if p.suffix != ".sqlite"}
    assert set(modes.values()) == {0o644}, modes


# ---------------------------------------------------------------------------------------------
# The history command's tables, from a database recorded directly

def _items(client_rows):
    columns = ["client", "item_key", "item_id", "supplier", "date", "amount", "currency", "categories", "fixes"]
    return pd.DataFrame(client_rows, columns=columns).assign(error_key="")


RECORDED = {  # period slug, label -> items
    ("2026-08", "August 2026"): [
        ("Zeta Café", "id:77", "77", "Café Supplies", "2026-08-02", 1234.5, "EUR", "account_archived", "refresh-categories"),
    ],
    ("2026-09", "September 2026"): [
        ("Acme Ltd", "id:1001", "1001", "Widgets Ltd", "2026-09-15", 10.0, "GBP", "account_archived", "refresh-categories"),
        ("Acme Ltd", "fp:0123456789abcdef", "", None, "2026-09-03", float("nan"), "", "lock_date+tax_type_invalid",
         "lock-date+tax-type"),
        ("Bolt Ltd", "id:2001", "2001", "Bolt Supplier", "2026-09-20", 99.99, "USD", "lock_date", "lock-date"),
    ],
    ("2026-10", "October 2026"): [
        *(("Acme Ltd", f"id:{n}", str(n), f"Supplier {n}", "2026-10-01", 5.0, "GBP", "account_archived",
           "refresh-categories") for n in range(3000, 3011)),
        ("Acme Ltd", "id:1001", "1001", "Widgets Ltd", "2026-10-05", 10.0, "GBP", "account_archived", "refresh-categories"),
        ("Acme Ltd", "fp:0123456789abcdef", "", None, "2026-09-03", float("nan"), "", "lock_date+tax_type_invalid",
         "lock-date+tax-type"),
    ],
}


@pytest.fixture
def recorded(database):
    db = database
    for (slug, label), rows in RECORDED.items():
        history.record(db, history.RunRecord(slug, label, dt.datetime(2026, 11, 3), "test", "", _items(rows), ()))
    return db


def _history(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(["history", *argv], stdout=out, stderr=err)
    assert (code, err.getvalue()) == (0, "")
    return out.getvalue()


def test_history_table_per_client_and_period(recorded):
    lines = _history("--db", str(recorded)).splitlines()
    assert lines[0] == f"Failed items per client per run ({recorded})"
    assert lines[1:] == [
        "",
        "Acme Ltd",
        "  August 2026       0 items",
        "  September 2026    2 items",
        "  October 2026     13 items",
        "",
        "Bolt Ltd",
        "  August 2026       0 items",
        "  September 2026    1 item",
        "  October 2026      0 items",
        "",
        "Zeta Café",
        "  August 2026       1 item",
        "  September 2026    0 items",
        "  October 2026      0 items",
        "",
        "Items failing in more than one run (2)",
        "",
        "Acme Ltd",  # most runs first, then by key: an item without an id shows its fingerprint key
        "  fp:0123456789abcdef                 2 runs   September 2026 to October 2026   lock_date, tax_type_invalid",
        "  1001                  Widgets Ltd   2 runs   September 2026 to October 2026   account_archived",
    ]


@pytest.mark.parametrize(
    "client, expected",
    [
        ("bolt ltd", ["", "Bolt Ltd", "  September 2026   1 item"]),
        ("zeta café", ["", "Zeta Café", "  August 2026   1 item"]),
    ],
)
def test_history_table_for_one_client(recorded, client, expected):
    assert _history("--db", str(recorded), "--client", client).splitlines()[1:] == expected


def test_history_items_listed_under_each_period(recorded):
    lines = _history("--db", str(recorded), "--items", "--client", "Acme Ltd").splitlines()
    september = lines.index("  September 2026    2 items")
    october = lines.index("  October 2026     13 items")
    assert lines[september + 1:october] == [  # by date; no id, supplier or amount: the key and blanks
        "      fp:0123456789abcdef                   2026-09-03               lock_date, tax_type_invalid",
        "      1001                  Widgets Ltd     2026-09-15   10.00 GBP   account_archived",
    ]
    listed = lines[october + 1:lines.index("Items failing in more than one run (2)") - 1]
    assert len(listed) == 13
    assert listed[0] == "      fp:0123456789abcdef                   2026-09-03               lock_date, tax_type_invalid"
    assert listed[1] == "      3000                  Supplier 3000   2026-10-01    5.00 GBP   account_archived"
    assert listed[-1] == "      1001                  Widgets Ltd     2026-10-05   10.00 GBP   account_archived"
    every = _history("--db", str(recorded), "--items").splitlines()
    assert "      77                    Café Supplies   2026-08-02   1,234.50 EUR   account_archived" in every
    assert sum(line.startswith("      ") for line in every) == sum(len(rows) for rows in RECORDED.values())


@pytest.mark.parametrize(
    "argv, clients, items",
    [
        ([], {"Acme Ltd", "Bolt Ltd", "Zeta Café"}, None),
        (["--items"], {"Acme Ltd", "Bolt Ltd", "Zeta Café"}, 17),
        (["--items", "--client", "ACME LTD"], {"Acme Ltd"}, 15),
    ],
)
def test_history_json(recorded, argv, clients, items):
    data = json.loads(_history("--db", str(recorded), "--json", *argv))
    assert {r["client"] for r in data["runs"]} == clients
    assert [r["item_id"] for r in data["recurring"]] == (["", "1001"] if "Acme Ltd" in clients else [])
    if items is None:
        assert "items" not in data
        return
    assert len(data["items"]) == items
    if items:
        blank = next(i for i in data["items"] if i["item_key"].startswith("fp:"))
        assert blank["amount"] is None and blank["supplier"] is None and blank["categories"] == "lock_date+tax_type_invalid"


def test_history_items_function(recorded, tmp_path):
    table = history.items(recorded, "acme ltd")
    assert list(table.columns) == ["client", "period", "slug", "item_id", "item_key", "supplier", "date", "amount",
                                   "currency", "categories", "fixes"]
    assert list(table.drop_duplicates("slug")["period"]) == ["September 2026", "October 2026"]
    assert list(table["item_key"].iloc[:2]) == ["fp:0123456789abcdef", "id:1001"]  # by date within a period
    assert len(history.items(recorded)) == 17
    counts, recurring = history.summary(recorded)  # unchanged beside it
    assert list(counts.columns) == ["client", "period", "slug", "items"]
    assert list(recurring.columns) == ["client", "item_key", "item_id", "supplier", "runs", "first_period",
                                       "last_period", "categories"]
    with pytest.raises(history.HistoryError, match="no run history yet"):
        history.items(tmp_path / "missing.sqlite")


@pytest.mark.parametrize("chunk", [1, 2, 5, 50_000])
def test_record_writes_every_item_once_whatever_the_chunk(database, monkeypatch, chunk):
    """Items go to the store a chunk of rows at a time (memory); a repeated item is written once,
    and a run for some clients writes only theirs, across chunk boundaries."""
    monkeypatch.setattr(history, "RECORD_CHUNK", chunk)
    rows = [("Acme Ltd", f"id:{n}", str(n), "S", "2026-10-01", float(n), "GBP", "lock_date", "lock-date")
            for n in range(7)]
    rows.insert(3, (*rows[1][:5], 99.0, *rows[1][6:]))  # the same item on two rows: the first is kept
    rows.append(("Bolt Ltd", "id:1", "1", "S", "2026-10-02", 1.0, "GBP", "lock_date", "lock-date"))
    history.record(database, history.RunRecord("2026-10", "October 2026", dt.datetime(2026, 11, 3), "test", "",
                                               _items(rows), ()))
    table = history.items(database)
    assert sorted(zip(table["client"], table["item_key"])) == sorted({(r[0], r[1]) for r in rows})
    assert sorted(table.loc[table["client"] == "Acme Ltd", "amount"]) == [float(n) for n in range(7)]
    history.record(database, history.RunRecord("2026-10", "October 2026", dt.datetime(2026, 11, 3), "test", "",
                                               _items(rows[::-1]), (), ("Bolt Ltd",)))
    again = history.items(database)
    assert sorted(zip(again["client"], again["item_key"])) == sorted(zip(table["client"], table["item_key"]))


@pytest.fixture
def with_states(database):
    """Two runs: Acme failing then cleared, Bolt failing then its export missing, Cole clean in both."""
    runs = {
        ("2026-09", "September 2026"): ([("Acme Ltd", "id:1", "1", "S", "2026-09-01", 5.0, "GBP", "lock_date", "lock-date"),
                                         ("Bolt Ltd", "id:2", "2", "S", "2026-09-02", 6.0, "GBP", "lock_date", "lock-date")],
                                        {"Acme Ltd": "failing", "Bolt Ltd": "failing", "Cole Ltd": "clean"}),
        ("2026-10", "October 2026"): ([], {"Acme Ltd": "cleared", "Bolt Ltd": "export_missing", "Cole Ltd": "clean"}),
    }
    for (slug, label), (rows, states) in runs.items():
        clients = tuple((client, state, "", {}) for client, state in states.items())
        history.record(database, history.RunRecord(slug, label, dt.datetime(2026, 11, 3), "test", "", _items(rows), clients))
    return database


def test_history_says_why_a_run_recorded_no_items_of_a_client(with_states):
    """0 items alone reads as good news; an export that never came is not."""
    lines = _history("--db", str(with_states)).splitlines()
    assert lines[1:] == [
        "",
        "Acme Ltd",
        "  September 2026   1 item",
        "  October 2026     0 items   cleared",
        "",
        "Bolt Ltd",
        "  September 2026   1 item",
        "  October 2026     0 items   export missing",
        "",
        "Cole Ltd",  # never failed: shown all the same, clean in both runs
        "  September 2026   0 items   clean",
        "  October 2026     0 items   clean",
    ]
    assert _history("--db", str(with_states), "--client", "bolt ltd").splitlines()[1:] == [
        "", "Bolt Ltd", "  September 2026   1 item", "  October 2026     0 items   export missing"]
    data = json.loads(_history("--db", str(with_states), "--json"))
    assert {(s["client"], s["slug"]): s["state"] for s in data["states"]} == {
        ("Acme Ltd", "2026-09"): "failing", ("Acme Ltd", "2026-10"): "cleared",
        ("Bolt Ltd", "2026-09"): "failing", ("Bolt Ltd", "2026-10"): "export_missing",
        ("Cole Ltd", "2026-09"): "clean", ("Cole Ltd", "2026-10"): "clean"}


def test_clients_table_names_states_in_words(with_states):
    out = io.StringIO()
    assert main(["clients", "--db", str(with_states)], stdout=out, stderr=io.StringIO()) == 0
    rows = {line.split("  ")[0]: line for line in out.getvalue().splitlines()[1:]}
    assert "export missing" in rows["Bolt Ltd"] and "export_missing" not in out.getvalue()
    assert "cleared" in rows["Acme Ltd"] and "clean" in rows["Cole Ltd"]


def test_history_of_a_client_named_by_an_alias_in_the_config(recorded, tmp_path):
    if "://" in str(recorded):
        pytest.skip("the config names a database file")
    config = tmp_path / "analyzer.toml"
    config.write_text(f'database = "{Path(recorded).as_posix()}"\n[clients]\n"Bolt Ltd" = {{ aliases = ["Bolt Limited"] }}\n',
                      encoding="utf-8")
    assert _history("--config", str(config), "--client", "bolt limited").splitlines()[1:] == [
        "", "Bolt Ltd", "  September 2026   1 item"]


def test_history_json_of_a_misspelt_client_is_a_usage_error(recorded):
    """As in text: a script with a typo must not read 'no history'."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["history", "--db", str(recorded), "--json", "--client", "Acme Lt"], stdout=out, stderr=err) == 2
    assert "closest first: Acme Ltd" in err.getvalue() and out.getvalue() == ""


def test_a_log_file_per_period(tmp_path):
    inputs = _exports(tmp_path / "in", {"Acme Ltd": {"1": "Invoice # must be unique."}})
    config = _config(tmp_path, inputs, "October 2026")
    config.write_text(config.read_text(encoding="utf-8").replace('period = "October 2026"\n',
                      'period = "October 2026"\nlog_file = "logs/{period}.log"\n'), encoding="utf-8")
    assert _run("run", "--config", str(config), "--quiet")[0] == 0
    assert "period October 2026" in (config.parent / "logs" / "2026-10.log").read_text(encoding="utf-8")


@pytest.mark.parametrize("break_it, code, said", [
    (lambda tmp, config: (tmp / "out").write_text("a file"), 5, "is a file, not a folder"),
    (lambda tmp, config: config.write_text(config.read_text(encoding="utf-8").replace(
        str((tmp / "in").as_posix()), str((tmp / "share").as_posix())), encoding="utf-8"), 1, "no input could be read"),
])
def test_why_a_run_failed_is_in_its_log_file(tmp_path, break_it, code, said):
    """A scheduled run is checked by its log: the line standard error gets is there too."""
    inputs = _exports(tmp_path / "in", {"Acme Ltd": {"1": "Invoice # must be unique."}})
    config = _config(tmp_path, inputs, "October 2026")
    config.write_text(config.read_text(encoding="utf-8").replace('period = "October 2026"\n',
                      'period = "October 2026"\nlog_file = "logs/run.log"\n'), encoding="utf-8")
    break_it(tmp_path, config)
    got, err = _run("run", "--config", str(config), "--quiet")
    assert got == code and said in err
    last = (config.parent / "logs" / "run.log").read_text(encoding="utf-8").splitlines()[-1]
    assert " ERROR " in last and said in last and last.endswith(f"(exit {code})") and "publish-failures:" not in last
