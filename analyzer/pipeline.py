"""The library's front door: read -> normalise -> classify (-> plan), without any command line.

The CLI builds these objects, calls one function and turns known failures into one-line errors;
anything else can do the same.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import multiprocessing
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from analyzer.catalog import Catalog, load_catalog
from analyzer.classify import Classified, classify_rows
from analyzer.normalise import Batch, Options, normalise_inputs
from analyzer.config import Period
from analyzer.history import HistoryView, compare, record
from analyzer.plan import Plan, item_keys, plan_actions
from analyzer.read import InputFile, Limits, discover, read_export
from analyzer.report_model import ClientReport, Overview, Source, build_overview
from analyzer.write import output_lock, safe_name, write_json
from analyzer import __version__

ADDED_COLUMNS = ("source_file", "source_row", "client", "error", "categories", "fixes", "template")


@dataclass
class Analysis:
    inputs: list[InputFile]
    batch: Batch
    classified: Classified
    catalog: Catalog
    failures: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.batch)

    def plan(self) -> Plan:
        return plan_actions(self.batch, self.classified, self.catalog)


def analyse(paths: list[str], options: Options = Options(), limits: Limits = Limits(),
            catalog_files: tuple[Path, ...] = ()) -> Analysis:
    """Read every input that can be read; the rest are named in `failures`."""
    catalog = load_catalog(catalog_files)
    found = discover(paths)
    inputs = list(found.errors) + [read_export(p, limits) for p in found.files]
    batch = normalise_inputs(inputs, options)
    classified = classify_rows(batch.fields["error"], catalog)
    failures = [i.error for i in inputs if not i.ok] + list(batch.failures)
    return Analysis(inputs, batch, classified, catalog, failures)


def classified_table(analysis: Analysis) -> pd.DataFrame:
    """One row per data row, in input order: the input's own columns and the classification."""
    fields = analysis.batch.fields
    values = analysis.catalog.value_names
    result = analysis.classified.columns(values)
    table = pd.DataFrame({
        "source_file": fields["source_file"],
        "sheet": fields["sheet"],
        "source_row": fields["source_row"],
        "client": fields["client"],
    })
    original = analysis.batch.original
    taken = {c.casefold() for c in (*ADDED_COLUMNS, "sheet", *values)}
    for column in original.columns:
        name = f"{column} (input)" if column.casefold() in taken else column
        table[name] = original[column].array
    table["error"] = fields["error"].array
    for column in ("categories", "fixes", "template", *values):
        table[column] = result[column].array
    if not table["sheet"].astype(bool).any():
        table = table.drop(columns="sheet")
    return table


# ---------------------------------------------------------------------------------------------
# Reports

ITEM_FIELDS = {  # standard field -> Items sheet heading; the typed version of the item's columns
    "item_id": "Item ID", "date": "Date", "due_date": "Due date", "doc_type": "Type",
    "invoice_number": "Invoice number", "supplier": "Supplier", "customer": "Customer",
    "amount": "Amount", "tax": "Tax", "currency": "Currency", "category": "Category",
    "tax_name": "Tax name", "tax_code": "Tax code", "payment_method": "Payment method",
    "bank_account": "Bank account", "project": "Project", "status": "Export status", "owner": "Owner",
    "description": "Description", "link": "Link",
}


