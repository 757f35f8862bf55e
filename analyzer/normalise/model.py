"""What normalising gives the later stages: the options it takes, the batch of typed rows, and
what it skipped and why."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


TEXT_FIELDS = ("item_id", "doc_type", "invoice_number", "supplier", "customer", "category", "project",
               "payment_method", "bank_account", "tax_name", "tax_code", "status", "owner",
               "description", "link")



FIELD_COLUMNS = ("source_file", "sheet", "source_row", "client", "error", *TEXT_FIELDS,
                 "date", "date_text", "due_date", "amount", "tax", "currency", "amount_base", "base_currency")



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



_FIELD_TYPES = {"source_row": "int64", "date": "datetime64[ns]", "due_date": "datetime64[ns]", "amount": "float64",
                "tax": "float64", "amount_base": "float64"}



def empty_fields() -> pd.DataFrame:
    """No rows, each column of the type it has when there are rows."""
    return pd.DataFrame({c: pd.Series(dtype=_FIELD_TYPES.get(c, "str")) for c in FIELD_COLUMNS})
