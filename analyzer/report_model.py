"""What a report says, independent of how it looks: the facts the HTML and Excel renderers share.

Built from the plan and the rows; small frozen values that pickle cheaply, so clients can be
rendered in parallel processes.
"""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from analyzer.catalog import UNCLASSIFIED, WHO, Catalog
from analyzer.normalise import readable_date  # noqa: F401  (the reports' date form; tests name it here)
from analyzer.plan import ClientPlan, FixGroup, UNKNOWN_CURRENCY
from analyzer.row_arrays import RowArrays

if TYPE_CHECKING:
    import pandas as pd

SCOPE_LABELS = {
    "connection": "Connection: one action unblocks every item",
    "settings": "Setting: one change clears many items",
    "item": "Item by item",
    "review": "Needs a person to review",
}
STATUS_LABELS = {  # the client's light
    "red": "Blocked: act first",
    "amber": "Items to fix",
    "manual": "Enter by hand in Xero",
    "green": "Nothing to fix",
    "grey": "Export missing",
}
# What this run knows of a client: its export has failed rows, has none, had items last run and
# none now, or was expected and did not come.
FAILING, CLEAN, CLEARED, EXPORT_MISSING = "failing", "clean", "cleared", "export_missing"
STATE_LABELS = {
    FAILING: "Failing", CLEAN: "Clean: nothing failed", CLEARED: "Cleared: nothing failing now",
    EXPORT_MISSING: "Export missing",
}
# The states in a word or two, for lines of text (the terminal, a job's log, `history`).
STATE_WORDS = {FAILING: "failing", CLEARED: "cleared", CLEAN: "clean", EXPORT_MISSING: "export missing"}
DUPLICATE_WARNING = (
    "Void or delete the item in Xero BEFORE you clear its publishing data in Dext, or publishing"
    " again will create a duplicate."
)


@dataclass(frozen=True)
class Money:
    currency: str
    amount: float

    def __str__(self) -> str:
        return f"{self.currency} {self.amount:,.2f}"


@dataclass(frozen=True)
class Item:
    row: int
    item_id: str
    date: dt.date | None
    date_text: str
    supplier: str
    amount: float | None
    currency: str
    category: str
    tax: str
    error: str
    link: str
    source_file: str
    source_row: int
    categories: str
    values: tuple[tuple[str, str], ...]
    fix_key: str  # the first group that must act on it
    needs: tuple[str, ...] = ()  # titles of every group it needs, the first group's first
    in_approval: bool = False
    history: str = ""  # "new" / "carried over" / "back again" (cleared, failing again) when run history is kept
    first_seen: str = ""  # the period the item was first seen failing
    tracking: "Tracking | None" = None

    @property
    def money(self) -> Money | None:
        return None if self.amount is None else Money(self.currency or UNKNOWN_CURRENCY, self.amount)

    @property
    def also(self) -> tuple[str, ...]:
        """The other groups it needs, besides its first."""
        return self.needs[1:]

    def besides(self, title: str) -> tuple[str, ...]:
        """The groups it needs besides the one titled so (the group it is listed under)."""
        return tuple(t for t in self.needs if t != title)

    @property
    def status(self) -> str:
        return self.tracking.status if self.tracking else ""

    @property
    def probable(self) -> bool:
        """Its category was given by the similarity stage: probably right, worth a look."""
        return "?" in self.categories

    @property
    def source(self) -> str:
        return f"{self.source_file.replace(chr(92), '/').rsplit('/', 1)[-1]}, row {self.source_row}"

    def value(self, name: str) -> str:
        return dict(self.values).get(name, "")


@dataclass(frozen=True)
class Tracking:
    """What the practice recorded about an item (Items sheet: Status, Assigned to, Note,
    Snooze until), and what this run makes of it."""

    status: str = "To do"
    assigned_to: str = ""
    note: str = ""
    snooze_until: dt.date | None = None
    flag: str = ""  # "Marked done, still failing in Dext..." and the like
    aside: str = ""  # "dismissed" / "snoozed": left out of this run's counts


@dataclass(frozen=True)
class ClearedItem:
    """An item that failed in the last run and is not failing now."""

    item_id: str
    supplier: str
    date: str
    amount: float | None
    currency: str
    fixes: tuple[str, ...]  # titles of the fixes it needed
    assigned_to: str = ""
    status: str = ""

    @property
    def money(self) -> Money | None:
        return None if self.amount is None else Money(self.currency, self.amount)

    @property
    def day(self) -> dt.date | None:
        try:
            return dt.date.fromisoformat(self.date) if self.date else None
        except ValueError:
            return None


