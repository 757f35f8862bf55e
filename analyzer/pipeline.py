"""The library's front door: read -> normalise -> classify (-> plan), without any command line.

The CLI builds these objects, calls one function and turns known failures into one-line errors;
anything else can do the same.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from analyzer import __version__
from analyzer import tracking as kept
from analyzer.catalog import OUTPUT_COLUMNS, Catalog, load_catalog
from analyzer.classify import Classified, SecondStage, classify_rows
from analyzer.config import Period
from analyzer.cells import change_text
from analyzer.errors import NothingRead, OutputError
from analyzer.history import (
    RunRecord, compare, known_clients, last_workbooks, latest_lines, located, period_states, record, rename_clients,
    run_outputs, unedited_marks,
)
from analyzer.jobs import Carried, _render_all, _sources, client_jobs, release_free_memory, stems_for
from analyzer.manifest import build_manifest
from analyzer.normalise import Batch, Options, client_from_path, normalise_inputs
from analyzer.overview import ClientLine, Overview, build_overview, client_line, missing_line
from analyzer.plan import NO_ROWS, ClientPlan, Plan, item_keys, plan_actions
from analyzer.read import InputFile, Limits, discover, read_export
from analyzer.read.discover import OVERVIEW_WORKBOOK, written_by_us
from analyzer.taught import learn_from_workbooks, taught
from analyzer.report_model import EXPORT_MISSING, ClientReport
from analyzer.workflow import (canonical_names, check_wanted, cleared_items, client_states, conflicting_repeats,
                               covered_clients, export_kinds, kept_from_earlier, merged_clients, shared_item_ids)
from analyzer.store import Store, StoreError, as_store
from analyzer.write import write_bytes, write_json
from analyzer.write_staging import (Staging, finish_left_publication, leftover_lines, leftover_plan, leftover_reports,
                                    output_lock)

@dataclass
class Analysis:
    inputs: list[InputFile]
    batch: Batch
    classified: Classified
    catalog: Catalog
    failures: list[str] = field(default_factory=list)
    notes: tuple[str, ...] = ()  # folder entries passed over, files reached twice

    @property
    def rows_read(self) -> int:
        return len(self.batch)

    def plan(self) -> Plan:
        return plan_actions(self.batch, self.classified, self.catalog)


def analyse(paths: list[str], options: Options = Options(), limits: Limits = Limits(),
            catalog_files: tuple[Path, ...] = (), outputs: Path | None = None,
            database: Path | None = None, now: dt.datetime | None = None, cluster=None,
            hashed: bool = True, helper: bool | None = None) -> Analysis:
    """Read every input that can be read; the rest are named in `failures`. `outputs`: the
    folder the reports go to, whose own reports are never read as inputs. `database`: the
    practice's state store, whose taught errors classify before the similarity stage (and which
    first learns what bookkeepers chose in the workbooks' Unrecognised sheets). `cluster`: an
    analyzer.cluster.Cluster whose workers read the files; None reads them here. `hashed`: each
    input's sha256, for the report's manifest (`classify` does without). `helper`: whether a
    forked process may classify a share of a large batch (None: when that pays; False: `--workers 1`)."""
    catalog = load_catalog(catalog_files)
    learned, known = _what_the_practice_taught(database, outputs, catalog, now)
    found = discover(paths, outputs)
    read = (cluster.read(found.files, limits) if cluster is not None
            else [read_export(p, limits, hashed=hashed) for p in found.files])
    inputs = list(found.errors) + read
    batch = normalise_inputs(inputs, options)
    classified = classify_rows(batch.fields["error"], catalog, SecondStage(known), helper)
    failures = [i.error for i in inputs if not i.ok] + list(batch.failures)
    return Analysis(inputs, batch, classified, catalog, failures, (*catalog.notes, *found.notes, *learned))


def _what_the_practice_taught(database: Path | None, outputs: Path | None, catalog: Catalog,
                              now: dt.datetime | None) -> tuple[list[str], dict[str, str]]:
    """First learn what bookkeepers chose in the workbooks' Unrecognised sheets, then read every
    taught template."""
    if database is None:
        return [], {}
    database = as_store(database)
    try:
        learned: list[str] = []
        books = [p for p in outputs.glob("*.xlsx") if written_by_us(p)] if outputs is not None and outputs.is_dir() else []
        # Last month's workbooks too: with {period} folders this month's folder is new and empty.
        # Beside them, that month's overview, whose Unrecognised sheet lists every client's.
        if database.exists():
            recorded = last_workbooks(database, "9999-12")
            recorded = located(recorded, outputs)[0] if outputs is not None else recorded
            clients_books = [p for paths in recorded.values() for p in paths]
            overviews = {p.parent / OVERVIEW_WORKBOOK for p in clients_books}
            books += clients_books + sorted(p for p in overviews if p.is_file() and written_by_us(p))
        if books:
            learned = learn_from_workbooks(database, list(dict.fromkeys(books)), catalog, now or dt.datetime.now())
        return learned, taught(database)
    except sqlite3.Error as exc:
        raise StoreError(f"{database}: the practice's history database failed ({exc})") from None


def classified_table(analysis: Analysis) -> pd.DataFrame:
    """One row per data row, in input order: the input's own columns and the classification.
    The columns are gathered first and the table made once: inserting them one by one costs
    time quadratic in their number (a 50,000-column file)."""
    fields = analysis.batch.fields
    values = analysis.catalog.value_names
    result = analysis.classified.columns(values)
    columns: dict[str, object] = {
        "source_file": fields["source_file"].array,
        "sheet": fields["sheet"].array,
        "source_row": fields["source_row"].array,
        "client": fields["client"].array,
    }
    original = analysis.batch.original
    taken = {c.casefold() for c in (*OUTPUT_COLUMNS, *values)}
    for column in original.columns:
        columns[f"{column} (input)" if column.casefold() in taken else column] = original[column].array
    columns["error"] = fields["error"].array
    for column in ("categories", "fixes", "template", "match", "confidence", *values):
        columns[column] = result[column].array
    table = pd.DataFrame(columns, index=pd.RangeIndex(len(fields)))
    if not table["sheet"].astype(bool).any():
        table = table.drop(columns="sheet")
    return table


# ---------------------------------------------------------------------------------------------
# Reports

@dataclass(frozen=True)
class ReportSettings:
    out: Path = Path("reports")
    formats: tuple[str, ...] = ("html", "xlsx")
    practice: str = ""
    period: Period | None = None  # default: the month before the run date
    history: Store | Path | None = None  # the practice's state store; None keeps no history
    templates: Path | None = None
    clients: tuple[str, ...] = ()  # only these clients (case-insensitive); all when empty
    workers: int = 0  # 0: jobs.default_workers (one for a small month; else up to one per usable CPU)
    lock_timeout: float = 60.0  # how long to wait for another run writing the same folder
    expected: tuple[str, ...] = ()  # the practice's clients from the config: each shows, export or not
    merged_clients: tuple[str, ...] = ()  # those the practice-wide export speaks for (config `merged = true`)
    aliases: dict[str, str] = field(default_factory=dict)  # other spellings -> client, as in the config
    cluster: object = None  # analyzer.cluster.Cluster: clients render on its workers; None: the local pool
    # A period run again with fewer exports than its record (a late export alone) keeps the absent
    # clients' reports, as a --client run does; `replace` reports them as export missing instead.
    replace: bool = False


@dataclass(frozen=True)
class ReportRun:
    analysis: Analysis
    plan: Plan
    reports: tuple[ClientReport, ...]
    overview: Overview
    manifest: dict
    written: tuple[str, ...]
    messages: tuple[str, ...] = ()  # one line each, for standard error: workbooks kept aside


def run_report(analysis: Analysis, settings: ReportSettings, run_date: dt.datetime,
               progress: Callable[[int, int], None] | None = None) -> ReportRun:
    """Plan, render and write every client's reports, then the index, overview and manifest,
    holding the output folder's lock throughout. Everything is written to a staging folder,
    the run history recorded, and only then are the reports put in place: a run that fails or
    is stopped leaves the previous complete run's reports, and a history that agrees with them."""
    settings = replace(settings, history=as_store(settings.history))
    with output_lock(settings.out, settings.lock_timeout), _held(settings.history, settings.lock_timeout):
        staging = _staging(settings.out)
        try:
            return _run_report(analysis, settings, run_date, progress, staging)
        except OSError as exc:
            if isinstance(exc, OutputError):
                raise
            raise OutputError(f"{exc.filename or settings.out}: cannot write the reports ({exc.strerror or exc});"
                              " nothing of this run was published") from None
        except sqlite3.Error as exc:
            raise StoreError(f"{settings.history}: the practice's history database failed ({exc})") from None
        finally:
            staging.discard()


