"""A practice teaches the tool an error its catalog does not know, once: from the command line, or
by choosing a category in a workbook's Unrecognised sheet. The message's whole template (other
codes, amounts, dates) is recognised from then on."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest

from analyzer.cli import main

UNKNOWN = "Contact name 'Harbour Supplies Limited Trading As HSL' is too long"
SIBLING = "Contact name 'Blue Finch Bakery And Cafe Company Ltd' is too long"
HEADER = "Item ID,Date,Supplier,Total Amount,Currency,Error\n"


def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _export(folder: Path, *errors: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f'{1000 + n},15/10/2026,Supplier {n},10.00,GBP,"{e}"\n' for n, e in enumerate(errors))
    (folder / "Acme Ltd - failed items.csv").write_text(HEADER + rows, encoding="utf-8")
    return folder


def _classified(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_taught_message_and_its_whole_template_are_recognised(tmp_path, database):
    db = database
    inputs = _export(tmp_path / "in", UNKNOWN, SIBLING)
    code, _, _ = _run("classify", inputs, "--db", db, "-o", tmp_path / "before.csv")
    assert code == 0 and {r["categories"] for r in _classified(tmp_path / "before.csv")} == {"unclassified"}

    code, out, err = _run("teach", UNKNOWN, "Supplier or customer archived in Xero", "--db", db)
    assert code == 0 and "contact_archived" in out, err
    code, _, _ = _run("classify", inputs, "--db", db, "-o", tmp_path / "after.csv")
    rows = _classified(tmp_path / "after.csv")
    assert [(r["categories"], r["match"]) for r in rows] == [("contact_archived", "taught")] * 2

    code, out, _ = _run("teach", "--list", "--db", db)
    assert "contact_archived" in out and "contact name <code> is too long" in out and UNKNOWN in out
    assert _run("teach", SIBLING, "--forget", "--db", db)[1].startswith("Forgotten")
    _run("classify", inputs, "--db", db, "-o", tmp_path / "forgotten.csv")
    assert {r["categories"] for r in _classified(tmp_path / "forgotten.csv")} == {"unclassified"}


@pytest.mark.parametrize("argv, words", [
    (["teach", UNKNOWN, "contact_archivd"], "closest first: contact_archived"),
    (["teach", "", "contact_archived"], "give the error message"),
    # patterns decide before taught errors: teaching what they claim would say "Taught" and do nothing
    (["teach", "The TaxType code 'INPUT2' cannot be used with account code '310'.", "contact_archived"],
     "already recognises this message as Tax rate cannot be used with the category [tax_type_invalid_for_account]"),
])
def test_teaching_mistakes_are_usage_errors(tmp_path, argv, words):
    code, _, err = _run(*argv, "--db", tmp_path / "h.sqlite")
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_a_category_chosen_in_the_workbook_is_learned_by_the_next_run(tmp_path, database):
    inputs = _export(tmp_path / "in", UNKNOWN)
    out = tmp_path / "out"
    assert _run("report", inputs, "--out", out, "--period", "October 2026", "--db", database)[0] == 0
    book = openpyxl.load_workbook(out / "Acme Ltd.xlsx")
    sheet = book["Unrecognised"]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["Template", "Count", "Looks like", "Category"]
    validation = sheet.data_validations.dataValidation[0]
    assert validation.formula1.startswith("Lists!")
    sheet.cell(2, header.index("Category") + 1).value = "Supplier or customer archived in Xero"
    book.save(out / "Acme Ltd.xlsx")

    _export(tmp_path / "in", SIBLING)  # next month: another contact, the same kind of error
    code, _, err = _run("report", inputs, "--out", out, "--period", "November 2026", "--db", database)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["clients"][0]["fixes"] == {"unarchive-contact": 1}
    assert "Unrecognised" not in openpyxl.load_workbook(out / "Acme Ltd.xlsx").sheetnames
    code, out_text, _ = _run("teach", "--list", "--db", database)
    assert "contact_archived" in out_text


def test_a_category_chosen_in_last_months_workbook_is_learned_when_this_month_has_a_new_folder(tmp_path):
    inputs, database = _export(tmp_path / "in", UNKNOWN), tmp_path / "practice.sqlite"
    october, november = tmp_path / "2026-10", tmp_path / "2026-11"
    assert _run("report", inputs, "--out", october, "--db", database, "--period", "October 2026")[0] == 0
    book = openpyxl.load_workbook(october / "Acme Ltd.xlsx")
    sheet = book["Unrecognised"]
    column = [c.value for c in sheet[1]].index("Category") + 1
    sheet.cell(2, column).value = "Supplier or customer archived in Xero"
    book.save(october / "Acme Ltd.xlsx")

    _export(tmp_path / "in", SIBLING)
    code, _, err = _run("report", inputs, "--out", november, "--db", database, "--period", "November 2026")
    assert code == 0, err
    manifest = json.loads((november / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["clients"][0]["fixes"] == {"unarchive-contact": 1}


def test_a_forgotten_template_is_not_taught_again_by_an_older_workbook_but_is_by_a_newer_choice(tmp_path):
    import os
    import time

    inputs, out = _export(tmp_path / "in", UNKNOWN), tmp_path / "out"
    assert _run("report", inputs, "--out", out, "--period", "October 2026")[0] == 0
    book = openpyxl.load_workbook(out / "Acme Ltd.xlsx")
    sheet = book["Unrecognised"]
    column = [c.value for c in sheet[1]].index("Category") + 1
    sheet.cell(2, column).value = "Supplier or customer archived in Xero"
    book.save(out / "Acme Ltd.xlsx")
    old = time.time() - 3600
    os.utime(out / "Acme Ltd.xlsx", (old, old))  # saved an hour ago
    database = out / "history.sqlite"
    assert _run("report", inputs, "--out", out, "--period", "October 2026")[0] == 0  # learns the choice
    assert "contact_archived" in _run("teach", "--list", "--db", database)[1]

    # The workbook of that run no longer has the sheet; put last month's choice back as it stood.
    book.save(out / "Acme Ltd.xlsx")
    os.utime(out / "Acme Ltd.xlsx", (old, old))
    assert _run("teach", UNKNOWN, "--forget", "--db", database)[0] == 0
    assert _run("report", inputs, "--out", out, "--period", "October 2026")[0] == 0
    assert "contact_archived" not in _run("teach", "--list", "--db", database)[1]

    book.save(out / "Acme Ltd.xlsx")  # chosen again, a minute after the forgetting: taught again
    later = time.time() + 60
    os.utime(out / "Acme Ltd.xlsx", (later, later))
    assert _run("report", inputs, "--out", out, "--period", "October 2026")[0] == 0
    assert "contact_archived" in _run("teach", "--list", "--db", database)[1]


def _two_clients(folder: Path, first: str, second: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, error in (("Acme Ltd", first), ("Bolt Ltd", second)):
        (folder / f"{name} - failed items.csv").write_text(
            HEADER + f'1001,15/10/2026,Supplier,10.00,GBP,"{error}"\n', encoding="utf-8")
    return folder


@pytest.mark.parametrize("folders", ["one folder", "a folder a month"])
def test_a_category_chosen_in_the_overview_is_learned_for_every_client(tmp_path, folders):
    """The overview's Unrecognised sheet lists each template once, with the clients it failed
    for: one choice there teaches it for all of them, in the same folder or next month's."""
    inputs, database = _two_clients(tmp_path / "in", UNKNOWN, SIBLING), tmp_path / "practice.sqlite"
    october = tmp_path / ("out" if folders == "one folder" else "2026-10")
    november = tmp_path / ("out" if folders == "one folder" else "2026-11")
    assert _run("report", inputs, "--out", october, "--db", database, "--period", "October 2026")[0] == 0
    book = openpyxl.load_workbook(october / "overview.xlsx")
    sheet = book["Unrecognised"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Template", "Items", "Clients", "Looks like", "Category"]
    assert [r[:3] for r in rows[1:]] == [["Contact name <CODE> is too long", 2, "Acme Ltd, Bolt Ltd"]]
    validation = sheet.data_validations.dataValidation[0]
    assert str(validation.sqref) == "E2" and validation.formula1.startswith("Lists!")
    sheet.cell(2, 5).value = "Supplier or customer archived in Xero"
    book.save(october / "overview.xlsx")

    code, _, err = _run("report", inputs, "--out", november, "--db", database, "--period", "November 2026")
    assert code == 0, err
    manifest = json.loads((november / "manifest.json").read_text(encoding="utf-8"))
    assert [c["fixes"] for c in manifest["clients"]] == [{"unarchive-contact": 1}] * 2
    assert "Unrecognised" not in openpyxl.load_workbook(november / "overview.xlsx").sheetnames
    assert "from: Contact name <CODE> is too long" in _run("teach", "--list", "--db", database)[1]


def test_another_ledgers_message_says_why_it_was_not_looked_up(tmp_path):
    """A QuickBooks error in a Xero practice's export is not Xero's: the Unrecognised section says
    so (the workbook's, the overview's and the pages'), so nobody teaches it a Xero category."""
    quickbooks = "Your QuickBooks Online subscription appears to be inactive"
    inputs, out = _two_clients(tmp_path / "in", quickbooks, UNKNOWN), tmp_path / "out"
    assert _run("report", inputs, "--out", out, "--period", "October 2026")[0] == 0
    said = "Not looked up: another ledger's message (QuickBooks), not Xero's"
    client = openpyxl.load_workbook(out / "Acme Ltd.xlsx")["Unrecognised"]
    assert [c.value for c in client[2]][:3] == [quickbooks, 1, said]
    overview = [[c.value for c in row] for row in openpyxl.load_workbook(out / "overview.xlsx")["Unrecognised"].iter_rows()]
    assert [quickbooks, 1, "Acme Ltd", said, None] in overview
    assert ["Contact name <CODE> is too long", 1, "Bolt Ltd", None, None] in overview
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [c["unrecognised"] for c in manifest["clients"]] == [
        [{"template": quickbooks, "items": 1, "looks_like": said}],
        [{"template": "Contact name <CODE> is too long", "items": 1, "looks_like": ""}]]
    for page in ("Acme Ltd.html", "index.html"):
        assert said.replace("'", "&#39;") in (out / page).read_text(encoding="utf-8")
    assert "Not looked up" not in (out / "Bolt Ltd.html").read_text(encoding="utf-8")


def test_a_run_for_one_client_keeps_the_others_unrecognised_in_the_overview(tmp_path):
    """A client's line, kept in the state store, carries its Unrecognised section: the overview of
    a run limited to another client still lists it (and its drop-down still teaches it)."""
    other = "Frobnication quota reached for widget 7"
    inputs, out = _two_clients(tmp_path / "in", UNKNOWN, other), tmp_path / "out"
    assert _run("report", inputs, "--out", out, "--period", "October 2026")[0] == 0
    code, _, err = _run("report", inputs, "--out", out, "--period", "October 2026", "--client", "Acme Ltd")
    assert code == 0, err
    rows = [[c.value for c in row][:3] for row in openpyxl.load_workbook(out / "overview.xlsx")["Unrecognised"].iter_rows()]
    assert rows[1:] == [["Contact name <CODE> is too long", 1, "Acme Ltd"],
                        ["Frobnication quota reached for widget <NUM>", 1, "Bolt Ltd"]]


@pytest.mark.parametrize("saved_last", ["overview", "client"])
def test_two_workbooks_that_choose_differently_the_one_saved_last_counts(tmp_path, saved_last):
    import os

    inputs, database = _two_clients(tmp_path / "in", UNKNOWN, SIBLING), tmp_path / "practice.sqlite"
    october, november = tmp_path / "2026-10", tmp_path / "2026-11"
    assert _run("report", inputs, "--out", october, "--db", database, "--period", "October 2026")[0] == 0
    choices = {"overview": ("overview.xlsx", 5, "Supplier or customer archived in Xero"),
               "client": ("Acme Ltd.xlsx", 4, "No supplier or customer on the item")}
    for when, name in enumerate(sorted(choices, key=lambda n: n == saved_last)):
        workbook, column, title = choices[name]
        book = openpyxl.load_workbook(october / workbook)
        book["Unrecognised"].cell(2, column).value = title
        book.save(october / workbook)
        os.utime(october / workbook, (1_800_000_000 + when * 60,) * 2)

    code, _, err = _run("report", inputs, "--out", november, "--db", database, "--period", "November 2026")
    assert code == 0, err
    expected = {"overview": "contact_archived", "client": "contact_missing"}[saved_last]
    listed = _run("teach", "--list", "--db", database)[1]
    assert expected in listed and ({"contact_archived", "contact_missing"} - {expected}).pop() not in listed
    said = [line for line in err.splitlines() if "Unrecognised sheet" in line]
    assert len(said) == 1 and "taught as chosen here, in the workbook saved last" in said[0]
    assert f"{choices[saved_last][0]}: Unrecognised sheet" in said[0]
    # Once taught, the older contradicting choice is no news: the next run says nothing of it.
    code, _, err = _run("report", inputs, "--out", november, "--db", database, "--period", "November 2026")
    assert code == 0 and "Unrecognised sheet" not in err


def test_explain_and_teach_say_which_database_and_explain_takes_one(tmp_path, monkeypatch):
    """Run outside the reports folder: teach says where it taught, explain says it read no
    practice database, and explain --db reads the one the practice uses."""
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "practice" / "history.sqlite"
    code, out, _ = _run("teach", UNKNOWN, "contact_archived", "--db", database)
    assert code == 0 and out.rstrip().endswith(f"(in {database}).")
    code, out, err = _run("explain", SIBLING)
    assert code == 0 and out.startswith("Not recognised") and "pass --db FILE" in err
    code, out, err = _run("explain", SIBLING, "--db", database)
    assert code == 0 and out.startswith("Supplier or customer archived in Xero") and "taught" in out and err == ""
    code, _, err = _run("explain", SIBLING, "--db", tmp_path / "nowhere.sqlite")
    assert code == 0 and f"no database at {tmp_path / 'nowhere.sqlite'}" in err
    code, out, err = _run("explain", "Account code '4100' has been archived")  # recognised: no note
    assert code == 0 and err == ""
    code, out, _ = _run("teach", SIBLING, "--forget", "--db", database)
    assert out.strip() == f"Forgotten (in {database})."


def test_an_older_workbooks_choice_does_not_undo_a_later_teach(tmp_path):
    """October's overview chose one category; later the practice taught another with `teach`.
    December's run reads October's overview again (a folder a month): the later teach stands."""
    import os
    import time

    inputs, database = _two_clients(tmp_path / "in", UNKNOWN, SIBLING), tmp_path / "practice.sqlite"
    october = tmp_path / "2026-10"
    assert _run("report", inputs, "--out", october, "--db", database, "--period", "October 2026")[0] == 0
    book = openpyxl.load_workbook(october / "overview.xlsx")
    book["Unrecognised"].cell(2, 5).value = "Supplier or customer archived in Xero"
    book.save(october / "overview.xlsx")
    old = time.time() - 3600
    os.utime(october / "overview.xlsx", (old, old))
    assert _run("teach", UNKNOWN, "contact_missing", "--db", database)[0] == 0
    code, _, err = _run("report", inputs, "--out", tmp_path / "2026-11", "--db", database, "--period", "November 2026")
    assert code == 0, err
    listed = _run("teach", "--list", "--db", database)[1]
    assert "contact_missing" in listed and "contact_archived" not in listed
