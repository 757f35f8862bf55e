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
    primary_group: dict[int, str]  # row -> key of the first group that must act on it
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

    @property
    def biggest_group(self) -> FixGroup | None:
        return max(self.groups, key=lambda g: g.items, default=None)


@dataclass(frozen=True)
class Plan:
    clients: tuple[ClientPlan, ...]
    findings: pd.DataFrame  # one row per (input row, finding): the exploded classification
    notes: tuple[str, ...] = (STAYS_ON_ITEM,)


def plan_actions(batch: Batch, classified: Classified, catalog: Catalog) -> Plan:
    fields = batch.fields
    first_of = duplicate_rows(fields)
    findings = explode_findings(batch, classified, catalog)
    findings = findings[first_of[findings["row"].to_numpy()] < 0]
    clients = []
    client_codes, client_names = pd.factorize(fields["client"], sort=False)
    order = np.argsort(client_codes, kind="stable")
    bounds = np.searchsorted(client_codes[order], np.arange(len(client_names) + 1))
    by_client = {name: findings_part for name, findings_part in findings.groupby("client", sort=False)}
    for index, name in enumerate(client_names):
        rows = order[bounds[index] : bounds[index + 1]]
        duplicates = {int(r): int(first_of[r]) for r in rows[first_of[rows] >= 0]}
        clients.append(_plan_client(str(name), rows, by_client.get(name), fields, catalog, duplicates))
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
    rows = pd.DataFrame({"row": np.arange(len(classified.codes)), "cell": classified.codes})
    exploded = rows.merge(cells, on="cell", how="left", sort=False).sort_values(["row", "order"], kind="stable")
    fields = batch.fields
    exploded["client"] = fields["client"].to_numpy()[exploded["row"].to_numpy()]
    exploded["variant"] = _variants(exploded, fields, catalog)
    return exploded.reset_index(drop=True)


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
    keyed = pd.DataFrame({"client": fields["client"].to_numpy(), "id": ids.to_numpy(), "row": np.arange(len(fields))})
    keyed = keyed[keyed["id"] != ""]
    first = keyed.groupby(["client", "id"], sort=False)["row"].transform("min").to_numpy()
    result = np.full(len(fields), -1, dtype="int64")
    repeat = first != keyed["row"].to_numpy()
    result[keyed["row"].to_numpy()[repeat]] = first[repeat]
    return result


def _plan_client(name, rows, findings, fields, catalog, duplicates) -> ClientPlan:
    groups: list[FixGroup] = []
    if findings is not None:
        for (fix_id, variant), part in findings.groupby(["fix", "variant"], sort=False):
            groups.append(_group(catalog.fixes[fix_id], int(variant), part, fields))
    groups.sort(key=lambda g: (g.fix.rank, -g.items, -_total(g.value_by_currency), g.fix.id, g.title))
    primary: dict[int, str] = {}
    for group in groups:
        for row in group.rows:
            primary.setdefault(int(row), group.key)
    templates = ()
    if findings is not None:
        unknown = findings[findings["category"] == UNCLASSIFIED]
        counts = unknown.drop_duplicates(["row", "value"])["value"].value_counts()
        templates = tuple((str(t), int(n)) for t, n in counts.items())
    unique = rows[~np.isin(rows, list(duplicates))] if duplicates else rows
    return ClientPlan(name, rows, tuple(groups), _value_by_currency(fields, unique), templates, primary, duplicates)


def _group(fix: Fix, variant: int, part: pd.DataFrame, fields: pd.DataFrame) -> FixGroup:
    rows = part["row"].drop_duplicates().to_numpy()
    actions = []
    if fix.group_by or fix.id == MANUAL_REVIEW:
        for value, by_value in part.groupby("value", sort=False):
            actions.append(_action(str(value), by_value["row"].drop_duplicates().to_numpy(), fields))
        actions.sort(key=lambda a: (-a.items, a.value))
    else:
        actions.append(_action("", rows, fields))
    chosen = fix.variants[variant - 1] if variant else None
    approval = int(fields["status"].iloc[rows].str.contains(APPROVAL_WORDS, case=False, regex=True).sum())
    steps = chosen.steps if chosen else fix.steps
    if approval:
        steps = (*steps, APPROVAL_STEP)
    return FixGroup(
        fix=fix,
        title=chosen.title if chosen else fix.title,
        steps=tuple(steps),
        warnings=fix.warnings,
        publishable=chosen.publishable if chosen else fix.publishable,
        categories=tuple(dict.fromkeys(part["category"])),
        actions=tuple(actions),
        rows=rows,
        value_by_currency=_value_by_currency(fields, rows),
        approval_rows=approval,
    )


def _action(value: str, rows: np.ndarray, fields: pd.DataFrame) -> Action:
    dates = fields["date"].iloc[rows].dropna()
    return Action(
        value=value,
        rows=rows,
        value_by_currency=_value_by_currency(fields, rows),
        first_date=dates.min() if len(dates) else None,
        last_date=dates.max() if len(dates) else None,
    )


def _value_by_currency(fields: pd.DataFrame, rows: np.ndarray) -> tuple[tuple[str, float], ...]:
    part = fields.iloc[rows]
    currency = part["currency"].where(part["currency"] != "", UNKNOWN_CURRENCY)
    sums = part["amount"].groupby(currency.to_numpy()).sum(min_count=1).dropna()
    return tuple((str(c), round(float(v), 2)) for c, v in sorted(sums.items()))


def _total(value_by_currency: tuple[tuple[str, float], ...]) -> float:
    return sum(abs(v) for _, v in value_by_currency)


def _slug(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())[:40]


def item_keys(fields: pd.DataFrame) -> pd.Series:
    """A stable key per row for run history: the item's id, or when the export has none a
    fingerprint of its date, supplier, amount and reference."""
    ids = fields["item_id"].astype("str").str.strip()
    keys = ("id:" + ids).astype(object)
    missing = (ids == "").to_numpy()
    if missing.any():
        part = fields.loc[missing, ["date_text", "supplier", "amount", "invoice_number"]].astype("str")
        keys[missing] = ["fp:" + hashlib.sha1("|".join(r).encode("utf-8")).hexdigest()[:16]
                         for r in part.itertuples(index=False)]
    return keys.astype("str")
