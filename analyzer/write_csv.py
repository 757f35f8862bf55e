"""The classified table as CSV, written by Arrow: the same bytes as pandas' `to_csv(index=False)`
(Python's csv module, minimal quoting), at a fraction of the cost.

pandas hands every cell of every row to the csv module as a Python object: at 300,000 rows and
32 columns that was two thirds of `classify`'s time. Here a column is turned into its CSV text
as a whole: a categorical column's categories are quoted once each and taken by code, a text
column is quoted in C++ only where a cell needs it, numbers are formatted as pandas formats
them; then each chunk of rows is joined with commas and written as one buffer.

Which characters make the csv module quote a cell is asked of the csv module itself (it differs
between Python versions: 3.11 leaves a lone carriage return unquoted when lines end in `\\n`).
Any table this cannot write exactly as pandas does (dates, a single column, a cell with a NUL)
is written by pandas. Used by `analyzer.write` only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

CHUNK_ROWS = 65_536


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


@cache
def quoted_characters(lineterminator: str) -> str:
    """The characters that make Python's csv module (as pandas calls it) quote a cell."""
    found = []
    for character in ',"\r\n':
        probe = io.StringIO()
        csv.writer(probe, lineterminator=lineterminator).writerow([f"a{character}b", "x"])
        if probe.getvalue().startswith('"'):
            found.append(character)
    return "".join(found)


def csv_chunks(table: pd.DataFrame, lineterminator: str) -> Iterator[memoryview] | None:
    """The table as CSV in UTF-8 (header first, a chunk of rows at a time), byte for byte what
    `table.to_csv(index=False, lineterminator=...)` writes; None when it cannot promise that."""
    if table.shape[1] < 2 or not table.columns.is_unique:
        return None
    special = quoted_characters(lineterminator)
    try:
        columns = [_Column.of(table.iloc[:, i], special) for i in range(table.shape[1])]
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if any(c is None for c in columns):
        return None
    header = ",".join(_quote(str(name), special) for name in table.columns) + lineterminator
    return _chunks(header, columns, len(table), lineterminator)


def _chunks(header: str, columns: list[_Column], rows: int, lineterminator: str) -> Iterator[memoryview]:
    yield memoryview(header.encode("utf-8"))
    end, nothing, comma = _text(lineterminator), _text(""), _text(",")
    for start in range(0, rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, rows)
        cells = [column.text(start, stop) for column in columns]
        cells[-1] = pc.binary_join_element_wise(cells[-1], end, nothing)
        lines = pc.binary_join_element_wise(*cells, comma)
        yield _data(lines)


def _data(lines: pa.Array) -> memoryview:
    """The text of a large_string array with no nulls: a view of Arrow's buffer, not a copy."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[first:last]


class _Column:
    """One column's cells as CSV text, for any slice of rows."""

    def __init__(self, values=None, codes=None):
        self.values = values  # large_string, every cell already quoted (or the categories, then "")
        self.codes = codes  # for categories: each row's index into `values`

    @classmethod
    def of(cls, column: pd.Series, special: str) -> _Column | None:
        dtype = column.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            if dtype.categories.dtype.kind in "mM":
                return None
            texts = [_quote(_cell_text(v), special) for v in dtype.categories.astype(object)]
            if any("\0" in t for t in texts):
                return None
            codes = column.cat.codes.to_numpy()
            codes = np.where(codes < 0, len(texts), codes)  # a missing cell: the empty text after the categories
            return cls(pa.array([*texts, ""], pa.large_string()), pa.array(codes))
        if isinstance(dtype, pd.StringDtype):
            return cls(_quoted_text(_arrow_text(column), special))
        if isinstance(dtype, np.dtype) and dtype.kind in "iu":
            return cls(pc.cast(pa.array(column.to_numpy()), pa.large_string()))
        if isinstance(dtype, np.dtype) and dtype.kind == "b":
            return cls(pa.array(np.where(column.to_numpy(), "True", "False"), pa.large_string()))
        if isinstance(dtype, np.dtype) and dtype.kind == "f":
            return cls(_floats(column.to_numpy()))
        if dtype == object or (isinstance(dtype, pd.api.extensions.ExtensionDtype) and dtype.kind in "biuf"):
            return cls(_objects(column, special))
        return None  # dates, periods, intervals...: pandas formats those its own way

    def text(self, start: int, stop: int) -> pa.Array:
        if self.codes is None:
            return self.values.slice(start, stop - start)
        return self.values.take(self.codes.slice(start, stop - start))


def _cell_text(value) -> str:
    """A cell as the csv module writes a Python object: None empty, a float by repr, else str."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    # float.__repr__, not repr(): numpy 2 writes np.float64(0.1) as "np.float64(0.1)", the csv module "0.1".
    return float.__repr__(value) if isinstance(value, float) else str(value)


def _quote(text: str, special: str) -> str:
    if any(c in text for c in special):
        return '"' + text.replace('"', '""') + '"'
    return text


def _arrow_text(column: pd.Series) -> pa.Array:
    values = pa.array(column.array) if not hasattr(column.array, "__arrow_array__") \
        else column.array.__arrow_array__()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return pc.cast(values, pa.large_string())


def _quoted_text(values: pa.Array, special: str) -> pa.Array:
    values = values.fill_null("") if values.null_count else values
    if pc.any(pc.match_substring(values, "\0")).as_py():
        raise ValueError("a cell holds a NUL")
    pattern = "[" + special.replace("\r", "\\r").replace("\n", "\\n") + "]"
    needs = pc.match_substring_regex(values, pattern)
    if not pc.any(needs).as_py():
        return values
    quote = _text('"')
    quoted = pc.binary_join_element_wise(quote, pc.replace_substring(values, '"', '""'), quote, _text(""))
    return pc.if_else(needs, quoted, values)


def _floats(values: np.ndarray) -> pa.Array:
    """As pandas writes floats: numpy's own text for the dtype (float32 `0.85`), empty for NaN;
    each distinct value formatted once."""
    distinct, positions = np.unique(values, return_inverse=True)
    texts = distinct.astype(str).astype(object)
    texts[np.isnan(distinct)] = ""
    return pa.array(texts, pa.large_string()).take(pa.array(positions.reshape(-1)))


def _objects(column: pd.Series, special: str) -> pa.Array:
    """Python objects (and pandas' nullable numbers), one by one as the csv module writes them."""
    missing = column.isna().to_numpy()
    values = np.asarray(column.array.astype(object))
    texts = ["" if gone else _quote(_cell_text(v), special) for v, gone in zip(values, missing)]
    if any("\0" in t for t in texts):
        raise ValueError("a cell holds a NUL")
    return pa.array(texts, pa.large_string())