def items_table(analysis: Analysis, plan: Plan, seen: HistoryView | None = None) -> pd.DataFrame:
    """Every row for the Items sheets: its fix, categories and values, its own columns (typed
    where the role is known), the original error and where it came from. Indexed by batch row."""
    fields = analysis.batch.fields
    n = len(fields)
    titles = np.full(n, "", dtype=object)
    also = np.full(n, "", dtype=object)
    for client in plan.clients:
        for group in client.groups:
            rows = group.rows
            first = titles[rows] == ""
            titles[rows[first]] = group.title
            seconds = rows[~first]
            also[seconds] = [f"{a}; {group.title}" if a else group.title for a in also[seconds]]
        for row, original in client.duplicates.items():
            titles[row] = f"Duplicate of {_where(fields, original)}: counted once"
    values = analysis.catalog.value_names
    classified = analysis.classified.columns(values)
    table = pd.DataFrame({"Fix": titles, "Also needs": also, "Categories": classified["categories"].array})
    if seen is not None:
        table["History"] = seen.status
        table["First seen"] = pd.to_datetime(pd.Series(seen.first_seen, dtype=object)).to_numpy()
        table["Runs seen"] = seen.runs_seen
    for name in values:
        column = classified[name]
        if column.astype(bool).any():
            heading = name.replace("_", " ").capitalize()
            # A value read from the error is not the item's own field of the same name.
            heading = f"{heading} (in error)" if heading in ITEM_FIELDS.values() else heading
            table[heading] = column.array
    for role, heading in ITEM_FIELDS.items():
        column = fields[role]
        if column.dtype.kind in "Mf" and column.notna().any() or column.dtype.kind not in "Mf" and column.astype(bool).any():
            table[heading] = column.array
    mapped = {h for info in analysis.batch.tables for r, h in info.roles.items() if r in ITEM_FIELDS or r in ("client", "error")}
    for column in analysis.batch.original.columns:
        if column not in mapped:
            table[column if column not in table.columns else f"{column} (input)"] = analysis.batch.original[column].array
    table["Error"] = fields["error"].array
    codes, paths = pd.factorize(fields["source_file"], sort=False)
    table["Source file"] = pd.Categorical.from_codes(codes, [p.replace("\\", "/").rsplit("/", 1)[-1] for p in paths])
    if fields["sheet"].astype(bool).any():
        table["Source sheet"] = fields["sheet"].array
    table["Source row"] = fields["source_row"].array
    return table


@dataclass(frozen=True)
class ReportSettings:
    out: Path = Path("reports")
    formats: tuple[str, ...] = ("html", "xlsx")
    practice: str = ""
    period: Period | None = None  # default: the month before the run date
    history: Path | None = None  # run history database; None keeps no history
    templates: Path | None = None
    clients: tuple[str, ...] = ()  # only these clients (case-insensitive); all when empty
    workers: int = 0  # 0: one per core when there are enough clients to gain from it
    lock_timeout: float = 60.0  # how long to wait for another run writing the same folder


@dataclass(frozen=True)
class ReportRun:
    analysis: Analysis
    plan: Plan
    reports: tuple[ClientReport, ...]
    overview: Overview
    manifest: dict
    written: tuple[str, ...]


def run_report(analysis: Analysis, settings: ReportSettings, run_date: dt.datetime,
               progress: Callable[[int, int], None] | None = None) -> ReportRun:
    """Plan, render and write every client's reports, then the index, overview and manifest,
    holding the output folder's lock throughout."""
    with output_lock(settings.out, settings.lock_timeout):
        return _run_report(analysis, settings, run_date, progress)


def _run_report(analysis, settings, run_date, progress) -> ReportRun:
    from analyzer.render import write_overview  # only reports need Jinja and XlsxWriter

    plan = analysis.plan()
    release_free_memory()
    wanted = {c.casefold() for c in settings.clients}
    clients = [c for c in plan.clients if not wanted or c.name.casefold() in wanted]
    period = settings.period or Period.previous_month(run_date.date())
    # Reports carry the run date only; the exact run time is in manifest.json alone, so running
    # again on the same inputs the same day gives identical reports.
    report_date = dt.datetime.combine(run_date.date(), dt.time())
    memory = _history_items(analysis, plan)
    seen = compare(settings.history, period.slug, memory) if settings.history else None
    sources = _sources(analysis)
    jobs = client_jobs(analysis, plan, clients, settings, period.label, report_date, seen)
    reports = _render_all(jobs, len(clients), settings.workers, progress or (lambda done, total: None))
    overview = build_overview(
        list(reports), analysis.catalog, practice=settings.practice, period=period.label, run_date=report_date,
        version=__version__, sources=sources, skipped=len(analysis.batch.skipped), failures=tuple(analysis.failures),
    )
    written = [f for r in reports for f in (r.html_file, r.xlsx_file) if f]
    written.extend(write_overview(overview, settings.out, settings.formats, settings.templates))
    manifest = build_manifest(analysis, reports, settings, run_date, period.label)
    write_json(settings.out / "manifest.json", manifest)
    written.append("manifest.json")
    if settings.history:
        record(settings.history, period.slug, period.label, run_date, __version__, memory)
    return ReportRun(analysis, plan, tuple(reports), overview, manifest, tuple(written))


