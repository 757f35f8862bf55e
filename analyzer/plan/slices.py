"""Integer keys and sorted slices: grouped sums over a million findings without a query per group."""

from __future__ import annotations


import numpy as np
import pandas as pd



def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One int64 key per pair of non-negative codes."""
    return a.astype("int64") * (int(b.max(initial=0)) + 1) + b



def dense(key: np.ndarray) -> np.ndarray:
    """Codes 0..k-1 for non-negative keys, in key order. Keys from a small range (clients x
    fixes x variants) are numbered through a table of the range, without hashing."""
    top = int(key.max(initial=-1)) + 1
    if top > 4 * len(key) + 4096:
        return pd.factorize(key, sort=True)[0]
    present = np.zeros(top, dtype=bool)
    present[key] = True
    return (np.cumsum(present) - 1)[key]



def _narrow(codes: np.ndarray) -> np.ndarray:
    """Small codes in a small integer type: NumPy's stable sort is then a radix sort."""
    top = int(codes.max(initial=0))
    return codes.astype(np.int16) if top < 2**15 else codes.astype(np.int32) if top < 2**31 else codes



class Slices:
    """Findings sorted by key (input order kept within a key), one per (key, row): the rows of
    each key are a slice, and sums over keys are one `reduceat`."""

    def __init__(self, key: np.ndarray, rows: np.ndarray):
        order = np.argsort(_narrow(key), kind="stable")
        sorted_key, sorted_rows = key[order], rows[order]
        fresh = np.ones(len(order), dtype=bool)
        fresh[1:] = (sorted_key[1:] != sorted_key[:-1]) | (sorted_rows[1:] != sorted_rows[:-1])
        if fresh.all():  # no row twice under one key: nothing to leave out, no copies
            self.order, kept, self.all_rows = order, sorted_key, sorted_rows
        else:
            self.order, kept, self.all_rows = order[fresh], sorted_key[fresh], sorted_rows[fresh]
        self.starts = np.flatnonzero(np.r_[True, kept[1:] != kept[:-1]]) if len(kept) else np.zeros(0, dtype=np.int64)
        self.ends = np.r_[self.starts[1:], len(kept)]
        self.firsts = self.order[self.starts]  # a finding of each key, to read its codes from

    def row_slices(self) -> list[np.ndarray]:
        """Each key's rows, in key order (views of one array, cut at Python ints)."""
        rows = self.all_rows
        return [rows[start:end] for start, end in zip(self.starts.tolist(), self.ends.tolist())]

    def slice_ids(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.starts)), self.ends - self.starts)
