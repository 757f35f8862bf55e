"""Columns as text: cells of any type as strings, stray spaces found without decoding a million
cells, and tables put one under another."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.types import union_categoricals

from analyzer.cells import change_text, is_categorical, is_plain_text
from analyzer.read.pieces import text_bytes


def blank_text(text: pd.Series) -> pd.Series:
    return text.astype("str").str.strip() == ""



def kept_rows(values, keep: np.ndarray):
    """The kept rows, renumbered; no copy when every row is kept (the usual case)."""
    return values.reset_index(drop=True) if keep.all() else values[keep].reset_index(drop=True)



def constant_text(value: str, n: int) -> pd.Series:
    """One value on every row (the file name, say) as a categorical: no million copies."""
    return pd.Series(pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([value], dtype="str")))



def empty_text(n: int) -> pd.Series:
    return pa.repeat(pa.scalar("", pa.large_string()), n).to_pandas()



def as_text(values: pd.Series) -> pd.Series:
    if is_categorical(values):
        return values  # text already, each distinct value once
    if values.dtype != object:
        return values.astype("str")
    return values.map(cell_text).astype("str")



def cell_text(cell: object) -> str:
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, dt.datetime) and cell.time() == dt.time():
        return cell.date().isoformat()
    return str(cell)



def arrow_text(values: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The Arrow text behind a column read from CSV (no copy), or None for other columns."""
    if not str(values.dtype).startswith(("str", "string")):
        return None
    try:
        return pa.array(values.array)
    except (pa.ArrowException, TypeError):
        return None



def positional(values: pd.Series):
    """A column's values without its index, so columns built apart line up by position."""
    return values.array if isinstance(values, pd.Series) else values



def strip_spaces(values: pd.Series) -> pd.Series:
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
    array = arrow_text(values)
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



def raw_column(rows: pd.DataFrame, header: str | None) -> pd.Series:
    if header is None:
        return pd.Series([None] * len(rows), dtype=object)
    return rows[header]



def concat_tables(frames: list[pd.DataFrame]) -> pd.DataFrame:
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
