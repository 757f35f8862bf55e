"""Reading exports as they really are: each kind of real-world mess as its own case."""

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analyzer.normalise import Options, normalise_inputs
from analyzer.read import Limits, discover, read_export
from workbooks import workbook

HEADER = "Receipt ID,Date,Supplier,Total,Currency,Error"


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _batch(path: Path, **options):
    source = read_export(path)
    assert source.ok, source.error
    return normalise_inputs([source], Options(**options))


CSV_CASES = {
    "utf8-bom-crlf": ("\ufeff" + HEADER + "\r\n1,31-Aug-2026,Café Nord,12.50,GBP,Boom\r\n").encode("utf-8"),
    "cp1252-semicolon-decimal-comma": (
        "Receipt ID;Date;Supplier;Total;Currency;Error\n1;31/08/2026;Café Nord;1.234,50;EUR;Boom\n"
    ).encode("cp1252"),
    "tab": HEADER.replace(",", "\t").encode() + b"\n1\t31-Aug-2026\tCaf\xc3\xa9 Nord\t12.50\tGBP\tBoom\n",
    "pipe": HEADER.replace(",", "|").encode() + b"\n1|31-Aug-2026|Caf\xc3\xa9 Nord|12.50|GBP|Boom\n",
    "quoted-delimiters-and-newlines": (
        HEADER + '\n1,31-Aug-2026,"Café Nord, Ltd",12.50,GBP,"Boom\nand again; twice"\n'
    ).encode(),
    "title-rows-above-header": ("Dext failed items\nExported 3 Nov 2026\n\n" + HEADER + "\n1,31-Aug-2026,Café Nord,12.50,GBP,Boom\n").encode(),
    "mixed-encodings": (HEADER + "\n").encode() + "1,31-Aug-2026,Café Nord,12.50,GBP,Boom\n".encode("cp1252")
    + "2,31-Aug-2026,Café Sud,1.00,GBP,Boom\n".encode("utf-8"),
}


@pytest.mark.parametrize("name", CSV_CASES)
def test_csv_variants_read_the_same_row(tmp_path, name):
    batch = _batch(_write(tmp_path, "Acme Ltd - failed items Oct 2026.csv", CSV_CASES[name]))
    first = batch.fields.iloc[0]
    assert first["supplier"].startswith("Café")
    assert first["error"].startswith("Boom")
    assert first["client"] == "Acme Ltd"
    assert first["date"] == dt.datetime(2026, 8, 31)
    assert first["amount"] in (12.50, 1234.50)


def test_source_rows_are_the_rows_a_person_sees(tmp_path):
    data = ("Title\n\n" + HEADER + '\n1,31-Aug-2026,A,1.00,GBP,"x\ny"\n\n2,31-Aug-2026,B,2.00,GBP,z\n'
            "Total,,,3.00,,\n").encode()
    batch = _batch(_write(tmp_path, "c.csv", data))
    assert list(batch.fields["source_row"]) == [4, 6]
    assert [(s.source_row, s.reason) for s in batch.skipped] == [(5, "blank row"), (7, "totals row")]


def test_ragged_rows_are_read_with_care_and_noted(tmp_path):
    data = (HEADER + "\n1,31-Aug-2026,A,1.00,GBP,x,EXTRA\n2,31-Aug-2026,B\n3,31-Aug-2026,C,3.00,GBP,z\n").encode()
    batch = _batch(_write(tmp_path, "c.csv", data))
    assert len(batch) == 3
    assert batch.original["(extra cells)"].tolist() == ["EXTRA", "", ""]
    assert any("more or fewer cells" in n for n in batch.tables[0].notes)


