"""Excel reports: the sheets, their cells read back with openpyxl, and that no input text can
become a formula, a number or a link."""

import csv
import datetime as dt
import shutil
import subprocess
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from analyzer.pipeline import ReportSettings, analyse, run_report
from analyzer.render_xlsx import (
    MAX_CELL,
    STATUS_CHOICES,
    TRUNCATED,
    clean_text,
    render_client_xlsx,
    render_overview_xlsx,
)
from analyzer.report_model import ActionLine, ClientReport, Group, Item, Money, Source
from xlsx_dump import dump_workbook

SAMPLES = Path(__file__).resolve().parent.parent / "sample_exports"
RUN_DATE = dt.datetime(2026, 11, 3, 9, 0)
HOSTILE = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "=1+1", "%2B1"]


def _expected(text: str) -> str:
    """What a cell holds for an input text: the same, with line breaks as `\\n`."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    analysis = analyse([str(SAMPLES)])
    run = run_report(analysis, ReportSettings(out=out, formats=("xlsx",)), run_date=RUN_DATE)
    return run, out


def _book(path):
    return openpyxl.load_workbook(path)


def _header(sheet) -> list:
    return [c.value for c in next(sheet.iter_rows(min_row=1, max_row=1))]


def _rows_of(area: str) -> range:
    first, _, last = area.partition(":")
    return range(int(first[1:]), int((last or first)[1:]) + 1)


def _column(sheet, heading) -> list:
    index = _header(sheet).index(heading)
    return [row[index] for row in sheet.iter_rows(min_row=2)]


# -- the sample run ------------------------------------------------------------------------------


def test_every_client_has_a_workbook_with_its_sheets_in_order(sample_run):
    run, out = sample_run
    assert run.reports
    for report in run.reports:
        assert report.xlsx_file and (out / report.xlsx_file).is_file()
        book = _book(out / report.xlsx_file)
        expected = (["Summary", "Actions", "Items"] + (["For the client"] if report.client_asks else [])
                    + (["Unrecognised", "Lists"] if report.templates else []))
        assert book.sheetnames == expected
    assert any(r.templates for r in run.reports)  # the samples exercise the optional sheets
    assert any(r.client_asks for r in run.reports)


def test_workbook_parts_are_deflated_quickly(sample_run):
    """Every part of every workbook is deflated at zlib's level 1 (speed: about 1.5 ms a client's
    workbook), not XlsxWriter's default 6; the workbooks still open (the test above)."""
    run, out = sample_run
    for report in run.reports:
        with zipfile.ZipFile(out / report.xlsx_file) as book:
            for part in book.infolist():
                assert part.compress_type == zipfile.ZIP_DEFLATED
                deflate = zlib.compressobj(1, zlib.DEFLATED, -15)
                assert part.compress_size == len(deflate.compress(book.read(part)) + deflate.flush()), part.filename


@pytest.mark.parametrize("constant_memory", [False, True])
def test_quick_attribute_escaping_writes_the_same_bytes_as_xlsxwriters(monkeypatch, constant_memory):
    """cells._quick_escape_attribute only skips XlsxWriter's exception for numbers: a workbook
    whose attributes need escaping (a link's address with & in the relationships, number formats
    with quotes) and whose texts hold XML's special characters comes out byte for byte as
    XlsxWriter's own escaping writes it, and that escaping is still what escapes them."""
    import xlsxwriter.xmlwriter

    import analyzer.render_xlsx.cells as cells

    if constant_memory:
        monkeypatch.setattr(cells, "CONSTANT_MEMORY_ROWS", 0)
    texts = [*HOSTILE, 'a "quoted" <b> & c\nd', " padded "]
    items = tuple(_item(r, text) for r, text in enumerate(texts))
    table = pd.DataFrame({"Supplier": texts, "Amount": [1.5] * len(texts),
                          "Link": ["https://ok.example/?a=1&b=2"] * len(texts)})
    report = _report(table, items, client='Smith & "Sons" <Ltd>', practice="A&B <Co>")
    escaped, original = [], cells._escape_attribute

    def escape(writer, attribute):
        escaped.append(attribute)
        return original(writer, attribute)

    monkeypatch.setattr(cells, "_escape_attribute", escape)
    quick = render_client_xlsx(report)
    assert xlsxwriter.xmlwriter.XMLwriter._escape_attributes is cells._quick_escape_attribute
    assert "https://ok.example/?a=1&b=2" in escaped and all(isinstance(a, str) for a in escaped)
    monkeypatch.setattr(xlsxwriter.xmlwriter.XMLwriter, "_escape_attributes", escape)
    assert render_client_xlsx(report) == quick