@dataclass(frozen=True)
class ActionLine:
    label: str  # "Account code 455", or "" when the group is one action
    value: str
    items: int
    money: tuple[Money, ...]
    first_date: dt.date | None = None
    last_date: dt.date | None = None


@dataclass(frozen=True)
class Group:
    number: int
    key: str
    anchor: str
    fix_id: str
    title: str
    scope: str
    scope_label: str
    who: str
    where: str
    causes: tuple[str, ...]
    categories: tuple[tuple[str, str], ...]  # (id, title)
    steps: tuple[str, ...]
    warnings: tuple[str, ...]
    publishable: bool
    actions: tuple[ActionLine, ...]
    items: tuple[Item, ...]
    money: tuple[Money, ...]
    value_name: str = ""  # the value each action is for (e.g. account_code)
    approval_items: int = 0
    recurring: bool = False  # the same fix was needed in earlier runs too
    item_count: int = 0  # kept when a summary drops the items
    who_id: str = ""  # the catalog's who: bookkeeper, adviser or client_admin
    total_notes: tuple[str, ...] = ()  # why the value at risk is not the sum of the amounts listed
    client_why: str = ""  # for the client's own Xero admin: why, and their steps alone, in plain words
    client_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    path: str
    rows: int
    skipped: int = 0
    status: str = "ok"
    message: str = ""
    reasons: tuple[tuple[str, int], ...] = ()  # why rows were skipped: ("totals row", 1), in the order they came

    @property
    def name(self) -> str:
        return self.path.replace("\\", "/").rsplit("/", 1)[-1]

    @property
    def reasons_text(self) -> str:
        return reasons_text(self.reasons)


def reason_counts(pairs) -> tuple[tuple[str, int], ...]:
    """(reason, count) pairs summed by reason, in the order each reason first comes: one skipped
    row is ("blank row", 1); a file's counts summed over files are the practice's."""
    counts: dict[str, int] = {}
    for reason, n in pairs:
        counts[reason] = counts.get(reason, 0) + n
    return tuple(counts.items())


def reasons_text(reasons: tuple[tuple[str, int], ...]) -> str:
    """`2 blank rows, 1 totals row`."""
    return ", ".join(f"{n} {reason}{'' if n == 1 else 's'}" for reason, n in reasons)


@dataclass(frozen=True)
class ClientReport:
    practice: str
    client: str
    period: str
    run_date: dt.datetime
    version: str
    sources: tuple[Source, ...]
    status: str
    status_label: str
    item_count: int
    money: tuple[Money, ...]
    groups: tuple[Group, ...]
    templates: tuple[tuple[str, int], ...]
    notes: tuple[str, ...]
    items_table: RowArrays | pd.DataFrame | None = field(repr=False, compare=False, default=None)  # None once rendered
    rows: int = 0  # input rows, duplicates included; item_count counts each item once
    duplicates: tuple[tuple[Item, str], ...] = ()  # (the repeated row, where its first copy is)
    html_file: str = ""
    xlsx_file: str = ""
    asks_file: str = ""  # the "What we need from you" page, for the client's own Xero admin
    new_items: int | None = None  # None when no run history is kept
    carried_over: int | None = None
    cleared: int | None = None
    previous_items: int | None = None
    state: str = FAILING
    failing_items: int = 0  # distinct items failing in Dext, dismissed and snoozed ones included
    set_aside: tuple[Item, ...] = ()  # dismissed and snoozed items, listed apart
    cleared_items: tuple[ClearedItem, ...] = ()
    previous_period: str = ""
    suggestions: dict = field(default_factory=dict)  # unrecognised template -> (category title, score)
    not_looked_up: dict = field(default_factory=dict)  # unrecognised template -> why the catalog was not consulted
    category_titles: tuple[str, ...] = ()  # the catalog's titles, for the workbook's Category drop-down

    def looks_like(self, template: str) -> str:
        """What the Unrecognised section says beside a template: why the catalog was not
        consulted for it (another ledger's message: no Xero category is its fix), else the
        category it looks most like, with the score."""
        reason = self.not_looked_up.get(template)
        if reason:
            return f"Not looked up: {reason}"
        suggestion = self.suggestions.get(template)
        return f"{suggestion[0]} ({suggestion[1]:.2f})" if suggestion else ""

    @property
    def dismissed(self) -> tuple[Item, ...]:
        return tuple(i for i in self.set_aside if i.tracking and i.tracking.aside == "dismissed")

    @property
    def snoozed(self) -> tuple[Item, ...]:
        return tuple(i for i in self.set_aside if i.tracking and i.tracking.aside == "snoozed")

    @property
    def client_asks(self) -> tuple[Group, ...]:
        """The fix groups only the client's own Xero admin can do: the "What we need from you" page."""
        return tuple(g for g in self.groups if g.who_id == "client_admin")

    @property
    def repeated_rows(self) -> int:
        return len(self.duplicates) if self.duplicates else max(0, self.rows - self.failing_items)