@pytest.mark.parametrize("short, long, trimmed, refused", [
    (5, 4, 0, True),  # most rows stop short of the header: text, not a table
    (4, 0, 0, False),  # too few to judge
    (5, 5, 0, False),  # half: a ragged export, read with care
    (0, 30, 0, False),  # commas in cells without quotes make rows too long: an export, read with care
    (0, 0, 20, False),  # empty trailing cells dropped by the writer that saved it: an export
])
def test_a_file_whose_rows_mostly_stop_short_of_the_header_is_no_export(tmp_path, short, long, trimmed, refused):
    """A README or a letter saved as .csv whose one line happens to name a client and an error
    column: refused in one line, not read as hundreds of rows of junk clients."""
    lines = [f"{n},31-Aug-2026,S,1.00,GBP,x,more" for n in range(long)]
    lines += [f"Some prose about the month end number {n}" for n in range(short)]
    header = HEADER + ",Note,Description" if trimmed else HEADER
    lines += [f"{n},31-Aug-2026,S,1.00,GBP,boom" for n in range(trimmed)]  # no ",," for Note and Description
    path = _write(tmp_path, "readme.csv", (header + "\n" + "\n".join(lines) + "\n").encode())
    result = read_export(path)
    if refused:
        assert not result.ok and f"{short} of its {short + long} rows have under half the header's cells" in result.error
        assert "no table of failed items" in result.error and "\n" not in result.error
    else:
        assert result.ok and sum(len(s.rows) for s in result.sheets) == short + long + trimmed


def test_duplicate_headers_keep_both_columns(tmp_path):
    data = b"Receipt ID,Note,Note,Error\n1,a,b,boom\n"
    batch = _batch(_write(tmp_path, "c.csv", data))
    assert list(batch.original.columns) == ["Receipt ID", "Note", "Note (2)", "Error"]


@pytest.mark.parametrize(
    "header, alias",
    [("Publishing error", "error"), ("failure_reason", "error"), (" ERROR MESSAGE ", "error"), ("Issue", "error")],
)
def test_error_column_found_by_alias(tmp_path, header, alias):
    batch = _batch(_write(tmp_path, "c.csv", f"Item ID,{header}\n1,boom\n".encode()))
    assert batch.tables[0].roles[alias].strip() == header.strip()


@pytest.mark.parametrize("header, role", [
    ("Amount (inc VAT)", "total"), ("Total incl. GST", "total"), ("Doc Date", "date"), ("Receipt #", "item_id"),
])
def test_other_names_exports_give_amounts_dates_and_ids(tmp_path, header, role):
    batch = _batch(_write(tmp_path, "c.csv", f"{header},Error\n1,boom\n".encode()))
    assert batch.tables[0].roles[role] == header


@pytest.mark.parametrize("header, role, chosen", [
    ("Receipt #,Receipt ID,Error", "item_id", "Receipt ID"),  # the most specific alias, wherever it stands
    ("Doc Date,Date,Error", "date", "Date"),
    ("Amount (inc VAT),Total,Error", "total", "Total"),
    ("Total (GBP),Amount (inc VAT),Error", "total", "Amount (inc VAT)"),  # a base-currency column is no total
])
def test_a_role_goes_to_its_most_specific_alias_not_the_first_column(tmp_path, header, role, chosen):
    batch = _batch(_write(tmp_path, "c.csv", f"{header}\n1,2,boom\n".encode()))
    assert batch.tables[0].roles[role] == chosen


@pytest.mark.parametrize("header, said", [
    ("Item ID,Date,Price paid,Error", "no amount column recognised (other columns: Price paid): value at risk is"
                                      ' not known; name it with --column total="<header>" ([columns] in a config)'),
    ("Ref,Stamp,Price paid,Error", "no amount, date or item id column recognised (other columns: Stamp, Price"
                                   " paid): value at risk is not known; no dates or oldest item; repeats of an item"
                                   ' and tracking by id go without it; name them with --column total="<header>",'
                                   ' date="<header>", item_id="<header>"'),
    ("Item ID,Date,Total,Error", None),
    ("Item ID,Date,Total (GBP),Error", None),  # the base-currency amount is an amount
])
def test_a_table_without_the_columns_a_report_counts_on_says_so(tmp_path, header, said):
    """An export whose amount column the tool does not know ("Price paid") would show a value at
    risk of none, as a clean client's: a note says it is not known and how to name the column."""
    batch = _batch(_write(tmp_path, "c.csv", f"{header}\n1,15/10/2026,9.99,boom\n".encode()))
    notes = [n for n in batch.tables[0].notes if "column recognised" in n]
    assert notes == ([] if said is None else [notes[0]]) and (said is None or notes[0].startswith(said))


