"""What planning gives the later stages: each client's ordered fix groups, their actions and
money, and the words every plan shares."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from analyzer.catalog import Catalog, Fix


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
    who: str  # who acts (a key of catalog.WHO) and where: the variant's, else the fix's
    where: str
    approval_rows: int = 0

    @property
    def items(self) -> int:
        return len(self.rows)

    @property
    def key(self) -> str:
        """Stable id of the group: the fix id, with the variant's test when there is one."""
        return self.fix.id if self.title == self.fix.title else f"{self.fix.id}:{slug(self.title)}"



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



def group_title(catalog: Catalog, key: str) -> str:
    """A fix group's title from its key (`FixGroup.key`): the fix's, or its variant's."""
    fix_id, _, variant = key.partition(":")
    fix = catalog.fixes.get(fix_id)
    if fix is None:
        return key
    return next((v.title for v in fix.variants if slug(v.title) == variant), fix.title) if variant else fix.title


def slug(text: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())[:40]
