"""Each client's report as a job: its rows of the batch and of the Items table, what carried
over for it, and the context to render it; and the pool of worker processes that renders the
jobs, a few in flight at a time."""

from __future__ import annotations

import ctypes
import itertools
import threading
import time
import datetime as dt
import multiprocessing
import os
import pickle
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from analyzer import __version__
from analyzer.cpus import idle_cpus, usable_cpus
from analyzer.history import HistoryView
from analyzer.items_table import REPEAT_COLUMN, TRACKING, items_table
from analyzer.plan import Plan
from analyzer.report_model import FAILING, ITEM_FIELDS, ClientReport, Source, reason_counts
from analyzer.row_arrays import RowArrays
from analyzer.tracking import KEY_COLUMN, RowTracking
from analyzer.workflow import row_tracking_of
from analyzer.write import safe_name, write_new

if TYPE_CHECKING:
    from analyzer.pipeline import Analysis


def release_free_memory() -> None:
    """Give the free memory of the C heap and of Arrow's allocator back to the system. glibc keeps
    what large temporary arrays used (about 200 MB after planning a million rows); Arrow's
    mimalloc keeps what its compute kernels used (about 350 MB after building a million rows'
    report jobs), and both counted at the run's peak. Elsewhere than glibc, Arrow's part only."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    arrow = sys.modules.get("pyarrow")  # not imported: nothing of it to give back
    if arrow is not None:
        arrow.default_memory_pool().release_unused()


_ALWAYS = {*TRACKING, "Fix", "Also needs", "Categories", "Error", "Source file", "Source row", KEY_COLUMN,
           REPEAT_COLUMN}


class _Shared:
    """What each client's job takes from the whole batch, worked out once for all clients rather
    than once per client (which cost tens of milliseconds a client, whatever its size): which
    columns of the Items table hold a value for each client, and each row's source file."""

    def __init__(self, table: pd.DataFrame, fields: pd.DataFrame, clients, tables):
        owner = np.full(len(table), -1, dtype=np.int64)
        self.position = {}
        for number, client in enumerate(clients):
            owner[client.rows] = number
            self.position[client.name] = number
        owned = owner >= 0
        # Per column, whether each client has a value in it: one pass over the column.
        self.filled = {name: np.bincount(owner[owned & _filled(table[name])], minlength=len(clients)) > 0
                       for name in table.columns if name not in _ALWAYS}
        self.columns = list(table.columns)
        self.file_codes, self.files = pd.factorize(fields["source_file"].astype(object), sort=False)
        self.empty: dict[str, set[str]] = {}  # client -> its header-only exports
        for info in tables:
            if info.client and not info.merged and not info.rows:
                self.empty.setdefault(info.client, set()).add(info.source_file)

    def kept_columns(self, client: str, part: RowArrays) -> RowArrays:
        """A client's rows of the Items table, without the columns only other clients' files have."""
        number = self.position[client]
        return part.select([c for c in self.columns if c in _ALWAYS or self.filled[c][number]])

    def client_sources(self, sources: tuple[Source, ...], rows: np.ndarray, client: str) -> tuple[Source, ...]:
        """The files this client's rows came from, each with the number of rows that are this
        client's, and the files that stand for the client with no rows (header-only exports)."""
        codes, counts = np.unique(self.file_codes[rows], return_counts=True)
        found = {str(self.files[c]): int(n) for c, n in zip(codes, counts) if c >= 0}
        empty = self.empty.get(client, set())
        return tuple(replace(s, rows=found.get(s.path, 0)) for s in sources if s.path in found or s.path in empty)


def _filled(column: pd.Series) -> np.ndarray:
    """Per row: does the cell count as a value (numbers and dates: present; text: not blank)?
    The test `_kept_columns` made per client, made once for every row (for a categorical column,
    once per category)."""
    if column.dtype.kind in "fMmiub":
        return column.notna().to_numpy()
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = _blank_test(pd.Series(column.cat.categories))
        missing = _blank_test(pd.Series([None], dtype=column.dtype))[0]  # as the test judges a missing cell
        codes = column.cat.codes.to_numpy()
        return np.where(codes >= 0, categories[codes], missing) if len(categories) else np.full(len(codes), missing)
    return _blank_test(column)


def _blank_test(column: pd.Series) -> np.ndarray:
    return (column.astype("str").str.strip() != "").to_numpy(dtype=bool)


def _row_lookups(analysis: Analysis):
    values = [tuple(dict.fromkeys(v for f in fs for v in f.values)) for fs in analysis.classified.findings]
    # A category the similarity stage gave (not a pattern) is marked with "?": "probably".
    categories = ["+".join(dict.fromkeys(f.category + ("?" if f.match == "similar" else "") for f in fs))
                  for fs in analysis.classified.findings]
    return values, categories