def test_no_error_column_names_file_and_columns(tmp_path):
    path = _write(tmp_path, "c.csv", b"Item ID,Supplier\n1,A\n")
    batch = normalise_inputs([read_export(path)])
    assert len(batch) == 0
    assert batch.failures == (f"{path}: no error column found (columns: Item ID, Supplier); name it 'Error', or pass"
                              " --column error=\"<header>\" ([columns] error = \"<header>\" in a config)",)


def test_column_override(tmp_path):
    path = _write(tmp_path, "c.csv", b"Item ID,Error,What went wrong\n1,ignored,real\n")
    batch = normalise_inputs([read_export(path)], Options(columns={"error": "what went wrong"}))
    assert batch.fields["error"].tolist() == ["real"]


@pytest.mark.parametrize(
    "file_name, client",
    [
        ("Acme Plumbing Ltd - failed items Oct 2026.csv", "Acme Plumbing Ltd"),
        ("Acme_Plumbing_Ltd_failed_items_2026-10.csv", "Acme Plumbing Ltd"),
        ("Bistro Lumière - publishing errors Oct 2026.csv", "Bistro Lumière"),
        ("failed items.csv", "clientfolder"),
        # What copying and saving again add to a name: the client stays one client.
        ("Acme Ltd - failed items Oct 2026 (1).csv", "Acme Ltd"),
        ("Acme Ltd - failed items Oct 2026 - Copy.csv", "Acme Ltd"),
        ("Copy of Acme Ltd - failed items.csv", "Acme Ltd"),
        ("Acme Ltd - failed items copy.csv", "Acme Ltd"),
        ("Acme Ltd - failed items - 03.11.2026.csv", "Acme Ltd"),
        ("Acme Ltd - failed items (Oct 2026).csv", "Acme Ltd"),
        ("2026-10 Acme Ltd.csv", "Acme Ltd"),
        ("Acme Ltd Oct26.csv", "Acme Ltd"),
        ("export (3).csv", "clientfolder"),
        # A month that is part of the name stays.
        ("May Foods Ltd - failed items.csv", "May Foods Ltd"),
        ("June Smith Physio.csv", "June Smith Physio"),
        ("Copycat Ltd.csv", "Copycat Ltd"),
    ],
)
def test_client_from_file_name(tmp_path, file_name, client):
    folder = tmp_path / "clientfolder"
    folder.mkdir()
    batch = _batch(_write(folder, file_name, b"Item ID,Error\n1,boom\n"))
    assert batch.fields["client"].tolist() == [client]


def test_forced_client(tmp_path):
    batch = _batch(_write(tmp_path, "x.csv", b"Client,Error\nA,boom\n"), client="Forced Ltd")
    assert batch.fields["client"].tolist() == ["Forced Ltd"]


@pytest.mark.parametrize(
    "dates, dayfirst, expected",
    [
        (["31/08/2026", "01/09/2026"], None, [dt.datetime(2026, 8, 31), dt.datetime(2026, 9, 1)]),
        (["08/31/2026", "09/01/2026"], None, [dt.datetime(2026, 8, 31), dt.datetime(2026, 9, 1)]),
        (["05/08/2026"], False, [dt.datetime(2026, 5, 8)]),
        (["05/08/2026"], True, [dt.datetime(2026, 8, 5)]),
        (["2026-08-31", "31-Aug-2026"], None, [dt.datetime(2026, 8, 31)] * 2),
    ],
)
def test_dates(tmp_path, dates, dayfirst, expected):
    body = "".join(f"{n},{d},boom\n" for n, d in enumerate(dates))
    batch = _batch(_write(tmp_path, "c.csv", ("Item ID,Date,Error\n" + body).encode()), dayfirst=dayfirst)
    assert batch.fields["date"].tolist() == expected
    assert batch.fields["date_text"].tolist() == dates


