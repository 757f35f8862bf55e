"""Cells, formats and tables: what every workbook of the reports is written with."""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import io
import math
import re
import types
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xlsxwriter
import xlsxwriter.workbook
import xlsxwriter.xmlwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from analyzer.report_model import Money
from analyzer.row_arrays import RowArrays


class _QuickZipInfo(zipfile.ZipInfo):
    """A workbook part deflated at zlib's level 1, not its default 6. XlsxWriter has no option
    for the level; its packager makes one ZipInfo per part from its module's name, which is
    pointed here. Measured on the 600-client month of tests/perf/bench.py: a 100-item workbook's
    parts compress in 1.2 ms instead of 2.8 ms (a client's whole workbook costs about 10 ms) and
    come out 19% larger (45 kB instead of 37 kB). A client too large for memory (constant-memory
    mode) is packed from temporary files at the default level."""

    __slots__ = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._compresslevel = 1


xlsxwriter.workbook.ZipInfo = _QuickZipInfo

_escape_attribute = xlsxwriter.xmlwriter.XMLwriter.__dict__.get("_escape_attributes")
_attribute_escapes = getattr(xlsxwriter.xmlwriter, "xml_escapes", None)


def _quick_escape_attribute(writer, attribute):
    """XlsxWriter's attribute escaping, without its slow way past numbers. Every formatted cell
    has its style index as an attribute, an int, which XlsxWriter hands to a text regex and lets
    the TypeError say "nothing to escape": an exception per cell. Numbers, and text in which
    XlsxWriter's own regex finds nothing, come back as they are; any other text goes to
    XlsxWriter's escaping, so the bytes are the same (tests/test_render_xlsx.py compares them).
    About 1 ms of a small client's workbook (tests/perf/bench.py)."""
    if not isinstance(attribute, str) or not _attribute_escapes.search(attribute):
        return attribute
    return _escape_attribute(writer, attribute)


# Only where XlsxWriter's escaping has the shape it was measured on (3.x: a plain method and a
# module regex); otherwise XlsxWriter keeps its own.
if inspect.isfunction(_escape_attribute) and isinstance(_attribute_escapes, re.Pattern):
    xlsxwriter.xmlwriter.XMLwriter._escape_attributes = _quick_escape_attribute

_prepare_formula = Worksheet.__dict__.get("_prepare_formula")
_FORMULA_SETTINGS = {future: types.SimpleNamespace(use_future_functions=future) for future in (False, True)}


@functools.lru_cache(maxsize=1024)
def _prepared_formula(formula: str, future: bool) -> str:
    return _prepare_formula(_FORMULA_SETTINGS[future], formula)


def _quick_prepare_formula(sheet, formula, expand_future_functions=False):
    """XlsxWriter's formula preparation, done once per distinct formula. It runs about 150
    regex substitutions (one per newer Excel function) on every formula, the status colours'
    conditional formats included: four formulas a client workbook, the same in every one, about
    0.6 ms of a small client's 6 ms workbook (tests/perf/bench.py). Its result depends only on
    the formula and on whether newer functions are expanded."""
    return _prepared_formula(formula, bool(expand_future_functions or sheet.use_future_functions))


def _reads_of_sheet(method) -> set[str]:
    """The worksheet attributes among the names the method's code reads (its code object lists
    every global and attribute name it uses: no source to read, 0.05 ms instead of 10)."""
    sheet = Worksheet()
    return {name for name in method.__code__.co_names if hasattr(sheet, name)}


# Only where the method has the shape it was read on (3.x: of the sheet, it reads
# `use_future_functions` and nothing else); otherwise XlsxWriter keeps its own.
if inspect.isfunction(_prepare_formula) and _reads_of_sheet(_prepare_formula) == {"use_future_functions"}:
    Worksheet._prepare_formula = _quick_prepare_formula

WORKBOOK_OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}

MAX_CELL = 32_767  # Excel's limit, in UTF-16 code units
TRUNCATED = " … [truncated: Excel holds at most 32,767 characters in a cell]"
MAX_ROWS = 1_048_576
MAX_URL = 2_079  # Excel's limit on a hyperlink's address
MAX_LINKS = 65_530  # Excel's limit on hyperlinks in one worksheet
# More Items rows than this: write in constant-memory mode. A worker rendering a 16,000-item client
# in memory held about 60 MB more, and two such workers decided a million-row run's peak; writing
# such a client this way costs about 8% more time and a 5% larger file.
CONSTANT_MEMORY_ROWS = 5_000
WIDTH_CAP = 60
WIDTH_SAMPLE = 2_000  # rows looked at to size a column
LINE_HEIGHT = 15.0  # points: one line of 11-point Calibri
MAX_LINES = 12  # a taller row is cut; the cell still holds all its text

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


_TOP = {"valign": "top"}
_STATUS_COLOURS = {"red": ("#9C0006", "#FFC7CE"), "amber": ("#9C5700", "#FFEB9C"), "manual": ("#3F3F76", "#E4DFEC"),
                   "green": ("#006100", "#C6EFCE"), "grey": ("#595959", "#EDEDED")}


def _lazy(properties: dict) -> functools.cached_property:
    """A workbook format made the first time it is asked for."""
    return functools.cached_property(lambda formats: formats._make(properties))


