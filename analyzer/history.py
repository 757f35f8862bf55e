"""Run history in the practice's state store: which items are new, which were carried over from
the last run, which cleared (and what they were), which fixes keep coming back, and the roster of
every client the practice has had.

A run is recorded per period; running the same period again replaces that period's record for
the clients it covers (all of them, or the `--client` ones), so a re-run gives the same reports
and a filtered run leaves the other clients' record alone. Runs are ordered by their period's
slug (2026-09 < 2026-10), which sorts as the dates do.
"""

from __future__ import annotations

import difflib

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analyzer.store import Store, StoreError, as_store

HistoryError = StoreError  # the name the command line has always caught


class NoSuchClient(LookupError):
    """A client named on the command line that the history does not hold: a usage error."""
RECURRING_RUNS = 2  # a fix "keeps coming back" when it was needed in each of the last two runs too
# Items are written to the store this many rows at a time: the text of every row made at once
# took a million-row month's run to its peak memory (+680 MB over the reports' own).
RECORD_CHUNK = 50_000
ITEM_COLUMNS = ["client", "item_key", "item_id", "supplier", "date", "amount", "currency", "categories", "fixes",
                "error_key"]


@dataclass(frozen=True)
class ClientHistory:
    new: int
    carried_over: int
    cleared: int
    previous_items: int | None
    recurring_fixes: frozenset[str] = frozenset()
    previous_period: str = ""  # the client's own last run (a month without its export is skipped)


@dataclass(frozen=True)
class HistoryView:
    """Per batch row: 'new' or 'carried over', the period first seen and runs seen; per client:
    counts, and the items of the last run that are not failing now."""

    status: np.ndarray
    first_seen: np.ndarray
    runs_seen: np.ndarray
    clients: dict[str, ClientHistory] = field(default_factory=dict)
    previous_period: str = ""
    cleared_items: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ITEM_COLUMNS))
    previous_clients: frozenset[str] = frozenset()  # clients with items in the last run


BACK_AGAIN = "back again"


def compare(store: Store | Path, period: str, current: pd.DataFrame) -> HistoryView:
    """Compare this run's items (columns client, item_key, fixes; one row per batch row) with
    each client's own last run before `period`: the latest earlier run that had an export of it
    (a month whose export was missing, or a run for other clients only, is skipped for it)."""
    store = as_store(store)
    with store.transaction() as db:
        practice = db.practice
        earlier = db.frame("SELECT id, period, period_label FROM runs WHERE practice = ? AND period < ? ORDER BY period",
                           (practice, period))
        if earlier.empty:
            return _all_new(current)
        seen = db.frame(
            "SELECT i.client, i.item_key, MIN(r.period) AS first_period, COUNT(*) AS runs"
            " FROM items i JOIN runs r ON r.id = i.run_id WHERE r.practice = ? AND r.period < ?"
            " GROUP BY i.client, i.item_key", (practice, period))
        lasts = db.frame(_LAST_RUN_OF_EACH_CLIENT, (practice, period, practice))
        previous = db.frame(
            f"WITH last AS ({_LAST_RUN_OF_EACH_CLIENT}) SELECT {', '.join('i.' + c for c in ITEM_COLUMNS)}"
            " FROM items i JOIN last l ON l.client = i.client AND l.run_id = i.run_id", (practice, period, practice))
        recent_ids = tuple(int(i) for i in earlier["id"].iloc[-RECURRING_RUNS:])
        recent = db.frame(
            f"SELECT run_id, client, fixes FROM items WHERE run_id IN ({','.join('?' * len(recent_ids))})", recent_ids)
    labels = dict(zip(earlier["period"], earlier["period_label"]))
    view = current[["client", "item_key"]].astype("str").merge(seen, on=["client", "item_key"], how="left")
    now_keys = pd.MultiIndex.from_frame(current[["client", "item_key"]].astype("str"))
    in_previous = now_keys.isin(pd.MultiIndex.from_frame(previous[["client", "item_key"]].astype("str")))
    # Not in the client's last run but in an earlier one: it cleared and failed again (a fix that did not hold).
    seen_before = view["first_period"].notna().to_numpy()
    status = np.where(in_previous, "carried over", np.where(seen_before, BACK_AGAIN, "new")).astype(object)
    first = np.array([labels.get(p, "") if isinstance(p, str) else None for p in view["first_period"]], dtype=object)
    runs = view["runs"].fillna(0).astype("int64").to_numpy() + 1
    gone = ~pd.MultiIndex.from_frame(previous[["client", "item_key"]].astype("str")).isin(now_keys)
    cleared = previous[gone].reset_index(drop=True)
    last_period = {str(c): labels.get(p, "") for c, p in zip(lasts["client"], lasts["period"])}
    clients = _client_counts(current, previous, status, cleared, recent, len(recent_ids), last_period)
    return HistoryView(status, first, runs, clients, str(earlier["period_label"].iloc[-1]), cleared,
                       frozenset(previous["client"].astype("str")))