@pytest.mark.parametrize(
    "text, expected",
    [("1,234.50", 1234.5), ("£12.00", 12.0), ("(45.00)", -45.0), ("45.00-", -45.0), ("$ 1,000", 1000.0),
     ("12.5 GBP", 12.5), ("", None), ("n/a", None)],
)
def test_amounts(tmp_path, text, expected):
    batch = _batch(_write(tmp_path, "c.csv", f'Item ID,Total,Error\n1,"{text}",boom\n'.encode()))
    value = batch.fields["amount"].iloc[0]
    assert (value != value) if expected is None else value == expected


def test_currency_from_base_currency_header(tmp_path):
    data = b"Item ID,Total,Total (AUD),Error\n1,10.00,10.00,boom\n"
    batch = _batch(_write(tmp_path, "c.csv", data))
    assert batch.fields["currency"].tolist() == ["AUD"]
    assert batch.fields["amount_base"].tolist() == [10.0]


def test_workbook_sheet_per_client(tmp_path):
    path = workbook(tmp_path / "clients.xlsx", {
        "Oakridge Vets": [["Item ID", "Date", "Amount", "Failure reason"], [1, dt.datetime(2026, 8, 31), 12.5, "boom"]],
        "Empty": [],
        "Blue Finch": [["Title"], [], ["Item ID", "Date", "Amount", "Failure reason"], [2, dt.datetime(2026, 9, 1), 3, "x"]],
    })
    batch = _batch(path)
    assert batch.fields["client"].tolist() == ["Oakridge Vets", "Blue Finch"]
    assert batch.fields["source_row"].tolist() == [2, 4]
    assert batch.fields["date"].tolist() == [dt.datetime(2026, 8, 31), dt.datetime(2026, 9, 1)]
    assert batch.original["Item ID"].tolist() == ["1", "2"]


def test_workbook_client_column_wins_over_sheet_name(tmp_path):
    path = workbook(tmp_path / "merged.xlsx", {"Failed items": [["Client", "Error"], ["A Ltd", "x"], ["B Ltd", "y"]]})
    assert _batch(path).fields["client"].tolist() == ["A Ltd", "B Ltd"]


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "save it as .xlsx or .csv"),
        ("locked.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptionInfo".encode("utf-16-le"), "password-protected"),
        ("empty.csv", b"", "empty"),
        ("garbage.csv", bytes(range(256)) * 40, "does not look like a CSV or Excel file"),
        ("notes.ods", b"PK\x03\x04garbage", "corrupt"),
        ("numbers.ods", b"plain text,but ods", "save it as .xlsx or .csv"),
    ],
)
def test_unreadable_files_give_one_line(tmp_path, name, data, message):
    result = read_export(_write(tmp_path, name, data))
    assert not result.ok
    assert message in result.error and name in result.error and "\n" not in result.error


def test_discover_folder_glob_and_missing(tmp_path):
    (tmp_path / "b.csv").write_text("Error\nx\n")
    (tmp_path / "a.xlsx").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("skip me")
    found = discover([str(tmp_path), str(tmp_path / "*.csv"), str(tmp_path / "missing.csv")])
    assert [p.name for p in found.files] == ["a.xlsx", "b.csv"]
    assert len(found.errors) == 1 and "no such file" in found.errors[0].error


def test_cell_over_limit_is_refused_with_row_and_column(tmp_path):
    path = _write(tmp_path, "big.csv", b"Item ID,Error\n1,ok\n2," + b"x" * 5000 + b"\n")
    result = read_export(path, Limits(max_cell_chars=1000))
    assert "row 3, column 'Error'" in result.error


@pytest.mark.parametrize("cells, bound", [
    (["ab", "abcd"], 4),
    (["é", 12.5, None], 4),          # Excel values: text measured at 4 bytes a character
    (["a\ud800b", "cc"], 12),       # a lone surrogate is no UTF-8: measured in characters, never raised
])
def test_longest_cell_bound_holds_for_any_text(cells, bound):
    from analyzer.read.delimited import _most_bytes

    assert _most_bytes(pd.Series(cells, dtype=object)) == bound


