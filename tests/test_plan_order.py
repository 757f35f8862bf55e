"""The order of a client's fixes and of each fix's actions, against the rule written out: groups
that stop publishing first, then the fix's rank, items, value at risk, fix id and title; within
a fix listed per value, most items first, then the value. The plan works the order out with
array sorts over every client at once; this states it one client at a time."""

from __future__ import annotations

import csv

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.catalog import MANUAL_REVIEW, load_default_catalog
from analyzer.classify import classify_rows
from analyzer.normalise import normalise_inputs
from analyzer.plan import plan_actions
from analyzer.read import read_export

CATALOG = load_default_catalog()
# Wordings of several fixes: per-value ones (account codes, tax types, lock dates), whole-client
# blockers, item fixes, and messages no pattern claims (manual review, listed per template).
MESSAGES = [
    "Account code 200 is archived", "Account code 310 is archived", "Account code '4100' has been archived",
    "The TaxType code 'OUTPUT2' does not exist or cannot be used with account code '200'",
    "The TaxType code 'INPUT' does not exist or cannot be used with account code '310'",
    "The document date cannot be before the period lock date of 31/08/2026",
    "The document date cannot be before the period lock date of 30/09/2026",
    "Your Xero connection has expired, please reconnect", "Supplier not found in Xero",
    "The total of the line items does not match the total amount", "The widget flange could not be reconciled",
    "Flux capacitor 12 misaligned", "",
]
ROW = st.tuples(st.sampled_from(["Acme Ltd", "Bolt & Co", "Cove Dental"]), st.sampled_from(MESSAGES),
                st.sampled_from(["", "12.50", "99", "1,250.00", "7.5"]), st.sampled_from(["GBP", "EUR", ""]),
                st.sampled_from(["", "Awaiting approval"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ROW, min_size=1, max_size=30))
def test_fixes_and_actions_come_in_the_order_the_rule_gives(tmp_path, rows):
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["Client", "Item ID", "Date", "Total Amount", "Currency", "Status", "Error"])
        for number, (client, error, amount, currency, status) in enumerate(rows, start=1):
            out.writerow([client, str(number), "05/10/2026", amount, currency, status, error])
    batch = normalise_inputs([read_export(path)])
    plan = plan_actions(batch, classify_rows(batch.fields["error"], CATALOG, helper=False), CATALOG)
    assert sum(len(c.rows) for c in plan.clients) == len(rows)
    for client in plan.clients:
        keys = [(not g.fix.blocks, g.fix.rank, -g.items, -sum(v for _, v in g.value_by_currency), g.fix.id, g.title)
                for g in client.groups]
        assert keys == sorted(keys)
        assert len(set(keys)) == len(keys)
        for group in client.groups:
            if group.fix.group_by or group.fix.id == MANUAL_REVIEW:
                actions = [(-a.items, a.value) for a in group.actions]
                assert actions == sorted(actions)
                assert sorted(r for a in group.actions for r in a.rows.tolist()) == sorted(group.rows.tolist())
            else:
                assert [a.value for a in group.actions] == [""]
                assert group.actions[0].rows.tolist() == group.rows.tolist()