# Each client's latest run before a period that had its export: one where the client had items
# or a recorded state other than "export missing". Parameters: practice, period, practice.
_LAST_RUN_OF_EACH_CLIENT = (
    "SELECT l.client, l.period, r.id AS run_id FROM ("
    " SELECT s.client, MAX(r.period) AS period"
    " FROM (SELECT client, run_id FROM run_clients WHERE state != 'export_missing'"
    "       UNION SELECT DISTINCT client, run_id FROM items) s"
    " JOIN runs r ON r.id = s.run_id WHERE r.practice = ? AND r.period < ? GROUP BY s.client"
    ") l JOIN runs r ON r.practice = ? AND r.period = l.period"
)


def _all_new(current: pd.DataFrame) -> HistoryView:
    n = len(current)
    clients = {
        str(c): ClientHistory(new=int(k), carried_over=0, cleared=0, previous_items=None)
        for c, k in current["client"][~current.duplicated(["client", "item_key"]).to_numpy()].value_counts().items()
    }
    return HistoryView(np.full(n, "new", dtype=object), np.full(n, None, dtype=object), np.ones(n, dtype="int64"), clients)


def _client_counts(current, previous, status, cleared, recent, recent_runs, last_period) -> dict[str, ClientHistory]:
    first = ~current.duplicated(["client", "item_key"]).to_numpy()  # each item once, not the whole table copied
    unique_now = pd.DataFrame({"client": current["client"].to_numpy()[first], "status": status[first]})
    previous_counts = previous["client"].value_counts()
    cleared_counts = cleared["client"].value_counts()
    recurring = _recurring_fixes(current[np.isin(status, ["new", BACK_AGAIN])], recent, recent_runs)
    result = {}
    for client, part in unique_now.groupby("client", sort=False, observed=True):
        result[str(client)] = ClientHistory(
            new=int(part["status"].isin(["new", BACK_AGAIN]).sum()),  # new since the last run, either way
            carried_over=int((part["status"] == "carried over").sum()),
            cleared=int(cleared_counts.get(client, 0)),
            previous_items=int(previous_counts.get(client, 0)) if str(client) in last_period else None,
            recurring_fixes=recurring.get(str(client), frozenset()),
            previous_period=last_period.get(str(client), ""),
        )
    for client in set(cleared_counts.index) - set(result):  # every item of theirs cleared
        result[str(client)] = ClientHistory(new=0, carried_over=0, cleared=int(cleared_counts[client]),
                                            previous_items=int(previous_counts.get(client, 0)),
                                            previous_period=last_period.get(str(client), ""))
    for client in set(last_period) - set(result):  # clean then and now: known, not a first run
        result[client] = ClientHistory(new=0, carried_over=0, cleared=0, previous_items=0,
                                       previous_period=last_period[client])
    return result


