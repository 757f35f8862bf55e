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
    sums, minimums and maximums over each group's slice (no per-group queries)."""
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
    action = pd.factorize(combine(group, value.codes.to_numpy()))[0]
    actions_of = Slices(action, rows)
    action_money = facts.money(actions_of)
    first_dates, last_dates = facts.date_range(actions_of)
    value_names, client_names, fix_ids = (list(map(str, c.categories)) for c in (value, client, fix))
    # Each slice's codes and bounds read as lists: no numpy scalar per loop step (a slice of the
    # rows by Python ints, an Action made by position: about half the loop's time at 30,000).
    at = actions_of.firsts
    actions: dict[int, list[Action]] = {}
    for key, value_code, rows_of, money, first, last in zip(
            group[at].tolist(), value.codes.to_numpy()[at].tolist(), actions_of.row_slices(), action_money,
            first_dates, last_dates, strict=True):
        actions.setdefault(key, []).append(Action(value_names[value_code], rows_of, money, first, last))
    at = groups_of.firsts
    firsts = zip(group[at].tolist(), client.codes.to_numpy()[at].tolist(), fix.codes.to_numpy()[at].tolist(),
                 variant[at].tolist(), np.asarray(approvals).tolist(), groups_of.row_slices(), group_money,
                 zip(*group_dates), (groups_of.ends - groups_of.starts).tolist(), group_totals.tolist(), strict=True)
    fixes = [catalog.fixes[fix_id] for fix_id in fix_ids]
    keyed: dict[str, list[tuple[tuple, FixGroup]]] = {}
    for key, client_code, fix_code, chosen, approval_rows, rows_of, money, dates, size, total in firsts:
        group = _group(fixes[fix_code], chosen, rows_of, actions[key], categories[key], money, approval_rows, dates)
        # The fixes that unblock most first: what stops the client's publishing (the red light's
        # cause: a connection, the Xero plan, a permission), then the fix's rank, items, value at risk.
        order = (not group.fix.blocks, group.fix.rank, -size, -total, group.fix.id, group.title)
        keyed.setdefault(client_names[client_code], []).append((order, group))
    return {client: [g for _, g in sorted(mine, key=lambda pair: pair[0])] for client, mine in keyed.items()}



def _group(fix: Fix, variant: int, rows, actions, categories, money, approval, dates) -> FixGroup:
    if fix.group_by or fix.id == MANUAL_REVIEW:
        if len(actions) > 1:
            actions = sorted(actions, key=lambda a: (-len(a.rows), a.value))
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
