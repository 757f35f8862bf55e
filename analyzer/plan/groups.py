"""All fix groups of all clients from one sort of the findings: their actions, money, dates,
categories, and the order to do them in."""

from __future__ import annotations


import numpy as np
import pandas as pd

from analyzer.cells import per_distinct
from analyzer.catalog import MANUAL_REVIEW, Catalog, Fix
from analyzer.plan.model import APPROVAL_STEP, APPROVAL_WORDS, Action, FixGroup
from analyzer.plan.money import Facts
from analyzer.plan.slices import Slices, combine, dense


def group_stats(findings: pd.DataFrame, fields: pd.DataFrame, catalog: Catalog,
                 currencies: tuple[np.ndarray, list[str]], amounts: np.ndarray) -> dict[str, list[FixGroup]]:
    """All fix groups of all clients, keyed by client: one sort of the findings by group, then
    sums, minimums and maximums over each group's slice (no per-group queries), and the order of
    groups and of their actions from one array sort each (no Python sort per group or client)."""
    if findings.empty:
        return {}
    rows = findings["row"].to_numpy()
    client, fix, value = (findings[c].cat for c in ("client", "fix", "value"))
    variant = findings["variant"].to_numpy()
    group = dense(combine(combine(client.codes.to_numpy(), fix.codes.to_numpy()), variant))
    currency_codes, currencies = currencies
    facts = Facts(
        currency=currency_codes[rows], currencies=currencies,
        amount=amounts[rows],
        date=fields["date"].to_numpy(dtype="datetime64[ns]").view("int64")[rows],
    )
    approval = per_distinct(fields["status"], lambda s: s.str.contains(APPROVAL_WORDS, case=False, regex=True)
                            .fillna(False).astype(bool))[rows]
    groups_of = Slices(group, rows)
    group_money, group_totals = facts.money_and_totals(groups_of)
    group_dates = facts.date_range(groups_of)
    approvals = np.add.reduceat(approval[groups_of.order], groups_of.starts) if len(groups_of.starts) else []
    categories = _categories_of(group, findings["category"].cat, len(groups_of.starts))
    fixes = [catalog.fixes[fix_id] for fix_id in map(str, fix.categories)]
    at = groups_of.firsts
    group_client, group_fix, group_variant = client.codes.to_numpy()[at], fix.codes.to_numpy()[at], variant[at]
    listed = np.array([bool(f.group_by) or f.id == MANUAL_REVIEW for f in fixes], dtype=bool)[group_fix]
    actions = _listed_actions(findings, group, rows, listed, facts)
    sizes = groups_of.ends - groups_of.starts
    order = _group_order(group_client, group_fix, group_variant, sizes, group_totals, fixes)
    row_slices = groups_of.row_slices()
    client_names = list(map(str, client.categories))
    group_client, group_fix, group_variant = (a.tolist() for a in (group_client, group_fix, group_variant))
    approvals, listed = np.asarray(approvals).tolist(), listed.tolist()
    first_dates, last_dates = group_dates
    result: dict[str, list[FixGroup]] = {}
    for g in order.tolist():
        mine = actions[g] if listed[g] else (Action("", row_slices[g], group_money[g], first_dates[g], last_dates[g]),)
        made = _group(fixes[group_fix[g]], group_variant[g], row_slices[g], mine, categories[g], group_money[g],
                      approvals[g])
        result.setdefault(client_names[group_client[g]], []).append(made)
    return result


def _listed_actions(findings: pd.DataFrame, group: np.ndarray, rows: np.ndarray, listed: np.ndarray,
                    facts: Facts) -> dict[int, tuple[Action, ...]]:
    """The actions of each group that lists one per distinct value (a fix grouped by a value,
    and manual review), most items first, then by value: one array sort, no sort per group."""
    value = findings["value"].cat
    mine = listed[group]
    if not mine.any():
        return {}
    group, codes, rows = group[mine], value.codes.to_numpy()[mine], rows[mine]
    action = pd.factorize(combine(group, codes))[0]
    actions_of = Slices(action, rows)
    facts = Facts(facts.currency[mine], facts.currencies, facts.amount[mine], facts.date[mine])
    money = facts.money(actions_of)
    first_dates, last_dates = facts.date_range(actions_of)
    at = actions_of.firsts
    names = list(map(str, value.categories))
    order = np.lexsort((_ranks(names)[codes[at]], -(actions_of.ends - actions_of.starts), group[at]))
    row_slices = actions_of.row_slices()
    result: dict[int, list[Action]] = {}
    for a, g, code in zip(order.tolist(), group[at][order].tolist(), codes[at][order].tolist(), strict=True):
        result.setdefault(g, []).append(Action(names[code], row_slices[a], money[a], first_dates[a], last_dates[a]))
    return {g: tuple(a) for g, a in result.items()}


def _group_order(clients: np.ndarray, fixes_of: np.ndarray, variants: np.ndarray, sizes: np.ndarray,
                 totals: np.ndarray, fixes: list[Fix]) -> np.ndarray:
    """Groups by client, then the fixes that unblock most first: what stops the client's
    publishing (the red light's cause: a connection, the Xero plan, a permission), then the
    fix's rank, items, value at risk, and the fix's id and title (which make the order total)."""
    blocks = np.array([not f.blocks for f in fixes], dtype=np.int64)[fixes_of]
    rank = np.array([f.rank for f in fixes], dtype=np.int64)[fixes_of]
    id_rank = _ranks([f.id for f in fixes])[fixes_of]
    pairs, kinds = pd.factorize(combine(fixes_of, variants))  # a title per (fix, variant)
    width = int(variants.max(initial=0)) + 1
    titles = [_title(fixes[k // width], k % width) for k in kinds.tolist()]
    title_rank = _ranks(titles)[pairs]
    return np.lexsort((title_rank, id_rank, -totals, -sizes, rank, blocks, clients))


def _ranks(texts: list[str]) -> np.ndarray:
    """Each text's place in Python's order of the texts (equal texts, equal places)."""
    place = {text: number for number, text in enumerate(sorted(set(texts)))}
    return np.array([place[t] for t in texts], dtype=np.int64)


def _title(fix: Fix, variant: int) -> str:
    return _variant(fix, variant).title if variant else fix.title


def _variant(fix: Fix, variant: int):
    return fix.variants[variant - 1]


def _group(fix: Fix, variant: int, rows, actions, categories, money, approval) -> FixGroup:
    chosen = _variant(fix, variant) if variant else None
    steps = chosen.steps if chosen else fix.steps
    if approval:
        steps = (*steps, APPROVAL_STEP)
    return FixGroup(
        fix=fix,
        title=_title(fix, variant),
        steps=tuple(steps),
        warnings=fix.warnings,
        publishable=chosen.publishable if chosen else fix.publishable,
        categories=tuple(categories),
        actions=tuple(actions),
        rows=rows,
        value_by_currency=money,
        approval_rows=approval,
        who=(chosen.who if chosen else "") or fix.who,
        where=(chosen.where if chosen else "") or fix.where,
    )


def _categories_of(group: np.ndarray, category, groups: int) -> list[tuple[str, ...]]:
    """Each group's categories in the order they first appear."""
    codes = category.codes.to_numpy().astype("int64")
    pair = group.astype("int64") * (len(category.categories) + 1) + codes
    result: list[list[str]] = [[] for _ in range(groups)]
    names, width = list(map(str, category.categories)), len(category.categories) + 1
    for key in pd.unique(pair).tolist():  # in order of first appearance
        result[key // width].append(names[key % width])
    return [tuple(c) for c in result]