def release_free_memory() -> None:
    """Give the C heap's free memory back to the system (glibc keeps what large temporary arrays
    used, about 200 MB after planning a million rows). Elsewhere nothing to do."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _where(fields: pd.DataFrame, row: int) -> str:
    name = str(fields["source_file"].iat[row]).replace("\\", "/").rsplit("/", 1)[-1]
    sheet = fields["sheet"].iat[row]
    return f"{name}{' [' + sheet + ']' if sheet else ''} row {fields['source_row'].iat[row]}"


def _history_items(analysis: Analysis, plan: Plan) -> pd.DataFrame:
    """What run history remembers of each row: who, which item, and what was wrong with it."""
    fields = analysis.batch.fields
    classified = analysis.classified.columns(())
    return pd.DataFrame({
        "client": fields["client"].array,
        "item_key": item_keys(fields).array,
        "item_id": fields["item_id"].array,
        "supplier": fields["supplier"].array,
        "date": fields["date"].dt.strftime("%Y-%m-%d").fillna("").array,
        "amount": fields["amount"].array,
        "currency": fields["currency"].array,
        "categories": classified["categories"].array,
        "fixes": classified["fixes"].array,
    })


def _kept_columns(part: pd.DataFrame) -> pd.DataFrame:
    """A client's rows of the Items table, without the columns only other clients' files have."""
    keep = [c for c in part.columns if c in _ALWAYS or _has_values(part[c])]
    return part[keep]


_ALWAYS = {"Fix", "Also needs", "Categories", "Error", "Source file", "Source row"}


def _has_values(column: pd.Series) -> bool:
    if column.dtype.kind in "fMmiub":
        return bool(column.notna().any())
    return bool((column.astype("str").str.strip() != "").any())


def _client_sources(analysis: Analysis, sources: tuple[Source, ...], rows: np.ndarray) -> tuple[Source, ...]:
    """The files this client's rows came from, each with the number of rows that are this client's."""
    counts = pd.Series(analysis.batch.fields["source_file"].to_numpy()[rows]).value_counts()
    return tuple(replace(s, rows=int(counts[s.path])) for s in sources if s.path in counts.index)


def _row_lookups(analysis: Analysis):
    values = [tuple(dict.fromkeys(v for f in fs for v in f.values)) for fs in analysis.classified.findings]
    categories = ["+".join(dict.fromkeys(f.category for f in fs)) for fs in analysis.classified.findings]
    return values, categories


def _sources(analysis: Analysis) -> tuple[Source, ...]:
    rows: dict[str, int] = {}
    for info in analysis.batch.tables:
        rows[info.source_file] = rows.get(info.source_file, 0) + info.rows
    skipped: dict[str, int] = {}
    for skip in analysis.batch.skipped:
        skipped[skip.source_file] = skipped.get(skip.source_file, 0) + 1
    failed = {f.split(": ", 1)[0]: f for f in analysis.failures}
    return tuple(
        Source(i.path, rows.get(i.path, 0), skipped.get(i.path, 0),
               "failed" if (not i.ok or i.path in failed) else "ok", i.error or failed.get(i.path, ""))
        for i in analysis.inputs
    )


def client_jobs(analysis: Analysis, plan: Plan, clients, settings: ReportSettings, period: str,
                report_date: dt.datetime, seen: HistoryView | None = None):
    """Each client's rendering job, made only when taken, so the parent never holds every
    client's rows twice."""
    from analyzer.render import ClientJob, RenderContext

    table = items_table(analysis, plan, seen)
    release_free_memory()
    sources = _sources(analysis)
    per_cell_values, per_cell_categories = _row_lookups(analysis)
    stems = _stems(clients)
    for client, fields, items in _client_rows(analysis.batch.fields, table, clients):
        rows = fields.index.to_numpy()
        cells = analysis.classified.codes[rows]
        present = np.unique(cells)
        yield ClientJob(
            plan=client,
            fields=fields,
            items=_kept_columns(items),
            cells=cells,
            cell_values={int(c): per_cell_values[c] for c in present},
            cell_categories={int(c): per_cell_categories[c] for c in present},
            history=(seen.status[rows], seen.first_seen[rows]) if seen else None,
            client_history=seen.clients.get(client.name) if seen else None,
            stem=stems[client.name],
            context=RenderContext(
                catalog=analysis.catalog, practice=settings.practice, period=period, run_date=report_date,
                version=__version__, sources=_client_sources(analysis, sources, rows),
                notes=plan.notes, out=settings.out, formats=settings.formats, templates=settings.templates,
            ),
        )