def _recurring_fixes(current, recent, recent_runs) -> dict[str, frozenset[str]]:
    """Fixes that keep coming back, per client: needed by items new this run (`current` holds
    only those) and in each of the last runs. An item still failing since then is backlog, not
    a fix coming back."""
    if recent.empty or recent_runs < 1 or current.empty:
        return {}
    per_run = recent.assign(fix=recent["fixes"].str.split("+")).explode("fix").drop_duplicates(["run_id", "client", "fix"])
    counts = per_run.groupby(["client", "fix"]).size()
    steady = counts[counts >= recent_runs].reset_index()
    # Each client's distinct fix sets first: splitting every row's copied a million-row table.
    now = current[["client", "fixes"]].astype("str").drop_duplicates()
    now = now.assign(fix=now["fixes"].str.split("+")).explode("fix")[["client", "fix"]].drop_duplicates()
    both = steady.merge(now, on=["client", "fix"])
    return {str(c): frozenset(part["fix"]) for c, part in both.groupby("client")}


@dataclass(frozen=True)
class RunRecord:
    """What one run leaves in the store."""

    period: str
    period_label: str
    run_time: dt.datetime
    version: str
    output: str
    items: pd.DataFrame  # ITEM_COLUMNS, one row per batch row (repeats dropped here)
    clients: tuple[tuple[str, str, str, dict], ...]  # (client, state, workbook path, index line)
    only: tuple[str, ...] = ()  # a --client run: replace these clients' record only


def record(store: Store | Path, run: RunRecord) -> None:
    """Store this run (replacing the same period's record of the clients it covers) in one
    transaction: a run is recorded whole or not at all."""
    kept = ~run.items.duplicated(["client", "item_key"]).to_numpy()
    if run.only:
        kept &= run.items["client"].isin(run.only).to_numpy()
    positions = np.flatnonzero(kept)
    with as_store(store).transaction(write=True) as db:
        practice = db.practice
        latest = db.rows("SELECT MAX(period) FROM runs WHERE practice = ?", (practice,))[0][0]
        db.execute(
            "INSERT INTO runs (practice, period, period_label, run_time, version, rows, output)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (practice, period) DO UPDATE SET period_label = excluded.period_label, run_time = excluded.run_time,"
            " version = excluded.version, rows = excluded.rows, output = excluded.output",
            (practice, run.period, run.period_label, run.run_time.isoformat(timespec="seconds"), run.version, len(run.items),
             run.output),
        )
        run_id = db.rows("SELECT id FROM runs WHERE practice = ? AND period = ?", (practice, run.period))[0][0]
        if run.only:
            marks = ",".join("?" * len(run.only))
            db.execute(f"DELETE FROM items WHERE run_id = ? AND client IN ({marks})", (run_id, *run.only))
            db.execute(f"DELETE FROM run_clients WHERE run_id = ? AND client IN ({marks})", (run_id, *run.only))
        else:
            db.execute("DELETE FROM items WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM run_clients WHERE run_id = ?", (run_id,))
        for start in range(0, len(positions), RECORD_CHUNK):
            rows = run.items.iloc[positions[start:start + RECORD_CHUNK]]
            amounts = rows["amount"].astype("float64").to_numpy()
            db.executemany(
                f"INSERT INTO items (practice, run_id, {', '.join(ITEM_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (practice, run_id, c, k, i, s, d, None if a != a else float(a), cur, cat, fx, ek)
                    for c, k, i, s, d, a, cur, cat, fx, ek in zip(
                        rows["client"].astype("str"), rows["item_key"], rows["item_id"].astype("str"),
                        rows["supplier"].astype("str"), rows["date"], amounts, rows["currency"].astype("str"),
                        rows["categories"].astype("str"), rows["fixes"].astype("str"), rows["error_key"],
                    )
                ),
            )
        db.executemany(
            "INSERT INTO run_clients (practice, run_id, client, state, workbook, line) VALUES (?, ?, ?, ?, ?, ?)",
            ((practice, run_id, client, state, workbook, json.dumps(line, default=str))
             for client, state, workbook, line in run.clients),
        )
        # A retired client is back once an export of it comes (failed rows, or a file of its own this
        # run; a missing export's line keeps the kind it had) in the practice's latest period: an
        # older month run again brings back no one.
        if not latest or run.period >= latest:
            back = [(practice, client) for client, state, _, line in run.clients
                    if state == "failing" or (state != "export_missing" and line.get("export") == "own")]
            db.executemany("DELETE FROM retired WHERE practice = ? AND client = ?", back)


