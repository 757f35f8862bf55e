"""Turn classified rows into an ordered action plan per client.

Within a client, fixes come in the order that unblocks most: what stops the client's publishing
first (a connection, the Xero plan, a user's permission: one action for the whole client), then
settings (one change clears many items; one action per
distinct value such as an archived account code), then item fixes by item count and value, then
manual review. The row's own data decides where it must (tax greater than the net amount, items
waiting in an approval workflow).

The stage's parts: `actions` (the plan of every client), `groups` (fix groups and their order),
`items` (which rows are one item), `money` (value at risk), `slices` (grouped sums over integer
keys) and `model` (what the stage gives the later ones).
"""

from analyzer.plan.actions import DATE_VALUES, explode_findings, plan_actions
from analyzer.plan.items import duplicate_rows, item_keys
from analyzer.plan.model import (APPROVAL_STEP, APPROVAL_WORDS, NO_ROWS, NOT_STATED, STAYS_ON_ITEM, UNKNOWN_CURRENCY,
                                 Action, ClientPlan, FixGroup, Plan)
from analyzer.plan.money import Risk, at_risk

__all__ = ["APPROVAL_STEP", "APPROVAL_WORDS", "DATE_VALUES", "NOT_STATED", "NO_ROWS", "STAYS_ON_ITEM",
           "UNKNOWN_CURRENCY", "Action", "ClientPlan", "FixGroup", "Plan", "Risk", "at_risk", "duplicate_rows",
           "explode_findings", "item_keys", "plan_actions"]