def test_formulas_prepared_once_write_the_same_bytes_as_xlsxwriters(monkeypatch, sample_run):
    """cells._quick_prepare_formula keeps XlsxWriter's preparation of each distinct formula: a
    client's workbook (the status colours' conditional formats) and the overview (its totals'
    SUM formulas) come out byte for byte as with XlsxWriter's own."""
    import xlsxwriter.worksheet

    import analyzer.render_xlsx.cells as cells

    assert xlsxwriter.worksheet.Worksheet._prepare_formula is cells._quick_prepare_formula
    texts = ["Account code 200 is archived", "Supplier not found"]
    items = tuple(_item(r, text) for r, text in enumerate(texts))
    report = _report(pd.DataFrame({"Supplier": texts}), items)
    overview = sample_run[0].overview
    quick = render_client_xlsx(report), render_overview_xlsx(overview)
    assert cells._prepared_formula.cache_info().hits
    monkeypatch.setattr(xlsxwriter.worksheet.Worksheet, "_prepare_formula", cells._prepare_formula)
    assert (render_client_xlsx(report), render_overview_xlsx(overview)) == quick
    # A newer function is still named as Excel stores it, where XlsxWriter would.
    sheet = xlsxwriter.Workbook(None).add_worksheet()
    assert cells._quick_prepare_formula(sheet, "=XLOOKUP(1, A:A, B:B)") == "_xlfn.XLOOKUP(1, A:A, B:B)"


def test_items_hold_every_input_row_exactly_once(sample_run):
    run, out = sample_run
    fields = run.analysis.batch.fields
    wanted = Counter(
        (client, path.replace("\\", "/").rsplit("/", 1)[-1], int(row))
        for client, path, row in zip(fields["client"], fields["source_file"], fields["source_row"])
    )
    seen = Counter()
    for report in run.reports:
        items = _book(out / report.xlsx_file)["Items"]
        files = [c.value for c in _column(items, "Source file")]
        rows = [c.value for c in _column(items, "Source row")]
        assert len(files) == report.rows and report.rows >= report.item_count
        seen.update((report.client, f, r) for f, r in zip(files, rows))
    assert seen == wanted
    assert max(seen.values()) == 1
    assert sum(seen.values()) == len(fields) == run.analysis.rows_read


