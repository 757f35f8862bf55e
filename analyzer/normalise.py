"""Give the columns of each table their roles and turn raw records into typed, comparable rows.

Input: the tables the reader found. Output: one `Batch` holding the input's own columns
(`original`) and the typed standard fields (`fields`) side by side, row for row, plus every row
that was skipped and why. Nothing here touches files.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from analyzer.cells import (change_text, distinct_text, is_categorical, is_plain_text, passes, per_distinct, used_text,
                            with_text)
from analyzer.columns import BASE_CURRENCY_HEADER, ISO_CURRENCIES, ROLES, header_key, role_of
from analyzer.read import InputFile, Sheet
from analyzer.read.pieces import text_bytes

TEXT_FIELDS = ("item_id", "doc_type", "invoice_number", "supplier", "customer", "category", "project",
               "payment_method", "bank_account", "tax_name", "tax_code", "status", "owner",
               "description", "link")
FIELD_COLUMNS = ("source_file", "sheet", "source_row", "client", "error", *TEXT_FIELDS,
                 "date", "date_text", "due_date", "amount", "tax", "currency", "amount_base", "base_currency")
_KEY_FIELDS = {"client", "item_id", "invoice_number", "supplier", "currency", "total", "date", "due_date", "link", "status"}
_TOTAL_LABEL = re.compile(
    r"(?i)\s*(?:(?:(?:grand\s+|sub\s*)?totals?|sums?|count)\s*:?\s*\d*|\d+\s+(?:items?|rows?|receipts?))\s*:?\s*")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
_TOTAL_ROW = re.compile(r"^\s*(?:grand\s+)?(?:sub)?totals?\b\s*:?", re.I)
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# A period as people name tabs and files: Oct 2026, October, Oct26, 2026-10, 10.2026, Q3, FY26.
_PERIOD = rf"(?:{_MONTH}\.?(?:[\s_\-']*\d{{2,4}})?|q[1-4](?:[\s_\-]*\d{{2,4}})?|fy\d{{2,4}}|\d{{1,4}}(?:[-_.]\d{{1,4}}){{0,2}})"
_GENERIC_SHEET = re.compile(
    rf"^(?:sheet|page|tabelle|feuil|hoja)\s*\d*$|^(?:data|export|errors?|items?|report|failed.*|publish.*|dext.*)"
    rf"(?:\s*\(?\d+\)?)?$|^{_PERIOD}(?:\s+{_PERIOD})?$", re.I
)
_FILE_NOISE = re.compile(
    rf"(?:[\s_\-–—]+(?:dext|xero|failed|failures?|publish(?:ing)?|errors?|items?|export(?:ed)?|report|{_PERIOD}))+$",
    re.I,
)
# What copying a file adds to its name: "Copy of ...", "... - Copy", "... copy", "... (2)", "... (Oct 2026)".
_COPY_MARKS = re.compile(rf"^copy of\s+|(?:\s*-?\s*copy(?:\s*\(\d+\))?|\s*\((?:\d+|{_PERIOD}(?:\s+{_PERIOD})?)\))+$", re.I)
# A period before the name: only with its year or in digits ("May Foods Ltd" is a client).
_LEADING_PERIOD = re.compile(rf"^(?:(?:{_MONTH}\.?[\s_\-']*\d{{2,4}}|\d{{1,4}}(?:[-_.]\d{{1,4}}){{1,2}}|q[1-4][\s_\-]*\d{{2,4}})"
                             rf"[\s_\-–—]+)+", re.I)
_SYMBOL_CURRENCY = {"£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR"}
# An amount as exports and people write one: a sign or parentheses, a currency symbol or code
# before or after, digits grouped by commas, dots, spaces or apostrophes, a trailing minus.
# Anything more ('10 x 4.50', '1e3', '=2*3', '1.5k', '£45 inc. VAT') is no amount, not a number
# made of its digits.
_CURRENCY_MARK = r"(?:[£$€¥]|[A-Za-z]{3}|[A-Z]{1,2}\$)"
_AMOUNT = re.compile(
    rf"^[-+(]?\s*(?:{_CURRENCY_MARK}\s*)?[-+(]?\s*(?P<number>\d(?:[\d,.' \u00a0]*\d)?\.?)\s*[-)]?\s*"
    rf"(?:{_CURRENCY_MARK}\s*)?[-)]?$")
_DATE_FORMATS_DAYFIRST = ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y")
_DATE_FORMATS_MONTHFIRST = ("%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%m.%d.%Y")
_DATE_FORMATS_NAMED = ("%d-%b-%Y", "%d %b %Y", "%d-%b-%y", "%d %B %Y", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S",
                       "%Y-%m-%d %H:%M:%S", "%b %d, %Y", "%B %d, %Y", "%d-%B-%Y")
# 14/10/2026, and as Excel writes a date and time to CSV: 14/10/2026 13:45 (the time is left out).
_NUMERIC_DATE = re.compile(r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?)?$")
_SLASH_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b")


class NormaliseError(Exception):
    """A table that cannot be understood (no error column); one line naming file and columns."""


class NoErrorColumn(NormaliseError):
    """A table with no column of error text: beside sheets of failed items in the same workbook,
    a Summary, Cover or Notes sheet, skipped and counted; alone, the file cannot be read."""


@dataclass(frozen=True)
class Options:
    columns: dict[str, str] = field(default_factory=dict)  # role -> header, from --column
    client: str = ""  # --client forces one client for every row
    dayfirst: bool | None = None  # None: infer per file
    client_aliases: dict[str, str] = field(default_factory=dict)  # spelling -> client
    # client (casefolded) -> the currency of its amounts that state none; "" -> the practice's
    client_currencies: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedRow:
    source_file: str
    sheet: str
    source_row: int
    reason: str


@dataclass(frozen=True)
class TableInfo:
    source_file: str
    sheet: str
    rows: int
    roles: dict[str, str]
    notes: tuple[str, ...] = ()
    client: str = ""  # the client a table with no client column stands for (its sheet or file name)
    # A practice-wide export: a client column naming several clients (a client absent from it
    # had nothing failing). One client's own file with a Company column is not one.
    merged: bool = False


@dataclass(frozen=True)
class Batch:
    original: pd.DataFrame
    fields: pd.DataFrame
    skipped: tuple[SkippedRow, ...]
    tables: tuple[TableInfo, ...]
    failures: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.fields)


def normalise_inputs(inputs: list[InputFile], options: Options = Options()) -> Batch:
    """All readable tables of all files, in input order, as one batch."""
    originals, fields, skipped, tables, failures = [], [], [], [], []
    for input_file in inputs:
        if not input_file.ok:
            continue
        without_errors: list[tuple[Sheet, NoErrorColumn]] = []
        read_here = 0
        for sheet in input_file.sheets:
            try:
                original, typed, skips, info = normalise_sheet(input_file.path, sheet, options, len(input_file.sheets))
            except NoErrorColumn as exc:
                without_errors.append((sheet, exc))
                continue
            except NormaliseError as exc:
                failures.append(f"{input_file.path}: {exc}")
                continue
            read_here += 1
            originals.append(original)
            fields.append(typed)
            skipped.extend(skips)
            tables.append(info)
        for sheet, exc in without_errors:
            if read_here:  # a Summary or Cover sheet beside the clients' sheets: its rows counted as skipped
                skipped.extend(SkippedRow(input_file.path, sheet.sheet_name or "", int(r), "summary-sheet row")
                               for r in sheet.rows["source_row"].tolist())
                said = (f"sheet {sheet.sheet_name!r} has no error column, so it lists no failed items: its"
                        f" {len(sheet.rows)} row(s) were skipped")
                first = len(tables) - read_here  # its notes go with the workbook's first table, not lost
                tables[first] = replace(tables[first], notes=(*tables[first].notes, *sheet.notes, said))
            else:  # what was noted of the sheet says why (its other sheets hidden, say)
                failures.append(f"{input_file.path}: {exc}" + "".join(f"; {note}" for note in sheet.notes))
    return Batch(
        original=_concat(originals),
        fields=_concat(fields) if fields else _empty_fields(),
        skipped=tuple(skipped),
        tables=tuple(tables),
        failures=tuple(failures),
    )


def normalise_sheet(path: str, sheet: Sheet, options: Options, sheet_count: int = 1):
    rows = sheet.rows
    roles = assign_roles(sheet.header, options.columns, path)
    client = fallback_client(path, sheet.sheet_name, sheet_count, options)
    # A header-only export (columns an export has, no rows): nothing failed. A line of text that
    # is no export's header (a login page saved as .csv) stays an error.
    if "error" not in roles and rows.empty and len(roles) >= 2:
        info = TableInfo(path, sheet.sheet_name or "", 0, roles,
                         (*sheet.notes, "no error column, but no rows either: nothing failed"), client)
        return pd.DataFrame({h: pd.Series(dtype="str") for h in sheet.header}), _empty_fields(), [], info
    if "error" not in roles:
        listed = ", ".join(sheet.header) or "none"
        where = f"sheet {sheet.sheet_name!r}: " if sheet.sheet_name else ""
        raise NoErrorColumn(
            f"{where}no error column found (columns: {listed}); name it 'Error', or pass --column error=\"<header>\""
            " ([columns] error = \"<header>\" in a config)"
        )
    text = {h: _as_text(rows[h]) for h in sheet.header}
    merged_note = _errors_from_other_columns(text, roles["error"], sheet.header, options)
    keep, skips = _rows_to_keep(path, sheet, text, roles)
    sheet_label = sheet.sheet_name or ""
    original = pd.DataFrame({h: _kept(text[h], keep) for h in sheet.header}, copy=False)
    typed = _typed_fields(path, sheet, _kept(rows, keep), text, keep, roles, options, sheet_count)
    notes = list(sheet.notes)
    notes.extend(filter(None, [merged_note]))
    notes.extend(typed.attrs.pop("notes", []))
    present = {header_key(h) for h in sheet.header}
    notes.extend(f"no column {wanted!r} (--column {role}=...) here; its {roles[role]!r} column was used"
                 for role, wanted in options.columns.items() if header_key(wanted) not in present and role in roles)
    has_column = "client" in roles and not options.client
    named = [str(n) for n in typed["client"].unique()] if has_column else []
    # Dext exports one client at a time: a client column is a practice's merged export, unless it
    # names only the client the file or sheet is named after (a client's own file, a column added).
    merged = has_column and not (len(named) == 1 and name_key(named[0]) == name_key(client))
    client = named[0] if len(named) == 1 else client
    info = TableInfo(path, sheet_label, len(typed), roles, tuple(notes), client, merged)
    return original, typed, skips, info


def _errors_from_other_columns(text: dict[str, pd.Series], error: str, header: tuple[str, ...], options: Options) -> str:
    """Tables appended by hand (Power Query, copy and paste) keep each export's own error heading:
    `Error` for some rows, `Publishing error` or `Failure reason` for others. A row whose error
    cell is empty takes its error from the other such columns, in their order; a note says so."""
    others = [h for h in header if h != error and role_of(h) == "error"]
    if not others or "error" in options.columns:
        return ""
    blank = passes(text[error], _blank_text)  # each distinct cell tested once
    if not blank.any():
        return ""
    values = text[error].astype(object).to_numpy()
    taken = []
    for other in others:
        fill = blank & ~passes(text[other], _blank_text)
        if fill.any():
            more = text[other].astype(object).to_numpy()
            values = np.where(fill, more, values)
            blank &= ~fill
            taken.append(f"{other!r} ({int(fill.sum())})")
    if not taken:
        return ""
    text[error] = pd.Series(values, dtype="str")
    return (f"rows with no text in {error!r} took their error from {', '.join(taken)}: the table joins exports"
            " whose error columns are headed differently")


def _blank_text(text: pd.Series) -> pd.Series:
    return text.astype("str").str.strip() == ""


def _kept(values, keep: np.ndarray):
    """The kept rows, renumbered; no copy when every row is kept (the usual case)."""
    return values.reset_index(drop=True) if keep.all() else values[keep].reset_index(drop=True)


def _constant_text(value: str, n: int) -> pd.Series:
    """One value on every row (the file name, say) as a categorical: no million copies."""
    return pd.Series(pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([value], dtype="str")))


def _empty_text(n: int) -> pd.Series:
    return pa.repeat(pa.scalar("", pa.large_string()), n).to_pandas()


def assign_roles(header: tuple[str, ...], overrides: dict[str, str], path: str = "") -> dict[str, str]:
    """Role -> header. An override wins; otherwise the header whose alias ranks first."""
    roles: dict[str, str] = {}
    keys = {header_key(h): h for h in header}
    missing = []
    for role, wanted in overrides.items():
        if role not in ROLES:
            raise NormaliseError(f"--column {role}=...: unknown role; roles are {', '.join(ROLES)}")
        if header_key(wanted) not in keys:
            missing.append((role, wanted))  # one client's odd header: the other files find theirs
            continue
        roles[role] = keys[header_key(wanted)]
    taken = set(roles.values())
    for h in header:
        role = role_of(h)
        if role and role not in roles and h not in taken:
            roles[role] = h
            taken.add(h)
    for role, wanted in missing:
        if role not in roles:  # named for this role, and no column of it found either
            raise NormaliseError(f"--column {role}={wanted!r}: no such column (columns: {', '.join(header)})")
    for h in header:
        match = BASE_CURRENCY_HEADER.match(h)
        if match:
            kind = "amount_base" if match.group(1).lower() != "tax" else "tax_base"
            roles.setdefault(kind, h)
            roles.setdefault("base_currency", match.group(2).upper())
    return roles


def _as_text(values: pd.Series) -> pd.Series:
    if is_categorical(values):
        return values  # text already, each distinct value once
    if values.dtype != object:
        return values.astype("str")
    return values.map(_cell_text).astype("str")


def _cell_text(cell: object) -> str:
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, dt.datetime) and cell.time() == dt.time():
        return cell.date().isoformat()
    return str(cell)


def _rows_to_keep(path: str, sheet: Sheet, text: dict[str, pd.Series], roles: dict[str, str]):
    """Blank rows, totals rows, repeated header rows and lines of words alone in the first column
    (a footer, a second title) are skipped, each with its reason.
    Each has an empty or header-like error cell, so only those rows are examined in full."""
    n = len(sheet.rows)
    if not text:
        return np.zeros(n, dtype=bool), []
    candidates = _blank_or_header_like(text[roles["error"]], roles["error"])
    blank = np.zeros(n, dtype=bool)
    totals = np.zeros(n, dtype=bool)
    repeated = np.zeros(n, dtype=bool)
    lines = np.zeros(n, dtype=bool)
    published = np.zeros(n, dtype=bool)
    if candidates.any():
        at = np.flatnonzero(candidates)
        stripped = {h: s.iloc[at].str.strip().reset_index(drop=True) for h, s in text.items()}
        filled = sum((s != "").astype("int64") for s in stripped.values()).to_numpy()
        blank[at] = filled == 0
        error_empty = (stripped[roles["error"]] == "").to_numpy()
        labelled = np.zeros(len(at), dtype=bool)  # a cell saying "Total", wherever it sits
        for column in stripped.values():
            labelled |= column.str.fullmatch(_TOTAL_LABEL).fillna(False).to_numpy(dtype=bool)
        first_cells = _first_filled(stripped)
        labelled |= first_cells.str.match(_TOTAL_ROW).fillna(False).to_numpy(dtype=bool)
        totals[at] = error_empty & (labelled | _sums_only(stripped, roles)) & (filled > 0)
        repeated[at] = _repeated_headers(stripped) & (filled > 0)
        # A line of words alone in the first column, no error: "Page 1 of 2", "Printed by Jane",
        # "Confidential", a second title. An item id alone there is an item with no error text.
        first_column = next(iter(stripped.values()))
        words = (filled == 1) & (first_column != "").to_numpy() & ~first_column.str.fullmatch(_ID_LIKE).to_numpy(dtype=bool)
        lines[at] = error_empty & words & ~totals[at] & ~repeated[at]
        if "status" in roles:  # an export of every item, not only the failed ones: a published row is no failure
            done = stripped[roles["status"]].str.casefold().isin(_PUBLISHED).to_numpy(dtype=bool)
            published[at] = error_empty & done & ~totals[at] & ~repeated[at] & ~lines[at]
    keep = ~(blank | totals | repeated | lines | published)
    sheet_label = sheet.sheet_name or ""
    source_rows = sheet.rows["source_row"].to_numpy()
    skips = []
    for mask, reason in ((blank, "blank row"), (totals, "totals row"), (repeated, "repeated header row"),
                         (lines, "title or footer row"), (published, "published row")):
        skips.extend(SkippedRow(path, sheet_label, int(r), reason) for r in source_rows[mask])
    skips.sort(key=lambda s: s.source_row)
    return keep, skips


def _sums_only(stripped: dict[str, pd.Series], roles: dict[str, str]) -> np.ndarray:
    """Rows of amounts and counts alone (no item id, nothing else): a totals row without its
    label, such as `,,,150.00,` under the items it sums. Counted as an item it would double the
    value at risk."""
    only = np.ones(len(next(iter(stripped.values()))), dtype=bool)
    summed = np.zeros(len(only), dtype=bool)  # a sum or a label somewhere, not a currency code alone
    if "item_id" in roles:
        only &= (stripped[roles["item_id"]] == "").to_numpy(dtype=bool)
    for column in stripped.values():
        # An amount (_AMOUNT, as parse_amount reads one: =SUM() leaves one) or a label; beside them
        # at most a currency code.
        sums = (column.str.match(_AMOUNT) | column.str.fullmatch(_TOTAL_LABEL)).fillna(False).to_numpy(dtype=bool)
        summed |= sums
        only &= sums | (column == "").to_numpy(dtype=bool) | column.str.fullmatch(_CURRENCY_CODE).fillna(False).to_numpy(dtype=bool)
    return only & summed


def _blank_or_header_like(error: pd.Series, header: str) -> np.ndarray:
    """Rows whose error cell is blank or repeats the header: only those can be blank, totals or
    repeated header rows. Decided from each cell's length and Arrow's whitespace test, so a
    million error messages are not stripped and lowered to find none."""
    array = _arrow(error)
    if array is None:
        return passes(error, lambda text: text.str.strip().str.lower().isin(["", header.lower()]))
    lengths = pc.binary_length(array).to_numpy(zero_copy_only=False)
    candidates = (lengths == 0) | pc.utf8_is_space(array).to_numpy(zero_copy_only=False)
    # Room for spaces around the header, and for case changes that change a character's size.
    short = ~candidates & (lengths <= 4 * len(header) + 16)
    if short.any():  # a filter, not a take: Arrow's take would first join the column's chunks
        cells = pc.utf8_trim_whitespace(array.filter(pa.array(short)))
        same = pc.or_(pc.equal(cells, ""), pc.equal(pc.utf8_lower(cells), header.lower()))
        candidates[short] = np.asarray(same, dtype=bool)
    return candidates


def _arrow(values: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The Arrow text behind a column read from CSV (no copy), or None for other columns."""
    if not str(values.dtype).startswith(("str", "string")):
        return None
    try:
        return pa.array(values.array)
    except (pa.ArrowException, TypeError):
        return None