def _sources(analysis: Analysis) -> tuple[Source, ...]:
    rows: dict[str, int] = {}
    for info in analysis.batch.tables:
        rows[info.source_file] = rows.get(info.source_file, 0) + info.rows
    reasons: dict[str, list[str]] = {}
    for skip in analysis.batch.skipped:
        reasons.setdefault(skip.source_file, []).append(skip.reason)
    failed = {f.split(": ", 1)[0]: f for f in analysis.failures}
    return tuple(
        Source(i.path, rows.get(i.path, 0), len(reasons.get(i.path, ())), _status(i, failed, rows),
               i.error or failed.get(i.path, ""), reason_counts((reason, 1) for reason in reasons.get(i.path, ())))
        for i in analysis.inputs
    )


def _status(read, failed: dict[str, str], rows: dict[str, int]) -> str:
    """ok; failed (nothing of it read); or partial: a workbook one of whose sheets could not be
    read while another's rows were (a --column naming a column only one sheet has)."""
    if not read.ok:
        return "failed"
    if read.path in failed:
        return "partial" if read.path in rows else "failed"
    return "ok"


@dataclass(frozen=True)
class Carried:
    """What the run carries over for the clients it renders."""

    seen: HistoryView | None = None
    tracking: RowTracking | None = None
    keys: pd.Series | None = None
    states: dict[str, str] = field(default_factory=dict)
    cleared: dict[str, tuple] = field(default_factory=dict)
    stems: dict[str, str] = field(default_factory=dict)


def client_jobs(analysis: Analysis, plan: Plan, clients, settings, period: str,
                report_date: dt.datetime, carried: Carried = Carried(), out: Path | None = None):
    """Each client's rendering job, made only when taken, so the parent never holds every
    client's rows twice."""
    from analyzer.render import ClientJob, RenderContext

    seen = carried.seen
    table = items_table(analysis, plan, seen, carried.tracking, carried.keys)
    release_free_memory()
    sources = _sources(analysis)
    per_cell_values, per_cell_categories = _row_lookups(analysis)
    suggestions = {f.template: (analysis.catalog.category(f.suggestion).title, f.confidence)
                   for findings in analysis.classified.findings for f in findings if f.suggestion}
    not_looked_up = {f.template: f.not_consulted for findings in analysis.classified.findings for f in findings
                     if f.not_consulted}
    stems = carried.stems or _stems(clients)
    shared = _Shared(table, analysis.batch.fields, clients, analysis.batch.tables)
    for client, fields, items in _client_rows(analysis.batch.fields, table, clients):
        rows = fields.index
        cells = analysis.classified.codes[rows]
        present = np.unique(cells)
        yield ClientJob(
            plan=client,
            fields=fields,
            items=shared.kept_columns(client.name, items),
            cells=cells,
            cell_values={int(c): per_cell_values[c] for c in present},
            cell_categories={int(c): per_cell_categories[c] for c in present},
            history=(seen.status[rows], seen.first_seen[rows]) if seen else None,
            client_history=seen.clients.get(client.name) if seen else None,
            tracking=row_tracking_of(rows, carried.tracking),
            state=carried.states.get(client.name, FAILING),
            cleared=carried.cleared.get(client.name, ()),
            previous_period=_previous_period(seen, client.name),
            suggestions={t: suggestions[t] for t, _ in client.templates if t in suggestions},
            not_looked_up={t: not_looked_up[t] for t, _ in client.templates if t in not_looked_up},
            stem=stems[client.name],
            context=RenderContext(
                catalog=analysis.catalog, practice=settings.practice, period=period, run_date=report_date,
                version=__version__, sources=shared.client_sources(sources, rows, client.name),
                notes=plan.notes, out=out or settings.out, formats=settings.formats, templates=settings.templates,
            ),
        )


def _client_rows(fields: pd.DataFrame, table: pd.DataFrame, clients, batch_rows: int = 10_000):
    """(client, its typed fields, its Items rows) as RowArrays indexed by batch row. Rows are
    gathered and turned into plain arrays for several clients at once: gathering from a column
    Arrow holds in many chunks, or reading a column of a DataFrame, costs the same whatever the
    number of rows, which for a thousand clients and seventy columns would be minutes."""
    batch: list = []
    gathered = 0
    columns = [fields.columns.get_loc(name) for name in ITEM_FIELDS]  # only what a report reads
    for client in [*clients, None]:
        if client is not None:
            batch.append((client, np.sort(client.rows)))
            gathered += len(client.rows)
        if batch and (client is None or gathered >= batch_rows):
            rows = np.concatenate([r for _, r in batch])
            some_fields = RowArrays.of(fields.iloc[rows, columns].set_axis(rows))
            some_items = RowArrays.of(table.iloc[rows].set_axis(rows))
            start = 0
            for member, member_rows in batch:
                end = start + len(member_rows)
                yield member, some_fields.slice(start, end), some_items.slice(start, end)
                start = end
            batch, gathered = [], 0
            release_free_memory()


def _stems(clients) -> dict[str, str]:
    return stems_for([client.name for client in clients])


def stems_for(names) -> dict[str, str]:
    """Each client's file name stem, unique and safe on every system."""
    taken: set[str] = set()
    return {name: safe_name(name, taken) for name in names}


