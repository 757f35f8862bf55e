"""The library's front door: read -> normalise -> classify (-> plan), without any command line.

The CLI builds these objects, calls one function and turns known failures into one-line errors;
anything else can do the same.
"""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analyzer.catalog import Catalog, load_catalog
from analyzer.classify import Classified, classify_rows
from analyzer.normalise import Batch, Options, normalise_inputs
from analyzer.plan import Plan, plan_actions
from analyzer.read import InputFile, Limits, discover, read_export
from analyzer.report_model import ClientReport, Overview, Source, build_overview
from analyzer.write import safe_name, write_json
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
        table[name] = original[column].to_numpy()
    table["error"] = fields["error"].to_numpy()
    for column in ("categories", "fixes", "template", *values):
        table[column] = result[column].to_numpy()
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


def items_table(analysis: Analysis, plan: Plan) -> pd.DataFrame:
    """Every row for the Items sheets: its fix, categories and values, its own columns (typed
    where the role is known), the original error and where it came from. Indexed by batch row."""
    fields = analysis.batch.fields
    n = len(fields)
    titles = np.full(n, "", dtype=object)
    also = np.full(n, "", dtype=object)
    for client in plan.clients:
        names = {g.key: g.title for g in client.groups}
        for group in client.groups:
            rows = group.rows
            first = titles[rows] == ""
            titles[rows[first]] = group.title
            seconds = rows[~first]
            also[seconds] = [f"{a}; {group.title}" if a else group.title for a in also[seconds]]
        del names
    values = analysis.catalog.value_names
    classified = analysis.classified.columns(values)
    table = pd.DataFrame({"Fix": titles, "Also needs": also, "Categories": classified["categories"].to_numpy()})
    for name in values:
        column = classified[name]
        if column.astype(bool).any():
            table[name.replace("_", " ").capitalize()] = column.to_numpy()
    for role, heading in ITEM_FIELDS.items():
        column = fields[role]
        if column.dtype.kind in "Mf" and column.notna().any() or column.dtype.kind not in "Mf" and column.astype(bool).any():
            table[heading] = column.to_numpy()
    mapped = {h for info in analysis.batch.tables for r, h in info.roles.items() if r in ITEM_FIELDS or r in ("client", "error")}
    for column in analysis.batch.original.columns:
        if column not in mapped:
            table[column if column not in table.columns else f"{column} (input)"] = analysis.batch.original[column].to_numpy()
    table["Error"] = fields["error"].to_numpy()
    table["Source file"] = fields["source_file"].map(lambda p: p.replace("\\", "/").rsplit("/", 1)[-1]).to_numpy()
    table["Source row"] = fields["source_row"].to_numpy()
    return table


@dataclass(frozen=True)
class ReportSettings:
    out: Path = Path("reports")
    formats: tuple[str, ...] = ("html", "xlsx")
    practice: str = ""
    period: str = ""
    templates: Path | None = None
    clients: tuple[str, ...] = ()  # only these clients (case-insensitive); all when empty
    workers: int = 0  # 0: one per core when there are enough clients to gain from it


@dataclass(frozen=True)
class ReportRun:
    analysis: Analysis
    plan: Plan
    reports: tuple[ClientReport, ...]
    overview: Overview
    manifest: dict
    written: tuple[str, ...]


def default_period(run_date: dt.datetime) -> str:
    """The previous calendar month: month-end runs happen a few days after it closed."""
    last_month = run_date.replace(day=1) - dt.timedelta(days=1)
    return last_month.strftime("%B %Y")


def run_report(analysis: Analysis, settings: ReportSettings, run_date: dt.datetime) -> ReportRun:
    """Plan, render and write every client's reports, then the index, overview and manifest."""
    from analyzer.render import ClientJob, RenderContext, write_overview  # only reports need Jinja/XlsxWriter

    plan = analysis.plan()
    wanted = {c.casefold() for c in settings.clients}
    clients = [c for c in plan.clients if not wanted or c.name.casefold() in wanted]
    period = settings.period or default_period(run_date)
    table = items_table(analysis, plan)
    sources = _sources(analysis)
    taken: set[str] = set()
    jobs = []
    per_row_values, per_row_categories = _row_lookups(analysis)
    for client in clients:
        stem = safe_name(client.name, taken)
        rows = np.sort(client.rows)
        jobs.append(ClientJob(
            plan=client,
            fields=analysis.batch.fields.iloc[rows].set_axis(rows),
            items=table.iloc[rows].set_axis(rows),
            values={int(r): per_row_values[analysis.classified.codes[r]] for r in rows},
            categories={int(r): per_row_categories[analysis.classified.codes[r]] for r in rows},
            stem=stem,
            context=RenderContext(
                catalog=analysis.catalog, practice=settings.practice, period=period, run_date=run_date,
                version=__version__, sources=tuple(s for s in sources if s.path in set(client_files(analysis, rows))),
                notes=plan.notes, out=settings.out, formats=settings.formats, templates=settings.templates,
            ),
        ))
    reports = _render_all(jobs, settings.workers)
    overview = build_overview(
        list(reports), analysis.catalog, practice=settings.practice, period=period, run_date=run_date,
        version=__version__, sources=sources, skipped=len(analysis.batch.skipped), failures=tuple(analysis.failures),
    )
    written = [f for r in reports for f in (r.html_file, r.xlsx_file) if f]
    written.extend(write_overview(overview, settings.out, settings.formats, settings.templates))
    manifest = build_manifest(analysis, reports, settings, run_date, period)
    write_json(settings.out / "manifest.json", manifest)
    written.append("manifest.json")
    return ReportRun(analysis, plan, tuple(reports), overview, manifest, tuple(written))


def client_files(analysis: Analysis, rows: np.ndarray) -> list[str]:
    return list(dict.fromkeys(analysis.batch.fields["source_file"].to_numpy()[rows]))


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


def _render_all(jobs: list, workers: int) -> tuple[ClientReport, ...]:
    """Clients render in parallel processes when there are enough of them to pay for it."""
    from analyzer.render import render_client

    workers = workers or (min(2, os.cpu_count() or 1) if len(jobs) >= 8 else 1)
    if workers <= 1:
        return tuple(render_client(job) for job in jobs)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return tuple(pool.map(render_client, jobs, chunksize=max(1, len(jobs) // (workers * 8))))


def build_manifest(analysis: Analysis, reports, settings: ReportSettings, run_date: dt.datetime, period: str) -> dict:
    """What was read, what was written, and the counts that must add up (rows in = rows reported)."""
    sources = _sources(analysis)
    reasons: dict[str, dict[str, int]] = {}
    for skip in analysis.batch.skipped:
        per_file = reasons.setdefault(skip.source_file, {})
        per_file[skip.reason] = per_file.get(skip.reason, 0) + 1
    hashes = {i.path: i.sha256 for i in analysis.inputs}
    reported = sum(r.item_count for r in reports)
    return {
        "tool": "analyzer",
        "version": __version__,
        "run_time": run_date.isoformat(timespec="seconds"),
        "period": period,
        "options": {
            "formats": list(settings.formats), "practice": settings.practice,
            "clients": list(settings.clients), "templates": str(settings.templates or ""),
        },
        "inputs": [
            {
                "path": s.path, "sha256": hashes.get(s.path, ""), "rows": s.rows,
                "skipped": {"count": s.skipped, "reasons": reasons.get(s.path, {})},
                "status": s.status, "message": s.message,
            }
            for s in sources
        ],
        "clients": [
            {
                "name": r.client, "rows": r.item_count, "status": r.status,
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
