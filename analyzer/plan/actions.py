"""The plan of every client at once: findings exploded to one row per (row, finding), repeats
and set-aside items left out of the counts, groups made and ordered."""

from __future__ import annotations


import numpy as np
import pandas as pd

from analyzer.catalog import ROW_TESTS, UNCLASSIFIED, Catalog
from analyzer.classify import Classified
from analyzer.normalise import Batch, readable_date
from analyzer.plan.groups import group_stats
from analyzer.plan.items import duplicate_rows
from analyzer.plan.model import NO_ROWS, NOT_STATED, ClientPlan, Plan
from analyzer.plan.money import amounts_from_repeats, at_risk, money_per_client, risk_currencies


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
    risk = amounts_from_repeats(at_risk(fields, classified, catalog), fields, first_of)
    currencies = risk_currencies(risk)
    groups = group_stats(counted, fields, catalog, currencies, risk.amount)
    templates = _templates(counted)
    client_money = money_per_client(risk.amount, counts, codes, currencies)
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
