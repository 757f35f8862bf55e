import pytest


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from the current output (review the diff like code)")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


# ---------------------------------------------------------------------------------------------
# The state store on both backends: the embedded SQLite file, and a real PostgreSQL


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the session (started on first use). Skipped, with the reason, only
    where Debian's server is not installed; on CI (.ci/run installs it) a missing server fails."""
    import os

    from pg_server import server_binaries, start

    binaries = server_binaries()
    missing = "PostgreSQL server binaries not found (apt-get install postgresql)" if binaries is None else ""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing = missing or "psycopg is not installed (pip install '.[postgres]')"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: CI must test the PostgreSQL store")
        pytest.skip(missing)
    server, stop = start(binaries)
    yield server
    stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    """Where a test's state store is: a SQLite file, or a fresh database on the test server."""
    if request.param == "sqlite":
        return str(tmp_path / "out" / "history.sqlite")
    return request.getfixturevalue("postgres").new_database()