# Parallel rendering pays only when there is enough of it: starting the workers costs about a
# second of CPU each (they import pandas, Jinja and XlsxWriter), and on a busy two-core machine
# two workers beside the parent ran a small month slower than one process (tests/perf/bench.py).
PARALLEL_MIN_ROWS = 50_000
PARALLEL_MIN_CLIENTS = 8
MAX_WORKERS = 4  # past this the parent, which builds each client's job, is what everyone waits for
ROWS_PER_WORKER = 25_000  # each further worker needs this much more work to pay for itself


def default_workers(clients: int, rows: int, cpus: int | None = None, load: float | None = None) -> int:
    """How many processes render clients when `--workers` is not given: one for a small month or
    a busy machine; else one per idle usable CPU, at most one per ROWS_PER_WORKER rows and
    MAX_WORKERS."""
    cpus = idle_cpus(usable_cpus() if cpus is None else cpus, load)
    if cpus < 2 or clients < PARALLEL_MIN_CLIENTS or rows < PARALLEL_MIN_ROWS:
        return 1
    return max(1, min(cpus, MAX_WORKERS, clients, rows // ROWS_PER_WORKER))


def _render_all(jobs, total: int, workers: int, progress: Callable[[int, int], None],
                rows: int = 0) -> tuple[ClientReport, ...]:
    """Clients render in parallel processes when there is enough work to pay for it (see
    `default_workers`). Only a few jobs are in flight at once, so the parent never holds every
    client's rows twice; the catalog goes to each worker once, not with every job."""
    workers = workers or default_workers(total, rows)
    reports: list[ClientReport] = []
    if workers <= 1:
        for job in jobs:
            reports.append(render_and_write(job))
            progress(len(reports), total)
        return tuple(reports)
    jobs = iter(jobs)
    first = next(jobs, None)
    if first is None:
        return ()
    catalog = first.context.catalog
    # Each client's summary comes back as the bytes it was pickled to, and is unpickled only once
    # every client is rendered: unpickled as it came, its few hundred small objects landed among
    # the rows of the batch being built and kept those pages of the heap from being given back
    # (at 300,000 rows, 44 MB more at the end of the rendering).
    sent_back: list[bytes] = []
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context(), initializer=_start_worker,
                               initargs=(os.getpid(), catalog))
    try:
        pending: deque = deque()
        for job in itertools.chain([first], jobs):
            sent = job.with_catalog(None) if job.context.catalog is catalog else job
            pending.append(pool.submit(_render_sent, sent))
            if len(pending) >= workers * 2:
                sent_back.append(pending.popleft().result())
                progress(len(sent_back), total)
        while pending:
            sent_back.append(pending.popleft().result())
            progress(len(sent_back), total)
    except BaseException:
        # Interrupted, or a job failed: the workers stop now rather than finish their queue.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return tuple(pickle.loads(summary) for summary in sent_back)


_catalog_here = None  # in a worker: the run's catalog, sent once when the worker starts


def _start_worker(run_pid: int, catalog) -> None:
    global _catalog_here
    _catalog_here = catalog
    die_with_parent(run_pid)


def _render_sent(job) -> bytes:
    """In a worker: render a job sent without its catalog (about 400 kB a job when pickled);
    its summary pickled here (see `_render_all`)."""
    if job.context.catalog is None:
        job = job.with_catalog(_catalog_here)
    return pickle.dumps(render_and_write(job), protocol=pickle.HIGHEST_PROTOCOL)


def render_and_write(job) -> ClientReport:
    """Build, render and write one client's reports; return only what the overview needs."""
    from analyzer.render import render_files  # only reports need Jinja and XlsxWriter

    summary, files = render_files(job)
    for name, data in files.items():
        write_new(job.context.out / name, data)
    return summary


def die_with_parent(run_pid: int) -> None:
    """A worker ends soon after the run that started it does, however the run ended (a SIGKILL
    included): a killed run leaves no worker rendering for nobody. Workers are children of the
    fork server, not of the run, and each holds the pipes that keep the fork server and its
    siblings waiting, so none would notice the run's death by itself: a thread watches the run's
    process and ends the worker when it is gone."""
    def watch() -> None:
        while _running(run_pid):
            time.sleep(0.2)
        os._exit(1)
    threading.Thread(target=watch, name="die-with-run", daemon=True).start()


def _running(pid: int) -> bool:
    """Whether a process runs: a killed one its parent has not yet reaped (a zombie) does not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): ask the kernel whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # the pid now belongs to another user's process: ours is gone
            return False
        return True


def _worker_context():
    """Workers started from a small server process that has imported only the renderer, rather
    than forked from this one: a worker then holds only the jobs it is sent, not the whole batch
    copy-on-write (where any page its garbage collector touches is copied). At a million rows the
    tree's peak memory measured the same either way (2,144 MB; fork with gc.freeze 2,130 MB),
    and Python 3.14 makes this the default. Where there is no fork server (Windows, macOS'
    default) the platform's default."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["analyzer.render"])
    return context




def _previous_period(seen: HistoryView | None, client: str) -> str:
    """The client's own last run, which may be older than the last run of the practice."""
    history = seen.clients.get(client) if seen else None
    return history.previous_period if history else ""
