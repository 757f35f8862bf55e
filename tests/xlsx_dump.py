"""A stable text dump of an .xlsx workbook, for golden files and readable test failures.

Reads the file back with openpyxl (what a reader of the report sees, not what the writer meant)
and lists, per sheet in workbook order: frozen panes, autofilter, column widths, merged ranges,
data validations, conditional formats, hyperlinks, then every non-empty cell as
`A1 <type> <value> [format]`. Values are printed with repr() so whitespace, control characters
and formula-looking text are visible; dates print in ISO form.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter


def dump_workbook(path: str | Path, *, widths: bool = True) -> str:
    book = openpyxl.load_workbook(path, data_only=False)
    lines: list[str] = []
    props = book.properties
    lines.append(f"workbook: sheets={book.sheetnames!r}")
    lines.append(f"  properties: title={props.title!r} subject={props.subject!r} creator={props.creator!r}"
                 f" created={_value(props.created)}")
    for sheet in book.worksheets:
        lines.append(f"sheet {sheet.title!r}: dimensions={sheet.dimensions} freeze={sheet.freeze_panes}"
                     f" autofilter={sheet.auto_filter.ref}")
        if widths:
            for letter, column in sorted(sheet.column_dimensions.items(), key=lambda kv: (len(kv[0]), kv[0])):
                if column.width:
                    last = get_column_letter(column.max) if column.max and column.max != column.min else ""
                    lines.append(f"  width {letter}{':' + last if last else ''}: {column.width:g}")
        for merged in sorted(str(r) for r in sheet.merged_cells.ranges):
            lines.append(f"  merged {merged}")
        for validation in sheet.data_validations.dataValidation:
            lines.append(f"  validation {validation.sqref}: type={validation.type} formula1={validation.formula1!r}"
                         f" allow_blank={validation.allow_blank}")
        for ranges, rules in sorted(((str(k.sqref), v) for k, v in sheet.conditional_formatting._cf_rules.items())):
            for rule in rules:
                lines.append(f"  conditional {ranges}: type={rule.type} operator={rule.operator}"
                             f" formula={list(rule.formula)!r}")
        links = sorted(((c.coordinate, c.hyperlink) for row in sheet.iter_rows() for c in row if c.hyperlink),
                       key=lambda x: _order(x[0]))
        for coordinate, link in links:
            lines.append(f"  link {coordinate}: target={link.target!r} location={link.location!r}")
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                fmt = "" if cell.number_format == "General" else f" [{cell.number_format}]"
                lines.append(f"  {cell.coordinate} {cell.data_type} {_value(cell.value)}{fmt}")
    return "\n".join(lines) + "\n"


def _value(value) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(round(value, 10))
    return repr(value)


def _order(coordinate: str) -> tuple[int, int]:
    from openpyxl.utils.cell import coordinate_from_string, column_index_from_string

    letters, number = coordinate_from_string(coordinate)
    return number, column_index_from_string(letters)


if __name__ == "__main__":  # python tests/xlsx_dump.py report.xlsx
    import sys

    for name in sys.argv[1:]:
        sys.stdout.write(dump_workbook(name))
