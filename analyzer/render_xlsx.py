"""Excel reports: one workbook per client (Summary, Actions, Items, Unrecognised) and an overview
workbook across clients.

Written with XlsxWriter with every automatic conversion switched off. Text from the input
always goes through `write_string` after `clean_text`, so a cell such as `=HYPERLINK(...)`,
`+1+1` or `@SUM(A1)` stays text and can never become a formula, a number or a link; numbers go
through `write_number`, dates become real date cells (Excel date numbers with a date format), and
only http/https addresses in the Link column become hyperlinks. The only formulas are the
overview's totals, which are ours.

Speed: each column is turned into a plain list of ready cells once (vectorised where pandas can),
formats are built once per workbook, and rows are written in order with one bound method per
column, which keeps the formatted workbook cheaper than an unformatted openpyxl dump. Writing in
row order also allows XlsxWriter's constant-memory mode, used for very large clients.

Nothing here reads the clock: the workbook's dates come from the report's run date, so the same
report gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from analyzer.report_model import ClientReport, Group, Item, Money, Overview

WORKBOOK_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
STATUS_CHOICES = ("To do", "Done", "Can't fix", "Not needed")
TRACKING_COLUMNS = ("Status", "Assigned to", "Note")
GROUP_COLUMN = "Fix #"

MAX_CELL = 32_767  # Excel's limit, in UTF-16 code units
TRUNCATED = " … [truncated: Excel holds at most 32,767 characters in a cell]"
MAX_ROWS = 1_048_576
MAX_URL = 2_079  # Excel's limit on a hyperlink's address
MAX_LINKS = 65_530  # Excel's limit on hyperlinks in one worksheet
CONSTANT_MEMORY_ROWS = 20_000  # more Items rows than this: write in constant-memory mode
WIDTH_CAP = 60
WIDTH_SAMPLE = 2_000  # rows looked at to size a column

DATE_FORMAT = "d mmm yyyy"
DATETIME_FORMAT = "d mmm yyyy hh:mm"
MONEY_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"

# Characters XML 1.0 cannot hold (control characters other than tab, newline and carriage return;
# lone surrogates; the two non-characters), plus carriage returns, which become newlines.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NEEDS_CLEANING = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
_URL = re.compile(r"https?://[^\s\"<>\\^`{|}]+\Z", re.IGNORECASE)
_CURRENCY = re.compile(r"[A-Za-z?]{1,8}\Z")
_SAFE_FILE = re.compile(r"[\w .()&,'+-]+\.xlsx")
_EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "us")
_FIRST_SERIAL_DATE = np.datetime64("1900-03-01T00:00:00", "us")  # before it, Excel's 1900 leap-year bug
_LAST_DATE = np.datetime64("9999-12-31T23:59:59", "us")


def clean_text(value: str) -> str:
    """Text as a cell can hold it: no characters XML cannot carry, line breaks as `\\n` (a lone
    carriage return would be stored as `_x000D_`), at most 32,767 UTF-16 units with the cut
    said in the cell."""
    if _NEEDS_CLEANING.search(value):
        value = _ILLEGAL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    if len(value) > MAX_CELL // 2 and _utf16_len(value) > MAX_CELL:
        value = _utf16_cut(value, MAX_CELL - len(TRUNCATED)) + TRUNCATED
    return value


def _utf16_len(value: str) -> int:
    return len(value.encode("utf-16-le")) // 2


def _utf16_cut(value: str, units: int) -> str:
    cut = value.encode("utf-16-le")[: units * 2]
    return cut.decode("utf-16-le", errors="ignore")


def _text(value) -> str:
    """Any value as cleaned cell text; '' for missing values."""
    if value is None:
        return ""
    if not isinstance(value, str):
        if value is pd.NaT or value is pd.NA or isinstance(value, float) and math.isnan(value):
            return ""
        value = str(value)
    return clean_text(value)


# ---------------------------------------------------------------------------------------------
# Formats and columns


class _Formats:
    """Every format a workbook uses, created once."""

    def __init__(self, book: Workbook):
        top = {"valign": "top"}
        self.book = book
        self.header = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DCE6F1",
                                       "bottom": 1})
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.heading = book.add_format({"bold": True, "font_size": 12})
        self.label = book.add_format({"bold": True, "valign": "top"})
        self.text = book.add_format(top)
        self.wrap = book.add_format({**top, "text_wrap": True})
        self.date = book.add_format({**top, "num_format": DATE_FORMAT, "align": "left"})
        self.datetime = book.add_format({**top, "num_format": DATETIME_FORMAT, "align": "left"})
        self.money = book.add_format({**top, "num_format": MONEY_FORMAT})
        self.count = book.add_format({**top, "num_format": COUNT_FORMAT})
        self.integer = book.add_format({**top, "num_format": "0"})
        self.link = book.add_format({**top, "font_color": "#0563C1", "underline": 1})
        self.total_label = book.add_format({"bold": True, "top": 1})
        self.total_count = book.add_format({"bold": True, "top": 1, "num_format": COUNT_FORMAT})
        self.total_money = book.add_format({"bold": True, "top": 1, "num_format": MONEY_FORMAT})
        self.done = book.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"})
        self.cannot = book.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        self.not_needed = book.add_format({"bg_color": "#EDEDED", "font_color": "#595959"})
        self.status = {
            "red": book.add_format({"bold": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"}),
            "amber": book.add_format({"bold": True, "font_color": "#9C5700", "bg_color": "#FFEB9C"}),
            "green": book.add_format({"bold": True, "font_color": "#006100", "bg_color": "#C6EFCE"}),
        }
        self._currency: dict[str, object] = {}

    def currency(self, code: str):
        """Numeric cell that shows its code: GBP 1,234.50."""
        if code not in self._currency:
            shown = code if _CURRENCY.match(code) else ""
            number_format = f'"{shown}" {MONEY_FORMAT}' if shown else MONEY_FORMAT
            self._currency[code] = self.book.add_format({"valign": "top", "num_format": number_format})
        return self._currency[code]


@dataclass
class _Column:
    """One column of a data table: its heading and its cells, ready to write (None = empty).

    kinds: text (cleaned str), number (finite float/int), date (Excel date numbers, or text for a
    date Excel cannot show), datetime (date/datetime objects), link (cleaned str: a hyperlink when
    it is an http/https address), internal ((location in this workbook, text)), styled ((text,
    format)), file ((file name beside the workbook, text))."""

    heading: str
    kind: str
    cells: Sequence
    format: object = None
    width: float = 10.0
    plain: object = None  # link columns: the format of text that is not a link


def _texts(values: Iterable) -> list[str | None]:
    """Cleaned cell texts, None for empty or missing ones. One pass, touching only the cells
    that need it."""
    cells = values.tolist() if isinstance(values, np.ndarray) else list(values)
    search = _NEEDS_CLEANING.search
    half = MAX_CELL // 2
    for position, value in enumerate(cells):
        if type(value) is not str:
            value = _text(value)
        elif search(value) or len(value) > half:
            value = clean_text(value)
        else:
            if not value:
                cells[position] = None
            continue
        cells[position] = value or None
    return cells


def _text_column(heading: str, values: Iterable, formats: _Formats, *, kind: str = "text",
                 width: float | None = None, wrap: bool | None = None) -> _Column:
    cells = _texts(values)
    longest, multiline = _measure(cells)
    if wrap is None:
        wrap = multiline or longest > WIDTH_CAP
    plain = formats.wrap if wrap else formats.text
    return _Column(heading, kind, cells, formats.link if kind == "link" else plain,
                   width if width is not None else _fit(heading, longest), plain)


def _measure(cells: Sequence[str | None]) -> tuple[int, bool]:
    """The longest line among the first cells, and whether any holds a line break."""
    longest, multiline = 0, False
    for cell in cells[:WIDTH_SAMPLE]:
        if not cell:
            continue
        if "\n" in cell:
            multiline = True
            size = max(map(len, cell.split("\n")))
        else:
            size = len(cell)
        if size > longest:
            longest = size
    return longest, multiline


def _fit(heading: str, longest: int, minimum: int = 6) -> float:
    return float(min(WIDTH_CAP, max(minimum, longest + 2, min(len(heading), 30) + 2)))


def _heading_width(heading: str, minimum: int) -> float:
    return float(max(minimum, min(len(heading), 30) + 2))


def _numbers(values: Iterable) -> list:
    """Numbers as cells: None for missing, NaN or infinite values."""
    isfinite = math.isfinite
    return [v if v is not None and isfinite(v) else None for v in values]


def _number_column(heading: str, values: Iterable, fmt, width: float | None = None) -> _Column:
    return _Column(heading, "number", _numbers(values), fmt, width or _heading_width(heading, 12))


def _date_column(heading: str, values: Sequence, formats: _Formats) -> _Column:
    """date/datetime objects (None = empty)."""
    return _Column(heading, "datetime", list(values), formats.date, _heading_width(heading, 12))


def _frame_columns(table: pd.DataFrame, order: np.ndarray | None, formats: _Formats,
                   headings: list[str]) -> list[_Column]:
    """The table's columns as cells, rows taken in `order` (positions; None keeps the table's
    order): datetimes as date cells, floats as amounts, integers as numbers, the rest as text."""
    columns = []
    for heading, (_, series) in zip(headings, table.items()):
        kind = series.dtype.kind
        if kind == "M":
            if getattr(series.dt, "tz", None) is not None:
                series = series.dt.tz_localize(None)
            values = _take(series.to_numpy(dtype="datetime64[us]"), order)
            columns.append(_Column(heading, "date", _excel_dates(values), formats.date, _heading_width(heading, 12),
                                   formats.text))
        elif kind == "f":
            values = _take(series.to_numpy(dtype=float, na_value=np.nan), order)
            cells = values.tolist()
            for missing in np.flatnonzero(~np.isfinite(values)):
                cells[missing] = None
            columns.append(_Column(heading, "number", cells, formats.money, _heading_width(heading, 12)))
        elif kind in "iu":
            values = _take(series.to_numpy(), order)
            longest = len(str(values.max())) if len(values) else 0
            columns.append(_Column(heading, "number", values.tolist(), formats.integer,
                                   float(max(longest + 2, _heading_width(heading, 8)))))
        elif kind == "b":
            values = _take(series.to_numpy(), order)
            columns.append(_text_column(heading, np.where(values, "Yes", "No"), formats))
        else:
            values = _take(series.to_numpy(dtype=object, na_value=""), order)
            kind = "link" if heading.casefold() == "link" else "text"
            columns.append(_text_column(heading, values, formats, kind=kind))
    return columns


def _take(values: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    return values if order is None else values[order]


def _excel_dates(values: np.ndarray) -> list:
    """Excel's date numbers for datetime64[us] values (None for missing); a date Excel cannot
    show (before 1 Mar 1900, when its 1900 leap-year bug shifts days, or after 9999) as text."""
    cells = ((values - _EXCEL_EPOCH) / np.timedelta64(1, "D")).tolist()
    missing = np.isnat(values)
    for position in np.flatnonzero(missing):
        cells[position] = None
    outside = ~missing & ((values < _FIRST_SERIAL_DATE) | (values > _LAST_DATE))
    for position in np.flatnonzero(outside):
        cells[position] = pd.Timestamp(values[position]).strftime("%d %b %Y").lstrip("0")
    return cells


# ---------------------------------------------------------------------------------------------
# Writing tables


def _write_table(sheet: Worksheet, formats: _Formats, columns: list[_Column], *, first_row: int = 0,
                 first_col: int = 0, freeze: bool = True, filter: bool = True) -> int:
    """Header, cells (row by row, so that it works in constant-memory mode too), widths,
    autofilter and frozen header; returns the number of data rows written."""
    rows = max((len(c.cells) for c in columns), default=0)
    rows = min(rows, MAX_ROWS - 1 - first_row)
    write_string = sheet.write_string
    for offset, column in enumerate(columns):
        write_string(first_row, first_col + offset, clean_text(column.heading), formats.header)
        sheet.set_column(first_col + offset, first_col + offset, column.width)
    plan = []
    for offset, column in enumerate(columns):
        if any(c is not None for c in column.cells):
            cells = column.cells
            if len(cells) < rows:
                cells = [*cells, *([None] * (rows - len(cells)))]
            plan.append((first_col + offset, cells, _writer(sheet, column), column.format))
    for position in range(rows):
        row = first_row + 1 + position
        for col, cells, write, fmt in plan:
            value = cells[position]
            if value is not None:
                write(row, col, value, fmt)
    if filter and columns:
        sheet.autofilter(first_row, first_col, first_row + rows, first_col + len(columns) - 1)
    if freeze:
        sheet.freeze_panes(first_row + 1, 0)
        sheet.repeat_rows(first_row)
    return rows


def _writer(sheet: Worksheet, column: _Column):
    """The call that writes one cell of the column: (row, col, value, format)."""
    kind = column.kind
    if kind == "text":
        return sheet.write_string
    if kind == "number":
        return sheet.write_number
    if kind == "datetime":
        return sheet.write_datetime
    if kind == "date":
        write_number, write_string, plain = sheet.write_number, sheet.write_string, column.plain

        def date(row, col, value, fmt):
            if type(value) is str:  # a date Excel cannot show
                write_string(row, col, value, plain)
            else:
                write_number(row, col, value, fmt)
        return date
    if kind == "link":
        return _link_writer(sheet, column.plain)
    if kind == "internal":
        def internal(row, col, value, fmt):
            location, text = value
            sheet.write_url(row, col, f"internal:{location}", fmt, string=clean_text(text))
        return internal
    if kind == "styled":
        def styled(row, col, value, fmt):
            sheet.write_string(row, col, value[0], value[1])
        return styled
    if kind == "file":
        def file(row, col, value, fmt):
            name, text = value
            if _SAFE_FILE.fullmatch(name) and not name.startswith((".", "-")):
                sheet.write_url(row, col, f"external:{name}", fmt, string=text)
            else:
                sheet.write_string(row, col, text, column.plain)
        return file
    raise ValueError(f"unknown column kind {kind!r}")  # pragma: no cover - a programming error


def _link_writer(sheet: Worksheet, plain):
    """http/https addresses as hyperlinks showing the address (up to Excel's limits); anything
    else as text."""
    write_string, write_url, match = sheet.write_string, sheet.write_url, _URL.match
    links = 0

    def link(row, col, value, fmt):
        nonlocal links
        if links < MAX_LINKS and len(value) <= MAX_URL and match(value):
            write_url(row, col, value, fmt, string=value)
            links += 1
        else:
            write_string(row, col, value, plain)
    return link


def _write_value(sheet: Worksheet, formats: _Formats, row: int, col: int, value, fmt=None) -> None:
    """One fact: text (cleaned), a date or date and time (a real date cell), or a number."""
    if value is None:
        return
    if isinstance(value, str):
        if value:
            sheet.write_string(row, col, clean_text(value), fmt or formats.wrap)
    elif isinstance(value, dt.datetime):
        value = _naive(value)
        sheet.write_datetime(row, col, value, fmt or (formats.date if value.time() == dt.time() else formats.datetime))
    elif isinstance(value, dt.date):
        sheet.write_datetime(row, col, value, fmt or formats.date)
    elif math.isfinite(value):
        sheet.write_number(row, col, value, fmt or formats.count)


def _page_setup(sheet: Worksheet) -> None:
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.ignore_errors({"number_stored_as_text": "A1:XFD1048576"})


def _new_workbook(buffer: io.BytesIO, title: str, subject: str, author: str, company: str,
                  created: dt.datetime, comments: str, rows: int = 0) -> Workbook:
    """In memory; for a very large client, constant-memory mode instead (rows go to temporary
    files as they are written, strings inline), so memory stays flat however many rows."""
    options = WORKBOOK_OPTIONS
    if rows > CONSTANT_MEMORY_ROWS:
        options = {**WORKBOOK_OPTIONS, "in_memory": False, "constant_memory": True}
    book = xlsxwriter.Workbook(buffer, options)
    book.set_properties({
        "title": clean_text(title), "subject": clean_text(subject), "author": clean_text(author),
        "company": clean_text(company), "created": _naive(created), "comments": clean_text(comments),
    })
    return book


def _naive(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _currencies(moneys: Iterable[Money]) -> list[str]:
    return list(dict.fromkeys(m.currency for m in moneys))


def _amounts(moneys: Sequence[Money], currencies: list[str]) -> list[float | None]:
    by_code: dict[str, float] = {}
    for money in moneys:
        by_code[money.currency] = by_code.get(money.currency, 0.0) + money.amount
    return [by_code.get(code) for code in currencies]


def _money_columns(rows: Sequence[Sequence[Money]], currencies: list[str], formats: _Formats) -> list[_Column]:
    amounts = [_amounts(m, currencies) for m in rows]
    return [
        _number_column(f"Value {code}", [a[i] for a in amounts], formats.money)
        for i, code in enumerate(currencies)
    ]


# ---------------------------------------------------------------------------------------------
# The client workbook


def render_client_xlsx(report: ClientReport) -> bytes:
    table, order, group_of, first_row = _ordered_items(report)
    buffer = io.BytesIO()
    book = _new_workbook(
        buffer,
        rows=len(table),
        title=f"Publishing failures: {report.client}",
        subject=report.period,
        author=f"analyzer {report.version}",
        company=report.practice,
        created=report.run_date,
        comments=f"{report.item_count} item(s) that failed to publish from Dext to Xero.",
    )
    formats = _Formats(book)
    summary = book.add_worksheet("Summary")
    actions = book.add_worksheet("Actions")
    items = book.add_worksheet("Items")
    _write_items(items, formats, table, order, group_of)
    _write_summary(summary, formats, report, first_row, len(table))
    _write_actions(actions, formats, report)
    if report.templates:
        unrecognised = book.add_worksheet("Unrecognised")
        _write_table(unrecognised, formats, [
            _text_column("Template", (t for t, _ in report.templates), formats),
            _number_column("Count", [n for _, n in report.templates], formats.count, 10),
        ])
        _page_setup(unrecognised)
    summary.activate()
    book.close()
    return buffer.getvalue()


def _ordered_items(report: ClientReport) -> tuple[pd.DataFrame, np.ndarray | None, list[int | None], dict[int, int]]:
    """The client's table and the order of its rows on the Items sheet (positions; None when
    unchanged): fix-group order, each group's own items together in the group's order, then any
    row no group claimed. Also the group number of each sheet row and, per group, the sheet
    position of its first row."""
    table = report.items_table
    if table is None or not len(table.columns):
        table = _table_from_items(report)
    index = table.index
    known = set(index)
    order: list = []
    numbers: list[int | None] = []
    placed: set = set()
    first_row: dict[int, int] = {}
    for group in report.groups:
        for item in group.items:
            if item.fix_key == group.key and item.row in known and item.row not in placed:
                first_row.setdefault(group.number, len(order))
                placed.add(item.row)
                order.append(item.row)
                numbers.append(group.number)
    for label in index:
        if label not in placed:
            placed.add(label)
            order.append(label)
            numbers.append(None)
    if len(order) != len(index):  # duplicate labels: keep the table as it is
        return table, None, [None] * len(table), {}
    positions = {label: position for position, label in enumerate(order)}
    for group in report.groups:  # a group all of whose items are listed under an earlier fix
        if group.number not in first_row:
            found = [positions[i.row] for i in group.items if i.row in positions]
            if found:
                first_row[group.number] = min(found)
    positions = index.get_indexer(order)
    if (positions == np.arange(len(positions))).all():
        positions = None
    return table, positions, numbers, first_row


def _table_from_items(report: ClientReport) -> pd.DataFrame:
    """When the report carries no items table (built by hand, or already rendered): the items
    the groups hold, once each."""
    seen: dict[int, Item] = {}
    for group in report.groups:
        for item in group.items:
            seen.setdefault(item.row, item)
    items = list(seen.values())
    titles = {g.key: g.title for g in report.groups}
    return pd.DataFrame({
        "Fix": [titles.get(i.fix_key, "") for i in items],
        "Also needs": ["; ".join(i.also) for i in items],
        "Categories": [i.categories for i in items],
        "Item ID": [i.item_id for i in items],
        "Date": np.array([np.datetime64(i.date, "D") if i.date else np.datetime64("NaT") for i in items],
                         dtype="datetime64[s]"),
        "Supplier": [i.supplier for i in items],
        "Amount": np.array([np.nan if i.amount is None else i.amount for i in items], dtype=float),
        "Currency": [i.currency for i in items],
        "Category": [i.category for i in items],
        "Tax": [i.tax for i in items],
        "Link": [i.link for i in items],
        "Error": [i.error for i in items],
        "Source file": [i.source.rsplit(", row ", 1)[0] for i in items],
        "Source row": np.array([i.source_row for i in items], dtype="int64"),
    }, index=pd.Index([i.row for i in items]))


def _item_headings(table: pd.DataFrame) -> list[str]:
    """The table's headings, renamed where they would repeat the tracking columns."""
    taken = {h.casefold() for h in (*TRACKING_COLUMNS, GROUP_COLUMN)}
    headings = []
    for name in table.columns:
        heading = _text(name) or "Column"
        while heading.casefold() in taken:
            heading = f"{heading} (input)"
        taken.add(heading.casefold())
        headings.append(heading)
    return headings