def test_items_sheet_tracking_columns_validation_and_cell_types(sample_run):
    run, out = sample_run
    for report in run.reports:
        items = _book(out / report.xlsx_file)["Items"]
        header = _header(items)
        assert header[:4] == ["Status", "Assigned to", "Note", "Snooze until"]
        identity = [h for h in ("Item ID", "Date", "Supplier", "Customer", "Amount", "Currency") if h in header]
        assert header[4:4 + len(identity)] == identity and "Item ID" in identity  # which item, beside its tracking
        assert header[4 + len(identity):6 + len(identity)] == ["Who acts", "Fix #"]
        assert items.freeze_panes == "B2"  # the header and Status stay in view
        assert header[-2:] == ["Category ids", "Item key"]
        assert len(header) == len(set(header))  # an input "Note" column is renamed, not repeated
        last = items.max_row
        assert last == report.rows + 1
        validations = {v.type: v for v in items.data_validations.dataValidation}
        assert set(validations) == {"list", "date"}
        validation = validations["list"]
        statuses = [c.value for c in _column(items, "Status")]
        repeats = [n for n, s in enumerate(statuses, start=2) if s.startswith("Repeat of row")]
        assert len(repeats) == report.repeated_rows
        covered = {r for area in str(validation.sqref).split() for r in _rows_of(area)}
        assert covered == set(range(2, last + 1)) - set(repeats)  # no drop-down on a repeated row
        assert validation.formula1.strip('"').split(",") == list(STATUS_CHOICES)
        assert set(statuses) - {s for s in statuses if s.startswith("Repeat of row")} == {"To do"}
        assert str(validations["date"].sqref) == f"D2:D{last}"
        who = {c.value for c in _column(items, "Who acts")}
        assert who <= {"Bookkeeper, in Dext", "Adviser, in Xero", "The client's Xero admin"}
        assert items.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}{last}"

        dates = [c for c in _column(items, "Date") if c.value is not None]
        assert dates and all(isinstance(c.value, dt.datetime) and c.is_date for c in dates)
        assert all(c.number_format == "d mmm yyyy" for c in dates)
        amounts = [c for c in _column(items, "Amount") if c.value is not None]
        assert amounts and all(c.data_type == "n" and isinstance(c.value, float | int) for c in amounts)
        assert all(c.number_format == "#,##0.00" for c in amounts)
        for heading in ("Item ID", "Supplier", "Error"):
            assert all(c.data_type == "s" for c in _column(items, heading) if c.value is not None)
        links = [c for c in _column(items, "Link") if c.hyperlink]
        assert all(c.hyperlink.target.startswith(("https://", "http://")) and c.value == c.hyperlink.target
                   for c in links)


def test_items_are_in_fix_order_and_summary_links_to_each_fix(sample_run):
    run, out = sample_run
    for report in run.reports:
        book = _book(out / report.xlsx_file)
        numbers = [c.value for c in _column(book["Items"], "Fix #")]
        grouped = [n for n in numbers if n is not None]
        assert grouped == sorted(grouped)  # each fix's rows together, fixes in plan order
        assert numbers[: len(grouped)] == grouped  # rows no fix claims come last
        summary = book["Summary"]
        links = {c.row: c.hyperlink.location for row in summary.iter_rows() for c in row
                 if c.hyperlink is not None}
        assert len(links) == len(report.groups)
        for group in report.groups:
            row = next(r for r in summary.iter_rows() if r[0].value == group.number and r[1].value == group.title)
            location = links[row[0].row]
            target = int(location.rsplit("A", 1)[1])
            assert location == f"'Items'!A{target}"
            if group.number in grouped:
                assert target == numbers.index(group.number) + 2


def test_summary_states_the_facts_and_values_per_currency(sample_run):
    run, out = sample_run
    report = next(r for r in run.reports if len(r.money) > 1)
    summary = _book(out / report.xlsx_file)["Summary"]
    facts = {}
    for row in summary.iter_rows(max_col=2):
        if row[0].value:
            facts.setdefault(row[0].value, row[1])
    assert facts["Client"].value == report.client
    assert facts["Period"].value == report.period
    assert facts["Run date"].is_date and facts["Run date"].value == dt.datetime(2026, 11, 3)
    assert facts["Status"].value == report.status_label
    assert facts["Items to fix"].value == report.item_count
    assert facts["State"].value == "Failing"
    first = facts["Value at risk"].row
    cells = [summary.cell(first + i, 2) for i in range(len(report.money))]
    assert [c.value for c in cells] == pytest.approx([m.amount for m in report.money])
    for cell, money in zip(cells, report.money):
        assert cell.data_type == "n" and f'"{money.currency}"' in cell.number_format
    header = next(r for r in summary.iter_rows() if r[0].value == "#")
    headings = [c.value for c in header if c.value]
    for money in report.money:
        assert f"Value {money.currency}" in headings
    assert not summary.merged_cells.ranges