def _something_read(analysis: Analysis, out: Path) -> None:
    """A run none of whose inputs could be read says so and publishes nothing: it would show
    every client as export missing over last run's good reports and record that in the history.
    An input read but none of whose tables could be used (no error column) counts as unread."""
    if analysis.failures and not analysis.batch.tables:
        failures = analysis.failures
        more = f"; and {len(failures) - 1} more input(s)" if len(failures) > 1 else ""
        raise NothingRead(f"no input could be read ({failures[0]}{more}); nothing was published, and the"
                          f" reports in {out} were left as they were")


def _held(store: Store | None, timeout: float):
    """A shared database is held by one run of a practice at a time (see Store.hold)."""
    return store.hold(timeout) if store is not None else contextlib.nullcontext()


def _staging(out: Path) -> Staging:
    try:
        return Staging(out)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write the reports here ({exc.strerror}); choose another output folder (--out, or output in the config)"
                          " or check its permissions") from None


def _run_report(analysis, settings, run_date, progress, staging: Staging) -> ReportRun:
    from analyzer.render import overview_files  # only reports need Jinja and XlsxWriter

    period = settings.period or Period.previous_month(run_date.date())
    # Reports carry the run date only; the exact run time is in manifest.json alone, so running
    # again on the same inputs the same day gives identical reports.
    report_date = dt.datetime.combine(run_date.date(), dt.time())
    store = settings.history
    finished = _finish_elsewhere(store, settings.out) if store else []
    known = known_clients(store) if store else set()
    covered, merged = covered_clients(analysis.batch)
    names = canonical_names(_run_clients(analysis) | covered, known, settings.expected, settings.aliases)
    _use_names(analysis, names)
    if store:
        rename_clients(store, {old: new for old, new in names.items() if old in known})
    fields = analysis.batch.fields
    keys = item_keys(fields)
    present = _run_clients(analysis)
    covered = {names.get(c, c) for c in covered}
    # The clients expected this period: those seen before it (a re-run of an older month does not
    # call a client first seen later "export missing"; a period run again replaces its own record,
    # but a run for some clients keeps the others'), and the config's.
    unreadable = _unreadable_clients(analysis, settings)
    earlier = period_states(store, period.slug) if store else {}  # this period's record, when it was run before
    wanted, kept_note = settings.clients, ""
    if earlier and not wanted and not settings.replace:
        _something_read(analysis, settings.out)  # no input read at all says so, before what to keep
        wanted, kept_note = kept_from_earlier(earlier, period.label, present | covered, merged, set(unreadable))
    known_by_then = known_clients(store, period.slug, before=not wanted) if store else set()
    # A client of the period's record whose export came unreadable stays, shown so (not dropped
    # as a client first seen in a period run again would be)
    roster = {names.get(c, c) for c in known_by_then} | set(settings.expected) | (set(unreadable) & set(earlier))
    only = check_wanted(wanted, present | covered | roster) if wanted else set()
    _something_read(analysis, settings.out)  # after usage errors, before anything is recorded
    stems = stems_for(sorted(present | covered | roster, key=lambda name: (name.casefold(), name)))

    # The bookkeepers' work, read back from the workbooks this run is about to replace.
    previous_books, lost = located(last_workbooks(store, period.slug), settings.out) if store else ({}, [])
    books = {c: [*previous_books.get(c, []), settings.out / f"{stems[c]}.xlsx"] for c in stems if not only or c in only}
    # Every client's workbook name, not only this run's: "Acme Holdings.xlsx" is no copy of Acme's
    copies_read = [(c, copy) for c, copy in _copies_beside(settings.out, stems) if c in books]
    copies_read += _copies_beside_earlier(previous_books, settings.out, set(books))
    for client, copy in copies_read:
        books[client].append(copy)
    replaced = {settings.out / f"{stems[c]}.xlsx" for c in books} if "xlsx" in settings.formats else set()
    harvest = kept.harvest(books, run_date, replaced, unedited_marks(store) if store else set(),
                           kept.load(store) if store else None,
                           kept.load_held(store, [kept.workbook_name(p) for ps in books.values() for p in ps])
                           if store else None)
    if store:
        kept.save(store, harvest.records)
        kept.save_held(store, harvest.held)
    records = kept.load(store) if store else harvest.records
    errors = _error_keys(analysis)
    tracking = kept.for_rows(records, fields["client"], keys, errors, run_date.date())

    plan = plan_actions(analysis.batch, analysis.classified, analysis.catalog, tracking.set_aside)
    release_free_memory()
    seen = compare(store, period.slug, _history_keys(analysis, keys)) if store else None
    last_lines, earlier_lines = latest_lines(store, period.slug) if store else ({}, {})
    # How each client's export came before this period (a period run again replaces its own record).
    last_export = {c: line.get("export", "") for c, (_, line) in earlier_lines.items()}
    last_export.update({c: "merged" for c in settings.merged_clients})  # the practice says so
    states = client_states(present, covered, merged, roster, seen.previous_clients if seen else frozenset(),
                           set(unreadable), last_export)
    exports = export_kinds(states, covered, merged_clients(analysis.batch), last_export)
    if only:
        states = {c: s for c, s in states.items() if c in only}
    plans = {c.name: c for c in plan.clients}
    clients = [plans.get(c) or _nothing_failing(c) for c, s in states.items() if s != EXPORT_MISSING]
    carried = Carried(seen, tracking, keys, states, cleared_items(seen.cleared_items, records, analysis.catalog)
                      if seen else {}, stems)
    jobs = client_jobs(analysis, plan, clients, settings, period.label, report_date, carried, staging.folder)
    progress = progress or (lambda done, total: None)
    reports = (settings.cluster.render(jobs, len(clients), progress) if settings.cluster is not None
               else _render_all(jobs, len(clients), settings.workers, progress, rows=len(analysis.batch)))
    release_free_memory()  # what the jobs' Items table and row arrays held, before the history is written

    lines = [replace(client_line(r, r.asks_file), export=exports.get(r.client, "")) for r in reports]
    lines += [missing_line(c, period.label, _previous_items(seen, c), exports.get(c, ""), unreadable.get(c, ""))
              for c, s in states.items() if s == EXPORT_MISSING]
    this_run = {line.client for line in lines}
    if only and store:  # the other clients' lines as their last run (this period's, else earlier) left them
        lines += [ClientLine.from_json(line) for c, (_, line) in last_lines.items()
                  if c not in this_run and c in roster]
    sources = _sources(analysis)
    overview = build_overview(
        lines, analysis.catalog, practice=settings.practice, period=period.label, run_date=report_date,
        version=__version__, sources=sources, skipped=len(analysis.batch.skipped), failures=tuple(analysis.failures),
    )
    written = [f for r in reports for f in (r.html_file, r.xlsx_file, r.asks_file) if f]
    for name, data in overview_files(overview, settings.formats, settings.templates).items():
        write_bytes(staging.folder / name, data)
        written.append(name)
    repeats = {row: first for client in plan.clients for row, first in client.duplicates.items()}
    id_lines = tuple(filter(None, [shared_item_ids(fields["client"], fields["item_id"]),
                                   conflicting_repeats(fields, repeats)]))
    id_lines += tuple(f"{copy}: read as a copy of {client}'s workbook (what was typed there counts); once its work is"
                      f" in {stems[client]}.xlsx, delete or rename it" for client, copy in copies_read)
    id_lines += (kept_note,) if kept_note else ()
    manifest = build_manifest(analysis, list(overview.clients), settings, run_date, period.label, this_run,
                              (*_lost_workbooks(lost), *harvest.messages, *id_lines))
    write_json(staging.folder / "manifest.json", manifest)
    written.append("manifest.json")
    staging.check_targets(written)
    if store:  # recorded before the reports are put in place: a failure here publishes nothing
        record(store, RunRecord(
            period.slug, period.label, run_date, __version__, str(settings.out.resolve()),
            _history_items(analysis, keys, errors),
            tuple((line.client, line.state, _workbook(settings.out, line),
                   {**line.to_json(), "workbook_ns": _written_ns(staging.folder, line)})
                  for line in overview.clients if line.client in this_run),
            tuple(sorted(only)),
        ))
    if store and "xlsx" in settings.formats:  # what each workbook written holds: its edits are what differs
        kept.save_held(store, kept.held_as_written(fields["client"], keys, tracking, {
            r.client: kept.workbook_name(settings.out / f"{stems[r.client]}.xlsx") for r in reports if r.xlsx_file}))
    leftovers = {} if only else leftover_plan(
        settings.out, leftover_reports(settings.out, period.label, {line.client for line in overview.clients}), written)
    copies = staging.publish(written, [page for pages, _ in leftovers.values() for page in pages])
    return ReportRun(analysis, plan, tuple(reports), overview, manifest, tuple(written),
                     (*finished, *_lost_workbooks(lost), *harvest.messages, *copies, *id_lines,
                      *leftover_lines(settings.out, leftovers, staging.not_removed)))


