"""Render one client's report (HTML and Excel) as the bytes of its files: the unit of work a worker
process runs, so that clients render in parallel (the jobs write what it returns); and the
overview's pages."""

from __future__ import annotations

import datetime as dt
import gc
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from analyzer.catalog import Catalog
from analyzer.plan import ClientPlan
from analyzer.render_html import client_html_bytes, render_asks_html, render_index_html
from analyzer.render_xlsx import render_client_xlsx, render_overview_xlsx
from analyzer.read.discover import OVERVIEW_WORKBOOK
from analyzer.overview import Overview
from analyzer.report_model import FAILING, ClientReport, Source, build_client_report
from analyzer.row_arrays import RowArrays


@dataclass(frozen=True)
class RenderContext:
    catalog: Catalog
    practice: str
    period: str
    run_date: dt.datetime
    version: str
    sources: tuple[Source, ...]
    notes: tuple[str, ...]
    out: Path
    formats: tuple[str, ...]
    templates: Path | None = None


@dataclass(frozen=True)
class ClientJob:
    """One client's work, compact enough to send to a worker: its rows, each row's cell code
    (per-cell values and categories stored once), and its run history if kept."""

    plan: ClientPlan
    fields: RowArrays  # the client's typed fields, indexed by batch row
    items: RowArrays  # its rows of the Items table
    cells: np.ndarray  # per row (in `fields` order): its error cell's code
    cell_values: dict[int, tuple]
    cell_categories: dict[int, str]
    history: tuple[np.ndarray, np.ndarray] | None  # per row: "new"/"carried over"/"back again", period first seen
    client_history: object  # history.ClientHistory, or None when no history is kept
    stem: str
    context: RenderContext

    def with_catalog(self, catalog) -> ClientJob:
        """The job with another catalog (None: sent without it, the worker has it already; about
        400 kB a job when pickled)."""
        return replace(self, context=replace(self.context, catalog=catalog))
    tracking: dict = field(default_factory=dict)  # batch row -> report_model.Tracking
    state: str = FAILING
    cleared: tuple = ()  # report_model.ClearedItem, the items that cleared since the last run
    previous_period: str = ""
    suggestions: dict = field(default_factory=dict)  # unrecognised template -> (category title it looks like, score)
    not_looked_up: dict = field(default_factory=dict)  # unrecognised template -> why the catalog was not consulted


def build_report(job: ClientJob) -> ClientReport:
    """The client's full report, its items included."""
    ctx = job.context
    fields = job.fields
    rows = fields.index.tolist()
    cells = job.cells.tolist()
    history = dict(zip(rows, zip(*job.history))) if job.history is not None else None
    report = build_client_report(
        job.plan, fields, job.items, ctx.catalog, practice=ctx.practice, period=ctx.period,
        run_date=ctx.run_date, version=ctx.version, sources=ctx.sources, notes=ctx.notes,
        values={r: job.cell_values[c] for r, c in zip(rows, cells)},
        categories={r: job.cell_categories[c] for r, c in zip(rows, cells)},
        history=history, client_history=job.client_history, tracking=job.tracking, state=job.state,
        cleared_items=job.cleared, previous_period=job.previous_period,
    )
    report = replace(report, suggestions=job.suggestions, not_looked_up=job.not_looked_up)
    return replace(
        report,
        html_file=f"{job.stem}.html" if "html" in ctx.formats else "",
        xlsx_file=f"{job.stem}.xlsx" if "xlsx" in ctx.formats else "",
        asks_file=f"{job.stem} - what we need.html" if "html" in ctx.formats and report.client_asks else "",
    )


def render_files(job: ClientJob) -> tuple[ClientReport, dict[str, bytes]]:
    """Build and render one client's reports without writing them: the summary and each file's
    name and bytes. A cluster worker runs this and the run writes the files, so a worker never
    needs the output folder; the local pool writes them where it renders (jobs.render_and_write),
    from these same bytes."""
    with _collector_paused():
        return _render_files(job)


@contextmanager
def _collector_paused():
    """Python's cycle collector stays off while one client renders. A workbook is hundreds of
    thousands of small objects, and the collector kept walking them as they were made: 13% of a
    600-client month (tests/perf/bench.py; 31.5 s -> 27.5 s in interleaved runs). The garbage
    cycles one client leaves are collected as soon as it is back on, so memory stays bounded by
    the largest client. A cluster worker renders in several threads, whose renders overlap: the
    last one out turns it back on (only if it was on when the first came in), and each one
    leaving before then collects the youngest generation, where everything made during the
    pause is, so a finished client's garbage never waits for a moment no thread is rendering."""
    global _paused, _was_enabled
    with _pause_lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pause_lock:
            _paused -= 1
            others, enabled = _paused > 0, _was_enabled
            if not others and enabled:
                gc.enable()
        if others and enabled:
            gc.collect(0)


_pause_lock = threading.Lock()
_paused = 0
_was_enabled = True


def _render_files(job: ClientJob) -> tuple[ClientReport, dict[str, bytes]]:
    report = build_report(job)
    files: dict[str, bytes] = {}
    if report.html_file:
        files[report.html_file] = client_html_bytes(report, job.context.templates)
    if report.asks_file:
        files[report.asks_file] = render_asks_html(report, job.context.templates).encode("utf-8")
    if report.xlsx_file:
        files[report.xlsx_file] = render_client_xlsx(report)
    return summary_of(report), files


def summary_of(report: ClientReport) -> ClientReport:
    """The report without its rows: what the overview and manifest need, cheap to send back."""
    return replace(report, items_table=None, duplicates=(), cleared_items=(), category_titles=(),
                   groups=tuple(replace(g, items=()) for g in report.groups))


def overview_files(overview: Overview, formats: tuple[str, ...], templates: Path | None) -> dict[str, bytes]:
    """The practice's pages (index.html, overview.xlsx): each file's name and bytes."""
    files = {}
    if "html" in formats:
        workbook = OVERVIEW_WORKBOOK if "xlsx" in formats else ""
        files["index.html"] = render_index_html(overview, templates, workbook).encode("utf-8")
    if "xlsx" in formats:
        files[OVERVIEW_WORKBOOK] = render_overview_xlsx(overview)
    return files
