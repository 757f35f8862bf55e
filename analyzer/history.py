"""Run history in an embedded SQLite database: which items are new, which were carried over from
the last run, which were cleared, and which fixes keep coming back.

A run is recorded per period; running the same period again replaces that period's record, so a
re-run gives the same reports. Runs are ordered by their period's slug (2026-09 < 2026-10).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    period TEXT NOT NULL UNIQUE,      -- the slug, e.g. 2026-10; runs sort by it
    period_label TEXT NOT NULL,
    run_time TEXT NOT NULL,
    version TEXT NOT NULL,
    rows INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    client TEXT NOT NULL,
    item_key TEXT NOT NULL,
    item_id TEXT, supplier TEXT, date TEXT, amount REAL, currency TEXT,
    categories TEXT NOT NULL,
    fixes TEXT NOT NULL,
    PRIMARY KEY (run_id, client, item_key)
);
CREATE INDEX IF NOT EXISTS items_by_key ON items (client, item_key);
"""
RECURRING_RUNS = 2  # a fix "keeps coming back" when it was needed in each of the last two runs too


class HistoryError(Exception):
    """The history database cannot be used; one line naming the file."""


@dataclass(frozen=True)
class ClientHistory:
    new: int
    carried_over: int
    cleared: int
    previous_items: int | None
    recurring_fixes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class HistoryView:
    """Per batch row: 'new' or 'carried over', first seen and runs seen; per client: counts."""

    status: np.ndarray
    first_seen: np.ndarray
    runs_seen: np.ndarray
    clients: dict[str, ClientHistory] = field(default_factory=dict)
    previous_period: str = ""


def connect(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=30)
        connection.execute("PRAGMA foreign_keys = ON")
        connection.executescript(SCHEMA)
        return connection
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"{path}: cannot use the run history database ({exc}); move it aside to start a new one") from None
    except OSError as exc:
        raise HistoryError(f"{path}: cannot create the run history database ({exc.strerror})") from None


def compare(path: Path, period: str, current: pd.DataFrame) -> HistoryView:
    """Compare this run's items (columns client, item_key, fixes; one row per batch row) with
    the runs recorded before `period`."""
    with closing(connect(path)) as db:
        earlier = pd.read_sql_query(
            "SELECT id, period, period_label, run_time FROM runs WHERE period < ? ORDER BY period", db, params=(period,)
        )
        if earlier.empty:
            return _all_new(current)
        seen = pd.read_sql_query(
            "SELECT i.client, i.item_key, MIN(r.run_time) AS first_seen, COUNT(*) AS runs"
            " FROM items i JOIN runs r ON r.id = i.run_id WHERE r.period < ? GROUP BY i.client, i.item_key",
            db, params=(period,),
        )
        last_id = int(earlier["id"].iloc[-1])
        previous = pd.read_sql_query("SELECT client, item_key, fixes FROM items WHERE run_id = ?", db, params=(last_id,))
        recent_ids = tuple(int(i) for i in earlier["id"].iloc[-RECURRING_RUNS:])
        recent = pd.read_sql_query(
            f"SELECT run_id, client, fixes FROM items WHERE run_id IN ({','.join('?' * len(recent_ids))})", db, params=recent_ids
        )
    view = current[["client", "item_key"]].merge(seen, on=["client", "item_key"], how="left")
    in_previous = pd.MultiIndex.from_frame(current[["client", "item_key"]]).isin(
        pd.MultiIndex.from_frame(previous[["client", "item_key"]]))
    status = np.where(in_previous, "carried over", "new").astype(object)
    seen_at = pd.to_datetime(view["first_seen"])
    first = np.array([None if pd.isna(t) else t.date() for t in seen_at], dtype=object)
    runs = view["runs"].fillna(0).astype("int64").to_numpy() + 1
    clients = _client_counts(current, previous, status, recent, len(recent_ids))
    return HistoryView(status, first, runs, clients, str(earlier["period_label"].iloc[-1]))


def _all_new(current: pd.DataFrame) -> HistoryView:
    n = len(current)
    clients = {
        str(c): ClientHistory(new=int(k), carried_over=0, cleared=0, previous_items=None)
        for c, k in current.drop_duplicates(["client", "item_key"])["client"].value_counts().items()
    }
    return HistoryView(np.full(n, "new", dtype=object), np.full(n, None, dtype=object), np.ones(n, dtype="int64"), clients)


