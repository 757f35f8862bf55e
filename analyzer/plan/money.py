"""Value at risk: each row's amount and currency (the export's base currency where it has one),
and sums per currency over slices of rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import pandas as pd

from analyzer.catalog import Catalog
from analyzer.classify import Classified
from analyzer.plan.slices import Slices


@dataclass(frozen=True)
class Risk:
    """Per row: the amount at risk (its size: a credit note's -100 is 100) and its currency (a
    code into `currencies`, which are sorted). The export's base-currency total (`Total (GBP)`)
    where the row has one, else its own amount and currency; no amount (NaN) for an item whose
    transaction is already in Xero (only its image failed)."""

    amount: np.ndarray
    currency: np.ndarray
    currencies: list[str]



def at_risk(fields: pd.DataFrame, classified: Classified, catalog: Catalog) -> Risk:
    """Worked on codes (each distinct currency once), never a million strings."""
    amount = fields["amount"].to_numpy(dtype="float64")
    codes, names = pd.factorize(fields["currency"], use_na_sentinel=False)
    names = [str(n) for n in names]
    if "amount_base" in fields:
        base = fields["amount_base"].to_numpy(dtype="float64")
        base_codes, base_names = pd.factorize(fields["base_currency"], use_na_sentinel=False)
        base_names = [str(n) for n in base_names]
        has_base = ~np.isnan(base) & np.array([bool(n) for n in base_names] or [False], dtype=bool)[base_codes]
        if has_base.any():
            amount = np.where(has_base, base, amount)
            codes = np.where(has_base, base_codes + len(names), codes)
            names = names + base_names
    in_xero = np.array([bool(f) and all(catalog.fixes[x.fix].in_xero for x in f) for f in classified.findings],
                       dtype=bool)
    if len(amount) and in_xero.any():
        amount = np.where(in_xero[classified.codes], np.nan, amount)
    # Codes into the sorted distinct currencies (two spellings of one code merge).
    distinct = sorted(set(names))
    remap = np.array([distinct.index(n) for n in names] or [0], dtype=np.int64)
    # A failed credit note is value not in Xero as much as an invoice is: by its size, or an
    # invoice and a credit note of 100 would read as nothing at risk.
    return Risk(np.abs(amount), remap[codes] if len(codes) else codes.astype(np.int64), distinct)



def amounts_from_repeats(risk: Risk, fields: pd.DataFrame, first_of: np.ndarray) -> Risk:
    """An item counted by its first row takes its amount from a later row of it when the first
    has none written (blank or unreadable): the same item in two exports, one of them without
    its amount, is still worth that amount, whichever file came first."""
    later = np.flatnonzero(first_of >= 0)
    if not len(later):
        return risk
    written = fields["amount"].to_numpy(dtype="float64")
    anchors = first_of[later]
    usable = np.isnan(written[anchors]) & ~np.isnan(risk.amount[later])
    later, anchors = later[usable], anchors[usable]
    once = ~pd.Series(anchors).duplicated().to_numpy()  # the first later row with an amount
    later, anchors = later[once], anchors[once]
    if not len(later):
        return risk
    amount, currency = risk.amount.copy(), risk.currency.copy()
    amount[anchors], currency[anchors] = amount[later], currency[later]
    return Risk(amount, currency, risk.currencies)



def risk_currencies(risk: Risk) -> tuple[np.ndarray, list[str]]:
    """Each row's currency as a code into the sorted list of currencies ("" when unknown)."""
    return risk.currency, risk.currencies



def money_per_client(amounts: np.ndarray, counts: np.ndarray, codes: np.ndarray,
                  currencies: tuple[np.ndarray, list[str]]) -> list[tuple[tuple[str, float], ...]]:
    """Value per currency of each client's counted items (a repeated item counted once; a
    dismissed or snoozed one not at all)."""
    unique = np.flatnonzero(counts)
    currency_codes, currencies = currencies
    facts = Facts(currency_codes[unique], currencies, amounts[unique], np.zeros(0, dtype="int64"))
    by_client = Slices(codes[unique], unique)
    money = facts.money(by_client)
    result: list[tuple] = [()] * (int(codes.max(initial=-1)) + 1)
    for index, at in enumerate(by_client.firsts.tolist()):
        result[int(codes[unique[at]])] = money[index]
    return result



@dataclass(frozen=True)
class Facts:
    """Per finding: its row's currency (a code into `currencies`, which are sorted), amount and
    date (int64 nanoseconds)."""

    currency: np.ndarray
    currencies: list[str]
    amount: np.ndarray
    date: np.ndarray

    def money(self, slices: Slices) -> list[tuple[tuple[str, float], ...]]:
        """Value per currency of each slice, currencies sorted; a currency with no amount at all
        is left out."""
        return self.money_and_totals(slices)[0]

    def money_and_totals(self, slices: Slices) -> tuple[list[tuple[tuple[str, float], ...]], np.ndarray]:
        """`money`, and each slice's value summed over its currencies as rounded there (amounts
        are sizes, never below zero): what groups are ordered by, with no Python step a group."""
        width = len(self.currencies)
        pair = slices.slice_ids() * width + self.currency[slices.order]
        amount = self.amount[slices.order]
        size = len(slices.starts) * width
        totals = np.bincount(pair, weights=np.nan_to_num(amount), minlength=size)
        counted = np.bincount(pair, weights=~np.isnan(amount), minlength=size)
        present = np.flatnonzero(counted)
        # Tuples built in bulk, then cut at each slice's bounds (presence is sorted by slice).
        rounded = list(map(round, totals[present].tolist(), repeat(2)))
        pairs = list(zip(map(self.currencies.__getitem__, (present % width).tolist()), rounded))
        bounds = np.searchsorted(present // width, np.arange(len(slices.starts) + 1)).tolist()
        summed = np.bincount(present // width, weights=np.asarray(rounded, dtype="float64"), minlength=len(slices.starts))
        return [tuple(pairs[a:b]) for a, b in zip(bounds[:-1], bounds[1:])], summed

    def date_range(self, slices: Slices) -> tuple[list, list]:
        """First and last date of each slice (None when no row has a date)."""
        if not len(slices.starts):
            return [], []
        dates = self.date[slices.order]
        missing = dates == np.iinfo("int64").min  # NaT
        first = np.minimum.reduceat(np.where(missing, np.iinfo("int64").max, dates), slices.starts)
        last = np.maximum.reduceat(dates, slices.starts)
        empty = np.logical_and.reduceat(missing, slices.starts)
        return _days(first, empty), _days(last, empty)



def _days(values: np.ndarray, empty: np.ndarray) -> list[dt.date | None]:
    days = np.where(empty, 0, values).astype("datetime64[ns]").astype("datetime64[D]").tolist()
    return [None if e else d for d, e in zip(days, empty.tolist())]