def test_repeated_header_row_is_skipped_with_its_reason(tmp_path):
    data = (HEADER + "\n1,31-Aug-2026,A,1.00,GBP,x\n" + HEADER + "\n2,31-Aug-2026,B,2.00,GBP,y\n").encode()
    batch = _batch(_write(tmp_path, "c.csv", data))
    assert batch.fields["source_row"].tolist() == [2, 4]
    assert [(s.source_row, s.reason) for s in batch.skipped] == [(3, "repeated header row")]


def test_header_naming_one_known_column_beats_a_wider_ragged_row(tmp_path):
    batch = _batch(_write(tmp_path, "c.csv", b"a,b,Error\n1,2,caf\xe9\n3,4,5,6\n"))
    assert batch.fields["error"].tolist() == ["café", "5"]
    assert batch.original["(extra cells)"].tolist() == ["", "6"]


def test_totals_row_labelled_after_the_amount(tmp_path):
    data = (HEADER + "\n1,31-Aug-2026,A,1.00,GBP,x\n,,,1.00,TOTAL,\n").encode()
    batch = _batch(_write(tmp_path, "c.csv", data))
    assert len(batch) == 1 and [(s.source_row, s.reason) for s in batch.skipped] == [(3, "totals row")]


@pytest.mark.parametrize("odd", ["\x85", "\x0c", "\x0b", "\u2028", "\x1c"])
def test_characters_python_counts_as_line_ends_do_not_change_the_delimiter(tmp_path: Path, odd: str):
    # A cell holding NEL or a form feed (unquoted: CSV writers do not quote them) once split the
    # sample into false lines, and tab won the delimiter vote.
    path = tmp_path / "Acme Ltd - failed items.csv"
    path.write_text(f"Receipt ID,Supplier,Total,Date,Error,Note\r\nr0,\t{odd},12.50,31/10/2026,\t{odd},\r\n",
                    encoding="utf-8")
    sheet = read_export(path).sheets[0]
    assert sheet.delimiter == ","
    assert sheet.header == ("Receipt ID", "Supplier", "Total", "Date", "Error", "Note")
    assert sheet.rows["Error"].tolist() == [f"\t{odd}"]


def test_columns_whose_values_repeat_are_read_as_categoricals(tmp_path):
    rows = "".join(f"{n},31-Aug-2026,Café Nord,1.00,GBP,Boom\n" for n in range(50))
    frame = read_export(_write(tmp_path, "c.csv", (HEADER + "\n" + rows).encode())).sheets[0].rows
    assert {c for c in frame.columns if str(frame[c].dtype) == "category"} == {"Date", "Supplier", "Currency", "Error"}
    assert list(frame["Error"].cat.categories) == ["Boom"]  # the text held once, not fifty times
    assert str(frame["Receipt ID"].dtype) == "str" and str(frame["Total"].dtype) == "str"


def test_nul_padding_is_removed_from_a_repeated_column_and_values_merge(tmp_path):
    data = (HEADER + "\n1,31-Aug-2026,Acme\0,1.00,GBP,Boom\n2,31-Aug-2026,Acme,2.00,GBP,Boom\0\0\n").encode()
    batch = _batch(_write(tmp_path, "c.csv", data))
    assert batch.fields["supplier"].tolist() == ["Acme", "Acme"]
    assert batch.fields["error"].tolist() == ["Boom", "Boom"]
    assert any("NUL" in note for note in batch.tables[0].notes)


def test_files_with_other_columns_join_into_one_table(tmp_path):
    first = _write(tmp_path, "a.csv", (HEADER + "\n1,31-Aug-2026,Acme,1.00,GBP,Boom\n").encode())
    second = _write(tmp_path, "b.csv", b"Receipt ID,Client,Status,Error\n2,Bob & Co,Ready,Bang\n3,Bob & Co,Ready,Boom\n")
    workbook = tmp_path / "c.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["Receipt ID", "Supplier", "Error"])
    book.active.append([4, "Wickes", "Boom"])
    book.save(workbook)
    batch = normalise_inputs([read_export(p) for p in (first, second, workbook)])
    assert batch.fields["error"].tolist() == ["Boom", "Bang", "Boom", "Boom"]
    assert batch.fields["supplier"].tolist() == ["Acme", "", "", "Wickes"]
    assert batch.original["Status"].tolist() == ["", "Ready", "Ready", ""]
    assert batch.fields["source_file"].tolist() == [str(first), str(second), str(second), str(workbook)]