def _copies_beside(out: Path, stems: dict[str, str]) -> list[tuple[str, Path]]:
    """Copies of a client's workbook saved beside it under another name ("Acme Ltd (Tom).xlsx",
    "Acme Ltd - copy.xlsx"): a bookkeeper's Save As holds work typed nowhere else. The copies the
    tool keeps aside ("(kept ...)") and Excel's lock files are not read."""
    if not out.is_dir():
        return []
    by_stem = sorted(((stem, client) for client, stem in stems.items()), key=lambda s: -len(s[0]))
    ours = {f"{stem}.xlsx".casefold() for stem in stems.values()}
    found = []
    for path in sorted(out.glob("*.xlsx")):
        name = path.name
        if name.casefold() in ours or name.startswith("~$") or "(kept " in name:
            continue
        client = next((c for stem, c in by_stem if name[: len(stem)].casefold() == stem.casefold()
                       and name[len(stem):len(stem) + 1] in (" ", "(", "_", "-")), None)
        if client is not None:
            found.append((client, path))
    return found


def _copies_beside_earlier(previous_books: dict[str, list[Path]], out: Path, wanted: set[str]) -> list[tuple[str, Path]]:
    """Copies saved beside last months' workbooks, with a folder per month: a bookkeeper who
    opened last month's workbook and saved it as "Acme Ltd (Tom).xlsx" typed there."""
    here = out.resolve()
    folders: dict[Path, dict[str, str]] = {}  # each earlier folder: its clients' workbook names, every one
    for client, paths in previous_books.items():  # (so "Acme Ltd.xlsx" is never taken for a copy of Acme's)
        for path in paths:
            if path.parent.resolve() != here:
                folders.setdefault(path.parent, {})[client] = path.stem
    return [(client, copy) for folder, stems in sorted(folders.items())
            for client, copy in _copies_beside(folder, stems) if client in wanted]


