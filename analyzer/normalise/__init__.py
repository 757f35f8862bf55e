"""Give the columns of each table their roles and turn raw records into typed, comparable rows.

Input: the tables the reader found. Output: one `Batch` holding the input's own columns
(`original`) and the typed standard fields (`fields`) side by side, row for row, plus every row
that was skipped and why. Nothing here touches files.

The stage's parts: `tables` (roles, rows, typed fields per table; the batch), `rows` (which rows
are items), `clients`, `dates`, `amounts` (each kind of value as people write it), `text`
(columns as text) and `model` (what the stage gives the later ones).
"""

from analyzer.normalise.amounts import currencies, currency_named, parse_amount, parse_amounts
from analyzer.normalise.clients import NOT_STATED, client_from_path, name_key, tidy_client_name
from analyzer.normalise.dates import infer_dayfirst, parse_dates, readable_date
from analyzer.normalise.model import (FIELD_COLUMNS, TEXT_FIELDS, Batch, NoErrorColumn, NormaliseError, Options,
                                     SkippedRow, TableInfo)
from analyzer.normalise.tables import assign_roles, normalise_inputs, normalise_sheet

__all__ = ["FIELD_COLUMNS", "NOT_STATED", "TEXT_FIELDS", "Batch", "NoErrorColumn", "NormaliseError", "Options",
           "SkippedRow", "TableInfo", "assign_roles", "client_from_path", "currencies", "currency_named",
           "infer_dayfirst", "name_key", "normalise_inputs", "normalise_sheet", "parse_amount", "parse_amounts",
           "parse_dates", "readable_date", "tidy_client_name"]
