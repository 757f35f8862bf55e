"""A few rows of a table as plain numpy arrays, one per column.

Each client's report reads its rows column by column. On a pandas DataFrame every column access
costs tens of microseconds whatever the number of rows (a Series is built, its dtype consulted,
a categorical turned into an array); for a client of a hundred rows and seventy columns that was
most of the report model's and the workbook's cost. The run converts the batch into `RowArrays`
once per few thousand rows and hands each client slices of those arrays, which cost next to
nothing (tests/perf/bench.py, "fixed cost per client")."""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import pandas as pd


def plain(series: pd.Series) -> np.ndarray:
    """A column as the numpy array the reports read: dates as datetime64[us] (time zone dropped,
    NaT for missing), floats as float64 (NaN for missing), integers and booleans as they are, and
    everything else as objects with "" for a missing cell."""
    kind = series.dtype.kind
    if kind in "iub" and series.hasnans:  # a nullable Int64 or boolean column with gaps: as text, "" for a gap
        values = series.astype(object).where(series.notna(), "")
        return np.array(["Yes" if v is True else "No" if v is False else v for v in values], dtype=object)
    if kind == "M":
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_localize(None)
        return series.to_numpy(dtype="datetime64[us]")
    if kind == "f":
        return series.to_numpy(dtype=float, na_value=np.nan)
    if kind in "iub":
        return series.to_numpy()
    return series.to_numpy(dtype=object, na_value="")


class RowArrays:
    """Rows of a table: `index` (each row's label, the batch row) and one array per column, in
    order. Read-only by convention; slicing shares the arrays."""

    __slots__ = ("index", "data")

    def __init__(self, index: np.ndarray, data: dict[str, np.ndarray]):
        self.index = index
        self.data = data

    @classmethod
    def of(cls, table: pd.DataFrame | RowArrays | None) -> RowArrays:
        if isinstance(table, RowArrays):
            return table
        if table is None:
            return cls(np.empty(0, dtype=np.int64), {})
        names = [str(name) for name in table.columns]
        # The reader names every column apart ("Note (2)"); a table built by hand may not.
        if len(set(names)) != len(names):
            raise ValueError(f"columns named twice: {sorted({n for n in names if names.count(n) > 1})}")
        return cls(table.index.to_numpy(), {name: plain(series) for name, (_, series) in zip(names, table.items())})

    @property
    def columns(self) -> list[str]:
        return list(self.data)

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, name: object) -> bool:
        return name in self.data

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        return iter(self.data.items())

    def slice(self, start: int, stop: int) -> RowArrays:
        return RowArrays(self.index[start:stop], {name: values[start:stop] for name, values in self.data.items()})

    def select(self, names: Iterable[str]) -> RowArrays:
        return RowArrays(self.index, {name: self.data[name] for name in names})

    def without(self, names: Iterable[str]) -> RowArrays:
        dropped = set(names)
        return RowArrays(self.index, {name: v for name, v in self.data.items() if name not in dropped})