def money_of(pairs) -> tuple[Money, ...]:
    return tuple(Money(c, v) for c, v in pairs)


def format_date(value: dt.date | None) -> str:
    """Unambiguous everywhere: 31 Aug 2026."""
    return value.strftime("%d %b %Y").lstrip("0") if value else ""


def build_client_report(
    plan_client: ClientPlan, fields: RowArrays | pd.DataFrame, items_table: RowArrays | pd.DataFrame | None,
    catalog: Catalog, *,
    practice: str, period: str, run_date: dt.datetime, version: str, sources: tuple[Source, ...],
    notes: tuple[str, ...], values: dict[int, tuple[tuple[str, str], ...]], categories: dict[int, str],
    history: dict[int, tuple[str, str]] | None = None, client_history=None,
    tracking: dict[int, Tracking] | None = None, state: str = FAILING,
    cleared_items: tuple[ClearedItem, ...] = (), previous_period: str = "",
) -> ClientReport:
    """`fields` and `items_table` hold this client's rows, indexed by their row in the batch."""
    titles = {g.key: g.title for g in plan_client.groups}
    keys_of_row: dict[int, list[str]] = {}
    for group in plan_client.groups:
        for row in group.rows:
            keys_of_row.setdefault(int(row), []).append(group.key)
    fields = RowArrays.of(fields)
    items = {}
    for row, record in zip(fields.index.tolist(), _records(fields)):
        keys = keys_of_row.get(row, [""])
        status, first_seen = (history or {}).get(row, ("", ""))
        items[row] = _item(row, record, keys[0], tuple(titles[k] for k in keys if k),
                           values.get(row, ()), categories.get(row, ""), status, first_seen,
                           (tracking or {}).get(row))
    recurring = client_history.recurring_fixes if client_history else frozenset()
    groups = tuple(
        _group(number, g, items, catalog, g.fix.id in recurring) for number, g in enumerate(plan_client.groups, start=1)
    )
    counts = {}
    if client_history is not None:
        counts = {"new_items": client_history.new, "carried_over": client_history.carried_over,
                  "cleared": client_history.cleared, "previous_items": client_history.previous_items}
    aside = sorted((int(r) for r in plan_client.set_aside if int(r) not in plan_client.duplicates),
                   key=lambda r: (_sort_date(items[r]), r))
    return ClientReport(
        practice=practice, client=plan_client.name, period=period, run_date=run_date, version=version,
        sources=sources, status=plan_client.status, status_label=STATUS_LABELS[plan_client.status],
        item_count=plan_client.items, money=money_of(plan_client.value_by_currency), groups=groups,
        templates=plan_client.templates, notes=notes, items_table=items_table, **counts,
        category_titles=tuple(c.title for c in catalog.categories),
        rows=len(plan_client.rows),
        duplicates=tuple((items[r], items[first].source) for r, first in sorted(plan_client.duplicates.items())),
        state=state, failing_items=plan_client.failing_items, set_aside=tuple(items[r] for r in aside),
        cleared_items=cleared_items, previous_period=previous_period,
    )


# The fields a report reads from each row: a client's job carries only these.
ITEM_FIELDS = ("item_id", "date", "date_text", "supplier", "amount", "currency", "category", "tax_name", "tax_code",
                "error", "link", "source_file", "source_row", "status")
_Record = namedtuple("_Record", ITEM_FIELDS)


def _records(fields: RowArrays) -> Iterator[_Record]:
    """Each row's fields as plain Python values (a date as datetime or None, an amount as float,
    NaN when missing), read column by column."""
    return map(_Record._make, zip(*(fields[name].tolist() for name in ITEM_FIELDS)))