def test_actions_sheet(sample_run):
    run, out = sample_run
    for report in run.reports:
        actions = _book(out / report.xlsx_file)["Actions"]
        lines = [(g, a) for g in report.groups for a in g.actions]
        assert actions.max_row == len(lines) + 1
        assert actions.freeze_panes == "A2" and actions.auto_filter.ref.startswith("A1:")
        header = _header(actions)
        for heading in ("#", "Fix", "For", "Items", "Who", "Where", "Steps", "Warnings", "Publishable",
                        "First date", "Last date"):
            assert heading in header
        steps = _column(actions, "Steps")
        for (group, _), cell in zip(lines, steps):
            assert cell.value.startswith("1. ") and cell.value.count("\n") == len(group.steps) - 1
            assert cell.alignment.wrap_text
        for cell in _column(actions, "First date"):
            assert cell.value is None or cell.is_date
        assert {c.value for c in _column(actions, "Publishable")} <= {"Yes", "No"}


def test_overview_workbook(sample_run):
    run, out = sample_run
    book = _book(out / "overview.xlsx")
    assert book.sheetnames == ["Overview", "Who acts", "Unrecognised", "Lists", "Sources", "Run"]
    unrecognised = [[c.value for c in row] for row in book["Unrecognised"].iter_rows()]
    assert unrecognised[0] == ["Template", "Items", "Clients", "Looks like", "Category"]
    assert [row[:3] for row in unrecognised[1:]] == [
        [u.template, u.items, ", ".join(u.clients)] for u in run.overview.unrecognised]
    assert sum(u.items for u in run.overview.unrecognised) == sum(n for r in run.reports for _, n in r.templates)
    sheet = book["Overview"]
    header = _header(sheet)
    assert header[:4] == ["Client", "Status", "State", "Items to fix"]
    for _, title, _, _ in run.overview.fixes:
        assert title in header
    clients = [c.value for c in _column(sheet, "Client")]
    assert clients[:-1] == [c.client for c in run.overview.clients] and clients[-1] == "Total"
    total = _column(sheet, "Items to fix")[-1]
    assert total.data_type == "f" and total.value.startswith("=SUM(")
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref.endswith(str(len(run.overview.clients) + 1))
    values = openpyxl.load_workbook(out / "overview.xlsx", data_only=True)["Overview"]
    assert _column(values, "Items to fix")[-1].value == run.overview.item_count
    sources = book["Sources"]
    assert _header(sources) == ["Path", "Rows", "Skipped", "Status", "Message"]
    assert sources.max_row == len(run.overview.sources) + 1


def test_the_same_run_gives_the_same_bytes(sample_run, tmp_path):
    run, out = sample_run
    again = run_report(analyse([str(SAMPLES)]), ReportSettings(out=tmp_path, formats=("xlsx",)), run_date=RUN_DATE)
    for name in [r.xlsx_file for r in again.reports] + ["overview.xlsx"]:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_dump_is_stable_and_lists_validations(sample_run):
    run, out = sample_run
    path = out / run.reports[0].xlsx_file
    text = dump_workbook(path)
    assert text == dump_workbook(path)
    assert "validation A2:A" in text and "sheet 'Items'" in text and "freeze=A2" in text


# -- hostile input ---------------------------------------------------------------------------------


