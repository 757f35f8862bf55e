"""A real PostgreSQL for the tests: Debian's server binaries (`apt-get install postgresql`, which
.ci/run does), a throw-away cluster made by initdb in a temporary folder, listening on a free
local port, run as a non-root user (initdb refuses root). Each test gets its own database."""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def server_binaries() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries (the newest version), if installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


@dataclass
class Server:
    port: int
    user: str = "analyzer"
    _names = itertools.count(1)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def execute(self, url: str, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(url, autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_owner(owner: pwd.struct_passwd | None) -> dict:
    """subprocess arguments that run a command as `owner` (when this process is root)."""
    if owner is None:
        return {}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": [],
            "env": {**os.environ, "HOME": owner.pw_dir, "USER": owner.pw_name, "LOGNAME": owner.pw_name}}


def start(binaries: Path):
    """Start a cluster; returns (server, stop)."""
    owner = None
    if os.geteuid() == 0:  # initdb and postgres refuse root: run them as Debian's postgres user
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            owner = pwd.getpwnam("nobody")
    folder = Path(tempfile.mkdtemp(prefix="analyzer-pg-"))
    data, log = folder / "data", folder / "server.log"
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    run_as = _as_owner(owner)
    server = Server(_free_port())
    subprocess.run([str(binaries / "initdb"), "-D", str(data), "-U", server.user, "--auth=trust", "-E", "UTF8",
                    "--locale=C"], check=True, capture_output=True, cwd=folder, **run_as)
    options = f"-p {server.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
    subprocess.run([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60",
                    "start"], check=True, capture_output=True, cwd=folder, **run_as)

    def stop() -> None:
        subprocess.run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, cwd=folder, **run_as)
        shutil.rmtree(folder, ignore_errors=True)
    return server, stop
