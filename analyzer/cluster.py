"""Running a practice's work on a Dask distributed cluster (`--scheduler tcp://host:8786`).

Reading each input and building and rendering each client's reports become tasks on the
cluster's workers; everything else (discovering the inputs, normalising, classifying, planning,
the overview, the history, the staged and atomic publishing) stays in the run's own process, as
in a local run. A worker needs neither the input nor the output folders: a read task is sent the
file's bytes and reads them from a private temporary copy, and a render task returns each file's
bytes, which the run writes into its staging folder. A practice's templates folder travels the
same way. The reports are therefore the very bytes a local run writes (tests/test_cluster.py).

Dask is an optional extra (`pip install '.[cluster]'`), imported only here and only when a
scheduler is given, so the embedded default never loads it.
"""

from __future__ import annotations

import atexit
import logging
import re
import shutil
import tempfile
from collections import deque
from concurrent.futures import CancelledError
from dataclasses import replace
from pathlib import Path
from typing import Callable

from analyzer import __version__
from analyzer.errors import ClusterAddressError, ClusterError, MissingExtra
from analyzer.read import InputFile, Limits, read_export

CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler before giving up with one line
IN_FLIGHT_PER_WORKER = 3  # tasks queued per worker: enough to keep it busy, few enough to bound memory
_TEMPLATE_BYTES = 16 * 1024 * 1024  # a templates folder larger than this is not a templates folder


# tcp://host:port (the form `dask scheduler` prints), tls:// or ws:// alike, host:port, or an
# in-process address (tests).
_WELL_FORMED = re.compile(r"(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}/?|inproc://\S+")