class _Formats:
    """Every format a workbook uses, each created when first used: a workbook of a small client
    uses about half of them, and each one made costs at creation and again when the workbook
    is packed."""

    def __init__(self, book: Workbook):
        self.book = book
        self._currency: dict[str, object] = {}

    def _make(self, properties: dict):
        return self.book.add_format(properties)

    header = _lazy({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DCE6F1", "bottom": 1})
    title = _lazy({"bold": True, "font_size": 14})
    heading = _lazy({"bold": True, "font_size": 12})
    label = _lazy({"bold": True, "valign": "top"})
    text = _lazy(_TOP)
    wrap = _lazy({**_TOP, "text_wrap": True})
    date = _lazy({**_TOP, "num_format": DATE_FORMAT, "align": "left"})
    datetime = _lazy({**_TOP, "num_format": DATETIME_FORMAT, "align": "left"})
    money = _lazy({**_TOP, "num_format": MONEY_FORMAT})
    count = _lazy({**_TOP, "num_format": COUNT_FORMAT})
    integer = _lazy({**_TOP, "num_format": "0"})
    link = _lazy({**_TOP, "font_color": "#0563C1", "underline": 1})
    total_label = _lazy({"bold": True, "top": 1})
    total_count = _lazy({"bold": True, "top": 1, "num_format": COUNT_FORMAT})
    total_money = _lazy({"bold": True, "top": 1, "num_format": MONEY_FORMAT})
    done = _lazy({"bg_color": "#C6EFCE", "font_color": "#006100"})
    cannot = _lazy({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
    not_needed = _lazy({"bg_color": "#EDEDED", "font_color": "#595959"})
    waiting = _lazy({"bg_color": "#FFEB9C", "font_color": "#9C5700"})
    repeat = _lazy({**_TOP, "italic": True, "font_color": "#595959"})

    @functools.cached_property
    def status(self) -> dict:
        return {light: self._make({"bold": True, "font_color": font, "bg_color": fill})
                for light, (font, fill) in _STATUS_COLOURS.items()}

    def currency(self, code: str):
        """Numeric cell that shows its code: GBP 1,234.50."""
        if code not in self._currency:
            shown = code if _CURRENCY.match(code) else ""
            number_format = f'"{shown}" {MONEY_FORMAT}' if shown else MONEY_FORMAT
            if not code:  # no one stated the currency: said in words, as the HTML does, not a bare number
                number_format = f'{MONEY_FORMAT} "(currency not stated)"'
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


def _frame_columns(table: RowArrays, order: np.ndarray | None, formats: _Formats,
                   headings: list[str]) -> list[_Column]:
    """The table's columns as cells, rows taken in `order` (positions; None keeps the table's
    order): dates as date cells, floats as amounts, integers as numbers, the rest as text."""
    columns = []
    for heading, (_, column) in zip(headings, table.items()):
        values = _take(column, order)
        kind = values.dtype.kind
        if kind == "M":
            columns.append(_Column(heading, "date", _excel_dates(values), formats.date, _heading_width(heading, 12),
                                   formats.text))
        elif kind == "f":
            cells = values.tolist()
            for missing in np.flatnonzero(~np.isfinite(values)):
                cells[missing] = None
            columns.append(_Column(heading, "number", cells, formats.money, _heading_width(heading, 12)))
        elif kind in "iu":
            longest = len(str(values.max())) if len(values) else 0
            columns.append(_Column(heading, "number", values.tolist(), formats.integer,
                                   float(max(longest + 2, _heading_width(heading, 8)))))
        elif kind == "b":
            columns.append(_text_column(heading, np.where(values, "Yes", "No"), formats))
        else:
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
                 first_col: int = 0, freeze: bool = True, filter: bool = True, frozen_columns: int = 0) -> int:
    """Header, cells (row by row, so that it works in constant-memory mode too), widths,
    autofilter and frozen header (and `frozen_columns` first columns); returns the number of data
    rows written."""
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
    heights = _heights(formats, columns, rows) if rows <= CONSTANT_MEMORY_ROWS else {}
    for position in range(rows):
        row = first_row + 1 + position
        if position in heights:  # before the row's cells, as constant-memory mode needs
            sheet.set_row(row, heights[position])
        for col, cells, write, fmt in plan:
            value = cells[position]
            if value is not None:
                write(row, col, value, fmt)
    if filter and columns:
        sheet.autofilter(first_row, first_col, first_row + rows, first_col + len(columns) - 1)
    if freeze:
        sheet.freeze_panes(first_row + 1, frozen_columns)
        sheet.repeat_rows(first_row)
    return rows


def _heights(formats: _Formats, columns: list[_Column], rows: int) -> dict[int, float]:
    """Row heights that show wrapped text (Excel does not grow a row for text written by a
    program): per row, the most lines any wrapped cell needs at its column's width. Only rows
    taller than one line are listed. Very large sheets are left at one line a row."""
    lines: dict[int, int] = {}
    for column in columns:
        if column.kind != "text" or column.format is not formats.wrap:
            continue
        width = max(int(column.width * 1.1) - 1, 4)  # characters a line holds, roughly
        for position, value in enumerate(column.cells[:rows]):
            if value and (len(value) > width or "\n" in value):
                needed = sum(max(1, -(-len(part) // width)) for part in value.split("\n"))
                if needed > lines.get(position, 1):
                    lines[position] = needed
    return {p: LINE_HEIGHT * min(n, MAX_LINES) for p, n in lines.items()}


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


def _close_workbook(book: Workbook, buffer: io.BytesIO) -> bytes:
    """Pack the workbook and return its bytes, leaving nothing for the cycle collector. Each
    worksheet holds its workbook's `add_format` and the workbook holds its worksheets; left so,
    that cycle kept every cell of a client's workbook (about 4,000 objects for a 5-item client)
    alive until the collector walked them, which cost a 600-client month 0.9 s of collections.
    Broken here, reference counting frees the workbook as soon as the render returns."""
    book.close()
    for sheet in book.worksheets():
        sheet.workbook_add_format = None
    return buffer.getvalue()


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
        _number_column(f"Value {code}" if code else "Value (currency not stated)", [a[i] for a in amounts], formats.money)
        for i, code in enumerate(currencies)
    ]