def _finish_elsewhere(store, out: Path) -> list[str]:
    """A run stopped while moving its reports into place (SIGKILL, power cut) is finished by the
    next run into the same folder; with a folder per month that next run writes elsewhere, so the
    practice's other recorded folders are finished here too. A line for each."""
    here = out.resolve()
    return [f"{folder}: finished putting in place the reports of a run stopped while moving them"
            for folder in sorted(run_outputs(store)) if folder.resolve() != here and folder.is_dir()
            and finish_left_publication(folder)]


def _run_clients(analysis: Analysis) -> set[str]:
    return {str(c) for c in pd.unique(analysis.batch.fields["client"].astype("str"))}


def _use_names(analysis: Analysis, names: dict[str, str]) -> None:
    """Every row under its client's one spelling (each distinct name changed once)."""
    if any(old != new for old, new in names.items()):
        fields = analysis.batch.fields
        fields["client"] = change_text(fields["client"], lambda text: text.map(lambda n: names.get(n, n)))


def _unreadable_clients(analysis: Analysis, settings: ReportSettings) -> dict[str, str]:
    """The clients whose own export could not be read (named by its file name), and why."""
    aliases = {k.casefold(): v for k, v in settings.aliases.items()}
    found: dict[str, str] = {}
    for failure in analysis.failures:
        path, _, why = failure.partition(": ")
        if Path(path).suffix:
            name = client_from_path(path)
            found.setdefault(aliases.get(name.casefold(), name), f"{Path(path).name}: {why}" if why else Path(path).name)
    return found