@pytest.mark.parametrize("row", [
    ",,,150.00,,",           # a sums row with no label: =SUM() under the amounts
    ",,,\"£1,150.00\",GBP,",  # with its currency
    ",,Sum,150.00,,",
    ",,2 items,150.00,,",
    ",,Count: 2,,,",
])
def test_a_totals_row_without_the_word_total_is_skipped(tmp_path, row):
    data = (HEADER + "\n1,31-Aug-2026,A,100.00,GBP,x\n2,31-Aug-2026,B,50.00,GBP,y\n" + row + "\n").encode()
    batch = _batch(_write(tmp_path, "c.csv", data))
    assert len(batch) == 2 and batch.fields["amount"].sum() == 150
    assert [(s.source_row, s.reason) for s in batch.skipped] == [(4, "totals row")]


@pytest.mark.parametrize("row", [
    "3,,,150.00,,",             # an item id: an item with no error text, not a sum
    ",31-Aug-2026,C,150.00,,",  # a supplier and a date: an item
    ",,,150.00,,see note",      # an error cell
    ",,,,GBP,",                 # a currency code alone sums nothing: an item with no error text
])
def test_a_row_with_more_than_amounts_is_kept(tmp_path, row):
    data = (HEADER + "\n1,31-Aug-2026,A,100.00,GBP,x\n" + row + "\n").encode()
    batch = _batch(_write(tmp_path, "c.csv", data))
    assert len(batch) == 2 and not batch.skipped


def test_amounts_written_by_hand_are_named_in_a_note_and_left_out(tmp_path):
    data = (HEADER + "\n1,31-Aug-2026,A,10 x 4.50,GBP,x\n2,31-Aug-2026,B,n/a,GBP,y\n3,31-Aug-2026,C,=2*3,GBP,z\n"
            "4,31-Aug-2026,D,12.50,GBP,w\n").encode()
    batch = _batch(_write(tmp_path, "c.csv", data))
    amounts = batch.fields["amount"].tolist()
    assert amounts[3] == 12.5 and all(a != a for a in amounts[:3])  # NaN: no number made of their digits
    notes = [n for t in batch.tables for n in t.notes if "amount" in n]
    assert notes == ["column 'Total': 2 amount(s) could not be read (row 2: '10 x 4.50'); they are left out of the"
                     " value at risk: write them as numbers"]  # n/a says there is none: not counted


def test_dates_that_cannot_be_read_are_named_by_column_and_first_row(tmp_path):
    data = (HEADER + "\n1,31-Aug-2026,A,1.00,GBP,x\n2,31/02/2026,B,2.00,GBP,y\n3,someday,C,3.00,GBP,z\n").encode()
    batch = _batch(_write(tmp_path, "c.csv", data))
    notes = [n for t in batch.tables for n in t.notes if "date(s)" in n]
    assert notes == ["column 'Date': 2 date(s) could not be read (row 3: '31/02/2026'); they are shown as written"]


@pytest.mark.parametrize("sheet", ["Oct 2026", "October", "Sep 2026", "2026-10", "Export 1", "Q3 2026"])
def test_a_tab_named_after_a_month_or_an_export_is_no_client(tmp_path, sheet):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = sheet
    book.active.append(["Item ID", "Error"])
    book.active.append(["1", "boom"])
    book.save(tmp_path / "Acme Ltd - failed items.xlsx")
    batch = _batch(tmp_path / "Acme Ltd - failed items.xlsx")
    assert batch.fields["client"].tolist() == ["Acme Ltd"]


@pytest.mark.parametrize("lines, kept, reasons", [
    # Footers and second titles: words alone in the first column, no error.
    (["Item ID,Supplier,Error", "1,Acme,Invoice # must be unique.", "Page 1 of 2,,", "Printed by Jane on 03/11/2026,,",
      "Confidential,,"], ["1"], ["title or footer row"] * 3),
    # An item id alone is an item with no error text, not a footer.
    (["Item ID,Supplier,Error", "1,Acme,boom", "58717013,,"], ["1", "58717013"], []),
])
def test_footer_and_title_lines_are_skipped_and_counted(tmp_path, lines, kept, reasons):
    batch = _batch(_write(tmp_path, "Acme Ltd.csv", ("\n".join(lines) + "\n").encode()))
    assert batch.fields["item_id"].tolist() == kept
    assert [s.reason for s in batch.skipped] == reasons