def rename_clients(store: Store | Path, renames: dict[str, str]) -> None:
    """Record clients under the spelling the practice now uses (an alias added in the config, a
    change of case or Unicode form), so their history and tracking carry on under one name.
    Where both spellings hold the same item, the one already under the new name is kept."""
    store = as_store(store)
    renames = {old: new for old, new in renames.items() if old != new}
    if not renames or not store.exists():
        return
    with store.transaction(write=True) as db:
        for table, key in (("items", "run_id = o.run_id AND n.item_key = o.item_key"),
                           ("run_clients", "run_id = o.run_id"), ("tracking", "item_key = o.item_key")):
            for old, new in renames.items():
                # What the new name already holds wins; then the rest moves over.
                db.execute(f"DELETE FROM {table} WHERE practice = ? AND client = ? AND EXISTS (SELECT 1 FROM {table} n"
                           f" WHERE n.practice = {table}.practice AND n.client = ? AND n.{key.replace('o.', f'{table}.')})",
                           (db.practice, old, new))
                db.execute(f"UPDATE {table} SET client = ? WHERE practice = ? AND client = ?", (new, db.practice, old))


def run_outputs(store: Store | Path) -> set[Path]:
    """The output folders the practice's recorded runs wrote to."""
    store = as_store(store)
    if not store.exists():
        return set()
    with store.transaction() as db:
        rows = db.rows("SELECT DISTINCT output FROM runs WHERE practice = ? AND output != ''", (db.practice,))
    return {Path(r[0]) for r in rows}


def known_clients(store: Store | Path, until: str = "9999-99", before: bool = False) -> set[str]:
    """Every client the practice's history has seen in a run of a period up to `until` (a slug:
    re-running October does not expect a client first seen in November), but those it has retired;
    `before`: of earlier periods only (a period run again replaces its record, so a client only
    its last run saw is not expected)."""
    store = as_store(store)
    if not store.exists():
        return set()
    up_to = "<" if before else "<="
    with store.transaction() as db:
        rows = db.rows(f"SELECT c.client FROM run_clients c JOIN runs r ON r.id = c.run_id WHERE c.practice = ? AND r.period {up_to} ?"
                       f" UNION SELECT i.client FROM items i JOIN runs r ON r.id = i.run_id WHERE i.practice = ? AND r.period {up_to} ?"
                       " EXCEPT SELECT client FROM retired WHERE practice = ?", (db.practice, until) * 2 + (db.practice,))
    return {r[0] for r in rows}


def roster(store: Store | Path) -> pd.DataFrame:
    """Every client the history holds: its last period, its state then, its items failing then
    (`items`), of those the ones to fix as its index line counted them (`to_fix`: not dismissed,
    not snoozed), and whether it is retired."""
    store = as_store(store)
    if not store.exists():
        raise HistoryError(f"{store}: no run history yet; run `publish-failures report` or `run` first")
    with store.transaction() as db:
        table = db.frame(
            "SELECT c.client, r.period_label AS last_period, c.state AS last_state,"
            " (SELECT COUNT(*) FROM items i WHERE i.run_id = r.id AND i.client = c.client) AS items, c.line,"
            " EXISTS (SELECT 1 FROM retired t WHERE t.practice = c.practice AND t.client = c.client) AS retired"
            " FROM run_clients c JOIN runs r ON r.id = c.run_id"
            " WHERE c.practice = ? AND r.period = (SELECT MAX(r2.period) FROM run_clients c2 JOIN runs r2 ON r2.id = c2.run_id"
            "                   WHERE c2.practice = c.practice AND c2.client = c.client)"
            " ORDER BY lower(c.client), c.client", (db.practice,))
    to_fix = [json.loads(line).get("item_count", items) for line, items in zip(table["line"], table["items"])]
    return table.drop(columns="line").assign(to_fix=to_fix)[
        ["client", "last_period", "last_state", "items", "to_fix", "retired"]]