def _lost_workbooks(lost: list[Path]) -> list[str]:
    """One line for the last run's workbooks found nowhere: the bookkeepers' edits in them are
    not carried over, which must not pass in silence."""
    if not lost:
        return []
    return [f"{len(lost)} workbook(s) of the last run are not where they were written, nor beside this run's"
            f" output (e.g. {lost[0]}): the tracking in them was not read; put them back in the report folder"
            " and run again to carry it over"]


def _nothing_failing(client: str) -> ClientPlan:
    """A client this run shows with no failing rows (clean or cleared)."""
    return ClientPlan(client, NO_ROWS, (), (), (), {})


def _previous_items(seen, client: str) -> int | None:
    history = seen.clients.get(client) if seen else None
    return history.previous_items if history else None


def _written_ns(folder: Path, line: ClientLine) -> int:
    """The client workbook's file time as this run wrote it (publishing moves it, keeping it)."""
    path = folder / line.xlsx_file if line.xlsx_file else None
    return path.stat().st_mtime_ns if path is not None and path.is_file() else 0


def _workbook(out: Path, line: ClientLine) -> str:
    return str((out / line.xlsx_file).resolve()) if line.xlsx_file else ""


def _error_keys(analysis: Analysis) -> np.ndarray:
    """Each row's error fingerprint (worked out once per distinct cell)."""
    per_cell = np.array([kept.error_key(c) for c in analysis.classified.cells] or [""], dtype=object)
    return per_cell[analysis.classified.codes] if len(analysis.classified.codes) else np.zeros(0, dtype=object)


def _history_keys(analysis: Analysis, keys: pd.Series) -> pd.DataFrame:
    """What comparing with the last run needs of each row: who, which item, which fixes. The
    rest of what the history keeps (dates as text, suppliers, amounts) is made only when the run
    is recorded, after the reports: at a million rows it held 100 MB through the rendering."""
    return pd.DataFrame({"client": analysis.batch.fields["client"].array, "item_key": keys.array,
                         "fixes": analysis.classified.columns(())["fixes"].array})


def _history_items(analysis: Analysis, keys: pd.Series, errors: np.ndarray) -> pd.DataFrame:
    """What run history remembers of each row: who, which item, and what was wrong with it."""
    fields = analysis.batch.fields
    classified = analysis.classified.columns(())
    return pd.DataFrame({
        "client": fields["client"].array,
        "item_key": keys.array,
        "item_id": fields["item_id"].array,
        "supplier": fields["supplier"].array,
        "date": fields["date"].dt.strftime("%Y-%m-%d").fillna("").array,
        "amount": fields["amount"].array,
        "currency": fields["currency"].array,
        "categories": classified["categories"].array,
        "fixes": classified["fixes"].array,
        "error_key": errors,
    })