def test_formula_like_text_from_an_export_stays_text(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [["Item ID", "Date", "Supplier", "Total", "Currency", "Description", "Error", "Image", "Custom"]]
    for number, text in enumerate(HOSTILE):
        rows.append([f"9{number}", "03-Oct-2026", text, "12.50", "GBP", text,
                     f"Account code '455' has been archived, or has been deleted. {text}",
                     "javascript:alert(1)" if number == 0 else f"https://app.dext.com/receipts/view/{number}", text])
    with open(folder / "Hostile Ltd - failed items Oct 2026.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    run = run_report(analyse([str(folder)]), ReportSettings(out=tmp_path / "out", formats=("xlsx",)),
                     run_date=RUN_DATE)
    path = tmp_path / "out" / run.reports[0].xlsx_file
    items = _book(path)["Items"]
    custom = _column(items, "Custom")
    assert [c.value for c in custom] == [_expected(t) for t in HOSTILE]
    assert all(c.data_type == "s" for c in custom)
    for heading in ("Supplier", "Description", "Error", "Link"):
        assert all(c.data_type == "s" for c in _column(items, heading)), heading
    link = _column(items, "Link")[0]
    assert link.value == "javascript:alert(1)" and link.hyperlink is None
    _assert_no_formulas(path)


def _assert_no_formulas(path: Path) -> None:
    """No cell of the workbook holds a formula, and nothing links anywhere but http(s) or the
    workbook itself."""
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            data = archive.read(name).decode("utf-8")
            if name.startswith("xl/worksheets/sheet"):
                assert "<f>" not in data and "<f " not in data, name
            if name.endswith(".rels") and "worksheets" in name:
                for target in data.split('Target="')[1:]:
                    assert target.startswith(("https://", "http://")), target


def _item(row: int, text: str, fix_key: str = "fix-a") -> Item:
    return Item(row=row, item_id=text, date=dt.date(2026, 10, 3), date_text="03-Oct-2026", supplier=text,
                amount=12.5, currency="GBP", category=text, tax="", error=text, link="",
                source_file="hostile.csv", source_row=row + 2, categories="x", values=(), fix_key=fix_key)


def _report(table: pd.DataFrame, items: tuple[Item, ...], **changes) -> ClientReport:
    group = Group(
        number=1, key="fix-a", anchor="fix-1", fix_id="fix-a", title="=Fix it", scope="item",
        scope_label="Item by item", who="@who", where="+where", causes=("cause",), categories=(("x", "X"),),
        steps=("=step one", "step two"), warnings=("-warn",), publishable=True,
        actions=(ActionLine(label="=label", value="=v", items=len(items), money=(Money("GBP", 25.0),),
                            first_date=dt.date(2026, 10, 3), last_date=dt.date(2026, 10, 4)),),
        items=items, money=(Money("GBP", 25.0),),
    )
    values = dict(
        practice="=Practice", client="=Client", period="October 2026", run_date=dt.datetime(2026, 11, 3),
        version="0.1.0", sources=(Source("=evil.csv", len(table)),), status="amber",
        status_label="Items need fixing", item_count=len(table), money=(Money("GBP", 25.0),), groups=(group,),
        templates=(("=template <NUM>", 2),), notes=("+note",), items_table=table, rows=len(table),
    )
    values.update(changes)
    return ClientReport(**values)


def test_a_hand_built_hostile_report_reads_back_as_text(tmp_path):
    long_text = "=" + "x" * (MAX_CELL + 100)
    texts = HOSTILE + ["bad\x00\x07\x1b\ufffechars", long_text, "a\r\nb"]
    n = len(texts)
    table = pd.DataFrame({
        "Fix": ["=Fix it"] * n,
        "Supplier": pd.array(texts, dtype="str"),
        "Note": texts,  # collides with the tracking column
        "=SUM(1)": texts,  # a hostile column heading
        "Date": pd.to_datetime([dt.datetime(2026, 10, 3)] * (n - 2) + [None, dt.datetime(1899, 5, 1)]),
        "Amount": [12.5] * (n - 2) + [np.nan, np.inf],
        "Link": ['https://app.dext.com/x"><script>', "http://ok.example/a", "ftp://x", "=HYPERLINK(\"http://e\")"]
                + ["https://app.dext.com/receipts/view/1"] * (n - 4),
        "Source row": np.arange(2, n + 2),
    }, index=np.arange(100, 100 + n))
    items = tuple(_item(r, "=x") for r in table.index)
    report = _report(table, items)
    path = tmp_path / "hostile.xlsx"
    path.write_bytes(render_client_xlsx(report))
    _assert_no_formulas(path)
    book = _book(path)
    assert book.sheetnames == ["Summary", "Actions", "Items", "Unrecognised"]
    sheet = book["Items"]
    header = _header(sheet)
    assert "Note (input)" in header and "=SUM(1)" in header
    for heading in ("Supplier", "Note (input)", "=SUM(1)"):
        cells = _column(sheet, heading)
        assert all(c.data_type == "s" for c in cells)
        values = [c.value for c in cells]
        assert values[: len(HOSTILE)] == [_expected(t) for t in HOSTILE]
        assert values[len(HOSTILE)] == "badchars"
        assert len(values[len(HOSTILE) + 1]) <= MAX_CELL and values[len(HOSTILE) + 1].endswith(TRUNCATED)
        assert values[-1] == "a\nb"
    dates = _column(sheet, "Date")
    assert dates[-2].value is None and dates[-1].value == "1 May 1899"  # before Excel's calendar: text
    amounts = _column(sheet, "Amount")
    assert amounts[0].value == 12.5 and amounts[-2].value is None and amounts[-1].value is None
    links = _column(sheet, "Link")
    assert links[1].hyperlink.target == "http://ok.example/a"
    assert all(c.hyperlink is None for c in (links[0], links[2], links[3]))
    for name in book.sheetnames:
        for row in book[name].iter_rows():
            for cell in row:
                assert cell.data_type != "f"
    summary = book["Summary"]
    texts_seen = {c.value for row in summary.iter_rows() for c in row if isinstance(c.value, str)}
    assert {"=Client", "=Practice", "=Fix it", "@who", "+note", "=evil.csv"} <= texts_seen
    assert book["Unrecognised"]["A2"].value == "=template <NUM>"


def test_constant_memory_mode_reads_back_the_same(tmp_path, monkeypatch):
    import analyzer.render_xlsx as render_xlsx

    texts = HOSTILE + ["plain", "x" * (MAX_CELL + 5)]
    n = len(texts)
    table = pd.DataFrame({
        "Supplier": texts,
        "Date": pd.to_datetime([dt.datetime(2026, 10, 3)] * (n - 1) + [dt.datetime(1899, 5, 1)]),
        "Amount": [12.5] * (n - 1) + [np.nan],
        "Link": ["https://app.dext.com/receipts/view/1"] * n,
    }, index=np.arange(n))
    report = _report(table, tuple(_item(r, "=x") for r in table.index))
    small, large = tmp_path / "memory.xlsx", tmp_path / "constant.xlsx"
    small.write_bytes(render_client_xlsx(report))
    monkeypatch.setattr(render_xlsx.cells, "CONSTANT_MEMORY_ROWS", 0)
    large.write_bytes(render_client_xlsx(report))
    with zipfile.ZipFile(large) as archive:
        assert "inlineStr" in archive.read("xl/worksheets/sheet3.xml").decode()
    assert dump_workbook(large) == dump_workbook(small)
    assert render_client_xlsx(report) == large.read_bytes()  # still reproducible
    _assert_no_formulas(large)


def test_a_report_without_an_items_table_lists_the_groups_items(tmp_path):
    items = tuple(_item(r, f"item {r}") for r in (5, 6))
    report = _report(pd.DataFrame(), items, templates=())
    path = tmp_path / "plain.xlsx"
    path.write_bytes(render_client_xlsx(report))
    book = _book(path)
    assert book.sheetnames == ["Summary", "Actions", "Items"]
    assert [c.value for c in _column(book["Items"], "Item ID")] == ["item 5", "item 6"]
    assert all(c.is_date for c in _column(book["Items"], "Date"))


@pytest.mark.parametrize("kind", ["client", "client in constant memory", "overview"])
def test_a_rendered_workbook_is_freed_when_its_render_returns(monkeypatch, kind):
    """Reference counting frees a workbook as soon as its render returns, with the cycle
    collector off: a cycle left in it would keep every cell alive until the collector walked
    them (cells._close_workbook)."""
    import gc
    import weakref

    import analyzer.render_xlsx.cells as cells
    import analyzer.render_xlsx.client as client
    import analyzer.render_xlsx.overview as overview

    books = []

    def remembered(*args, **kwargs):
        book = cells._new_workbook(*args, **kwargs)
        books.append(weakref.ref(book))
        return book

    monkeypatch.setattr(client, "_new_workbook", remembered)
    monkeypatch.setattr(overview, "_new_workbook", remembered)
    if kind == "client in constant memory":
        monkeypatch.setattr(cells, "CONSTANT_MEMORY_ROWS", 0)
    items = tuple(_item(r, f"item {r}") for r in range(5))
    report = _report(pd.DataFrame({"Item ID": [i.item_id for i in items]}), items)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        data = render_overview_xlsx(_hostile_overview()) if kind == "overview" else render_client_xlsx(report)
        assert data[:2] == b"PK" and len(books) == 1
        assert books[0]() is None
    finally:
        if was_enabled:
            gc.enable()


def test_a_client_with_nothing_failed(tmp_path):
    report = _report(pd.DataFrame(), (), groups=(), templates=(), money=(), item_count=0, rows=0,
                     status="green", status_label="Nothing failed")
    path = tmp_path / "green.xlsx"
    path.write_bytes(render_client_xlsx(report))
    book = _book(path)
    assert book["Items"].max_row == 1 and not book["Items"].data_validations.dataValidation


def test_clean_text():
    assert clean_text("a\x00b\x08c\x0bd\x1fe\ud800f\uffff") == "abcdef"
    assert clean_text("tab\tnew\nline\r\nend\r") == "tab\tnew\nline\nend\n"
    assert clean_text("=1+1") == "=1+1"
    cut = clean_text("x" * (MAX_CELL + 1))
    assert len(cut) == MAX_CELL and cut.endswith(TRUNCATED)
    emoji = clean_text("😀" * MAX_CELL)  # two UTF-16 units each
    assert len(emoji.encode("utf-16-le")) // 2 <= MAX_CELL and emoji.endswith(TRUNCATED)
    assert clean_text("x" * MAX_CELL) == "x" * MAX_CELL


def _hostile_overview():
    from analyzer.overview import ClientLine, Overview

    return Overview(
        practice="=P", period="October 2026", run_date=dt.datetime(2026, 11, 3), version="0.1.0",
        sources=(Source("=a.csv", 3, 1, "failed", "+bad"),),
        clients=(ClientLine("=HYPERLINK(\"http://evil\")", "failing", "amber", "Items to fix", 3, (Money("GBP", 1.5),),
                            "=Fix", 3, {"fix-a": 3}, xlsx_file="..\\..\\evil.xlsx"),),
        fixes=(("fix-a", "=Fix", 3, 1),), item_count=3, money=(Money("GBP", 1.5),), skipped=1, failures=("-fail",),
    )


def test_overview_with_hostile_client_names(tmp_path):
    path = tmp_path / "overview.xlsx"
    path.write_bytes(render_overview_xlsx(_hostile_overview()))
    book = _book(path)
    sheet = book["Overview"]
    assert sheet["A2"].value == "=HYPERLINK(\"http://evil\")" and sheet["A2"].data_type == "s"
    assert "=Fix" in _header(sheet)
    assert not any(c.hyperlink for row in sheet.iter_rows() for c in row)  # an unsafe file name is not linked
    assert book["Sources"]["A2"].value == "=a.csv" and book["Sources"]["E2"].value == "+bad"


# -- LibreOffice, when installed -------------------------------------------------------------------


@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
def test_libreoffice_opens_the_workbooks(sample_run, tmp_path):
    run, out = sample_run
    names = [run.reports[0].xlsx_file, "overview.xlsx"]
    for name in names:
        shutil.copy(out / name, tmp_path / name)
    result = subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to", "csv",
         "--outdir", str(tmp_path / "csv"), *[str(tmp_path / n) for n in names]],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    for name in names:
        converted = tmp_path / "csv" / (Path(name).stem + ".csv")
        assert converted.is_file() and converted.stat().st_size > 0


