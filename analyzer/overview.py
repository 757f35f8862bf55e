"""What the practice view says: one line per client of the practice's roster (failing, clean,
cleared or export missing), ordered by what needs attention first, totals per fix, and the
month's work by who must act.

A client's line is plain data that round-trips through JSON, so the state store can keep it and
a run limited to some clients (`--client`) can show the others' lines as they were.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, fields

from analyzer.catalog import WHO, Catalog
from analyzer.plan.model import group_title
from analyzer.report_model import (
    CLEAN, CLEARED, EXPORT_MISSING, FAILING, STATE_LABELS, STATE_WORDS, STATUS_LABELS, ClientReport, Money, Source,
    reason_counts, reasons_text,
)

# What needs attention first: blocked, items to fix, manual entry, export missing, then good news.
LIGHT_ORDER = {"red": 0, "amber": 1, "manual": 2, "grey": 3, "green": 4}
STATE_ORDER = {FAILING: 0, EXPORT_MISSING: 1, CLEARED: 2, CLEAN: 3}


@dataclass(frozen=True)
class ClientLine:
    client: str
    state: str
    status: str  # the light: red, amber, manual, green, grey
    status_label: str
    item_count: int = 0  # to fix: failing, not dismissed, not snoozed
    money: tuple[Money, ...] = ()
    biggest_fix: str = ""
    biggest_fix_items: int = 0
    fix_items: dict[str, int] = field(default_factory=dict)
    html_file: str = ""
    xlsx_file: str = ""
    asks_file: str = ""  # the "What we need from you" page, when the client has asks
    previous_items: int | None = None
    cleared: int | None = None
    new_items: int | None = None
    carried_over: int | None = None
    failing_items: int = 0
    dismissed: int = 0
    snoozed: int = 0
    rows: int = 0
    oldest: str = ""  # ISO date of the oldest item to fix
    who_items: dict[str, int] = field(default_factory=dict)  # who acts -> items
    who_money: dict[str, tuple[Money, ...]] = field(default_factory=dict)
    period: str = ""  # the period this line was made for (a kept line may be older)
    # How the client's export came: "own" (its own file or sheet), "merged" (only in a practice-wide
    # export), "" (not known). Next month, a merged export vouches only for "merged" clients.
    export: str = ""
    # Its Unrecognised section: (template, items, what it looks like), for the overview's sheet
    unrecognised: tuple[tuple[str, int, str], ...] = ()
    # Why its own export, which came, could not be read: still export missing (never good news),
    # but nobody should ask the client for a file the practice has
    unreadable: str = ""

    @property
    def state_label(self) -> str:
        return "Export unreadable" if self.unreadable else STATE_LABELS[self.state]

    @property
    def oldest_date(self) -> dt.date | None:
        return dt.date.fromisoformat(self.oldest) if self.oldest else None

    def to_json(self) -> dict:
        data = asdict(self)
        data["money"] = [[m.currency, m.amount] for m in self.money]
        data["who_money"] = {k: [[m.currency, m.amount] for m in v] for k, v in self.who_money.items()}
        return data

    @classmethod
    def from_json(cls, data: dict) -> "ClientLine":
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        data["money"] = tuple(Money(c, a) for c, a in data.get("money", ()))
        data["who_money"] = {k: tuple(Money(c, a) for c, a in v) for k, v in data.get("who_money", {}).items()}
        data["unrecognised"] = tuple((str(t), int(n), str(looks)) for t, n, looks in data.get("unrecognised", ()))
        return cls(**data)


@dataclass(frozen=True)
class UnrecognisedLine:
    """A message template the catalog does not know, across the practice's clients."""

    template: str
    items: int
    clients: tuple[str, ...]
    looks_like: str  # the category it looks most like (score), or why the catalog was not consulted


@dataclass(frozen=True)
class WhoLine:
    who: str
    label: str
    items: int
    clients: int
    money: tuple[Money, ...]


@dataclass(frozen=True)
class Overview:
    practice: str
    period: str
    run_date: dt.datetime
    version: str
    sources: tuple[Source, ...]
    clients: tuple[ClientLine, ...]
    fixes: tuple[tuple[str, str, int, int], ...]  # (fix id, title, items, clients)
    item_count: int
    money: tuple[Money, ...]
    skipped: int = 0
    failures: tuple[str, ...] = ()
    who: tuple[WhoLine, ...] = ()
    unrecognised: tuple[UnrecognisedLine, ...] = ()  # most items first
    category_titles: tuple[str, ...] = ()  # the catalog's titles, for the Unrecognised sheet's drop-down

    @property
    def skipped_text(self) -> str:
        """Why rows were skipped across the inputs: `2 blank rows, 1 totals row`."""
        return reasons_text(reason_counts(pair for source in self.sources for pair in source.reasons))

    def count(self, state: str) -> int:
        return sum(line.state == state for line in self.clients)

    def lights(self, light: str) -> int:
        return sum(line.status == light for line in self.clients)