def _repeated_headers(stripped: dict[str, pd.Series]) -> np.ndarray:
    """Rows that repeat the header (two exports pasted one under the other). Only rows whose
    first cell names the first column are compared in full."""
    headers = list(stripped)
    first = stripped[headers[0]]
    candidates = np.array(first.str.lower() == headers[0].lower(), dtype=bool)
    if not candidates.any():
        return candidates
    for h in headers[1:]:
        values = stripped[h][candidates]
        candidates[candidates] = ((values.str.lower() == h.lower()) | (values == "")).to_numpy(dtype=bool)
    return candidates


_PUBLISHED = frozenset({"published", "posted", "exported", "success", "successful", "synced", "published to xero"})
_ID_LIKE = re.compile(r"(?=.*\d)[A-Za-z0-9_\-./#:]{1,64}")  # an item id: one token holding a digit


def _first_filled(stripped: dict[str, pd.Series]) -> pd.Series:
    columns = list(stripped.values())
    first = columns[0].copy()
    for column in columns[1:]:
        first = first.where(first != "", column)
    return first


def _typed_fields(path, sheet, rows, text, keep, roles, options, sheet_count) -> pd.DataFrame:
    n = int(keep.sum())
    notes: list[str] = []

    def column(role: str) -> pd.Series:
        header = roles.get(role)
        if header is None:
            return _empty_text(n)
        values = _kept(text[header], keep)
        # Stray spaces matter where a value is a key or a test; display text is shown as written.
        return _stripped(values) if role in _KEY_FIELDS else values

    # Columns gathered first and the frame made once (a column inserted at a time costs a
    # millisecond each, which a workbook of 1,500 one-row sheets pays 35,000 times).
    typed: dict[str, pd.Series] = {
        "source_file": _constant_text(path, n),
        "sheet": _constant_text(sheet.sheet_name or "", n),
        "source_row": rows["source_row"].astype("int64").reset_index(drop=True),
        "client": None,  # below: its note needs the rows
        "error": _kept(text[roles["error"]], keep),
    }
    typed["client"], note = client_names(column("client"), path, sheet.sheet_name, sheet_count, options,
                                         roles.get("client", ""), typed["source_row"])
    if note:
        notes.append(note)
    for role in TEXT_FIELDS:
        typed[role] = column(role)
    dayfirst = options.dayfirst
    per_client = None
    if dayfirst is None and "date" in roles:
        dayfirst, note = infer_dayfirst(column("date"))
        if note.startswith(_MIXED_ORDER) and "client" in roles:
            per_client, note = _order_per_client(column("date"), typed["client"]) or (None, note)
        if note:
            notes.append(note)
    typed["date"] = _dates_in_order(_raw(rows, roles.get("date")), dayfirst, per_client)
    typed["date_text"] = column("date")
    typed["due_date"] = _dates_in_order(_raw(rows, roles.get("due_date")), dayfirst, per_client)
    for role, target in (("total", "amount"), ("tax", "tax"), ("amount_base", "amount_base")):
        values = _raw(rows, roles.get(role))
        typed[target] = parse_amounts(values, sheet.delimiter == ";" and not _dot_decimals(values))
    base = roles.get("base_currency", "")
    typed["base_currency"] = _constant_text(base, n)
    typed["currency"] = currencies(column("currency"), column("total"), base)
    if options.client_currencies:
        typed["currency"] = _configured_currency(typed["currency"], typed["client"], options.client_currencies)
    if "date" in roles:
        unread = typed["date"].isna().to_numpy() & (column("date") != "").to_numpy(dtype=bool)
        notes.extend(_unread_note(roles["date"], unread, column("date"), typed["source_row"], "date(s)",
                                  "they are shown as written"))
    for role, name in (("total", "amount"), ("tax", "tax"), ("amount_base", "amount_base")):
        if role in roles:
            notes.extend(_unread_note(roles[role], _unread_amounts(column(role), typed[name]), column(role),
                                      typed["source_row"], "amount(s)",
                                      "they are left out of the value at risk: write them as numbers"))
    typed = pd.DataFrame({name: _positional(values) for name, values in typed.items()}, index=pd.RangeIndex(n),
                         copy=False)
    typed.attrs["notes"] = notes
    return typed


