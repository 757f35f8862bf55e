"""Which rows are one item: a client's repeated Dext item id, and the key each row is tracked by."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.plan.slices import combine


def duplicate_rows(fields: pd.DataFrame, client_codes: np.ndarray | None = None) -> np.ndarray:
    """For each row, the earlier row of the same client with the same item id, or -1. The same
    Dext item often reaches the tool twice (a per-client file and the merged workbook). Item
    ids arrive stripped (a key field)."""
    if client_codes is None:
        client_codes, _ = pd.factorize(fields["client"], sort=False)
    ids = fields["item_id"]
    # Codes are numbered in order of first appearance, so the first row of each code is where
    # the running maximum of the codes grows.
    codes, _ = pd.factorize(_item_keys(client_codes, ids), sort=False)
    new = np.ones(len(codes), dtype=bool)
    new[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    firsts = np.flatnonzero(new)[codes]
    result = np.where(firsts != np.arange(len(codes)), firsts, -1)
    result[(ids == "").to_numpy(dtype=bool)] = -1
    return result



def _item_keys(client_codes: np.ndarray, ids: pd.Series) -> np.ndarray:
    """One integer per (client, item id). Dext's ids are digits: read as integers (when that
    loses nothing, such as a leading zero) they join the client's code in one int64, hashed
    once and several times faster than text."""
    clients = int(client_codes.max(initial=0)) + 1
    try:
        text = pa.array(ids.array)
        numbers = pc.cast(text, pa.int64())
        values = numbers.to_numpy(zero_copy_only=False)
        if (len(values) and 0 <= values.min() and values.max() < (2**62) // clients
                and _written_plainly(values, pc.binary_length(text).to_numpy(zero_copy_only=False))):
            return values * clients + client_codes
    except (pa.ArrowException, TypeError, ValueError):
        pass
    return combine(client_codes, pd.factorize(ids, sort=False)[0])



_POWERS_OF_TEN = np.array([10**k for k in range(1, 19)], dtype=np.int64)


def _written_plainly(values: np.ndarray, lengths: np.ndarray) -> bool:
    """Whether each non-negative number was written with exactly its digits: no sign, no
    leading zero, no space (ids "007" and "7" are two items). A number of n digits is at least
    10^(n-1): its digit count is 1 + the powers of ten it reaches."""
    return bool((np.searchsorted(_POWERS_OF_TEN, values, side="right") + 1 == lengths).all())



def item_keys(fields: pd.DataFrame) -> pd.Series:
    """A stable key per row for run history and tracking: the item's id, or when the export has
    none a fingerprint of its date, supplier, amount and reference. Rows with no id are separate
    items (as `duplicate_rows` counts them), so a fingerprint seen again for the same client gets
    its occurrence number: two identical no-id rows are two items, each tracked on its own."""
    ids = fields["item_id"].astype("str").str.strip()
    keys = "id:" + ids
    missing = (ids == "").to_numpy(dtype=bool)
    if missing.any():
        part = fields.loc[missing, ["date_text", "supplier", "amount", "invoice_number"]]
        texts = [part[c].astype(object).where(part[c].notna(), "").map(str) for c in part.columns]
        prints = ["fp:" + hashlib.sha1("|".join(r).encode("utf-8")).hexdigest()[:16] for r in zip(*texts)]
        clients = fields.loc[missing, "client"].astype("str").to_numpy()
        occurrence = pd.Series(prints).groupby([clients, prints]).cumcount().to_numpy()
        keys = keys.where(~missing, "")
        keys[missing] = [p if n == 0 else f"{p}#{n + 1}" for p, n in zip(prints, occurrence.tolist())]
    return keys.astype("str")
