"""Text columns as the reader hands them over: Arrow-backed text, or categoricals for the
columns whose values repeat (see `columns.REPEATED_ROLES`).

Shared helpers, not a stage. A categorical's text is held once per distinct value, so a test
or a change of its text runs on the categories and reaches the rows through the codes: a
million rows with a few thousand distinct values never have their text copied.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def is_categorical(values: pd.Series) -> bool:
    return isinstance(values.dtype, pd.CategoricalDtype)


def is_plain_text(values: pd.Series) -> bool:
    """Text held cell by cell: Python strings (Excel, the careful reader) or pandas' str."""
    return values.dtype == object or str(values.dtype).startswith(("str", "string"))


def distinct_text(values: pd.Series) -> pd.Series:
    """A categorical's distinct values as a text Series (positions are the codes)."""
    return pd.Series(values.cat.categories, dtype="str")


def used_text(values: pd.Series) -> pd.Series:
    """A categorical's distinct values that some row holds (a skipped row's may be unused);
    counted from the codes, not sorted as `remove_unused_categories` does."""
    codes = values.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0], minlength=len(values.cat.categories)) > 0
    return distinct_text(values)[used].reset_index(drop=True)


def passes(values: pd.Series, test: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """`test(values)` as a bool array, run once per distinct value of a categorical."""
    if not is_categorical(values):
        return test(values).fillna(False).to_numpy(dtype=bool)
    result = test(distinct_text(values)).fillna(False).to_numpy(dtype=bool)
    return np.append(result, False)[values.cat.codes.to_numpy()]  # code -1 (missing) fails


def change_text(values: pd.Series, change: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`change(values)`, run once per distinct value of a categorical; the column itself when
    nothing changes. Values that become equal (" Acme" and "Acme" stripped) merge."""
    if not is_categorical(values):
        return change(values).astype("str")
    before = distinct_text(values)
    after = change(before).astype("str")
    if after.equals(before):
        return values
    codes, merged = pd.factorize(after, sort=False)
    mapped = np.append(codes, -1)[values.cat.codes.to_numpy()]
    return pd.Series(pd.Categorical.from_codes(mapped, categories=pd.Index(merged, dtype="str")), index=values.index)


def with_text(values: pd.Series, where: np.ndarray, text: str) -> pd.Series:
    """The column with `text` on the rows `where` marks (a categorical gains the category)."""
    if not is_categorical(values):
        return values.where(~where, text).astype("str")
    if text not in values.cat.categories:
        values = values.cat.add_categories([text])
    result = values.copy()
    result[where] = text
    return result


def per_distinct(values: pd.Series, work: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """`work` run once on the distinct values (as text; a missing value as "nan"), its results
    handed back to every row: a column of a million cells has a handful of statuses or currencies."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    return work(pd.Series(distinct, dtype="str")).to_numpy()[codes]
