"""Excel workbooks: each sheet as a table of records, after the guard has checked the file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from analyzer.read.common import check_columns, HEADER_SEARCH_ROWS, Limits, ReadError, Sheet, _reason
from analyzer.read.delimited import _check_sizes, _number_rows
from analyzer.read.guard import _check_workbook_archive
from analyzer.read.sniff import _find_header, _unique_headers, above_header, repeated_headers


# ---------------------------------------------------------------------------------------------
# Excel


def _read_excel(path: Path, limits: Limits, notes: list[str], only: str | None = None) -> tuple[Sheet, ...]:
    per_sheet = _check_workbook_archive(path, limits)
    notes = [*notes, *per_sheet.pop("", [])]  # a note no sheet name places is every sheet's
    from python_calamine import CalamineWorkbook  # imported here: CSV-only runs never pay for it

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        try:
            if only is not None and only.casefold() not in (n.casefold() for n in workbook.sheet_names):
                raise ReadError(f"has no sheet named {only!r} (its sheets: {', '.join(workbook.sheet_names)[:200]});"
                                f" name the sheet {only} again")
            sheets = []
            # A sheet hidden in Excel is one the practice set aside (an old client, scratch work).
            hidden = _hidden_sheets(workbook) if only is None else set()
            for name in workbook.sheet_names:
                if only is not None and name.casefold() != only.casefold() or name in hidden:
                    continue
                sheet_part = workbook.get_sheet_by_name(name)
                grid = sheet_part.to_python(skip_empty_area=False)
                merged = _fill_merged(grid, getattr(sheet_part, "merged_cell_ranges", None) or ())
                said = (f"{merged} cell(s) merged down a column read as their value in every row they cover",) if merged else ()
                sheet = _read_sheet(name, grid, limits, (*notes, *per_sheet.get(name, ()), *said))
                if sheet is not None:
                    sheets.append(sheet)
            if hidden:
                said = f"hidden sheet(s) not read: {', '.join(repr(h) for h in sorted(hidden))}; unhide them in Excel to include them"
                if not sheets:
                    raise ReadError(f"has no visible sheet with data ({said})")
                sheets[0] = replace(sheets[0], notes=(*sheets[0].notes, said))
            return tuple(sheets)
        finally:
            workbook.close()
    except (ReadError, MemoryError):
        raise
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # calamine reports damage with many types, panics included
        if type(exc).__name__ == "PasswordError":
            raise ReadError("workbook is password-protected; open it in Excel, remove the password and save it again") from None
        raise ReadError(f"workbook is damaged or not a real .xlsx ({_reason(exc)}); open it in Excel and save it again") from None


def _fill_merged(grid: list[list[object]], ranges) -> int:
    """Cells merged down a column in Excel (a client's name beside the rows of its items) hold
    their value in every row they cover, as a person sees them; the reader gives it to the first
    only. Merges across a row (a title over the table) are left: they are no values of rows.
    Returns how many ranges were filled."""
    filled = 0
    for (top, left), (bottom, right) in ranges:
        if left != right or bottom <= top or top >= len(grid) or left >= len(grid[top]):
            continue
        value = grid[top][left]
        if value is None or value == "":
            continue
        for row in grid[top + 1:bottom + 1]:
            if left < len(row) and (row[left] is None or row[left] == ""):
                row[left] = value
        filled += 1
    return filled


def _hidden_sheets(workbook) -> set[str]:
    """The sheets hidden (or "very hidden") in Excel; none where the reader cannot tell."""
    try:
        return {m.name for m in workbook.sheets_metadata if str(m.visible).rsplit(".", 1)[-1].lower() != "visible"}
    except AttributeError:
        return set()


def _read_sheet(name: str, grid: list[list[object]], limits: Limits, notes: tuple[str, ...] = ()) -> Sheet | None:
    while grid and not any(_filled(c) for c in grid[-1]):
        grid.pop()
    if not grid:
        return None
    if len(grid) > limits.max_rows:
        raise ReadError(f"sheet {name!r} has {len(grid):,} rows, over the {limits.max_rows:,} limit; split it or raise --max-rows")
    searched = [[_text(c) for c in r] for r in grid[:HEADER_SEARCH_ROWS]]
    header_index = _find_header(searched)
    header = _unique_headers([_text(c) for c in grid[header_index]])
    check_columns(header, limits, f"sheet {name!r} ")
    notes = (*notes, *filter(None, [above_header(searched, header_index),
                                    repeated_headers([_text(c) for c in grid[header_index]], header)]))
    frame = pd.DataFrame(grid[header_index + 1 :], columns=list(header), dtype=object)
    # Columns with neither a name nor a value are the sheet's empty margin, not data.
    unnamed = [h for h, cell in zip(header, grid[header_index]) if not _filled(cell)]
    empty = [h for h in unnamed if not frame[h].map(_filled).any()]
    frame = frame.drop(columns=empty)
    header = tuple(h for h in header if h not in empty)
    frame = _number_rows(frame, header_index + 1)
    _check_sizes(frame, limits)
    if frame.empty:
        notes = (*notes, "has a header but no data rows")
    return Sheet(name, header, header_index + 1, frame, notes=notes)


def _filled(cell: object) -> bool:
    return cell is not None and str(cell).strip() != ""


def _text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)