def _positional(values: pd.Series):
    """A column's values without its index, so columns built apart line up by position."""
    return values.array if isinstance(values, pd.Series) else values


def _stripped(values: pd.Series) -> pd.Series:
    """Spaces around values removed; the column itself (no copy) when no value has any."""
    if is_categorical(values):
        return change_text(values, lambda text: text.str.strip())
    maybe = _maybe_padded(values)
    if maybe is not None and not len(maybe):
        return values
    if maybe is not None and len(maybe) <= max(1000, len(values) // 8):  # accents at the ends, mostly
        cells = values.iloc[maybe]
        if (cells.str.strip() == cells).all():
            return values
    return values.str.strip()


# Bytes that may begin or end a space str.strip() removes: ASCII white space and separators,
# and any byte of a multi-byte character (a no-break space, say), which the caller checks.
_SPACE_BYTE = np.zeros(256, dtype=bool)
_SPACE_BYTE[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_SPACE_BYTE[0x80:] = True


def _maybe_padded(values: pd.Series) -> np.ndarray | None:
    """Rows whose first or last byte may be a space, from Arrow's buffers (no text decoded), or
    None when the column is not plain Arrow text."""
    array = _arrow(values)
    if array is None:
        return None
    rows, base = [], 0
    for chunk in getattr(array, "chunks", [array]):
        buffers = text_bytes(chunk)
        if buffers is None:
            return None
        starts, text = buffers
        filled = np.flatnonzero(starts[1:] > starts[:-1])
        edge = _SPACE_BYTE[text[starts[filled]]] | _SPACE_BYTE[text[starts[filled + 1] - 1]]
        rows.append(filled[edge] + base)
        base += len(chunk)
    return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)


def _unread_amounts(written: pd.Series, parsed: pd.Series) -> np.ndarray:
    """Cells holding text that is no amount (left out of the value at risk, never guessed from
    their digits); a cell saying there is none ("n/a") is not among them."""
    unread = parsed.isna().to_numpy() & (written != "").to_numpy(dtype=bool)
    if unread.any():  # only those cells looked at: a column is usually all amounts
        at = np.flatnonzero(unread)
        unread[at] = ~written.iloc[at].astype("str").str.strip().str.lower().isin(_NO_AMOUNT).to_numpy(dtype=bool)
    return unread


def _unread_note(header: str, unread: np.ndarray, written: pd.Series, source_rows: pd.Series, what: str,
                 then: str) -> list[str]:
    """A note naming the column, how many cells it could not read and the first of them."""
    if not unread.any():
        return []
    first = int(np.flatnonzero(unread)[0])
    return [f"column {header!r}: {int(unread.sum())} {what} could not be read (row {int(source_rows.iat[first])}:"
            f" {str(written.iat[first])[:40]!r}); {then}"]


# Cells that say there is no amount: not worth a note.
_NO_AMOUNT = ("-", "--", "n/a", "na", "none", "nil", "tbc", "?")


def _raw(rows: pd.DataFrame, header: str | None) -> pd.Series:
    if header is None:
        return pd.Series([None] * len(rows), dtype=object)
    return rows[header]


# Invisible characters: bidirectional controls (an RTL override can make a name display as another)
# and zero-width ones (a zero-width space made a second "Beta Ltd" that looked the same).
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                                        "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
# What a client cell holds when it names no client.
_NO_CLIENT = frozenset({"-", "--", "–", "—", "n/a", "na", "#n/a", "none", "null", "nil", "?", "unknown", "tbc"})


def tidy_client_name(name: str) -> str:
    """One spelling per name: Unicode NFC (Café from a Mac is Café from Windows), without the
    invisible bidirectional controls that can make a name display as another (an RTL override)."""
    if name.isascii():
        return name
    return unicodedata.normalize("NFC", name).translate(_BIDI_CONTROLS)


def _plain_ascii(text: pd.Series) -> pd.Series:
    return text.map(str.isascii)


def fallback_client(path: str, sheet_name: str | None, sheet_count: int, options: Options) -> str:
    """The client of rows with no client cell: --client, else the sheet name, else the file name
    without export noise, else the folder name; aliases applied."""
    if options.client:
        name = options.client
    elif sheet_name and not (_GENERIC_SHEET.match(sheet_name.strip()) or (sheet_count == 1 and _is_file_like(sheet_name, path))):
        name = sheet_name.strip()
    else:
        name = client_from_path(path)
    name = tidy_client_name(name)
    return {k.casefold(): v for k, v in options.client_aliases.items()}.get(name.casefold(), name)


NOT_STATED = "Client not stated"


def name_key(name: str) -> str:
    """What makes two spellings of a client one client: Unicode form (Café typed on a Mac or
    on Windows), accents (Lumière, Lumiere), letter case, spacing and a closing full stop
    (Acme Ltd.) do not."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_BIDI_CONTROLS))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split()).rstrip(".").rstrip()


def client_names(values: pd.Series, path: str, sheet_name: str | None, sheet_count: int, options: Options,
                 header: str = "", rows: pd.Series | None = None) -> tuple[pd.Series, str]:
    """Client column, else sheet name, else file name without export noise, else folder name;
    and a note when rows of a practice-wide export (a client column naming other clients) have
    no client: those are put under NOT_STATED, not passed off as a client named after the file."""
    fallback = fallback_client(path, sheet_name, sheet_count, options)
    names = values if not options.client else _empty_text(len(values))
    empty = (names == "").to_numpy(dtype=bool) | passes(names, lambda t: t.str.strip().str.casefold().isin(_NO_CLIENT))
    note = ""
    if empty.any():  # else the column itself, not a copy
        named = [str(n) for n in pd.unique(names[~empty])] if not empty.all() else []
        if len(named) > 1 or (named and name_key(named[0]) != name_key(fallback)):
            where = f"row {int(rows.iat[int(np.flatnonzero(empty)[0])])}" if rows is not None else "a row"
            note = (f"column {header!r}: {int(empty.sum())} row(s) name no client (first: {where}); they are"
                    f" shown under {NOT_STATED!r}: fill in the client")
            fallback = NOT_STATED
        names = with_text(names, empty, fallback)
    if not passes(names, _plain_ascii).all():
        names = change_text(names, lambda text: text.map(tidy_client_name))
    if options.client_aliases:
        aliases = {k.casefold(): v for k, v in options.client_aliases.items()}
        names = change_text(names, lambda text: text.map(lambda n: aliases.get(n.casefold(), n)))
    return names, note


def _is_file_like(sheet_name: str, path: str) -> bool:
    return header_key(sheet_name) in header_key(path)


def client_from_path(path: str) -> str:
    """`Acme Plumbing Ltd - failed items Oct 2026.csv` -> `Acme Plumbing Ltd`."""
    parts = re.split(r"[\\/]", path)
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", parts[-1]).replace("_", " ")
    for _ in range(3):  # "Copy of X - failed items Oct 2026 (1)": marks and noise, peeled in turn
        stem = _LEADING_PERIOD.sub("", _FILE_NOISE.sub("", _COPY_MARKS.sub("", stem.strip()))).strip(" -–—_.")
    name = stem
    if re.search(r"[A-Za-z]", name) and not re.fullmatch(r"(?i)(dext|xero|failed|export|errors?|items?)", name):
        return " ".join(name.split())
    folder = parts[-2] if len(parts) > 1 and parts[-2] not in ("", ".", "..") else "Unnamed client"
    return folder


_MIXED_ORDER = "dates mix day-first and month-first"


def _order_per_client(dates: pd.Series, clients: pd.Series) -> tuple[np.ndarray, str] | None:
    """A merged export of UK and US clients: each client's dates in its own order, when each
    client's dates read one way only. Per row: day first or not; and a note naming the clients
    read month first."""
    codes, names = pd.factorize(clients.astype("str"), sort=True)
    orders = []
    for code in range(len(names)):
        first, note = infer_dayfirst(dates[codes == code].reset_index(drop=True))
        if note.startswith(_MIXED_ORDER):
            return None  # one client's own dates disagree: no order per client helps
        orders.append(first)
    month_first = [str(n) for n, first in zip(names, orders) if not first]
    if not month_first or len(month_first) == len(names):
        return None
    shown = ", ".join(month_first[:5]) + (" and others" if len(month_first) > 5 else "")
    return (np.array(orders, dtype=bool)[codes],
            f"dates differ by client: read month first for {shown} (a date like 10/31 appears), day first for the rest")


def _dates_in_order(values: pd.Series, dayfirst: bool | None, per_client: np.ndarray | None) -> pd.Series:
    if per_client is None:
        return parse_dates(values, dayfirst)
    return parse_dates(values, True).where(per_client, parse_dates(values, False))


def infer_dayfirst(dates: pd.Series) -> tuple[bool, str]:
    """Day first unless a date in the file can only be month first (e.g. 10/31/2026)."""
    distinct = used_text(dates) if is_categorical(dates) else dates.drop_duplicates()
    parts = distinct.str.extract(_SLASH_DATE).dropna().astype(int)
    if parts.empty:
        return True, ""
    # Evidence is a date that reads one way only: 31/10 day first, 10/31 month first. 32/13 reads
    # neither way (left to the unreadable-dates note), so it says nothing about the order.
    first, second = parts[0], parts[1]
    day_first_only = bool(((first > 12) & (first <= 31) & second.between(1, 12)).any())
    month_first_only = bool(((second > 12) & (second <= 31) & first.between(1, 12)).any())
    if month_first_only and not day_first_only:
        return False, "dates read month first (a date like 10/31 appears)"
    if day_first_only and month_first_only:
        return True, f"{_MIXED_ORDER}; read day first, use --monthfirst if wrong"
    if not day_first_only:
        return True, "every date is ambiguous (day and month both 12 or less); read day first, use --monthfirst if wrong"
    return True, ""


def parse_dates(values: pd.Series, dayfirst: bool | None) -> pd.Series:
    """Dates as written by Dext, by spreadsheets in either order, or as Excel date cells.
    Each distinct value is parsed once: a month of items has few distinct dates."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = [_parse_date(u, dayfirst is not False) for u in uniques] + [None]
    table = np.array([np.datetime64(d, "ns") if d else _NAT for d in parsed], dtype="datetime64[ns]")
    return pd.Series(table[codes], dtype="datetime64[ns]")


_NAT = np.datetime64("NaT", "ns")


def _parse_date(value: object, dayfirst: bool) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 20000 < value < 80000:
        return dt.datetime(1899, 12, 30) + dt.timedelta(days=int(value))  # an Excel serial date
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    numeric = _NUMERIC_DATE.match(text)
    if numeric:  # the usual export: 06/10/2026; strptime for it is slow to fail on other formats
        first, second, year = int(numeric[1]), int(numeric[3]), int(numeric[4])
        day, month = (first, second) if dayfirst else (second, first)
        try:
            return dt.datetime(year, month, day)
        except ValueError:
            return None
    ordered = _DATE_FORMATS_DAYFIRST if dayfirst else _DATE_FORMATS_MONTHFIRST
    for fmt in (*_DATE_FORMATS_NAMED, *ordered):
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def readable_date(text: str) -> str:
    """A date as a message wrote it (31-Mar-2026, 2026-03-31, 30/09/2026) in the reports' one
    form, 31 Mar 2026; as written when reading it day first and month first disagree (03/04/2026:
    March or April?) or it is no date."""
    readings = {d for d in (_parse_date(text, True), _parse_date(text, False)) if d is not None}
    return readings.pop().strftime("%d %b %Y").lstrip("0") if len(readings) == 1 else text


_DOT_DECIMAL = re.compile(r"\d,\d{3}\.\d|\d\.\d{1,2}\s*$")  # 1,234.56 or 12.50
_COMMA_DECIMAL = re.compile(r"\d\.\d{3},\d|\d,\d{1,2}\s*$")  # 1.234,56 or 12,50


def _dot_decimals(values: pd.Series) -> bool:
    """Whether a column's amounts use a dot for decimals though the file is separated by `;`
    (the European habit that also means comma decimals): some cells say so (12.50, 1,234.56) and
    none says otherwise, so 1,250 is twelve hundred and fifty, not 1.25."""
    texts = [v for v in pd.unique(values) if isinstance(v, str)]  # each distinct cell once
    return any(_DOT_DECIMAL.search(t) for t in texts) and not any(_COMMA_DECIMAL.search(t) for t in texts)


def parse_amounts(values: pd.Series, decimal_comma: bool = False) -> pd.Series:
    """`1,234.50`, `£12.00`, `(45.00)`, `45.00-`, `1.234,50`. Plain numbers are converted in one
    vectorised step; only the rest are parsed one distinct value at a time."""
    if is_categorical(values):  # each distinct text once
        numbers = parse_amounts(distinct_text(values), decimal_comma).to_numpy()
        return pd.Series(np.append(numbers, np.nan)[values.cat.codes.to_numpy()], dtype="float64")
    if values.dtype == object and values.map(type).eq(float).all():
        return values.astype("float64")
    numbers = np.full(len(values), np.nan)
    text = values if values.dtype != object else values.map(_cell_text).astype("str")
    plain = np.zeros(len(values), dtype=bool)
    if not decimal_comma:
        plain, parsed = _plain_numbers(text)
        numbers[plain] = parsed[plain]
    rest = ~plain & (text != "").to_numpy(dtype=bool)
    if rest.any():
        raw = values[rest] if values.dtype == object else text[rest]
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
        parsed = np.array([parse_amount(u, decimal_comma) for u in uniques] + [np.nan], dtype="float64")
        numbers[rest] = parsed[codes]
    return pd.Series(numbers, dtype="float64")


_PLAIN_NUMBER = r"^\s*-?\d+(?:\.\d+)?\s*$"


def _plain_numbers(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Which cells are plain numbers (12.50, -3), and their values: Arrow's vectorised regex and
    cast when the column is Arrow-backed, else pandas'."""
    array = _arrow(text)
    if array is None:
        plain = text.str.match(_PLAIN_NUMBER).fillna(False).to_numpy(dtype=bool)
        return plain, pd.to_numeric(text.where(plain, "nan"), errors="coerce").to_numpy(dtype="float64")
    filled = pc.greater(pc.binary_length(array), 0)
    try:  # the usual column: every filled cell a plain number, converted in one step
        numbers = np.asarray(pc.cast(pc.if_else(filled, array, pa.scalar(None, array.type)), pa.float64()).to_numpy(zero_copy_only=False),
                             dtype="float64")
        filled = np.asarray(filled, dtype=bool)
        # Arrow also reads "inf", "nan" and "1e3"; people do not mean those
        if np.isfinite(numbers[filled]).all() and not _any_letter_e(array):
            return filled, numbers
    except pa.ArrowInvalid:
        pass
    plain = pc.fill_null(pc.match_substring_regex(array, _PLAIN_NUMBER), False)
    only = pc.if_else(plain, pc.utf8_trim_whitespace(array), pa.scalar(None, array.type))
    return np.asarray(plain, dtype=bool), np.asarray(pc.cast(only, pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")


def _any_letter_e(array: pa.Array | pa.ChunkedArray) -> bool:
    """Whether the text's bytes hold an e or E anywhere (an exponent): one search of each data
    buffer, several times faster than Arrow's per-cell substring match; bytes outside the
    array's slice can only send it to the careful path."""
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    for chunk in chunks:
        data = chunk.buffers()[2]
        raw = data.to_pybytes() if data is not None else b""  # a copy, then memchr: faster than a regex
        if b"e" in raw or b"E" in raw:
            return True
    return False


def parse_amount(value: object, decimal_comma: bool = False) -> float:
    if isinstance(value, bool) or value is None:
        return np.nan
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    match = _AMOUNT.match(text)
    if match is None:
        return np.nan
    negative = "-" in text.replace(match["number"], "") or (text.startswith("(") and text.endswith(")"))
    digits = re.sub(r"[' \u00a0]", "", match["number"])
    if "," in digits and "." in digits:
        decimal = "," if digits.rfind(",") > digits.rfind(".") else "."
    elif "," in digits:
        decimal = "," if decimal_comma or re.search(r",\d{1,2}$", digits) else ""
    elif decimal_comma and re.fullmatch(r"\d{1,3}(?:\.\d{3})+", digits):
        decimal = ","  # 1.234 where commas mark decimals: dots group thousands
    else:
        decimal = "."
    thousands = {"," : ".", ".": ","}.get(decimal, ",")
    digits = digits.replace(thousands, "").replace(decimal, ".") if decimal else digits.replace(",", "")
    try:
        number = float(digits)
    except ValueError:
        return np.nan
    return -number if negative else number


def currencies(codes: pd.Series, totals: pd.Series, base: str) -> pd.Series:
    """The item's currency: its own column (a code, a symbol or a name: GBP, £, Sterling, US$),
    else what the amount cell says (GBP 12.50, 12.50 EUR, £12.50, AU$15.00), else the base
    currency. Each distinct cell is read once."""
    result = pd.Series(per_distinct(codes, lambda t: t.map(currency_named)), dtype="str")
    unknown = (result == "").to_numpy(dtype=bool)
    if unknown.any():
        result[unknown] = per_distinct(totals[unknown], lambda t: t.map(currency_named))
    return result.where(result != "", base).astype("str")


# Symbols and names people write for a currency; a bare "$" names none (US, Australian, NZ...).
_CURRENCY_WORDS = {
    "£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR", "us$": "USD", "a$": "AUD", "au$": "AUD", "nz$": "NZD",
    "c$": "CAD", "ca$": "CAD", "hk$": "HKD", "s$": "SGD", "sterling": "GBP", "pound": "GBP", "pounds": "GBP",
    "euro": "EUR", "euros": "EUR", "us dollar": "USD", "us dollars": "USD", "australian dollar": "AUD",
    "new zealand dollar": "NZD", "canadian dollar": "CAD", "yen": "JPY", "rand": "ZAR",
}
_CURRENCY_IN_TEXT = re.compile(r"(?i)(?<![a-z])(us\$|au\$|a\$|nz\$|ca\$|c\$|hk\$|s\$|[£€¥₹])|\b([A-Za-z]{3})\b")


def currency_named(text: str) -> str:
    """The ISO code a cell names (`GBP`, `gbp 12.50`, `£`, `Sterling`, `US$1,000`), or ""."""
    folded = " ".join(text.split()).casefold()
    if folded in _CURRENCY_WORDS:
        return _CURRENCY_WORDS[folded]
    for symbol, code in _CURRENCY_IN_TEXT.findall(text):
        if symbol:
            return _CURRENCY_WORDS[symbol.casefold()]
        if code.upper() in ISO_CURRENCIES:
            return code.upper()
    return ""


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Tables one under another; a column one file lacks is empty text for its rows."""
    if not frames:
        return pd.DataFrame()
    if len(frames) == 1:
        return frames[0]
    repeated = {c for f in frames for c in f.columns if is_categorical(f[c])}
    columns = list(dict.fromkeys(c for f in frames for c in f.columns))
    lengths = [len(f) for f in frames]
    return pd.DataFrame({c: _concat_column([f[c] if c in f.columns else None for f in frames], lengths, c in repeated)
                         for c in columns}, copy=False)


def _concat_column(parts: list[pd.Series | None], lengths: list[int], repeated: bool) -> pd.Series:
    """One column of several tables; a table without the column gives empty text. A column some
    table holds as a categorical is one categorical over every table, not text copied per row."""
    parts = [p if p is not None else pd.Series(np.full(n, ""), dtype="str") for p, n in zip(parts, lengths)]
    if repeated:
        return pd.Series(union_categoricals([_text_categorical(p) for p in parts], ignore_order=True))
    combined = pd.concat(parts, ignore_index=True)
    return combined.fillna("") if is_plain_text(combined) else combined


def _text_categorical(values: pd.Series) -> pd.Categorical:
    """A text column as a categorical whose categories are text (an empty table's are not)."""
    if not is_categorical(values):
        return pd.Categorical(values.astype("str"))
    categories = values.cat.categories
    if categories.dtype == "str":
        return values.array
    return values.array.rename_categories(pd.Index(categories.astype("str"), dtype="str"))


def _configured_currency(currency: pd.Series, clients: pd.Series, configured: dict[str, str]) -> pd.Series:
    """Amounts that state no currency take their client's configured one, else the practice's."""
    missing = (currency == "").to_numpy(dtype=bool)
    if not missing.any():
        return currency
    default = configured.get("", "")
    fill = clients.astype("str").map(lambda c: configured.get(c.casefold(), default))
    return currency.astype("str").where(~missing, fill).astype("str")


_FIELD_TYPES = {"source_row": "int64", "date": "datetime64[ns]", "due_date": "datetime64[ns]", "amount": "float64",
                "tax": "float64", "amount_base": "float64"}


def _empty_fields() -> pd.DataFrame:
    """No rows, each column of the type it has when there are rows."""
    return pd.DataFrame({c: pd.Series(dtype=_FIELD_TYPES.get(c, "str")) for c in FIELD_COLUMNS})
