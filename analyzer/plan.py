"""Turn classified rows into an ordered action plan per client.

Within a client, fixes come in the order that unblocks most: connection problems first (one
action for the whole client), then settings (one change clears many items; one action per
distinct value such as an archived account code), then item fixes by item count and value, then
manual review. The row's own data decides where it must (tax greater than the net amount, items
waiting in an approval workflow).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.cells import per_distinct
from analyzer.catalog import MANUAL_REVIEW, ROW_TESTS, UNCLASSIFIED, Catalog, Fix
from analyzer.classify import Classified
from analyzer.normalise import Batch, readable_date

APPROVAL_WORDS = r"approv|awaiting review|in review"
APPROVAL_STEP = (
    "Items waiting in an approval workflow sit in the Approvals tab and are read-only: select"
    " Cancel request to return each one to the Inbox, make the change, request approval again,"
    " and then publish."
)
STAYS_ON_ITEM = (
    "An error stays on an item until a publish succeeds, so it may already be fixed: after acting,"
    " publish the item again even if the old message still shows."
)
NOT_STATED = "(not stated in the error)"
UNKNOWN_CURRENCY = ""  # an amount whose currency no column, symbol or setting states
NO_ROWS = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Action:
    """One thing to do: a fix, for one distinct value (or for all of a group's items)."""

    value: str
    rows: np.ndarray
    value_by_currency: tuple[tuple[str, float], ...]
    first_date: dt.date | None = None
    last_date: dt.date | None = None

    @property
    def items(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class FixGroup:
    fix: Fix
    title: str
    steps: tuple[str, ...]
    warnings: tuple[str, ...]
    publishable: bool
    categories: tuple[str, ...]
    actions: tuple[Action, ...]
    rows: np.ndarray
    value_by_currency: tuple[tuple[str, float], ...]
    approval_rows: int = 0

    @property
    def items(self) -> int:
        return len(self.rows)

    @property
    def key(self) -> str:
        """Stable id of the group: the fix id, with the variant's test when there is one."""
        return self.fix.id if self.title == self.fix.title else f"{self.fix.id}:{_slug(self.title)}"


@dataclass(frozen=True)
class ClientPlan:
    name: str
    rows: np.ndarray
    groups: tuple[FixGroup, ...]
    value_by_currency: tuple[tuple[str, float], ...]
    templates: tuple[tuple[str, int], ...]
    duplicates: dict[int, int]  # row -> the earlier row of the same item (same client and item id)
    # rows dismissed or snoozed: listed, but in no group or count
    set_aside: np.ndarray = field(default_factory=lambda: NO_ROWS)

    @property
    def failing_items(self) -> int:
        """Distinct items failing in Dext: a row repeating an earlier row's item is counted once."""
        return len(self.rows) - len(self.duplicates)

    @property
    def items(self) -> int:
        """Distinct items to fix: failing, and neither dismissed nor snoozed."""
        aside = sum(1 for r in self.set_aside.tolist() if r not in self.duplicates)
        return self.failing_items - aside

    @property
    def status(self) -> str:
        """The client's light. red: a blocker (connection, Xero plan, permission) stops its
        publishing; amber: items to fix; manual: what is left must be entered in Xero by hand;
        green: nothing to fix."""
        if not self.items:
            return "green"
        if any(g.fix.blocks for g in self.groups):
            return "red"
        if all(not g.publishable for g in self.groups):
            return "manual"
        return "amber"


@dataclass(frozen=True)
class Plan:
    clients: tuple[ClientPlan, ...]
    notes: tuple[str, ...] = (STAYS_ON_ITEM,)


def plan_actions(batch: Batch, classified: Classified, catalog: Catalog,
                 set_aside: np.ndarray | None = None) -> Plan:
    """Every client's ordered fix groups, computed in one pass of grouped aggregates over the
    findings (a million rows and a thousand clients must not mean a million small queries).
    Rows in `set_aside` (dismissed or snoozed) join no group and no count."""
    fields = batch.fields
    codes, names = pd.factorize(fields["client"], sort=False)
    codes = codes.astype(np.int64)  # an empty batch factorises to an untyped array
    first_of = duplicate_rows(fields, codes)
    findings = explode_findings(batch, classified, catalog, (codes, names))
    counts = first_of < 0
    if set_aside is not None:
        counts &= ~set_aside
    first = counts[findings["row"].to_numpy()] | _new_in_repeats(findings, first_of, counts)
    counted = findings if first.all() else findings[first]  # no copy when no item repeats
    risk = _amounts_from_repeats(at_risk(fields, classified, catalog), fields, first_of)
    currencies = _currencies(risk)
    groups = _group_stats(counted, fields, catalog, currencies, risk.amount)
    templates = _templates(counted)
    client_money = _client_money(risk.amount, counts, codes, currencies)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    clients = []
    for index, name in enumerate(names):
        rows = order[bounds[index] : bounds[index + 1]]
        duplicates = {int(r): int(first_of[r]) for r in rows[first_of[rows] >= 0]}
        mine = groups.get(name, [])  # in the order to fix them
        aside = rows[set_aside[rows]] if set_aside is not None else NO_ROWS
        clients.append(ClientPlan(str(name), rows, tuple(mine), client_money[index],
                                  templates.get(name, ()), duplicates, aside))
    clients.sort(key=lambda c: c.name.casefold())
    return Plan(tuple(clients))


DATE_VALUES = frozenset({"lock_date"})  # values that are dates: grouped and shown in one form


def explode_findings(batch: Batch, classified: Classified, catalog: Catalog, clients=None) -> pd.DataFrame:
    """One row per (input row, finding), with the value its fix groups by and its variant."""
    per_cell = []
    for cell, findings in enumerate(classified.findings):
        for order, finding in enumerate(findings):
            fix = catalog.fixes[finding.fix]
            group_value = finding.template if finding.category == UNCLASSIFIED else (
                finding.value(fix.group_by) if fix.group_by else "")
            if group_value and fix.group_by in DATE_VALUES:  # 30/09/2026 and 2026-09-30: one lock date
                group_value = readable_date(group_value)
            per_cell.append((cell, order, finding.category, finding.fix, group_value or (NOT_STATED if fix.group_by else "")))
    cells = pd.DataFrame(per_cell, columns=["cell", "order", "category", "fix", "value"])
    cells = cells.astype({"cell": "int64", "order": "int64"})  # typed even when there are no rows
    # Keys as categoricals: grouping a million findings then works on integer codes.
    cells = cells.astype({"category": "category", "fix": "category", "value": "category"})
    # Each row takes its cell's block of findings, in the cell's order.
    counts = np.bincount(cells["cell"].to_numpy(), minlength=len(classified.cells))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    per_row = counts[classified.codes]
    row_ids = np.repeat(np.arange(len(classified.codes)), per_row)
    offsets = np.arange(len(row_ids)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    picks = starts[classified.codes][row_ids] + offsets
    exploded = cells.iloc[picks].reset_index(drop=True)
    exploded.insert(0, "row", row_ids)
    fields = batch.fields
    client_codes, client_names = clients if clients is not None else pd.factorize(fields["client"], sort=False)
    exploded["client"] = pd.Categorical.from_codes(client_codes[row_ids], pd.Index(client_names, dtype=object))
    exploded["variant"] = _variants(exploded, fields, catalog)
    return exploded


def _variants(exploded: pd.DataFrame, fields: pd.DataFrame, catalog: Catalog) -> np.ndarray:
    """Index+1 of the fix variant whose row test the row passes; 0 for the fix itself."""
    variant = np.zeros(len(exploded), dtype="int64")
    for fix in catalog.fixes.values():
        if not fix.variants:
            continue
        mine = (exploded["fix"] == fix.id).to_numpy()
        if not mine.any():
            continue
        rows = exploded["row"].to_numpy()[mine]
        chosen = np.zeros(mine.sum(), dtype="int64")
        for number, candidate in reversed(list(enumerate(fix.variants, start=1))):
            # Tested on every row (vectorised, cheap) rather than copying the rows concerned.
            passes = ROW_TESTS[candidate.when](fields).to_numpy(dtype=bool)[rows]
            chosen[passes] = number
        variant[mine] = chosen
    return variant


def _new_in_repeats(findings: pd.DataFrame, first_of: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Findings of a repeated item's later rows that its counted row does not have (the same
    item in a client's file and in the merged export, each with a different error): they join
    their own fix group, so no error of an item is lost; the item itself still counts once."""
    rows = findings["row"].to_numpy()
    repeat = first_of[rows] >= 0
    if not repeat.any():
        return np.zeros(len(rows), dtype=bool)
    anchor = np.where(repeat, first_of[rows], rows)
    category, value = (findings[c].cat.codes.to_numpy().astype(np.int64) for c in ("category", "value"))
    width = int(value.max(initial=0)) + 1
    keys = (anchor * (int(category.max(initial=0)) + 1) + category) * width + value
    candidates = repeat & counts[anchor]  # a repeat of a counted item (not dismissed or snoozed)
    new = candidates & ~np.isin(keys, keys[counts[rows]])
    new[new] = ~pd.Series(keys[new]).duplicated().to_numpy()  # two repeats with one new error: once
    return new


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
        if (pc.all(pc.equal(pc.cast(numbers, text.type), text)).as_py()
                and 0 <= pc.min(numbers).as_py() and pc.max(numbers).as_py() < (2**62) // clients):
            return numbers.to_numpy(zero_copy_only=False) * clients + client_codes
    except (pa.ArrowException, TypeError, ValueError):
        pass
    return _combine(client_codes, pd.factorize(ids, sort=False)[0])


def _group_stats(findings: pd.DataFrame, fields: pd.DataFrame, catalog: Catalog,
                 currencies: tuple[np.ndarray, list[str]], amounts: np.ndarray) -> dict[str, list[FixGroup]]:
    """All fix groups of all clients, keyed by client: one sort of the findings by group, then
    sums, minimums and maximums over each group's slice (no per-group queries)."""
    if findings.empty:
        return {}
    rows = findings["row"].to_numpy()
    client, fix, value = (findings[c].cat for c in ("client", "fix", "value"))
    variant = findings["variant"].to_numpy()
    group = _dense(_combine(_combine(client.codes.to_numpy(), fix.codes.to_numpy()), variant))
    currency_codes, currencies = currencies
    facts = _Facts(
        currency=currency_codes[rows], currencies=currencies,
        amount=amounts[rows],
        date=fields["date"].to_numpy(dtype="datetime64[ns]").view("int64")[rows],
    )
    approval = per_distinct(fields["status"], lambda s: s.str.contains(APPROVAL_WORDS, case=False, regex=True)
                            .fillna(False).astype(bool))[rows]
    groups_of = _Slices(group, rows)
    group_money, group_totals = facts.money_and_totals(groups_of)
    group_dates = facts.date_range(groups_of)
    approvals = np.add.reduceat(approval[groups_of.order], groups_of.starts) if len(groups_of.starts) else []
    categories = _categories_of(group, findings["category"].cat, len(groups_of.starts))
    action = pd.factorize(_combine(group, value.codes.to_numpy()))[0]
    actions_of = _Slices(action, rows)
    action_money = facts.money(actions_of)
    first_dates, last_dates = facts.date_range(actions_of)
    value_names, client_names, fix_ids = (list(map(str, c.categories)) for c in (value, client, fix))
    # Each slice's codes read from its first finding, as lists: no numpy scalar per loop step.
    at = actions_of.firsts
    actions: dict[int, list[Action]] = {}
    for index, (key, value_code) in enumerate(zip(group[at].tolist(), value.codes.to_numpy()[at].tolist())):
        actions.setdefault(key, []).append(Action(
            value=value_names[value_code], rows=actions_of.rows(index),
            value_by_currency=action_money[index], first_date=first_dates[index], last_date=last_dates[index],
        ))
    at = groups_of.firsts
    firsts = zip(group[at].tolist(), client.codes.to_numpy()[at].tolist(), fix.codes.to_numpy()[at].tolist(),
                 variant[at].tolist(), np.asarray(approvals).tolist())
    sizes, totals = (groups_of.ends - groups_of.starts).tolist(), group_totals.tolist()
    keyed: dict[str, list[tuple[tuple, FixGroup]]] = {}
    for index, (key, client_code, fix_code, chosen, approval_rows) in enumerate(firsts):
        group = _group(catalog.fixes[fix_ids[fix_code]], chosen, groups_of.rows(index), actions[key], categories[key],
                       group_money[index], approval_rows, (group_dates[0][index], group_dates[1][index]))
        # The fixes that unblock most first: the fix's rank, then items, then value at risk.
        order = (group.fix.rank, -sizes[index], -totals[index], group.fix.id, group.title)
        keyed.setdefault(client_names[client_code], []).append((order, group))
    return {client: [g for _, g in sorted(mine, key=lambda pair: pair[0])] for client, mine in keyed.items()}


def _group(fix: Fix, variant: int, rows, actions, categories, money, approval, dates) -> FixGroup:
    if fix.group_by or fix.id == MANUAL_REVIEW:
        actions = sorted(actions, key=lambda a: (-a.items, a.value))
    else:  # one action for the whole group
        actions = [Action("", rows, money, *dates)]
    chosen = fix.variants[variant - 1] if variant else None
    steps = chosen.steps if chosen else fix.steps
    if approval:
        steps = (*steps, APPROVAL_STEP)
    return FixGroup(
        fix=fix,
        title=chosen.title if chosen else fix.title,
        steps=tuple(steps),
        warnings=fix.warnings,
        publishable=chosen.publishable if chosen else fix.publishable,
        categories=tuple(categories),
        actions=tuple(actions),
        rows=rows,
        value_by_currency=money,
        approval_rows=approval,
    )


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


def _amounts_from_repeats(risk: Risk, fields: pd.DataFrame, first_of: np.ndarray) -> Risk:
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


def _currencies(risk: Risk) -> tuple[np.ndarray, list[str]]:
    """Each row's currency as a code into the sorted list of currencies ("" when unknown)."""
    return risk.currency, risk.currencies


def _client_money(amounts: np.ndarray, counts: np.ndarray, codes: np.ndarray,
                  currencies: tuple[np.ndarray, list[str]]) -> list[tuple[tuple[str, float], ...]]:
    """Value per currency of each client's counted items (a repeated item counted once; a
    dismissed or snoozed one not at all)."""
    unique = np.flatnonzero(counts)
    currency_codes, currencies = currencies
    facts = _Facts(currency_codes[unique], currencies, amounts[unique], np.zeros(0, dtype="int64"))
    by_client = _Slices(codes[unique], unique)
    money = facts.money(by_client)
    result: list[tuple] = [()] * (int(codes.max(initial=-1)) + 1)
    for index, at in enumerate(by_client.firsts.tolist()):
        result[int(codes[unique[at]])] = money[index]
    return result


def _combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One int64 key per pair of non-negative codes."""
    return a.astype("int64") * (int(b.max(initial=0)) + 1) + b


def _dense(key: np.ndarray) -> np.ndarray:
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


class _Slices:
    """Findings sorted by key (input order kept within a key), one per (key, row): the rows of
    each key are a slice, and sums over keys are one `reduceat`."""

    def __init__(self, key: np.ndarray, rows: np.ndarray):
        order = np.argsort(_narrow(key), kind="stable")
        sorted_key, sorted_rows = key[order], rows[order]
        fresh = np.ones(len(order), dtype=bool)
        fresh[1:] = (sorted_key[1:] != sorted_key[:-1]) | (sorted_rows[1:] != sorted_rows[:-1])
        self.order = order[fresh]
        kept = sorted_key[fresh]
        self.starts = np.flatnonzero(np.r_[True, kept[1:] != kept[:-1]]) if len(kept) else np.zeros(0, dtype=np.int64)
        self.ends = np.r_[self.starts[1:], len(kept)]
        self.firsts = self.order[self.starts]  # a finding of each key, to read its codes from
        self.all_rows = rows[self.order]

    def rows(self, index: int) -> np.ndarray:
        return self.all_rows[self.starts[index] : self.ends[index]]

    def slice_ids(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.starts)), self.ends - self.starts)


@dataclass(frozen=True)
class _Facts:
    """Per finding: its row's currency (a code into `currencies`, which are sorted), amount and
    date (int64 nanoseconds)."""

    currency: np.ndarray
    currencies: list[str]
    amount: np.ndarray
    date: np.ndarray

    def money(self, slices: _Slices) -> list[tuple[tuple[str, float], ...]]:
        """Value per currency of each slice, currencies sorted; a currency with no amount at all
        is left out."""
        return self.money_and_totals(slices)[0]

    def money_and_totals(self, slices: _Slices) -> tuple[list[tuple[tuple[str, float], ...]], np.ndarray]:
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

    def date_range(self, slices: _Slices) -> tuple[list, list]:
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


def _categories_of(group: np.ndarray, category, groups: int) -> list[tuple[str, ...]]:
    """Each group's categories in the order they first appear."""
    codes = category.codes.to_numpy().astype("int64")
    pair = group.astype("int64") * (len(category.categories) + 1) + codes
    result: list[list[str]] = [[] for _ in range(groups)]
    names, width = list(map(str, category.categories)), len(category.categories) + 1
    for key in pd.unique(pair).tolist():  # in order of first appearance
        result[key // width].append(names[key % width])
    return [tuple(c) for c in result]


def _templates(findings: pd.DataFrame) -> dict[str, tuple[tuple[str, int], ...]]:
    """Per client, each unclassified template with its number of rows, most rows first."""
    unknown = findings[(findings["category"] == UNCLASSIFIED).to_numpy()]
    if unknown.empty:
        return {}
    client, value = unknown["client"].cat, unknown["value"].cat
    width, rows = len(value.categories), unknown["row"].to_numpy()
    codes, keys = pd.factorize(client.codes.to_numpy().astype("int64") * width + value.codes.to_numpy())
    once = pd.unique(codes * (int(rows.max()) + 1) + rows)  # a row counts once per template
    found, counts = np.unique(once // (int(rows.max()) + 1), return_counts=True)
    pairs = keys[found]
    clients, values = list(map(str, client.categories)), list(map(str, value.categories))
    result: dict[str, list] = {}
    for key, n in zip(pairs.tolist(), counts.tolist()):
        result.setdefault(clients[key // width], []).append((values[key % width], n))
    return {c: tuple(sorted(t, key=lambda x: (-x[1], x[0]))) for c, t in result.items()}


def _slug(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())[:40]


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