def _write_items(sheet: Worksheet, formats: _Formats, table: pd.DataFrame, order: np.ndarray | None,
                 group_of: list[int | None]) -> None:
    rows = len(table)
    columns = [
        _Column("Status", "text", [STATUS_CHOICES[0]] * rows, formats.text, 12.0),
        _Column("Assigned to", "text", [], formats.text, 16.0),
        _Column("Note", "text", [], formats.wrap, 30.0),
        _Column(GROUP_COLUMN, "number", group_of, formats.integer, 7.0),
        *_frame_columns(table, order, formats, _item_headings(table)),
    ]
    written = _write_table(sheet, formats, columns)
    if written:
        last = written  # data rows are 1..written (zero-based)
        sheet.data_validation(1, 0, last, 0, {
            "validate": "list",
            "source": list(STATUS_CHOICES),
            "input_title": "Status",
            "input_message": "Pick: " + ", ".join(STATUS_CHOICES),
            "error_title": "Status",
            "error_message": "Choose one of: " + ", ".join(STATUS_CHOICES),
        })
        for value, fmt in (("Done", formats.done), ("Can't fix", formats.cannot), ("Not needed", formats.not_needed)):
            sheet.conditional_format(1, 0, last, 0, {
                "type": "cell", "criteria": "==", "value": '"' + value.replace('"', '""') + '"', "format": fmt,
            })
    _page_setup(sheet)


