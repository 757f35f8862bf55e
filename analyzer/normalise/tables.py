"""Each table of each file: columns given their roles, rows kept or skipped, fields typed; the
tables of all files joined into one batch."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from analyzer.cells import passes
from analyzer.columns import ALIAS_RANK, BASE_CURRENCY_HEADER, ROLES, header_key, role_of
from analyzer.normalise.amounts import (configured_currency, currencies, dot_decimals, parse_amounts,
                                       unread_amounts)
from analyzer.normalise.clients import client_names, fallback_client, name_key
from analyzer.normalise.dates import MIXED_ORDER, dates_in_order, infer_dayfirst, order_per_client
from analyzer.normalise.model import (TEXT_FIELDS, Batch, NoErrorColumn, NormaliseError, Options, SkippedRow,
                                     TableInfo, empty_fields)
from analyzer.normalise.rows import rows_to_keep
from analyzer.normalise.text import (as_text, blank_text, concat_tables, constant_text, empty_text, kept_rows,
                                     positional, raw_column, strip_spaces)
from analyzer.read import InputFile, Sheet


_KEY_FIELDS = {"client", "item_id", "invoice_number", "supplier", "currency", "total", "date", "due_date", "link", "status"}



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
        original=concat_tables(originals),
        fields=concat_tables(fields) if fields else empty_fields(),
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
        return pd.DataFrame({h: pd.Series(dtype="str") for h in sheet.header}), empty_fields(), [], info
    if "error" not in roles:
        listed = ", ".join(sheet.header) or "none"
        where = f"sheet {sheet.sheet_name!r}: " if sheet.sheet_name else ""
        raise NoErrorColumn(
            f"{where}no error column found (columns: {listed}); name it 'Error', or pass --column error=\"<header>\""
            " ([columns] error = \"<header>\" in a config)"
        )
    text = {h: as_text(rows[h]) for h in sheet.header}
    merged_note = _errors_from_other_columns(text, roles["error"], sheet.header, options)
    keep, skips = rows_to_keep(path, sheet, text, roles)
    sheet_label = sheet.sheet_name or ""
    original = pd.DataFrame({h: kept_rows(text[h], keep) for h in sheet.header}, copy=False)
    typed = _typed_fields(path, sheet, kept_rows(rows, keep), text, keep, roles, options, sheet_count)
    notes = list(sheet.notes)
    notes.extend(filter(None, [merged_note]))
    notes.extend(typed.attrs.pop("notes", []))
    notes.extend(filter(None, [_unnamed_roles_note(roles, sheet.header, len(typed))]))
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
    blank = passes(text[error], blank_text)  # each distinct cell tested once
    if not blank.any():
        return ""
    values = text[error].astype(object).to_numpy()
    taken = []
    for other in others:
        fill = blank & ~passes(text[other], blank_text)
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
    # Per role, the header of the most specific alias (then the first such header): "Receipt ID"
    # is the item id even after a "Receipt #" column, however many aliases a role gains.
    candidates = sorted((ALIAS_RANK[header_key(h)], position, role, h) for position, h in enumerate(header)
                        if (role := role_of(h)) and h not in taken)
    for _, _, role, h in candidates:
        if role not in roles and h not in taken:
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



# What a report loses without the column: said, so "value at risk: none" is never silently "not known".
_WANTED_ROLES = (("total", "amount", "value at risk is not known"),
                 ("date", "date", "no dates or oldest item"),
                 ("item_id", "item id", "repeats of an item and tracking by id go without it"))


def _unnamed_roles_note(roles: dict[str, str], header: tuple[str, ...], rows: int) -> str:
    """A note for a table with rows that has no amount, date or item id column the tool knows
    (an export's own header for it, "Amount (net)"), naming its columns and how to say which."""
    missing = [(role, name, loss) for role, name, loss in _WANTED_ROLES
               if role not in roles and not (role == "total" and "amount_base" in roles)]
    if not rows or not missing:
        return ""
    names = [name for _, name, _ in missing]
    names = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
    others = [h for h in header if h not in roles.values()]
    unused = ", ".join(others[:10]) + (f" and {len(others) - 10} more" if len(others) > 10 else "") or "none"
    how = ", ".join(f'{role}="<header>"' for role, _, _ in missing)
    return (f"no {names} column recognised (other columns: {unused}): {'; '.join(loss for *_, loss in missing)};"
            f" name {'it' if len(missing) == 1 else 'them'} with --column {how} ([columns] in a config)")


def _typed_fields(path, sheet, rows, text, keep, roles, options, sheet_count) -> pd.DataFrame:
    n = int(keep.sum())
    notes: list[str] = []

    def column(role: str) -> pd.Series:
        header = roles.get(role)
        if header is None:
            return empty_text(n)
        values = kept_rows(text[header], keep)
        # Stray spaces matter where a value is a key or a test; display text is shown as written.
        return strip_spaces(values) if role in _KEY_FIELDS else values

    # Columns gathered first and the frame made once (a column inserted at a time costs a
    # millisecond each, which a workbook of 1,500 one-row sheets pays 35,000 times).
    typed: dict[str, pd.Series] = {
        "source_file": constant_text(path, n),
        "sheet": constant_text(sheet.sheet_name or "", n),
        "source_row": rows["source_row"].astype("int64").reset_index(drop=True),
        "client": None,  # below: its note needs the rows
        "error": kept_rows(text[roles["error"]], keep),
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
        if note.startswith(MIXED_ORDER) and "client" in roles:
            per_client, note = order_per_client(column("date"), typed["client"]) or (None, note)
        if note:
            notes.append(note)
    typed["date"] = dates_in_order(raw_column(rows, roles.get("date")), dayfirst, per_client)
    typed["date_text"] = column("date")
    typed["due_date"] = dates_in_order(raw_column(rows, roles.get("due_date")), dayfirst, per_client)
    for role, target in (("total", "amount"), ("tax", "tax"), ("amount_base", "amount_base")):
        values = raw_column(rows, roles.get(role))
        typed[target] = parse_amounts(values, sheet.delimiter == ";" and not dot_decimals(values))
    base = roles.get("base_currency", "")
    typed["base_currency"] = constant_text(base, n)
    typed["currency"] = currencies(column("currency"), column("total"), base)
    if options.client_currencies:
        typed["currency"] = configured_currency(typed["currency"], typed["client"], options.client_currencies)
    if "date" in roles:
        unread = typed["date"].isna().to_numpy() & (column("date") != "").to_numpy(dtype=bool)
        notes.extend(_unread_note(roles["date"], unread, column("date"), typed["source_row"], "date(s)",
                                  "they are shown as written"))
    for role, name in (("total", "amount"), ("tax", "tax"), ("amount_base", "amount_base")):
        if role in roles:
            notes.extend(_unread_note(roles[role], unread_amounts(column(role), typed[name]), column(role),
                                      typed["source_row"], "amount(s)",
                                      "they are left out of the value at risk: write them as numbers"))
    typed = pd.DataFrame({name: positional(values) for name, values in typed.items()}, index=pd.RangeIndex(n),
                         copy=False)
    typed.attrs["notes"] = notes
    return typed



def _unread_note(header: str, unread: np.ndarray, written: pd.Series, source_rows: pd.Series, what: str,
                 then: str) -> list[str]:
    """A note naming the column, how many cells it could not read and the first of them."""
    if not unread.any():
        return []
    first = int(np.flatnonzero(unread)[0])
    return [f"column {header!r}: {int(unread.sum())} {what} could not be read (row {int(source_rows.iat[first])}:"
            f" {str(written.iat[first])[:40]!r}); {then}"]
