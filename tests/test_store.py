"""The state store on PostgreSQL: practices kept apart in one database, one run of a practice at
a time, a dropped connection or a newer schema refused in one line with nothing published, and
the location and driver checked before anything runs."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer import history
from analyzer.cli import main
from analyzer.store import _RUN_LOCK, Store

ROOT = Path(__file__).resolve().parents[1]
HEADER = "Item ID,Date,Supplier,Total Amount,Currency,Error\n"
UNIQUE = "Invoice # must be unique."


def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _practice(tmp_path: Path, name: str, url: str, period: str, clients: dict[str, list[str]],
              lock_timeout: float = 5) -> Path:
    """A practice's config and this month's exports (client -> item ids)."""
    folder = tmp_path / f"{name}-{period.replace(' ', '-')}"
    folder.mkdir(parents=True)
    for client, ids in clients.items():
        rows = "".join(f'{i},15/10/2026,Supplier {i},10.00,GBP,"{UNIQUE}"\n' for i in ids)
        (folder / f"{client} - failed items.csv").write_text(HEADER + rows, encoding="utf-8")
    config = tmp_path / f"{name}-{period.replace(' ', '-')}.toml"
    config.write_text(
        f'inputs = ["{folder.as_posix()}"]\noutput = "{(tmp_path / name / "{period}").as_posix()}"\n'
        f'period = "{period}"\npractice = "{name}"\ndatabase = "{url}"\nlock_timeout = {lock_timeout}\n',
        encoding="utf-8")
    return config


def _manifest(tmp_path: Path, name: str, slug: str) -> dict:
    data = json.loads((tmp_path / name / slug / "manifest.json").read_text(encoding="utf-8"))
    return {c["name"]: c for c in data["clients"]}


@pytest.fixture
def pg_url(postgres) -> str:
    return postgres.new_database()


def test_two_practices_in_one_database_keep_their_state_apart(tmp_path, pg_url):
    a_oct = _practice(tmp_path, "North", pg_url, "October 2026", {"Acme Ltd": ["1", "2"]})
    b_oct = _practice(tmp_path, "South", pg_url, "October 2026", {"Acme Ltd": ["1"], "Bolt Ltd": ["9"]})
    assert _run("run", "--config", a_oct)[0] == 0
    assert _run("run", "--config", b_oct)[0] == 0  # the same period, another practice: no clash
    a_nov = _practice(tmp_path, "North", pg_url, "November 2026", {"Acme Ltd": ["2", "3"]})
    assert _run("run", "--config", a_nov)[0] == 0
    north = _manifest(tmp_path, "North", "2026-11")
    assert set(north) == {"Acme Ltd"}  # South's Bolt Ltd is not North's client
    assert (north["Acme Ltd"]["new"], north["Acme Ltd"]["carried_over"], north["Acme Ltd"]["cleared"]) == (1, 1, 1)
    code, out, _ = _run("history", "--config", b_oct, "--json")
    runs = json.loads(out)["runs"]
    assert code == 0 and {(r["client"], r["period"], r["items"]) for r in runs} == {
        ("Acme Ltd", "October 2026", 1), ("Bolt Ltd", "October 2026", 1)}
    assert _run("teach", "--config", a_oct, "Widget frobnication refused by the ledger", "account_archived")[0] == 0
    assert "frobnication" in _run("teach", "--config", a_nov, "--list")[1]
    assert "Nothing taught yet" in _run("teach", "--config", b_oct, "--list")[1]
    assert len(json.loads(_run("history", "--config", a_nov, "--json")[1])["runs"]) == 2
    assert history.known_clients(Store(pg_url, "North")) == {"Acme Ltd"}
    assert history.known_clients(Store(pg_url, "Nobody")) == set()


def test_a_second_run_of_the_same_practice_waits_then_exits_busy(tmp_path, pg_url, postgres):
    import psycopg

    config = _practice(tmp_path, "North", pg_url, "October 2026", {"Acme Ltd": ["1"]}, lock_timeout=1)
    with psycopg.connect(pg_url, autocommit=True) as other_machine:  # another run holds the practice
        other_machine.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (_RUN_LOCK, "North"))
        code, _, err = _run("run", "--quiet", "--config", config)
        assert code == 4 and "another run of the practice 'North'" in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "North" / "2026-10" / "index.html").exists()
        other = _practice(tmp_path, "South", pg_url, "October 2026", {"Bolt Ltd": ["1"]}, lock_timeout=1)
        assert _run("run", "--config", other)[0] == 0  # another practice is not held up
    assert postgres.execute(pg_url, "SELECT count(*) FROM runs WHERE practice = 'North'") == [(0,)]
    assert _run("run", "--config", config)[0] == 0


def test_the_same_practice_twice_at_once_records_one_whole_run(tmp_path, pg_url, postgres):
    """Two machines run the same practice and period at once (different output folders): one
    waits for the other; the database holds one complete record of the period."""
    first = _practice(tmp_path, "North", pg_url, "October 2026", {f"Client {c}": ["1", "2", "3"] for c in "ABCDEF"},
                      lock_timeout=120)
    second = first.parent.parent / "second.toml"
    second.write_text(first.read_text(encoding="utf-8").replace("/North/", "/North-2/"), encoding="utf-8")
    runs = [subprocess.Popen([sys.executable, "-m", "analyzer", "run", "--quiet", "--config", str(c)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in (first, second)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    assert [code for code, _ in results] == [0, 0], results
    assert postgres.execute(pg_url, "SELECT practice, period FROM runs") == [("North", "2026-10")]
    assert postgres.execute(pg_url, "SELECT count(*), count(DISTINCT client) FROM items") == [(18, 6)]
    assert postgres.execute(pg_url, "SELECT count(*) FROM run_clients") == [(6,)]


def test_a_connection_dropped_mid_run_exits_6_and_publishes_nothing(tmp_path, pg_url, postgres, monkeypatch):
    import analyzer.pipeline as pipeline

    assert _run("run", "--config", _practice(tmp_path, "North", pg_url, "October 2026", {"Acme Ltd": ["1"]}))[0] == 0
    real = pipeline.build_overview

    def drop_the_connection(*args, **kwargs):  # the server goes away while the reports render
        postgres.execute(postgres.url(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE application_name = 'publish-failures'")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "build_overview", drop_the_connection)
    code, _, err = _run("run", "--quiet", "--config", _practice(tmp_path, "North", pg_url, "November 2026", {"Acme Ltd": ["2"]}))
    assert code == 6 and len(err.strip().splitlines()) == 1 and "nothing of this run was" in err, err
    assert pg_url.rsplit("/", 1)[-1] in err
    assert not (tmp_path / "North" / "2026-11").exists() or not list((tmp_path / "North" / "2026-11").glob("*.html"))
    assert postgres.execute(pg_url, "SELECT period FROM runs") == [("2026-10",)]


def test_a_database_from_a_newer_analyzer_is_refused_in_one_line(tmp_path, pg_url, postgres):
    config = _practice(tmp_path, "North", pg_url, "October 2026", {"Acme Ltd": ["1"]})
    assert _run("run", "--config", config)[0] == 0
    postgres.execute(pg_url, "UPDATE schema_version SET version = 99")
    code, _, err = _run("history", "--config", config)
    assert code == 6 and "newer analyzer (schema 99" in err and len(err.strip().splitlines()) == 1


def test_a_server_that_cannot_be_reached_is_one_line_without_the_password(tmp_path, postgres):
    url = "postgresql://north:s3cret@127.0.0.1:1/practices"
    config = _practice(tmp_path, "North", url, "October 2026", {"Acme Ltd": ["1"]})
    code, _, err = _run("run", "--quiet", "--config", config)
    assert code == 6 and len(err.strip().splitlines()) == 1, err
    assert "postgresql://north@127.0.0.1:1/practices" in err and "s3cret" not in err
    assert not (tmp_path / "North" / "2026-10" / "index.html").exists()


def test_a_missing_driver_names_the_extra(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a))
    code, _, err = _run("history", "--db", "postgresql://someone@db.example/practices")
    assert code == 2 and "pip install '.[postgres]'" in err and len(err.strip().splitlines()) == 1


def test_a_location_of_another_kind_is_a_usage_error(tmp_path):
    code, _, err = _run("history", "--db", "mysql://someone@db.example/practices")
    assert code == 2 and "postgresql://" in err and len(err.strip().splitlines()) == 1


def test_a_version_4_sqlite_database_is_upgraded_in_place_keeping_its_rows(tmp_path):
    import sqlite3

    from analyzer import taught, tracking
    from analyzer.store import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "history.sqlite"
    with sqlite3.connect(path) as db:  # as the release before practice keys left it
        for script in MIGRATIONS[:4]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 4")
        db.execute("INSERT INTO runs (period, period_label, run_time, version, rows) VALUES"
                   " ('2026-09', 'September 2026', '2026-10-03T07:00:00', '0.1.0', 1)")
        db.execute("INSERT INTO run_clients (run_id, client, state) VALUES (1, 'Acme Ltd', 'failing')")
        db.execute("INSERT INTO tracking (client, item_key, status, updated) VALUES ('Acme Ltd', 'id:1', 'Done', 'x')")
        db.execute("INSERT INTO taught (template, message, category, taught_at) VALUES ('t', 'm', 'lock_date', 'x')")
    assert history.known_clients(path) == {"Acme Ltd"}
    assert tracking.load(path)["status"].tolist() == ["Done"] and taught.taught(path) == {"t": "lock_date"}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT practice, period FROM runs").fetchall() == [("", "2026-09")]
    # A config that already named its practice keeps its history: the first practice with a key
    # takes the rows of the file's one practice; after that, another practice sees none of them.
    assert history.known_clients(Store(path, "Harbour & Co")) == {"Acme Ltd"}
    assert tracking.load(Store(path, "Harbour & Co"))["status"].tolist() == ["Done"]
    assert taught.taught(Store(path, "Harbour & Co")) == {"t": "lock_date"}
    assert history.known_clients(Store(path, "Another practice")) == set()
    assert history.known_clients(Store(path, "Harbour & Co")) == {"Acme Ltd"}


def test_a_file_shared_by_a_practice_with_no_key_and_one_with_a_key_keeps_each_ones_rows(tmp_path):
    from analyzer import taught
    from analyzer.catalog import load_default_catalog

    path, catalog, when = tmp_path / "shared.sqlite", load_default_catalog(), dt.datetime(2026, 11, 1)
    taught.teach(Store(path), "Contact name 'A' is too long", "contact_missing", catalog, when)  # no key, first
    taught.teach(Store(path, "B"), "Quantity must be positive", "item_code_invalid", catalog, when)
    assert list(taught.taught(Store(path)).values()) == ["contact_missing"]
    assert list(taught.taught(Store(path, "B")).values()) == ["item_code_invalid"]


@pytest.mark.parametrize("location", ["postgresql://u@[bad/db", "postgresql://u:secret@[::1/db", "postgresql://u@host:port/db"])
def test_a_malformed_database_address_is_one_line_without_the_password(tmp_path, location):
    code, _, err = _run("history", "--db", location)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err and "secret" not in err, err


def test_a_sqlite_store_another_program_holds_is_not_called_broken(tmp_path, monkeypatch):
    """'Move it aside to start a new one' would throw a healthy history away."""
    import sqlite3

    from analyzer import store as stores

    monkeypatch.setattr(stores, "SQLITE_WAIT_S", 0.2)
    path = tmp_path / "history.sqlite"
    stores.connect(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(stores.StoreError, match="another program is using") as caught:
            stores.connect(path)
        assert "move it aside" not in str(caught.value)
    finally:
        holder.close()