def _client_counts(current, previous, status, recent, recent_runs) -> dict[str, ClientHistory]:
    unique_now = current.assign(status=status).drop_duplicates(["client", "item_key"])
    now_keys = set(zip(unique_now["client"], unique_now["item_key"]))
    previous_counts = previous["client"].value_counts()
    cleared = pd.Series([c for c, k in zip(previous["client"], previous["item_key"]) if (c, k) not in now_keys],
                        dtype="str").value_counts()
    recurring = _recurring_fixes(current, recent, recent_runs)
    result = {}
    for client, part in unique_now.groupby("client", sort=False):
        result[str(client)] = ClientHistory(
            new=int((part["status"] == "new").sum()),
            carried_over=int((part["status"] == "carried over").sum()),
            cleared=int(cleared.get(client, 0)),
            previous_items=int(previous_counts.get(client, 0)),
            recurring_fixes=recurring.get(str(client), frozenset()),
        )
    return result


def _recurring_fixes(current, recent, recent_runs) -> dict[str, frozenset[str]]:
    """Fixes needed now and in each of the last runs, per client."""
    if recent.empty or recent_runs < 1:
        return {}
    per_run = recent.assign(fix=recent["fixes"].str.split("+")).explode("fix").drop_duplicates(["run_id", "client", "fix"])
    counts = per_run.groupby(["client", "fix"]).size()
    steady = counts[counts >= recent_runs].reset_index()
    now = current.assign(fix=current["fixes"].str.split("+")).explode("fix")[["client", "fix"]].drop_duplicates()
    both = steady.merge(now, on=["client", "fix"])
    return {str(c): frozenset(part["fix"]) for c, part in both.groupby("client")}


def record(path: Path, period: str, period_label: str, run_time: dt.datetime, version: str, items: pd.DataFrame) -> None:
    """Store this run (replacing an earlier run of the same period) in one transaction."""
    columns = ["client", "item_key", "item_id", "supplier", "date", "amount", "currency", "categories", "fixes"]
    rows = items[columns].drop_duplicates(["client", "item_key"])
    with closing(connect(path)) as db, db:
        db.execute("DELETE FROM runs WHERE period = ?", (period,))
        cursor = db.execute(
            "INSERT INTO runs (period, period_label, run_time, version, rows) VALUES (?, ?, ?, ?, ?)",
            (period, period_label, run_time.isoformat(timespec="seconds"), version, len(items)),
        )
        run_id = cursor.lastrowid
        amounts = rows["amount"].astype("float64").to_numpy()
        db.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (run_id, c, k, i, s, d, None if a != a else float(a), cur, cat, fx)
                for c, k, i, s, d, a, cur, cat, fx in zip(
                    rows["client"], rows["item_key"], rows["item_id"], rows["supplier"], rows["date"],
                    amounts, rows["currency"], rows["categories"], rows["fixes"],
                )
            ),
        )


def summary(path: Path, client: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items per client per run, and the items seen in more than one run (most runs first)."""
    if not path.is_file():
        raise HistoryError(f"{path}: no run history yet; run `publish-failures report` or `run` first")
    where, params = ("WHERE i.client = ? COLLATE NOCASE", (client,)) if client else ("", ())
    with closing(connect(path)) as db:
        counts = pd.read_sql_query(
            "SELECT i.client, r.period_label AS period, r.period AS slug, COUNT(*) AS items"
            f" FROM items i JOIN runs r ON r.id = i.run_id {where} GROUP BY i.client, r.period ORDER BY i.client, r.period",
            db, params=params,
        )
        recurring = pd.read_sql_query(
            "SELECT i.client, i.item_key, MAX(i.item_id) AS item_id, MAX(i.supplier) AS supplier,"
            " COUNT(*) AS runs, MIN(r.period) AS first_period, MAX(r.period) AS last_period,"
            " MAX(i.categories) AS categories"
            f" FROM items i JOIN runs r ON r.id = i.run_id {where} GROUP BY i.client, i.item_key HAVING COUNT(*) > 1"
            " ORDER BY runs DESC, i.client, i.item_key",
            db, params=params,
        )
    return counts, recurring


def items(path: Path, client: str = "") -> pd.DataFrame:
    """Every item recorded, per client and period (oldest period first; in a period by date, then
    item): client, period (its label), slug, item_id, item_key, supplier, date, amount, currency,
    categories, fixes."""
    if not path.is_file():
        raise HistoryError(f"{path}: no run history yet; run `publish-failures report` or `run` first")
    where, params = ("WHERE i.client = ? COLLATE NOCASE", (client,)) if client else ("", ())
    with closing(connect(path)) as db:
        return pd.read_sql_query(
            "SELECT i.client, r.period_label AS period, r.period AS slug, i.item_id, i.item_key, i.supplier, i.date,"
            " i.amount, i.currency, i.categories, i.fixes"
            f" FROM items i JOIN runs r ON r.id = i.run_id {where}"
            " ORDER BY i.client, r.period, i.date, i.item_id, i.item_key",
            db, params=params,
        )