def client_line(report: ClientReport, asks_file: str = "") -> ClientLine:
    """A rendered client's line of the practice view."""
    per_fix: dict[str, int] = {}
    who_items: dict[str, int] = {}
    who_money: dict[str, dict[str, float]] = {}
    for group in report.groups:
        # By group: a fix's variant (entered by hand in Xero) is another thing to do than the fix.
        per_fix[group.key] = per_fix.get(group.key, 0) + group.item_count
        who_items[group.who_id] = who_items.get(group.who_id, 0) + group.item_count
        for money in group.money:
            totals = who_money.setdefault(group.who_id, {})
            totals[money.currency] = round(totals.get(money.currency, 0.0) + money.amount, 2)
    biggest = max(report.groups, key=lambda g: g.item_count, default=None)
    dates = [a.first_date for g in report.groups for a in g.actions if a.first_date]
    return ClientLine(
        client=report.client, state=report.state, status=report.status, status_label=report.status_label,
        item_count=report.item_count, money=report.money, biggest_fix=biggest.title if biggest else "",
        biggest_fix_items=biggest.item_count if biggest else 0, fix_items=per_fix,
        html_file=report.html_file, xlsx_file=report.xlsx_file, asks_file=asks_file,
        previous_items=report.previous_items, cleared=report.cleared, new_items=report.new_items,
        carried_over=report.carried_over, failing_items=report.failing_items,
        dismissed=len(report.dismissed), snoozed=len(report.snoozed), rows=report.rows,
        oldest=min(dates).isoformat() if dates else "", who_items=who_items,
        who_money={k: tuple(Money(c, a) for c, a in sorted(v.items())) for k, v in who_money.items()},
        period=report.period, unrecognised=tuple((t, n, report.looks_like(t)) for t, n in report.templates),
    )


def missing_line(client: str, period: str, previous_items: int | None = None, export: str = "",
                 unreadable: str = "") -> ClientLine:
    """A client of the roster whose export did not come this run (`export`: how it came before),
    or came and could not be read (`unreadable`: why)."""
    return ClientLine(client=client, state=EXPORT_MISSING, status="grey", status_label=STATUS_LABELS["grey"],
                      previous_items=previous_items, period=period, export=export, unreadable=unreadable)


def states_line(lines: tuple[ClientLine, ...] | list[ClientLine], named: int = 5) -> str:
    """The practice in one line, for the terminal and a scheduled job's log: how many clients in
    each state, naming those whose export is missing (someone has to ask for it)."""
    counts = [f"{n} {word}" for state, word in STATE_WORDS.items() if (n := sum(line.state == state for line in lines))]
    missing = sorted((line.client for line in lines if line.state == EXPORT_MISSING), key=str.casefold)
    names = ", ".join(missing[:named]) + (f" and {len(missing) - named} more" if len(missing) > named else "")
    return f"{len(lines)} client(s): {', '.join(counts) or 'none'}" + (f" (export missing: {names})" if missing else "")


def attention_order(lines: list[ClientLine]) -> list[ClientLine]:
    """What needs attention first: the light, then value at risk, then the oldest item, then
    the name."""
    def key(line: ClientLine):
        value = sum(abs(m.amount) for m in line.money)
        oldest = line.oldest or "9999-12-31"
        return (LIGHT_ORDER.get(line.status, 9), STATE_ORDER.get(line.state, 9), -value, oldest,
                line.client.casefold())
    return sorted(lines, key=key)


def build_overview(lines: list[ClientLine], catalog: Catalog, *, practice: str, period: str,
                   run_date: dt.datetime, version: str, sources: tuple[Source, ...], skipped: int,
                   failures: tuple[str, ...]) -> Overview:
    lines = attention_order(lines)
    fix_items: dict[str, list] = {}
    totals: dict[str, float] = {}
    for line in lines:
        for key, items in line.fix_items.items():
            entry = fix_items.setdefault(key, [group_title(catalog, key), 0, 0])
            entry[1] += items
            entry[2] += 1
        for money in line.money:
            totals[money.currency] = totals.get(money.currency, 0.0) + money.amount
    fixes = tuple(sorted(((k, v[0], v[1], v[2]) for k, v in fix_items.items()), key=lambda f: (-f[2], f[0])))
    return Overview(
        practice=practice, period=period, run_date=run_date, version=version, sources=sources,
        clients=tuple(lines), fixes=fixes, item_count=sum(line.item_count for line in lines),
        money=tuple(Money(c, round(v, 2)) for c, v in sorted(totals.items())), skipped=skipped,
        failures=failures, who=_who_lines(lines), unrecognised=_unrecognised_lines(lines),
        category_titles=tuple(c.title for c in catalog.categories),
    )


def _unrecognised_lines(lines: list[ClientLine]) -> tuple[UnrecognisedLine, ...]:
    """Each unrecognised template once, with its items and clients summed over the clients'
    lines: most items first. A message many clients share is taught once, for all of them."""
    found: dict[str, list] = {}
    for line in lines:
        for template, items, looks_like in line.unrecognised:
            entry = found.setdefault(template, [0, [], looks_like])
            entry[0] += items
            entry[1].append(line.client)
            entry[2] = entry[2] or looks_like
    ordered = sorted(found.items(), key=lambda pair: (-pair[1][0], pair[0].casefold(), pair[0]))
    return tuple(UnrecognisedLine(t, n, tuple(sorted(clients, key=str.casefold)), looks)
                 for t, (n, clients, looks) in ordered)


def _who_lines(lines: list[ClientLine]) -> tuple[WhoLine, ...]:
    """The month's work by who must act, in the catalog's order of roles."""
    result = []
    for who, label in WHO.items():
        items = sum(line.who_items.get(who, 0) for line in lines)
        if not items:
            continue
        money: dict[str, float] = {}
        for line in lines:
            for m in line.who_money.get(who, ()):
                money[m.currency] = money.get(m.currency, 0.0) + m.amount
        clients = sum(1 for line in lines if line.who_items.get(who))
        result.append(WhoLine(who, label, items, clients, tuple(Money(c, round(a, 2)) for c, a in sorted(money.items()))))
    return tuple(result)