def _write_summary(sheet: Worksheet, formats: _Formats, report: ClientReport, first_row: dict[int, int],
                   item_rows: int) -> None:
    row = 0
    sheet.write_string(row, 0, clean_text(f"Publishing failures: {report.client}"), formats.title)
    row += 2

    def fact(label: str, value=None, fmt=None) -> None:
        nonlocal row
        if label:
            sheet.write_string(row, 0, label, formats.label)
        _write_value(sheet, formats, row, 1, value, fmt)
        row += 1

    if report.practice:
        fact("Practice", report.practice)
    fact("Client", report.client)
    fact("Period", report.period)
    fact("Run date", report.run_date)
    fact("Status", report.status_label, formats.status.get(report.status, formats.label))
    fact("Items", report.item_count)
    rows = report.rows or item_rows
    if rows != report.item_count:
        fact("Input rows", rows)
    if report.duplicates:
        fact("Duplicates", f"{len(report.duplicates):,} row(s) repeat an item already listed (same item ID);"
                           " they are counted once and marked in the Items sheet.")
    if report.money:
        for position, money in enumerate(report.money):
            fact("Value at risk" if position == 0 else "", money.amount, formats.currency(money.currency))
    else:
        fact("Value at risk", "none")
    for label, value in (("New since last run", report.new_items), ("Carried over", report.carried_over),
                         ("Cleared since last run", report.cleared)):
        if value is not None:
            fact(label, value)
    if item_rows >= MAX_ROWS - 1:
        fact("Warning", f"Only the first {MAX_ROWS - 1:,} items fit in the Items sheet.")
    rows_format = formats.book.add_format({"valign": "top", "num_format": '#,##0 "rows"'})
    skipped_format = formats.book.add_format({"valign": "top", "num_format": '#,##0 "skipped"'})
    for position, source in enumerate(report.sources):
        if position == 0:
            sheet.write_string(row, 0, "Sources", formats.label)
        sheet.write_string(row, 1, clean_text(source.name), formats.wrap)
        sheet.write_number(row, 2, source.rows, rows_format)
        if source.skipped:
            sheet.write_number(row, 3, source.skipped, skipped_format)
        if source.status != "ok" or source.message:
            sheet.write_string(row, 4, clean_text(" ".join(filter(None, (source.status, source.message)))),
                               formats.wrap)
        row += 1
    fact("Made by", f"analyzer {report.version}")
    for position, note in enumerate(report.notes):
        fact("Notes" if position == 0 else "", note)

    row += 1
    sheet.write_string(row, 0, "Fixes, in the order to do them", formats.heading)
    row += 1
    groups = report.groups
    currencies = _currencies([*report.money, *(m for g in groups for m in g.money)])
    links = []
    for group in groups:
        position = first_row.get(group.number)
        links.append(None if position is None else (f"'Items'!A{position + 2}", f"Items row {position + 2}"))
    columns = [
        _number_column("#", [g.number for g in groups], formats.integer, 24),
        _text_column("Fix", [g.title for g in groups], formats, width=50, wrap=True),
        _text_column("Who", [g.who for g in groups], formats, width=28, wrap=True),
        _text_column("Scope", [g.scope_label for g in groups], formats, width=30, wrap=True),
        _number_column("Items", [g.item_count for g in groups], formats.count, 10),
        *_money_columns([g.money for g in groups], currencies, formats),
        _Column("Items sheet", "internal", links, formats.link, 16),
    ]
    if any(g.recurring for g in groups):
        columns.insert(5, _text_column("Needed last run too", ["Yes" if g.recurring else "" for g in groups],
                                       formats, width=12, wrap=True))
    if not groups:
        sheet.write_string(row, 0, "Nothing failed to publish for this client.", formats.text)
        sheet.set_column(0, 0, 24)
        sheet.set_column(1, 1, 50)
        return
    _write_table(sheet, formats, columns, first_row=row, freeze=False)
    sheet.set_portrait()
    sheet.fit_to_pages(1, 0)