@pytest.mark.parametrize("lines, said", [
    (["1,Acme,Invoice # must be unique.", "2,Bolt,Account code '455' has been archived", "Item ID,Supplier,Error",
      "3,Cole,boom"], "2 row(s) above the header row (row 3) look like items and were not read (first: row 1)"),
    (["Failed items export - Acme Ltd", "Printed 03/11/2026", "Item ID,Supplier,Error", "3,Cole,boom"],
     "2 title row(s) above the header row (row 3) skipped"),
])
def test_rows_above_the_header_are_accounted_for(tmp_path, lines, said):
    batch = _batch(_write(tmp_path, "Acme Ltd.csv", ("\n".join(lines) + "\n").encode()))
    assert batch.fields["item_id"].tolist() == ["3"]
    assert any(said in note for table in batch.tables for note in table.notes), [t.notes for t in batch.tables]


@pytest.mark.parametrize("header", ["Xero organisation", "Client Code", "Dext account", "Practice client"])
def test_a_client_column_under_another_name_is_the_client(tmp_path, header):
    batch = _batch(_write(tmp_path, "Practice merged Oct 2026.csv",
                          f"{header},Item ID,Error\nAcme Ltd,1,boom\nBeta Ltd,2,boom\n".encode()))
    assert batch.fields["client"].tolist() == ["Acme Ltd", "Beta Ltd"]


def test_a_client_cell_holding_a_placeholder_names_no_client(tmp_path):
    batch = _batch(_write(tmp_path, "Practice merged Oct 2026.csv",
                          b"Client,Item ID,Error\nAcme Ltd,1,boom\n-,2,boom\nN/A,3,boom\n"))
    assert batch.fields["client"].tolist() == ["Acme Ltd", "Client not stated", "Client not stated"]


@pytest.mark.parametrize("a, b", [("Acme Ltd.", "Acme Ltd"), ("Bistro Lumière", "Bistro Lumiere"),
                                  ("Beta\u200b Ltd", "Beta Ltd"), ("ACME  LTD", "Acme Ltd")])
def test_spellings_of_one_client_have_one_key(a, b):
    from analyzer.normalise import name_key

    assert name_key(a) == name_key(b)


def test_rows_an_export_of_every_item_says_were_published_are_no_failures(tmp_path):
    batch = _batch(_write(tmp_path, "Acme Ltd.csv", b"Item ID,Status,Error\n1,Failed,boom\n2,Published,\n3,published,\n"
                                                    b"4,Published,Invoice # must be unique.\n5,Ready,\n"))
    assert batch.fields["item_id"].tolist() == ["1", "4", "5"]  # an error, or no word of publishing: still listed
    assert [s.reason for s in batch.skipped] == ["published row", "published row"]


def test_a_column_named_for_one_clients_file_leaves_the_others_to_their_own(tmp_path):
    """--column error=Fehler for the one client whose export says Fehler: the other clients' files,
    with an Error column, are read as ever (each was refused), with a note."""
    odd = read_export(_write(tmp_path, "Beta GmbH.csv", b"Beleg,Fehler\n1,Invoice # must be unique.\n"))
    usual = read_export(_write(tmp_path, "Acme Ltd.csv", b"Item ID,Error\n2,Invoice # must be unique.\n"))
    batch = normalise_inputs([odd, usual], Options(columns={"error": "Fehler"}))
    assert batch.fields["error"].tolist() == ["Invoice # must be unique."] * 2 and not batch.failures
    (acme,) = [t for t in batch.tables if t.source_file.endswith("Acme Ltd.csv")]
    assert "no column 'Fehler' (--column error=...) here; its 'Error' column was used" in acme.notes
    nothing = read_export(_write(tmp_path, "Cole Ltd.csv", b"Item ID,Problem text\n3,boom\n"))
    assert "--column error='Fehler': no such column" in normalise_inputs([nothing], Options(columns={"error": "Fehler"})).failures[0]


