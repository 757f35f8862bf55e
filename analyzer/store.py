"""The practice's state store: one SQLite database (by default `history.sqlite` beside the
reports) holding run history, the bookkeepers' tracking of each item, and each run's roster.

The schema is versioned with SQLite's `user_version`: each change is one migration, applied in
order inside one transaction, so an old database is upgraded in place when it is first opened by
a newer tool, and a database written by a newer tool is refused with one line rather than
misread.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Migration N takes a database at version N-1 to version N. Never edit a released migration:
# add a new one.
MIGRATIONS: tuple[str, ...] = (
    # 1: run history (the schema before versioning; a database with these tables and
    # user_version 0 is taken as version 1).
    """
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
    """,
    # 2: month-end workflow: what each item's error was (a dismissed item comes back when it
    # changes), each run's roster of clients with their state and workbook, and the tracking a
    # bookkeeper records in the Items sheet, kept per item across runs.
    """
    ALTER TABLE items ADD COLUMN error_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN output TEXT NOT NULL DEFAULT '';
    CREATE TABLE run_clients (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        client TEXT NOT NULL,
        state TEXT NOT NULL,              -- failing | clean | cleared | export_missing
        workbook TEXT NOT NULL DEFAULT '',-- the client's workbook as written by that run
        line TEXT NOT NULL DEFAULT '{}',  -- the client's line of the practice index (JSON)
        PRIMARY KEY (run_id, client)
    );
    CREATE TABLE tracking (
        client TEXT NOT NULL,
        item_key TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT '',
        assigned_to TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        snooze_until TEXT NOT NULL DEFAULT '',  -- ISO date, or ''
        error_key TEXT NOT NULL DEFAULT '',     -- the error the item had when this was recorded
        updated TEXT NOT NULL,                  -- when the workbook holding it was saved
        source TEXT NOT NULL DEFAULT '',        -- that workbook
        PRIMARY KEY (client, item_key)
    );
    """,
    # 3: clients the practice no longer looks after: left out of the roster until an export of
    # theirs comes again.
    """
    CREATE TABLE retired (
        client TEXT PRIMARY KEY,
        since TEXT NOT NULL
    );
    """,
    # 4: errors the practice has taught: a message's masked template -> a category.
    """
    CREATE TABLE taught (
        template TEXT PRIMARY KEY,        -- the masked message, case and spacing folded
        message TEXT NOT NULL,            -- the message it was taught from, as written
        category TEXT NOT NULL,
        taught_at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT ''   -- the command line, or the workbook it was chosen in
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The state store cannot be used; one line naming the file and what to do."""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating or upgrading) the store at `path`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=30)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the practice's history database ({exc})") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the practice's history database ({exc.strerror})") from None
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        migrate(connection, path)
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise StoreError(f"{path}: cannot use the practice's history database ({exc});"
                         " move it aside to start a new one") from None
    except StoreError:
        connection.close()
        raise
    return connection


def migrate(connection: sqlite3.Connection, path: Path) -> int:
    """Bring the database to SCHEMA_VERSION; return the version it had."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version == 0 and _has_table(connection, "runs"):
        version = 1  # made before the schema was versioned
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path}: written by a newer analyzer (schema {version}, this one knows {SCHEMA_VERSION});"
                         " upgrade analyzer to use it")
    if version == SCHEMA_VERSION:
        return version
    with connection:  # every pending migration in one transaction, or none
        connection.execute("BEGIN IMMEDIATE")
        # Another run may have upgraded it while this one waited for the lock: read again.
        version = connection.execute("PRAGMA user_version").fetchone()[0] or (1 if _has_table(connection, "runs") else 0)
        for number in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _statements(MIGRATIONS[number - 1]):
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return version


def _statements(script: str) -> list[str]:
    """The script's statements, cut where SQLite says a statement is complete (a `;` inside a
    comment or a string does not end one)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements


def _has_table(connection: sqlite3.Connection, name: str) -> bool:
    row = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    return row is not None
