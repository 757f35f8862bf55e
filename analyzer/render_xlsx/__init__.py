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

from analyzer.render_xlsx.cells import MAX_CELL, TRUNCATED, clean_text
from analyzer.render_xlsx.client import STATUS_CHOICES, render_client_xlsx
from analyzer.render_xlsx.overview import render_overview_xlsx

__all__ = ["MAX_CELL", "STATUS_CHOICES", "TRUNCATED", "clean_text", "render_client_xlsx", "render_overview_xlsx"]