def _write_actions(sheet: Worksheet, formats: _Formats, report: ClientReport) -> None:
    lines: list[tuple[Group, object]] = [(g, a) for g in report.groups for a in g.actions]
    currencies = _currencies([*report.money, *(m for _, a in lines for m in a.money)])
    columns = [
        _number_column("#", [g.number for g, _ in lines], formats.integer, 6),
        _text_column("Fix", [g.title for g, _ in lines], formats, width=40, wrap=True),
        _text_column("For", [a.label or "All items" for _, a in lines], formats),
        _number_column("Items", [a.items for _, a in lines], formats.count, 8),
        *_money_columns([a.money for _, a in lines], currencies, formats),
        _text_column("Who", [g.who for g, _ in lines], formats, width=24, wrap=True),
        _text_column("Where", [g.where for g, _ in lines], formats, width=24, wrap=True),
        _text_column("Steps", ["\n".join(f"{n}. {s}" for n, s in enumerate(g.steps, 1)) for g, _ in lines],
                     formats, width=WIDTH_CAP, wrap=True),
        _text_column("Warnings", ["\n".join(g.warnings) for g, _ in lines], formats, width=WIDTH_CAP - 15, wrap=True),
        _text_column("Publishable", ["Yes" if g.publishable else "No" for g, _ in lines], formats, width=13),
        _date_column("First date", [a.first_date for _, a in lines], formats),
        _date_column("Last date", [a.last_date for _, a in lines], formats),
    ]
    _write_table(sheet, formats, columns)
    _page_setup(sheet)