def test_items_sheet_types_lock_dates_and_input_amounts(sample_run):
    """Lock dates read from errors are date cells; money columns no role claims are numbers; the
    Categories column holds titles and the ids sit in the last columns for scripts."""
    run, out = sample_run
    seen_lock = seen_money = False
    for report in run.reports:
        items = _book(out / report.xlsx_file)["Items"]
        header = _header(items)
        if "Lock date" in header:
            cells = [c for c in _column(items, "Lock date") if c.value is not None]
            assert cells and all(c.is_date for c in cells)
            seen_lock = True
        for heading in header:
            if heading.startswith("Tax (") and heading.endswith(")"):
                cells = [c for c in _column(items, heading) if c.value is not None]
                assert cells and all(c.data_type == "n" for c in cells)
                seen_money = True
        categories = {c.value for c in _column(items, "Categories")}
        ids = {c.value for c in _column(items, "Category ids")}
        assert not categories & ids and all("_" not in (v or "") for v in categories)
        assert all(c.value for c in _column(items, "Item key"))
    assert seen_lock and seen_money


def test_a_date_or_amount_that_could_not_be_read_is_in_the_items_sheet_as_written(tmp_path):
    """The typed Date and Amount cells stay blank (no guess), and beside them the cell as the
    export wrote it, as the HTML shows it; a month where everything was read has no such columns."""
    import io

    from analyzer.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "Acme Ltd - failed items.csv").write_text(
        "Item ID,Date,Supplier,Total,Currency,Error\n"
        "1,early Oct 2026,S,CR 120.00,GBP,Account code '400' has been archived\n"
        "2,05/10/2026,S,10.00,GBP,Account code '400' has been archived\n", encoding="utf-8")
    assert main(["report", str(folder), "--out", str(tmp_path / "out"), "--period", "2026-10"],
                stdout=io.StringIO(), stderr=io.StringIO()) == 0
    rows = list(openpyxl.load_workbook(tmp_path / "out" / "Acme Ltd.xlsx")["Items"].iter_rows(values_only=True))
    header = rows[0]
    items = {str(r[header.index("Item ID")]): dict(zip(header, r)) for r in rows[1:]}
    assert header.index("Date as written") == header.index("Date") + 1
    assert header.index("Amount as written") == header.index("Amount") + 1
    assert (items["1"]["Date"], items["1"]["Date as written"]) == (None, "early Oct 2026")
    assert (items["1"]["Amount"], items["1"]["Amount as written"]) == (None, "CR 120.00")
    assert items["2"]["Date as written"] in (None, "") and items["2"]["Amount"] == 10.0
    (folder / "Acme Ltd - failed items.csv").write_text(
        "Item ID,Date,Supplier,Total,Currency,Error\n2,05/10/2026,S,10.00,GBP,Account code '400' has been archived\n",
        encoding="utf-8")
    assert main(["report", str(folder), "--out", str(tmp_path / "out2"), "--period", "2026-10"],
                stdout=io.StringIO(), stderr=io.StringIO()) == 0
    header = next(openpyxl.load_workbook(tmp_path / "out2" / "Acme Ltd.xlsx")["Items"].iter_rows(values_only=True))
    assert "Date as written" not in header and "Amount as written" not in header
