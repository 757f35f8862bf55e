"""The practice's state store: run history, the bookkeepers' tracking of each item, each run's
roster and the errors the practice taught, in one database.

Where: a file path is an embedded SQLite database (the default, `history.sqlite` beside the
reports, no set-up); a `postgresql://user@host/db` URL is a PostgreSQL database, which several
practices and machines can share (psycopg 3, the `postgres` extra). Every row carries a practice
key and every query is filtered by it, so one practice's run never reads or changes another's.

SQL is written once, with `?` for parameters (turned into psycopg's `%s` here) and only what both
dialects run (`INSERT ... ON CONFLICT`, no `OR IGNORE`/`OR REPLACE`, no `COLLATE NOCASE`). The
schema is made and upgraded by the tool itself (analyzer/schema.py); a database written by a
newer analyzer is refused with one line. Driver errors become one-line StoreErrors naming the
database (never its password).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


if TYPE_CHECKING:
    import pandas as pd

from analyzer.errors import MissingExtra, StoreBusy, StoreLocationError
from analyzer.schema import (  # noqa: F401  (MIGRATIONS: the name tests and older code know)
    MIGRATIONS, POSTGRES_BASE, POSTGRES_MIGRATIONS, SCHEMA_VERSION, SQLITE_MIGRATIONS, tables_v5,
)

POSTGRES_SCHEMES = ("postgresql", "postgres")
# Advisory lock keys (two int4s): one run at a time per practice; one upgrade at a time.
_RUN_LOCK, _MIGRATION_LOCK = 0x616E6C7A, 0x616E6C7B


class StoreError(Exception):
    """The state store cannot be used; one line naming the database and what to do."""


def _without_password(location: str) -> str:
    """A location as it may be shown: a password between ':' and '@' is hidden."""
    head, at, tail = location.rpartition("@")
    if not at or "://" not in head:
        return location
    scheme, _, user = head.partition("://")
    return f"{scheme}://{user.split(':', 1)[0]}@{tail}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class Store:
    """Where one practice's state is kept. Connections are opened per transaction, or once for
    a whole run inside `hold()`."""

    def __init__(self, location: str | os.PathLike, practice: str = ""):
        self.location = os.fspath(location)
        self.practice = practice
        try:
            scheme = urlsplit(self.location).scheme.lower() if "://" in self.location else ""
            if scheme:
                urlsplit(self.location).port  # noqa: B018 (a malformed host or port raises here, once)
        except ValueError as exc:
            raise StoreLocationError(f"{_without_password(self.location)}: not a database address this tool can"
                                     f" read ({exc}); give a file path or postgresql://user@host/database") from None
        if scheme in POSTGRES_SCHEMES:
            self.backend = "postgresql"
            if importlib.util.find_spec("psycopg") is None:
                raise MissingExtra(f"{self}: the PostgreSQL driver is not installed; install the postgres extra:"
                                   " pip install '.[postgres]'")
        elif scheme:
            raise StoreLocationError(f"{self.location}: not a database this tool can use; give a file path"
                                     " (SQLite) or a postgresql://user@host/database URL")
        else:
            self.backend = "sqlite"
        self._held = None  # the connection of a run in hold()
        self._claimed = False  # whether this file's unclaimed rows (from before practice keys) were looked for

    @property
    def path(self) -> Path:
        return Path(self.location)

    def __str__(self) -> str:
        if self.backend == "sqlite":
            return self.location
        parts = urlsplit(self.location)
        netloc = parts.netloc.rsplit("@", 1)
        if len(netloc) == 2:  # user:password@host -> user@host
            netloc = [netloc[0].split(":", 1)[0], netloc[1]]
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "password"])
        return urlunsplit((parts.scheme, "@".join(netloc), parts.path, query, ""))

    def __repr__(self) -> str:
        return f"Store({str(self)!r}, practice={self.practice!r})"

    def exists(self) -> bool:
        """Whether there may be anything to read (a SQLite file not made yet holds nothing)."""
        return self.backend == "postgresql" or self.path.is_file()

    # -- connections ---------------------------------------------------------------------------

    def _connect(self):
        if self.backend == "sqlite":
            connection = _sqlite_connect(self.path)
            if self.practice and not self._claimed:  # once per Store: a connection is opened per transaction
                _adopt_unkeyed_rows(connection, self.practice)
                self._claimed = True
            return connection
        return _postgres_connect(self)

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator["Transaction"]:
        """One transaction: committed when the block ends, rolled back when it raises. A driver
        error is one line naming the database."""
        errors = _driver_errors(self.backend)
        try:
            connection = self._held or self._connect()
        except errors as exc:
            raise StoreError(f"{self}: the practice's history database failed ({_one_line(exc)})") from None
        try:
            connection.execute("BEGIN IMMEDIATE" if write and self.backend == "sqlite" else "BEGIN")
            try:
                yield Transaction(connection, self)
            except BaseException:
                _quietly(connection.execute, "ROLLBACK")
                raise
            connection.execute("COMMIT")
        except errors as exc:
            raise StoreError(f"{self}: the practice's history database failed ({_one_line(exc)})") from None
        finally:
            if connection is not self._held:
                _quietly(connection.close)

    @contextmanager
    def hold(self, timeout: float) -> Iterator["Store"]:
        """For a whole run on PostgreSQL: one connection for every transaction, holding the
        practice's advisory lock, so a second run of the same practice (on any machine) waits up
        to `timeout` seconds and then stops with StoreBusy. The server releases the lock if the
        run dies. On SQLite the output folder's lock and SQLite's own locking suffice."""
        if self.backend == "sqlite" or self._held is not None:
            yield self
            return
        connection = self._connect()
        try:
            self._wait_for_lock(connection, timeout)
            self._held = connection
            yield self
        finally:
            self._held = None
            _quietly(connection.close)

    def _wait_for_lock(self, connection, timeout: float) -> None:
        deadline = time.monotonic() + max(timeout, 0)
        try:
            while not connection.execute("SELECT pg_try_advisory_lock(?, hashtext(?))".replace("?", "%s"),
                                         (_RUN_LOCK, self.practice)).fetchone()[0]:
                if time.monotonic() >= deadline:
                    raise StoreBusy(f"{self}: another run of the practice {self.practice!r} is using the database and"
                                    f" did not finish within {timeout:g} s (lock_timeout)")
                time.sleep(min(0.2, max(deadline - time.monotonic(), 0.01)))
        except _driver_errors(self.backend) as exc:
            raise StoreError(f"{self}: the practice's history database failed ({_one_line(exc)})") from None


def as_store(location: "Store | str | os.PathLike | None", practice: str = "") -> Store | None:
    """A Store for a location (a path or URL), or the Store itself."""
    if location is None or isinstance(location, Store):
        return location
    return Store(location, practice)


class Transaction:
    """The SQL of one transaction, in `?` style whatever the backend."""

    def __init__(self, connection, store: Store):
        self.connection = connection
        self.practice = store.practice
        self._postgres = store.backend == "postgresql"

    def _sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s") if self._postgres else sql

    def execute(self, sql: str, params: tuple = ()):
        return self.connection.execute(self._sql(sql), _bind(params))

    def executemany(self, sql: str, rows: Iterable[tuple]) -> None:
        rows = [_bind(row) for row in rows]
        if self._postgres:
            if rows:
                self.connection.cursor().executemany(self._sql(sql), rows)
        else:
            self.connection.executemany(sql, rows)

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        return [tuple(r) for r in self.execute(sql, params).fetchall()]

    def frame(self, sql: str, params: tuple = ()) -> pd.DataFrame:
        import pandas as pd  # the store is opened by `explain` too, which must start without pandas

        cursor = self.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return pd.DataFrame.from_records(cursor.fetchall(), columns=columns, coerce_float=True)


def _bind(values) -> tuple:
    """A missing value (pandas' NaN) is NULL on both backends: SQLite stores a NaN as NULL, and
    psycopg would send it as the float or text 'NaN'."""
    return tuple(None if isinstance(v, float) and v != v else v for v in values)


def _quietly(action, *args) -> None:
    try:
        action(*args)
    except Exception:  # closing or rolling back a connection that is already gone
        pass


def _driver_errors(backend: str) -> tuple[type[BaseException], ...]:
    if backend == "sqlite":
        return (sqlite3.Error,)
    import psycopg

    return (psycopg.Error,)


# -- SQLite ----------------------------------------------------------------------------------------


SQLITE_WAIT_S = 30  # how long a write waits for another program holding the SQLite file


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating or upgrading) the SQLite store at `path`, in autocommit mode: transactions
    are begun and ended explicitly."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, timeout=SQLITE_WAIT_S, isolation_level=None)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the practice's history database ({exc})") from None
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the practice's history database ({exc.strerror})") from None
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        migrate(connection, path)
    except sqlite3.OperationalError as exc:
        connection.close()
        if "locked" in str(exc) or "busy" in str(exc):  # a healthy database another program holds: keep it
            raise StoreError(f"{path}: another program is using the practice's history database and did not let"
                             f" go within {SQLITE_WAIT_S} s ({exc}); run again when it has finished") from None
        raise StoreError(f"{path}: cannot use the practice's history database ({exc});"
                         " move it aside to start a new one") from None
    except sqlite3.DatabaseError as exc:
        connection.close()
        raise StoreError(f"{path}: cannot use the practice's history database ({exc});"
                         " move it aside to start a new one") from None
    except StoreError:
        connection.close()
        raise
    return connection


_sqlite_connect = connect
_KEYED_TABLES = ("runs", "items", "run_clients", "tracking", "retired", "taught")


def _adopt_unkeyed_rows(connection: sqlite3.Connection, practice: str) -> None:
    """A SQLite file upgraded from before practice keys holds one practice's rows under the key
    ''. The first practice with a key to open it after the upgrade takes them, once, so a config
    that already named its practice keeps its history, tracking and taught errors. Only the
    upgrade marks rows as unclaimed: a file shared by a practice with no key and one with a key
    keeps each one's rows."""
    if not _has_table(connection, "unclaimed") or not connection.execute("SELECT 1 FROM unclaimed").fetchone():
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        if connection.execute("SELECT 1 FROM unclaimed").fetchone():  # not taken while this one waited
            for table in _KEYED_TABLES:
                connection.execute(f"UPDATE {table} SET practice = ? WHERE practice = ''", (practice,))  # noqa: S608
            connection.execute("DELETE FROM unclaimed")
        connection.execute("COMMIT")
    except BaseException:
        _quietly(connection.execute, "ROLLBACK")
        raise


def migrate(connection: sqlite3.Connection, path: Path) -> int:
    """Bring a SQLite database to SCHEMA_VERSION; return the version it had."""
    version = _sqlite_version(connection)
    _refuse_newer(version, path)
    if version == SCHEMA_VERSION:
        return version
    connection.execute("BEGIN IMMEDIATE")  # every pending migration in one transaction, or none
    try:
        # Another run may have upgraded it while this one waited for the lock: read again.
        version = _sqlite_version(connection)
        _refuse_newer(version, path)
        for number in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _statements(SQLITE_MIGRATIONS[number - 1]):
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        _quietly(connection.execute, "ROLLBACK")
        raise
    return version


def _sqlite_version(connection: sqlite3.Connection) -> int:
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version == 0 and _has_table(connection, "runs"):
        version = 1  # made before the schema was versioned
    return version


def _refuse_newer(version: int, where) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(f"{where}: written by a newer analyzer (schema {version}, this one knows {SCHEMA_VERSION});"
                         " upgrade analyzer to use it")


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


# -- PostgreSQL ------------------------------------------------------------------------------------


def _postgres_connect(store: Store):
    import psycopg

    try:
        # psycopg logs a second, internal line when a lost connection ends a pipeline; the
        # StoreError raised is the one line the practice reads.
        logging.getLogger("psycopg").setLevel(logging.ERROR)
        connection = psycopg.connect(store.location, autocommit=True, connect_timeout=10,
                                     application_name="publish-failures")
    except psycopg.Error as exc:
        raise StoreError(f"{store}: cannot connect to the practice's database ({_one_line(exc)}); check the URL"
                         " and that the server is running") from None
    try:
        _postgres_migrate(connection, store)
    except psycopg.Error as exc:
        _quietly(connection.close)
        raise StoreError(f"{store}: cannot use the practice's database ({_one_line(exc)})") from None
    except StoreError:
        _quietly(connection.close)
        raise
    return connection


def _postgres_version(connection) -> int:
    if connection.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
        return 0
    row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _postgres_migrate(connection, store: Store) -> int:
    """Make (at POSTGRES_BASE) or upgrade the schema, one process at a time, in one transaction."""
    version = _postgres_version(connection)
    _refuse_newer(version, store)
    if version == SCHEMA_VERSION:
        return version
    # The lock is taken before the transaction begins: a transaction that began while another
    # process was making the tables would not see them (its catalog cache predates them).
    connection.execute("SELECT pg_advisory_lock(%s, 0)", (_MIGRATION_LOCK,))
    try:
        with connection.transaction():
            version = _postgres_version(connection)  # another process may have done it meanwhile
            _refuse_newer(version, store)
            if version == 0:
                for statement in _statements(tables_v5("postgresql")):
                    connection.execute(statement)
                connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                connection.execute("INSERT INTO schema_version VALUES (%s)", (POSTGRES_BASE,))
                version = POSTGRES_BASE
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _statements(POSTGRES_MIGRATIONS[number]):
                    connection.execute(statement)
            connection.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION,))
    finally:
        _quietly(connection.execute, "SELECT pg_advisory_unlock(%s, 0)", (_MIGRATION_LOCK,))
    return version
