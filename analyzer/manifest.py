"""manifest.json: what a run read, what it wrote, every client of the practice with its state
and counts, and the totals that must add up (rows in = rows reported), for scheduled jobs."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from analyzer import __version__
from analyzer.jobs import _sources
from analyzer.overview import ClientLine

if TYPE_CHECKING:
    from analyzer.pipeline import Analysis, ReportSettings


def build_manifest(analysis: "Analysis", lines: list[ClientLine], settings: "ReportSettings", run_date: dt.datetime,
                   period: str, this_run: set[str], messages: tuple[str, ...] = ()) -> dict:
    """`lines`: every client the practice view shows; `this_run`: the ones this run reported
    (a --client run keeps the others' lines as they were)."""
    sources = _sources(analysis)
    hashes = {i.path: i.sha256 for i in analysis.inputs}
    reported = sum(line.rows for line in lines if line.client in this_run)
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
                "skipped": {"count": s.skipped, "reasons": dict(s.reasons)},
                "notes": [n for t in analysis.batch.tables if t.source_file == s.path for n in t.notes],
                "status": s.status, "message": s.message,
            }
            for s in sources
        ],
        "clients": [_client(line, line.client in this_run) for line in lines],
        "messages": [*analysis.notes, *messages],
        "totals": {
            "rows_read": analysis.rows_read, "rows_reported": reported,
            "rows_not_reported": analysis.rows_read - reported,  # rows of clients left out by --client
            "rows_skipped": len(analysis.batch.skipped),
            "clients": len(lines),
            "clients_by_state": {s: sum(line.state == s for line in lines)
                                 for s in ("failing", "clean", "cleared", "export_missing")},
            "inputs_failed": sum(s.status == "failed" for s in sources),
            "inputs_partial": sum(s.status == "partial" for s in sources),  # a sheet of it not read
        },
    }


def _client(line: ClientLine, this_run: bool) -> dict:
    entry = {
        "name": line.client, "state": line.state, "status": line.status, "status_label": line.status_label,
        "rows": line.rows, "items": line.item_count, "failing": line.failing_items,
        "dismissed": line.dismissed, "snoozed": line.snoozed,
    }
    # Always there (0 when nothing is known to compare with), so a script can read them of every client.
    entry.update(new=line.new_items or 0, carried_over=line.carried_over or 0, cleared=line.cleared or 0)
    entry.update(
        fixes=dict(line.fix_items),
        value={m.currency or "unknown": m.amount for m in line.money},
        who={who: n for who, n in line.who_items.items()},
        oldest_item=line.oldest,
        # The messages the catalog does not know: a scheduled job can say when a new one appears.
        unrecognised=[{"template": t, "items": n, "looks_like": looks} for t, n, looks in line.unrecognised],
        files=[f for f in (line.html_file, line.xlsx_file, line.asks_file) if f],
        reported_this_run=this_run,
        unreadable=line.unreadable,  # why its export, which came, could not be read ("" when it could)
        period=line.period,
    )
    return entry