def retire(store: Store | Path, client: str, when: dt.datetime, restore: bool = False) -> str:
    """Retire a client (it leaves the roster until an export of it comes again), or restore
    one. Returns the client's name as the history spells it."""
    store = as_store(store)
    known = {name.casefold(): name for name in roster(store)["client"]}
    name = known.get(client.casefold())
    if name is None:
        # names holding what was typed ("Greenleaf" of "Greenleaf Landscaping Pty Ltd"), then spellings close to it
        holding = [k for k in known if client.casefold().strip() and client.casefold().strip() in k]
        closest = list(dict.fromkeys([*holding, *difflib.get_close_matches(client.casefold(), list(known), n=3, cutoff=0.5)]))[:3]
        hint = f"closest: {', '.join(known[c] for c in closest)}; " if closest else ""
        raise NoSuchClient(f"{store}: no client {client!r} in the history; {hint}`publish-failures clients` lists them")
    with store.transaction(write=True) as db:
        if restore:
            db.execute("DELETE FROM retired WHERE practice = ? AND client = ?", (db.practice, name))
        else:
            db.execute("INSERT INTO retired (practice, client, since) VALUES (?, ?, ?)"
                       " ON CONFLICT (practice, client) DO UPDATE SET since = excluded.since",
                       (db.practice, name, when.isoformat(timespec="seconds")))
    return name


def last_workbooks(store: Store | Path, period: str, months: int = 3) -> dict[str, list[Path]]:
    """Each client's workbooks as written by its last few runs up to `period`, latest last:
    where the tracking a bookkeeper recorded is, when every month has its own folder (an edit
    saved in an older month's workbook after a newer run still counts, the newest edit of an
    item winning)."""
    store = as_store(store)
    if not store.exists():
        return {}
    with store.transaction() as db:
        rows = db.rows(
            "SELECT c.client, c.workbook FROM run_clients c JOIN runs r ON r.id = c.run_id"
            " WHERE r.practice = ? AND r.period <= ? AND c.workbook != '' ORDER BY r.period", (db.practice, period))
    books: dict[str, list[Path]] = {}
    for client, workbook in rows:
        books.setdefault(client, []).append(Path(workbook))
    return {client: paths[-months:] for client, paths in books.items()}


def unedited_marks(store: Store | Path) -> set[tuple[str, int]]:
    """(file name, modification time in ns) of every workbook as its run wrote it: a workbook
    still so was not edited since, and holds no tracking the store lacks (a run writes what the
    store holds). Its newer file time must not make it win over a bookkeeper's real edit in
    another month's workbook (a re-run of an older month rewrites that month's workbook)."""
    store = as_store(store)
    if not store.exists():
        return set()
    with store.transaction() as db:
        rows = db.rows("SELECT c.workbook, c.line FROM run_clients c JOIN runs r ON r.id = c.run_id"
                       " WHERE r.practice = ? AND c.workbook != ''", (db.practice,))
    marks = set()
    for workbook, line in rows:
        written = json.loads(line).get("workbook_ns")
        if written:
            marks.add((Path(workbook).name, int(written)))
    return marks