class Cluster:
    """A connection to a Dask scheduler, and the two kinds of task a run gives it."""

    def __init__(self, address: str, client) -> None:
        self.address = address
        self.client = client

    @classmethod
    def connect(cls, address: str, timeout: float | None = None) -> "Cluster":
        """Reach the scheduler and check its workers run this analyzer version; one line
        (ClusterError) when it cannot be reached, MissingExtra when Dask is not installed."""
        try:
            from distributed import Client
        except ImportError:
            raise MissingExtra(f"{address}: the cluster engine is not installed;"
                               " pip install '.[cluster]'") from None
        if not _WELL_FORMED.fullmatch(address.strip()):
            raise ClusterAddressError(f"{address!r}: not a scheduler address; give tcp://HOST:PORT"
                                      " (e.g. tcp://10.0.0.5:8786)")
        # Dask logs its own ERROR lines when the scheduler goes (a reconnect given up); the
        # ClusterError raised is the one line the practice reads.
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        try:
            client = Client(address, timeout=timeout or CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise ClusterError(f"{address}: cannot reach the Dask scheduler ({_reason(exc)}); start it with"
                               " `dask scheduler` and check the address and port") from None
        cluster = cls(address, client)
        try:
            cluster._check_workers()
        except BaseException:
            cluster.close()
            raise
        return cluster

    def close(self) -> None:
        try:
            self.client.close(timeout=5)
        except Exception:  # closing a connection the scheduler already dropped: nothing left to do
            pass

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def workers(self) -> int:
        try:
            return max(1, len(self.client.scheduler_info(n_workers=-1).get("workers", {})))
        except Exception as exc:
            raise ClusterError(self._lost(exc)) from None

    def _check_workers(self) -> None:
        """Every worker must run this analyzer's version, or reports would differ by machine."""
        try:
            versions = self.client.run(_analyzer_version)
        except Exception as exc:
            raise ClusterError(self._lost(exc)) from None
        if not versions:
            return  # no worker yet: tasks wait for one, as Dask does
        others = sorted({f"{w} has {v}" for w, v in versions.items() if v != __version__})
        if others:
            raise ClusterError(f"{self.address}: the Dask workers must run analyzer {__version__} as this run does,"
                               f" but {others[0]}{' (and others)' if len(others) > 1 else ''}; install the same"
                               " version on every worker")

    # -- reading -----------------------------------------------------------------------------

    def read(self, files, limits: Limits) -> list[InputFile]:
        """Every file read by a worker, in the order given. A file that is not a regular file,
        is over the size limit or changes while it is sent is read here instead, which names the
        problem exactly as a local run does."""
        results: list[InputFile | None] = [None] * len(files)
        pending: deque = deque()
        limit = self.workers() * IN_FLIGHT_PER_WORKER

        for index, path in enumerate(files):
            data = _payload(Path(path), limits)
            if data is None:
                results[index] = read_export(path, limits)
                continue
            pending.append((index, self._submit(read_sent, str(path), self._scatter(data), limits)))
            del data
            while len(pending) >= limit:
                done, future = pending.popleft()
                results[done] = self._result(future)
        while pending:
            done, future = pending.popleft()
            results[done] = self._result(future)
        return results  # type: ignore[return-value]

    # -- rendering ---------------------------------------------------------------------------

    def render(self, jobs, total: int, progress: Callable[[int, int], None]) -> tuple:
        """Each client's reports built and rendered by a worker; the files it returns are written
        here, into the job's folder (the run's staging folder), as each task finishes. A few jobs
        are in flight at once, so this process never holds every client's rows twice; the
        summaries come back in the jobs' order, as from the local pool."""
        from distributed import as_completed

        finished = as_completed(loop=self.client.loop)  # this client's loop: it is not the default client
        reports: dict[int, object] = {}
        pending: dict = {}  # future -> (job number, the folder its files go to)
        limit = self.workers() * IN_FLIGHT_PER_WORKER
        templates: dict = {}
        catalogs: dict = {}  # id -> (catalog, its future): sent to every worker once, not with each job

        def take() -> None:
            try:
                future = next(finished)
            except Exception as exc:
                raise ClusterError(self._lost(exc)) from None
            number, out = pending.pop(future)
            summary, files = self._result(future)
            for name, data in files.items():  # outside _result: a write failure is the output's, not the cluster's
                _write(out / name, data)
            reports[number] = summary
            progress(len(reports), total)

        try:
            for number, job in enumerate(jobs):
                folder = job.context.templates
                if folder is not None and folder not in templates:
                    templates[folder] = _snapshot(folder)
                sent = templates.get(folder) if folder is not None else None
                catalog = job.context.catalog
                if id(catalog) not in catalogs:
                    catalogs[id(catalog)] = (catalog, self._scatter(catalog, broadcast=True))
                future = self._submit(render_sent, job.with_catalog(None), sent,
                                      catalogs[id(catalog)][1])
                pending[future] = (number, job.context.out)
                finished.add(future)
                del job
                if len(pending) >= limit:
                    take()
            while pending:
                take()
        except BaseException:
            for future in pending:  # stopped or failed: the cluster need not finish this run's work
                future.cancel()
            raise
        return tuple(reports[number] for number in sorted(reports))

    # -- futures -----------------------------------------------------------------------------

    def _submit(self, function, *args):
        try:
            return self.client.submit(function, *args, pure=False)
        except Exception as exc:
            raise ClusterError(self._lost(exc)) from None

    def _scatter(self, data, broadcast: bool = False):
        """Large data go to a worker as data of their own, not inside the task's description
        (which Dask warns about, and holds on the scheduler); `broadcast`: to every worker."""
        try:
            return self.client.scatter(data, hash=False, broadcast=broadcast)
        except Exception as exc:
            raise ClusterError(self._lost(exc)) from None

    def _result(self, future):
        """The task's result. Its own exceptions (a practice's template failing) come through as
        raised; losing the scheduler or every worker is one ClusterError."""
        from distributed import TimeoutError as DaskTimeout
        from distributed.client import FutureCancelledError
        from distributed.comm import CommClosedError
        from distributed.scheduler import KilledWorker

        lost = (CancelledError, FutureCancelledError, CommClosedError, KilledWorker, DaskTimeout, TimeoutError,
                ConnectionError, EOFError)
        try:
            return future.result()
        except lost as exc:
            raise ClusterError(self._lost(exc)) from None

    def _lost(self, exc: BaseException) -> str:
        # A client Dask closed after giving up on the scheduler fails with its own AttributeError.
        why = "the connection was closed" if isinstance(exc, (AttributeError, TypeError)) else _reason(exc)
        return (f"{self.address}: lost the Dask scheduler or its workers mid-run ({why}); nothing of this"
                " run was published")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _analyzer_version() -> str:
    import analyzer

    return analyzer.__version__


def _write(target: Path, data: bytes) -> None:
    from analyzer.write import write_bytes

    write_bytes(target, data)


def _payload(path: Path, limits: Limits) -> bytes | None:
    """The file's bytes to send to a worker, or None when it should be read here: not a regular
    file, over the size limit, unreadable or changing. Reading it here then names the problem."""
    import stat

    try:
        before = path.stat()
        if not stat.S_ISREG(before.st_mode) or before.st_size > limits.max_file_bytes:
            return None
        data = path.read_bytes()
        after = path.stat()
    except OSError:
        return None
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or len(data) != after.st_size:
        return None
    return data


# -- the tasks: run on a worker ------------------------------------------------------------------

def read_sent(name: str, data: bytes, limits: Limits) -> InputFile:
    """Read a file from its bytes, as `read_export` reads it from disk, under its own name."""
    folder = tempfile.mkdtemp(prefix="analyzer-read-")
    try:
        copy = Path(folder) / (Path(name).name or "export")
        copy.write_bytes(data)
        del data
        result = read_export(copy, limits)
        return _named(result, str(copy), name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _named(result: InputFile, temporary: str, name: str) -> InputFile:
    """The file as read under its real name: its messages name the file, not the worker's copy."""
    sheets = tuple(replace(s, notes=tuple(n.replace(temporary, name) for n in s.notes)) for s in result.sheets)
    return replace(result, path=name, error=result.error.replace(temporary, name), sheets=sheets)


def render_sent(job, templates: tuple[str, tuple] | None, catalog=None):
    """render_files, with the run's catalog (sent to the worker once) put back in the job, and the
    practice's templates folder (if any) rebuilt from what was sent; a template that fails names
    the practice's folder, not the worker's copy."""
    from analyzer.errors import TemplateProblem
    from analyzer.render import render_files

    if catalog is not None:
        job = job.with_catalog(catalog)
    if templates is None:
        return render_files(job)
    original, _ = templates
    local = _materialised(templates)
    try:
        return render_files(replace(job, context=replace(job.context, templates=Path(local))))
    except TemplateProblem as exc:
        raise TemplateProblem(str(exc).replace(local, original)) from None


def _snapshot(folder: Path) -> tuple[str, tuple]:
    """A templates folder as data: (its path, ((relative name, bytes), ...))."""
    files, size = [], 0
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            size += len(data)
            if size > _TEMPLATE_BYTES:
                raise ClusterError(f"{folder}: the templates folder is over {_TEMPLATE_BYTES // 2**20} MB; keep only"
                                   " the templates in it")
            files.append((path.relative_to(folder).as_posix(), data))
    return str(folder), tuple(files)


_MATERIALISED: dict[int, str] = {}  # per worker process: templates sent -> the folder holding them


def _materialised(templates: tuple[str, tuple]) -> str:
    key = hash(templates)
    if key not in _MATERIALISED:
        folder = tempfile.mkdtemp(prefix="analyzer-templates-")
        atexit.register(shutil.rmtree, folder, True)
        for name, data in templates[1]:
            target = Path(folder, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        _MATERIALISED[key] = folder
    return _MATERIALISED[key]
