"""The Unrecognised sheet, in a client's workbook and in the overview: the messages the catalog
does not know, and a Category drop-down. What a bookkeeper chooses there is taught to the
practice by the next run into the same folder (`analyzer.taught.learn_from_workbooks` reads the
sheet's Template and Category columns), so the message is never unrecognised again."""

from __future__ import annotations

from analyzer.render_xlsx.cells import _Column, _Formats, _page_setup, _write_table, clean_text

SHEET = "Unrecognised"


def write_unrecognised(book, formats: _Formats, columns: list[_Column], category_titles: tuple[str, ...]) -> None:
    """The sheet: `columns` (the first is Template), then the Category column and its drop-down
    of the catalog's category titles."""
    sheet = book.add_worksheet(SHEET)
    category = len(columns)
    rows = _write_table(sheet, formats, [*columns, _Column("Category", "text", [], formats.text, 40.0)])
    if rows and category_titles:
        lists = book.add_worksheet("Lists")  # the drop-down's choices: too long to write inline
        for number, title in enumerate(category_titles):
            lists.write_string(number, 0, clean_text(title))
        lists.hide()
        sheet.data_validation(1, category, rows, category, {
            "validate": "list", "source": f"=Lists!$A$1:$A${len(category_titles)}",
            "input_title": "Category", "input_message": "Choose what this message is: the next run learns it",
        })
    _page_setup(sheet)