def _client_rows(fields: pd.DataFrame, table: pd.DataFrame, clients, batch_rows: int = 10_000):
    """(client, its typed fields, its Items rows), indexed by batch row. Rows are gathered for
    several clients at once: gathering from a column Arrow holds in many chunks costs a few
    milliseconds a call whatever the number of rows, which for a thousand clients and forty
    columns would be minutes."""
    batch: list = []
    gathered = 0
    for client in [*clients, None]:
        if client is not None:
            batch.append((client, np.sort(client.rows)))
            gathered += len(client.rows)
        if batch and (client is None or gathered >= batch_rows):
            rows = np.concatenate([r for _, r in batch])
            some_fields, some_items = fields.iloc[rows].set_axis(rows), table.iloc[rows].set_axis(rows)
            start = 0
            for member, member_rows in batch:
                end = start + len(member_rows)
                yield member, some_fields.iloc[start:end], some_items.iloc[start:end]
                start = end
            batch, gathered = [], 0


def _stems(clients) -> dict[str, str]:
    taken: set[str] = set()
    return {client.name: safe_name(client.name, taken) for client in clients}


def _render_all(jobs, total: int, workers: int, progress: Callable[[int, int], None]) -> tuple[ClientReport, ...]:
    """Clients render in parallel processes when there are enough of them to pay for it. Only a
    few jobs are in flight at once, so the parent never holds every client's rows twice."""
    from analyzer.render import render_client

    workers = workers or (min(2, os.cpu_count() or 1) if total >= 8 else 1)
    reports: list[ClientReport] = []
    if workers <= 1:
        for job in jobs:
            reports.append(render_client(job))
            progress(len(reports), total)
        return tuple(reports)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context()) as pool:
        pending: deque = deque()
        for job in jobs:
            pending.append(pool.submit(render_client, job))
            if len(pending) >= workers * 2:
                reports.append(pending.popleft().result())
                progress(len(reports), total)
        while pending:
            reports.append(pending.popleft().result())
            progress(len(reports), total)
    return tuple(reports)


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


def build_manifest(analysis: Analysis, reports, settings: ReportSettings, run_date: dt.datetime, period: str) -> dict:
    """What was read, what was written, and the counts that must add up (rows in = rows reported)."""
    sources = _sources(analysis)
    reasons: dict[str, dict[str, int]] = {}
    for skip in analysis.batch.skipped:
        per_file = reasons.setdefault(skip.source_file, {})
        per_file[skip.reason] = per_file.get(skip.reason, 0) + 1
    hashes = {i.path: i.sha256 for i in analysis.inputs}
    reported = sum(r.rows for r in reports)
    return {
        "tool": "analyzer",
        "version": __version__,
        "run_time": run_date.isoformat(timespec="seconds"),
        "period": period,
        "options": {
            "formats": list(settings.formats), "practice": settings.practice,
            "history": str(settings.history or ""),
            "clients": list(settings.clients), "templates": str(settings.templates or ""),
        },
        "inputs": [
            {
                "path": s.path, "sha256": hashes.get(s.path, ""), "rows": s.rows,
                "skipped": {"count": s.skipped, "reasons": reasons.get(s.path, {})},
                "notes": [n for t in analysis.batch.tables if t.source_file == s.path for n in t.notes],
                "status": s.status, "message": s.message,
            }
            for s in sources
        ],
        "clients": [
            {
                "name": r.client, "rows": r.rows, "items": r.item_count, "status": r.status,
                **({} if r.new_items is None else {"new": r.new_items, "carried_over": r.carried_over, "cleared": r.cleared}),
                "fixes": _items_per_fix(r),
                "value": {m.currency: m.amount for m in r.money},
                "files": [f for f in (r.html_file, r.xlsx_file) if f],
            }
            for r in reports
        ],
        "totals": {
            "rows_read": analysis.rows_read, "rows_reported": reported,
            "rows_not_reported": analysis.rows_read - reported,  # rows of clients left out by --client
            "rows_skipped": len(analysis.batch.skipped), "clients": len(reports),
            "inputs_failed": sum(s.status == "failed" for s in sources),
        },
    }


def _items_per_fix(report) -> dict[str, int]:
    counts: dict[str, int] = {}
    for group in report.groups:
        counts[group.fix_id] = counts.get(group.fix_id, 0) + group.item_count
    return counts
