"""Render one client's report (HTML and Excel) and write it: the unit of work a worker process
runs, so that clients render in parallel."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from analyzer.catalog import Catalog
from analyzer.plan import ClientPlan
from analyzer.render_html import render_client_html, render_index_html
from analyzer.render_xlsx import render_client_xlsx, render_overview_xlsx
from analyzer.report_model import ClientReport, Overview, Source, build_client_report
from analyzer.write import write_bytes, write_text


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
    plan: ClientPlan
    fields: pd.DataFrame
    items: pd.DataFrame
    values: dict
    categories: dict
    history: dict  # row -> ("new" | "carried over", first seen date)
    client_history: object  # history.ClientHistory, or None when no history is kept
    stem: str
    context: RenderContext


def render_client(job: ClientJob) -> ClientReport:
    ctx = job.context
    report = build_client_report(
        job.plan, job.fields, job.items, ctx.catalog, practice=ctx.practice, period=ctx.period,
        run_date=ctx.run_date, version=ctx.version, sources=ctx.sources, notes=ctx.notes,
        values=job.values, categories=job.categories, history=job.history, client_history=job.client_history,
    )
    report = replace(
        report,
        html_file=f"{job.stem}.html" if "html" in ctx.formats else "",
        xlsx_file=f"{job.stem}.xlsx" if "xlsx" in ctx.formats else "",
    )
    if report.html_file:
        write_text(ctx.out / report.html_file, render_client_html(report, ctx.templates))
    if report.xlsx_file:
        write_bytes(ctx.out / report.xlsx_file, render_client_xlsx(report))
    return replace(report, items_table=pd.DataFrame())


def write_overview(overview: Overview, out: Path, formats: tuple[str, ...], templates: Path | None) -> list[str]:
    written = []
    if "html" in formats:
        write_text(out / "index.html", render_index_html(overview, templates))
        written.append("index.html")
    if "xlsx" in formats:
        write_bytes(out / "overview.xlsx", render_overview_xlsx(overview))
        written.append("overview.xlsx")
    return written