def test_a_table_joined_from_exports_with_differently_headed_error_columns(tmp_path):
    """Power Query appends each client's export: Acme's rows fill 'Error', Beta's 'Publishing error'."""
    batch = _batch(_write(tmp_path, "Merged.csv", b"Client,Item ID,Error,Publishing error\n"
                                                  b"Acme Ltd,1,Invoice # must be unique.,\nBeta Ltd,2,,boom\nBeta Ltd,3,,\n"))
    assert batch.fields["error"].tolist() == ["Invoice # must be unique.", "boom", ""]
    assert any("took their error from 'Publishing error' (1)" in n for t in batch.tables for n in t.notes)


def test_a_merged_export_of_uk_and_us_clients_reads_each_clients_dates_in_its_order(tmp_path):
    batch = _batch(_write(tmp_path, "Merged Oct 2026.csv", b"Client,Item ID,Date,Error\n"
                          b"UK Bakery Ltd,1,05/10/2026,boom\nUK Bakery Ltd,2,14/10/2026,boom\n"
                          b"US Dental LLC,3,10/31/2026,boom\nUS Dental LLC,4,10/05/2026,boom\n"))
    assert batch.fields["date"].tolist() == [pd.Timestamp(2026, 10, 5), pd.Timestamp(2026, 10, 14),
                                             pd.Timestamp(2026, 10, 31), pd.Timestamp(2026, 10, 5)]
    assert any("read month first for US Dental LLC" in n for t in batch.tables for n in t.notes)


@pytest.mark.parametrize("cells, amounts", [
    # A `;` file whose amounts use dot decimals: 1,250 is twelve hundred and fifty.
    (["1234.56", "1,234.56", "12.50", "1.250", "1,250"], [1234.56, 1234.56, 12.5, 1.25, 1250.0]),
    # The European habit: comma decimals.
    (["1.234,56", "12,50", "1,250"], [1234.56, 12.5, 1.25]),
])
def test_a_semicolon_file_reads_amounts_with_the_decimals_its_cells_use(tmp_path, cells, amounts):
    rows = "".join(f"{i};{c};boom\n" for i, c in enumerate(cells))
    batch = _batch(_write(tmp_path, "Acme Ltd.csv", f"Item ID;Total;Error\n{rows}".encode()))
    assert batch.fields["amount"].round(2).tolist() == amounts


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@pytest.mark.parametrize("header, said", [
    (["Date", "Total", "Error", "Total"], "2 columns are headed 'Total' (the others kept as 'Total (2)')"),
    (["Total", "Error", "Total", "Total"], "3 columns are headed 'Total' (the others kept as 'Total (2)', 'Total (3)')"),
    (["Total", "Error", "Total (USD)", "Total", "Total (USD)"],
     "2 columns are headed 'Total' (the others kept as 'Total (2)'); 2 columns are headed 'Total (USD)' (the others"
     " kept as 'Total (USD) (2)')"),
    (["Date", "Total", "Error", "Note"], None),
    (["Date", "Total", "Error", "", ""], None),  # blank headings are numbered, not repeats
])
def test_a_heading_given_to_two_columns_is_said_and_the_first_is_read(tmp_path, kind, header, said):
    row = ["01/10/2026", "12.50", "Account code 400 is archived", "13.00", "1"][: len(header)]
    if header[0] == "Total":
        row = ["12.50", "Account code 400 is archived", "13.00", "1", "2"][: len(header)]
    path = tmp_path / f"Acme Ltd.{kind}"
    if kind == "csv":
        path.write_text(",".join(header) + "\n" + ",".join(row) + "\n", encoding="utf-8")
    else:
        workbook(path, {"Acme Ltd": [header, row]})
    batch = normalise_inputs([read_export(path)], Options())
    notes = [n for t in batch.tables for n in t.notes if "columns are headed" in n]
    assert notes == ([f"{said}: the first of each is the one read; rename a column if another is meant"] if said else [])
    assert batch.fields["amount"].tolist() == [12.5]
