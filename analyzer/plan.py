"""Turn classified rows into an ordered action plan per client.

Within a client, fixes come in the order that unblocks most: connection problems first (one
action for the whole client), then settings (one change clears many items; one action per
distinct value such as an archived account code), then item fixes by item count and value, then
manual review. The row's own data decides where it must (tax greater than the net amount, items
waiting in an approval workflow).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.catalog import MANUAL_REVIEW, ROW_TESTS, UNCLASSIFIED, Catalog, Fix
from analyzer.classify import Classified
from analyzer.normalise import Batch

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
UNKNOWN_CURRENCY = "???"


@dataclass(frozen=True)
class Action:
    """One thing to do: a fix, for one distinct value (or for all of a group's items)."""

    value: str
    rows: np.ndarray
    value_by_currency: tuple[tuple[str, float], ...]
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None

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

    @property
    def items(self) -> int:
        """Distinct items: a row repeating an earlier row's item is counted once."""
        return len(self.rows) - len(self.duplicates)

    @property
    def status(self) -> str:
        """red: something blocks every item or items cannot be published from Dext;
        amber: items need fixing; green: nothing failed."""
        if not self.items:
            return "green"
        if any(g.fix.scope == "connection" and not g.fix.transient or not g.publishable for g in self.groups):
            return "red"
        return "amber"


@dataclass(frozen=True)
class Plan:
    clients: tuple[ClientPlan, ...]
    findings: pd.DataFrame  # one row per (input row, finding): the exploded classification
    notes: tuple[str, ...] = (STAYS_ON_ITEM,)


def plan_actions(batch: Batch, classified: Classified, catalog: Catalog) -> Plan:
    """Every client's ordered fix groups, computed in one pass of grouped aggregates over the
    findings (a million rows and a thousand clients must not mean a million small queries)."""
    fields = batch.fields
    first_of = duplicate_rows(fields)
    findings = explode_findings(batch, classified, catalog)
    counted = findings[first_of[findings["row"].to_numpy()] < 0]
    groups = _group_stats(counted, fields, catalog)
    client_money = _money(_unique_rows(fields, first_of), ["client"])
    templates = _templates(counted)
    codes, names = pd.factorize(fields["client"], sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    clients = []
    for index, name in enumerate(names):
        rows = order[bounds[index] : bounds[index + 1]]
        duplicates = {int(r): int(first_of[r]) for r in rows[first_of[rows] >= 0]}
        mine = sorted(groups.get(name, []), key=lambda g: (g.fix.rank, -g.items, -_total(g.value_by_currency), g.fix.id, g.title))
        clients.append(ClientPlan(str(name), rows, tuple(mine), client_money.get((name,), ()),
                                  templates.get(name, ()), duplicates))
    clients.sort(key=lambda c: c.name.casefold())
    return Plan(tuple(clients), findings)


def explode_findings(batch: Batch, classified: Classified, catalog: Catalog) -> pd.DataFrame:
    """One row per (input row, finding), with the value its fix groups by and its variant."""
    per_cell = []
    for cell, findings in enumerate(classified.findings):
        for order, finding in enumerate(findings):
            fix = catalog.fixes[finding.fix]
            group_value = finding.template if finding.category == UNCLASSIFIED else (
                finding.value(fix.group_by) if fix.group_by else "")
            per_cell.append((cell, order, finding.category, finding.fix, group_value or (NOT_STATED if fix.group_by else "")))
    cells = pd.DataFrame(per_cell, columns=["cell", "order", "category", "fix", "value"])
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
    client_codes, client_names = pd.factorize(fields["client"], sort=False)
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
            passes = ROW_TESTS[candidate.when](fields.iloc[rows].reset_index(drop=True)).to_numpy(dtype=bool)
            chosen[passes] = number
        variant[mine] = chosen
    return variant


def duplicate_rows(fields: pd.DataFrame) -> np.ndarray:
    """For each row, the earlier row of the same client with the same item id, or -1. The same
    Dext item often reaches the tool twice (a per-client file and the merged workbook)."""
    ids = fields["item_id"].astype("str").str.strip()
    client_codes, _ = pd.factorize(fields["client"], sort=False)
    id_codes, _ = pd.factorize(ids, sort=False)
    key = client_codes.astype("int64") * (int(id_codes.max(initial=0)) + 1) + id_codes
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    firsts = first[inverse.ravel()]
    result = np.where(firsts != np.arange(len(key)), firsts, -1)
    result[(ids == "").to_numpy(dtype=bool)] = -1
    return result


GROUP = ["client", "fix", "variant"]
ACTION = [*GROUP, "value"]


def _group_stats(findings: pd.DataFrame, fields: pd.DataFrame, catalog: Catalog) -> dict[str, list[FixGroup]]:
    """All fix groups of all clients, keyed by client."""
    if findings.empty:
        return {}
    rows = findings["row"].to_numpy()
    findings = findings.assign(
        currency=pd.Categorical(_currency(fields).to_numpy()[rows]),
        amount=fields["amount"].to_numpy()[rows],
        date=fields["date"].to_numpy()[rows],
        approval=fields["status"].str.contains(APPROVAL_WORDS, case=False, regex=True).to_numpy(dtype=bool)[rows],
    )
    in_group = findings.drop_duplicates([*GROUP, "row"])
    in_action = findings.drop_duplicates([*ACTION, "row"])
    group_rows = _rows_by(in_group, GROUP)
    group_money = _money(in_group, GROUP)
    approvals = in_group.groupby(GROUP, sort=False, observed=True)["approval"].sum().to_dict()
    categories = (findings.drop_duplicates([*GROUP, "category"]).groupby(GROUP, sort=False, observed=True)["category"]
                  .agg(lambda c: tuple(str(x) for x in c)).to_dict())
    action_rows = _rows_by(in_action, ACTION)
    action_money = _money(in_action, ACTION)
    by_action = in_action.groupby(ACTION, sort=False, observed=True)["date"]
    first_dates, last_dates = by_action.min().to_dict(), by_action.max().to_dict()
    actions_of: dict[tuple, list[Action]] = {}
    for key, action_row_ids in action_rows.items():
        actions_of.setdefault(key[:3], []).append(Action(
            value=str(key[3]), rows=action_row_ids, value_by_currency=action_money.get(key, ()),
            first_date=_timestamp(first_dates[key]), last_date=_timestamp(last_dates[key]),
        ))
    groups: dict[str, list[FixGroup]] = {}
    for key, row_ids in group_rows.items():
        client, fix_id, variant = key
        fix = catalog.fixes[fix_id]
        groups.setdefault(client, []).append(
            _group(fix, int(variant), row_ids, actions_of[key], categories[key], group_money.get(key, ()), int(approvals[key]))
        )
    return groups


def _timestamp(value) -> pd.Timestamp | None:
    return None if pd.isna(value) else pd.Timestamp(value)


def _group(fix: Fix, variant: int, rows, actions, categories, money, approval) -> FixGroup:
    if fix.group_by or fix.id == MANUAL_REVIEW:
        actions = sorted(actions, key=lambda a: (-a.items, a.value))
    else:  # one action for the whole group
        actions = [Action("", rows, money, min((a.first_date for a in actions if a.first_date is not None), default=None),
                          max((a.last_date for a in actions if a.last_date is not None), default=None))]
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


def _rows_by(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, np.ndarray]:
    """The input rows of each group, in input order, from one pass over the frame."""
    rows = frame["row"].to_numpy()
    grouped = frame.groupby(keys, sort=False, observed=True).indices
    return {key: np.sort(rows[positions]) for key, positions in grouped.items()}


def _currency(fields: pd.DataFrame) -> pd.Series:
    return fields["currency"].where(fields["currency"] != "", UNKNOWN_CURRENCY)


def _unique_rows(fields: pd.DataFrame, first_of: np.ndarray) -> pd.DataFrame:
    unique = fields[first_of < 0]
    return pd.DataFrame({"client": unique["client"], "currency": _currency(unique), "amount": unique["amount"]})


def _money(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, tuple[tuple[str, float], ...]]:
    """Value per currency for each group: {key: (("GBP", 12.5), ...)}, currencies sorted."""
    sums = frame.groupby([*keys, "currency"], sort=True, observed=True)["amount"].sum(min_count=1).dropna()
    money: dict[tuple, list] = {}
    for key, value in sums.items():
        money.setdefault(tuple(key[:-1]), []).append((str(key[-1]), round(float(value), 2)))
    return {k: tuple(v) for k, v in money.items()}


def _templates(findings: pd.DataFrame) -> dict[str, tuple[tuple[str, int], ...]]:
    unknown = findings[findings["category"] == UNCLASSIFIED].drop_duplicates(["client", "row", "value"])
    counts = unknown.groupby(["client", "value"], sort=False, observed=True).size()
    result: dict[str, list] = {}
    for (client, template), n in counts.items():
        result.setdefault(client, []).append((str(template), int(n)))
    return {c: tuple(sorted(t, key=lambda x: (-x[1], x[0]))) for c, t in result.items()}


def _total(value_by_currency: tuple[tuple[str, float], ...]) -> float:
    return sum(abs(v) for _, v in value_by_currency)


def _slug(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())[:40]


def item_keys(fields: pd.DataFrame) -> pd.Series:
    """A stable key per row for run history: the item's id, or when the export has none a
    fingerprint of its date, supplier, amount and reference."""
    ids = fields["item_id"].astype("str").str.strip()
    keys = "id:" + ids
    missing = (ids == "").to_numpy(dtype=bool)
    if missing.any():
        part = fields.loc[missing, ["date_text", "supplier", "amount", "invoice_number"]].astype("str")
        keys = keys.where(~missing, "")
        keys[missing] = ["fp:" + hashlib.sha1("|".join(r).encode("utf-8")).hexdigest()[:16]
                         for r in part.itertuples(index=False)]
    return keys.astype("str")