# ---------------------------------------------------------------------------------------------
# The overview workbook


def render_overview_xlsx(overview: Overview) -> bytes:
    buffer = io.BytesIO()
    book = _new_workbook(
        buffer,
        title="Publishing failures: overview",
        subject=overview.period,
        author=f"analyzer {overview.version}",
        company=overview.practice,
        created=overview.run_date,
        comments=f"{len(overview.clients)} client(s), {overview.item_count} item(s).",
    )
    formats = _Formats(book)
    sheet = book.add_worksheet("Overview")
    _write_overview(sheet, formats, overview)
    _page_setup(sheet)
    sources = book.add_worksheet("Sources")
    src = overview.sources
    _write_table(sources, formats, [
        _text_column("Path", [s.path for s in src], formats),
        _number_column("Rows", [s.rows for s in src], formats.count, 10),
        _number_column("Skipped", [s.skipped for s in src], formats.count, 10),
        _text_column("Status", [s.status for s in src], formats, width=10),
        _text_column("Message", [s.message for s in src], formats),
    ])
    _page_setup(sources)
    run = book.add_worksheet("Run")
    _write_run(run, formats, overview)
    sheet.activate()
    book.close()
    return buffer.getvalue()


def _write_overview(sheet: Worksheet, formats: _Formats, overview: Overview) -> None:
    clients = overview.clients
    currencies = _currencies([*overview.money, *(m for c in clients for m in c.money)])
    columns = [
        _text_column("Client", [c.client for c in clients], formats),
        _text_column("Status", [c.status_label for c in clients], formats),
        _number_column("Items", [c.item_count for c in clients], formats.count, 10),
        *_money_columns([c.money for c in clients], currencies, formats),
    ]
    totals: list = [None, None, overview.item_count, *_amounts(overview.money, currencies)]
    for fix_id, title, items, _ in overview.fixes:
        columns.append(_number_column(title, [c.fix_items.get(fix_id) or None for c in clients], formats.count, 14))
        totals.append(items)
    if any(c.previous_items is not None for c in clients):
        columns.append(_number_column("Items last run", [c.previous_items for c in clients], formats.count, 12))
        totals.append(sum(c.previous_items or 0 for c in clients))
    if any(c.cleared is not None for c in clients):
        columns.append(_number_column("Cleared", [c.cleared for c in clients], formats.count, 10))
        totals.append(sum(c.cleared or 0 for c in clients))
    files = _texts(c.xlsx_file for c in clients)
    columns.append(_Column("Workbook", "file", [(c.xlsx_file, f) if f else None for c, f in zip(clients, files)],
                           formats.link, _fit("Workbook", _measure(files)[0]), formats.text))
    statuses = _texts(c.status_label for c in clients)  # each status cell carries its light's colour
    columns[1] = _Column("Status", "styled",
                         [(text, formats.status.get(c.status, formats.text)) if text else None
                          for c, text in zip(clients, statuses)],
                         width=_fit("Status", _measure(statuses)[0]))
    rows = _write_table(sheet, formats, columns)
    total_row = rows + 1
    sheet.write_string(total_row, 0, "Total", formats.total_label)
    for col, value in enumerate(totals):
        if value is None:
            continue
        fmt = formats.total_money if columns[col].format is formats.money else formats.total_count
        letter = xl_col_to_name(col)
        if rows:
            sheet.write_formula(total_row, col, f"=SUM({letter}2:{letter}{rows + 1})", fmt, value)
        else:
            sheet.write_number(total_row, col, value, fmt)


def _write_run(sheet: Worksheet, formats: _Formats, overview: Overview) -> None:
    row = 0
    sheet.write_string(row, 0, "Publishing failures: overview", formats.title)
    row += 2
    facts: list[tuple[str, object, object]] = []
    if overview.practice:
        facts.append(("Practice", overview.practice, None))
    facts += [("Period", overview.period, None), ("Run date", overview.run_date, None),
              ("Clients", len(overview.clients), formats.count), ("Items", overview.item_count, formats.count)]
    for position, money in enumerate(overview.money):
        facts.append(("Value at risk" if position == 0 else "", money.amount, formats.currency(money.currency)))
    facts.append(("Rows skipped", overview.skipped, formats.count))
    facts.append(("Made by", f"analyzer {overview.version}", None))
    for position, failure in enumerate(overview.failures):
        facts.append(("Inputs not read" if position == 0 else "", failure, None))
    for label, value, fmt in facts:
        if label:
            sheet.write_string(row, 0, label, formats.label)
        _write_value(sheet, formats, row, 1, value, fmt)
        row += 1
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, 1, 70)