def _day(value) -> dt.date | None:
    """A row's date (datetime from the typed fields; a table built by hand may hold dates, or
    nothing as None or "")."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


DEXT_HOSTS = ("dext.com", "receipt-bank.com", "receiptbank.com")  # Receipt Bank: Dext's former name


def _dext_address(link: str) -> bool:
    """Whether a link is one of Dext's own (the page shows it as "Open in Dext"): a link cell
    holding any other address (a phishing page pasted into an export) is not offered as Dext's."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(link.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    return parts.scheme.lower() in ("https", "http") and any(host == h or host.endswith("." + h) for h in DEXT_HOSTS)


def _item(row, record, fix_key, needs, values, categories, status="", first_seen="", tracking=None) -> Item:
    link = str(record.link)
    return Item(
        row=row,
        item_id=str(record.item_id),
        date=_day(record.date),
        date_text=str(record.date_text),
        supplier=str(record.supplier),
        amount=None if record.amount in ("", None) or record.amount != record.amount else float(record.amount),
        currency=str(record.currency),
        category=str(record.category),
        tax=" ".join(t for t in (str(record.tax_name), str(record.tax_code)) if t),
        error=str(record.error),
        link=link if _dext_address(link) else "",
        source_file=str(record.source_file),
        source_row=int(record.source_row),
        categories=categories,
        values=values,
        fix_key=fix_key,
        needs=needs,
        in_approval="approv" in str(record.status).lower(),
        history=status,
        first_seen=first_seen or "",
        tracking=tracking,
    )


def _group(number: int, group: FixGroup, items: dict[int, Item], catalog: Catalog, recurring: bool = False) -> Group:
    fix = group.fix
    warnings = list(group.warnings)
    if fix.clears_publishing_data and not any("duplicate" in w.lower() for w in warnings):
        warnings.insert(0, DUPLICATE_WARNING)
    if not group.publishable:
        warnings.append("These items cannot be published from Dext: enter them in Xero by hand.")
    categories = tuple(
        (c, catalog.category(c).title if c != UNCLASSIFIED else "Not recognised") for c in group.categories
    )
    causes = tuple(dict.fromkeys(
        catalog.category(c).cause for c in group.categories if c != UNCLASSIFIED
    )) or ("The error text is not in the analyzer's catalog; the items are grouped by the shape of their message.",)
    value_name = fix.group_by or ("template" if fix.id == "manual-review" else "")
    listed = tuple(items[int(r)] for r in sorted(group.rows, key=lambda r: (_sort_date(items[int(r)]), int(r))))
    money = money_of(group.value_by_currency)
    return Group(
        number=number,
        key=group.key,
        anchor=f"fix-{number}",
        fix_id=fix.id,
        who_id=group.who,
        title=group.title,
        scope=fix.scope,
        scope_label=SCOPE_LABELS[fix.scope],
        who=WHO[group.who],
        where=group.where,
        client_why=fix.client_why,
        client_steps=fix.client_steps,
        causes=causes,
        categories=categories,
        steps=group.steps,
        warnings=tuple(warnings),
        publishable=group.publishable,
        actions=tuple(_action_line(a, value_name) for a in group.actions),
        items=listed,
        money=money,
        total_notes=_total_notes(listed, money),
        item_count=group.items,
        value_name=value_name,
        approval_items=group.approval_rows,
        recurring=recurring,
    )


def _total_notes(items: tuple[Item, ...], money: tuple[Money, ...]) -> tuple[str, ...]:
    """Why a group's value at risk differs from the sum of its items' amounts as listed."""
    priced = [i.money for i in items if i.money]
    notes = []
    if any(m.amount < 0 for m in priced):
        notes.append("A credit note counts by its size (it is as much not in Xero as an invoice).")
    totalled = {m.currency for m in money}
    foreign = sorted({m.currency for m in priced if m.currency and m.currency not in totalled})
    if foreign:
        notes.append(f"Amounts in {', '.join(foreign)} count at their value in the export's base currency.")
    return tuple(notes)


def _sort_date(item: Item) -> dt.date:
    return item.date or dt.date.max


def _action_line(action, value_name: str) -> ActionLine:
    label = ""
    if action.value and value_name == "template":
        label = action.value
    elif action.value:
        label = f"{value_name.replace('_', ' ').capitalize()} {action.value}"
    return ActionLine(
        label=label,
        value=action.value,
        items=action.items,
        money=money_of(action.value_by_currency),
        first_date=action.first_date,
        last_date=action.last_date,
    )