def located(books: dict[str, list[Path]], out: Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """The recorded workbooks where they are now. The history keeps each workbook's full path;
    when the practice's folder was moved or copied, a workbook is looked for first where it sits
    relative to this run's output folder (a sibling `{period}` folder, or the same folder), then
    where it was written. Also the latest recorded workbook of each client found nowhere."""
    found: dict[str, list[Path]] = {}
    lost: list[Path] = []
    for client, paths in books.items():
        kept = []
        for path in paths:
            here = next((c for c in (out.parent / path.parent.name / path.name, out / path.name, path)
                         if c.is_file()), None)
            if here is not None:
                kept.append(here)
            elif path is paths[-1]:
                lost.append(path)
        found[client] = kept
    return found, lost


def period_states(store: Store | Path, period: str) -> dict[str, tuple[str, str]]:
    """Each client the record of `period` holds (a period has one record, which a run of it
    replaces): its state there, and how its export came ("own", "merged", "")."""
    store = as_store(store)
    if not store.exists():
        return {}
    with store.transaction() as db:
        rows = db.rows("SELECT c.client, c.state, c.line FROM run_clients c JOIN runs r ON r.id = c.run_id"
                       " WHERE r.practice = ? AND r.period = ?", (db.practice, period))
    return {client: (state, json.loads(line).get("export", "")) for client, state, line in rows}


def latest_lines(store: Store | Path, period: str) -> tuple[dict[str, tuple[str, dict]], dict[str, tuple[str, dict]]]:
    """Each client's index line and state from its latest run up to `period` (for a --client
    run, which keeps the other clients' lines as they were), and from its latest run of an
    earlier period (a period run again replaces its own record: how each client's export came
    before it)."""
    store = as_store(store)
    if not store.exists():
        return {}, {}
    with store.transaction() as db:
        rows = db.rows(
            "SELECT c.client, c.state, c.line, r.period FROM run_clients c JOIN runs r ON r.id = c.run_id"
            " WHERE r.practice = ? AND r.period <= ? ORDER BY r.period, r.id", (db.practice, period))
    up_to, before = {}, {}
    for client, state, line, of in rows:  # later periods win
        up_to[client] = (state, json.loads(line))
        if of < period:
            before[client] = up_to[client]
    return up_to, before


def summary(store: Store | Path, client: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items per client per run, and the items seen in more than one run (most runs first)."""
    counts, recurring = _recorded(
        store, client,
        "SELECT i.client, r.period_label AS period, r.period AS slug, COUNT(*) AS items"
        " FROM items i JOIN runs r ON r.id = i.run_id {where} GROUP BY i.client, r.period, r.period_label"
        " ORDER BY i.client, r.period",
        "SELECT i.client, i.item_key, MAX(i.item_id) AS item_id, MAX(i.supplier) AS supplier,"
        " COUNT(*) AS runs, MIN(r.period) AS first_period, MAX(r.period) AS last_period,"
        " MAX(i.categories) AS categories"
        " FROM items i JOIN runs r ON r.id = i.run_id {where} GROUP BY i.client, i.item_key HAVING COUNT(*) > 1"
        " ORDER BY runs DESC, i.client, i.item_key")
    return counts, recurring


def states(store: Store | Path, client: str = "") -> pd.DataFrame:
    """Each client's state in each run (client, period, slug, state: failing, clean, cleared or
    export_missing), oldest period first: a run that recorded no items of a client says why."""
    return _recorded(
        store, client,  # run_clients as i: the one-client filter names i.client
        "SELECT i.client, r.period_label AS period, r.period AS slug, i.state"
        " FROM run_clients i JOIN runs r ON r.id = i.run_id {where} ORDER BY i.client, r.period")[0]


def items(store: Store | Path, client: str = "") -> pd.DataFrame:
    """Every item recorded, per client and period (oldest period first; in a period by date, then
    item): client, period (its label), slug, item_id, item_key, supplier, date, amount, currency,
    categories, fixes."""
    return _recorded(
        store, client,
        "SELECT i.client, r.period_label AS period, r.period AS slug, i.item_id, i.item_key, i.supplier, i.date,"
        " i.amount, i.currency, i.categories, i.fixes"
        " FROM items i JOIN runs r ON r.id = i.run_id {where}"
        " ORDER BY i.client, r.period, i.date, i.item_id, i.item_key")[0]


def _recorded(store: Store | Path, client: str, *queries: str) -> list[pd.DataFrame]:
    """The history's queries, each `{where}` limited to the practice (and to one client when a
    name is given), in one transaction."""
    store = as_store(store)
    if not store.exists():
        raise HistoryError(f"{store}: no run history yet; run `publish-failures report` or `run` first")
    where, params = _one_client(store, client)
    with store.transaction() as db:
        return [db.frame(query.format(where=where), params) for query in queries]


def _one_client(store: Store, client: str) -> tuple[str, tuple]:
    """The practice's runs, and only one client's items when a name is given (in any case)."""
    if client:
        return "WHERE r.practice = ? AND lower(i.client) = lower(?)", (store.practice, client)
    return "WHERE r.practice = ?", (store.practice,)
