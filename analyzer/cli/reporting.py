"""classify, report and run: the commands that read exports and write classifications and
reports, with their settings, logging and progress."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import threading
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from analyzer.config import DEFAULT_NAME, PERIOD_FORMS, ConfigError, Period, PeriodError, find_config, load_config
from analyzer.columns import ROLES
from analyzer.pages import use_small_pages
from analyzer.store import Store
from analyzer.cli.common import EXIT_INPUT, EXIT_OK, EXIT_UNCLASSIFIED, UsageError, _is_terminal, _known_failure
from analyzer.cli.state import _database, _default_database, configured_store
from analyzer.errors import ClusterAddressError, ClusterError, MissingExtra

if TYPE_CHECKING:
    from analyzer.normalise import Options
    from analyzer.pipeline import ReportSettings
    from analyzer.read import Limits


def options_from(args: argparse.Namespace) -> Options:
    from analyzer.normalise import Options

    columns = {}
    for item in args.column:
        role, sep, header = item.partition("=")
        if not sep or not header.strip():
            raise UsageError(f'--column {item!r}: write it as ROLE="Header name"')
        if role.strip() not in ROLES:
            raise UsageError(f"--column {item!r}: unknown role {role!r}; roles are {', '.join(ROLES)}")
        columns[role.strip()] = header.strip().strip('"')
    client = " ".join((args.force_client or "").split())
    if args.force_client is not None and not client:  # given, but blank: never a silent fall back to file names
        raise UsageError("--as-client/--client: the client's name is blank; give the name in quotes")
    return Options(columns=columns, client=client, dayfirst=args.dayfirst, client_currencies=_currencies(args.currency))


def _currencies(given: list[str]) -> dict[str, str]:
    """--currency CODE (every client) and CLIENT=CODE, as the config's `currency` keys: casefolded
    client ("" for all) -> code."""
    from analyzer.columns import ISO_CURRENCIES

    found = {}
    for item in given:
        client, _, code = item.rpartition("=")
        if code.strip().upper() not in ISO_CURRENCIES or ("=" in item and not client.strip()):
            raise UsageError(f"--currency {item!r}: give a three-letter currency code such as AUD, or CLIENT=AUD")
        found[" ".join(client.split()).casefold()] = code.strip().upper()
    return found


def limits_from(args: argparse.Namespace) -> Limits:
    from analyzer.read import Limits

    base = Limits()
    mb = 1024 * 1024
    return Limits(
        max_file_bytes=int(args.max_file_mb * mb) if args.max_file_mb else base.max_file_bytes,
        max_unzipped_bytes=int(args.max_unzipped_mb * mb) if args.max_unzipped_mb else base.max_unzipped_bytes,
        max_rows=args.max_rows or base.max_rows,
        max_cell_chars=args.max_cell_chars or base.max_cell_chars,
        max_cells=args.max_cells or base.max_cells,
        max_columns=args.max_columns or base.max_columns,
    )


def _classify(args, stdout, stderr) -> int:
    from analyzer.pipeline import analyse, classified_table
    from analyzer.write import write_table

    use_small_pages()
    _check_output(args.output)
    database = _database(args) if args.db else _default_database(args.config)
    analysis = analyse(args.paths, options_from(args), limits_from(args), tuple(args.catalog), database=database,
                       hashed=False)  # the hashes are for the report's manifest
    table = classified_table(analysis)
    target = args.output or "-"
    write_table(table, target, stdout, raw=args.raw)
    _report_reading(analysis, stderr)
    return EXIT_INPUT if analysis.failures else EXIT_OK


_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


def _check_output(output: str | None) -> None:
    """classify -o: a file it can write as asked, said before a month is read."""
    if not output or output == "-":
        return
    path = Path(output)
    if path.is_dir():
        raise UsageError(f"publish-failures classify -o {output}: is a folder; give a file name, such as"
                         f" {path / 'classified.csv'}")
    if path.suffix.lower() in _WORKBOOK_SUFFIXES:
        raise UsageError(f"publish-failures classify -o {output}: classify writes CSV (Excel opens it) or JSON"
                         " Lines (.jsonl), not a workbook; name it .csv, or use `report` for Excel reports")


def report_settings_from(args: argparse.Namespace) -> ReportSettings:
    from analyzer.pipeline import ReportSettings

    formats = tuple(f.strip().lower() for f in args.format.split(",") if f.strip())
    if not formats or set(formats) - {"html", "xlsx"}:
        raise UsageError(f"--format {args.format!r}: use html, xlsx or html,xlsx")
    if args.templates is not None and not args.templates.is_dir():
        raise UsageError(f"--templates {args.templates}: no such folder")
    if args.templates is not None:
        from analyzer.render_html import check_templates  # Jinja only when templates are given

        check_templates(args.templates)
    history = None if args.no_history else Store(args.history or args.out / "history.sqlite")
    return ReportSettings(out=args.out, formats=formats, practice=args.practice, period=_period(args.period),
                          history=history, templates=args.templates, clients=tuple(args.clients), workers=args.workers,
                          replace=args.replace)


def _period(text: str) -> Period | None:
    if not text.strip():
        return None
    try:
        return Period.parse(text)
    except PeriodError:
        raise UsageError(f"publish-failures: --period {text.strip()!r}: not a month;"
                         f" write it as {PERIOD_FORMS}") from None


def _report(args, stdout, stderr) -> int:
    from analyzer.pipeline import analyse, run_report

    use_small_pages()
    settings = report_settings_from(args)
    with _cluster(args.scheduler) as cluster:
        analysis = analyse(args.paths, options_from(args), limits_from(args), tuple(args.catalog), settings.out,
                           settings.history, cluster=cluster, helper=False if args.workers == 1 else None)
        run = run_report(analysis, replace(settings, cluster=cluster), dt.datetime.now().replace(microsecond=0))
    _report_reading(analysis, stderr)
    for message in run.messages:
        print(f"publish-failures: {message}", file=stderr)
    from analyzer.overview import states_line

    print(f"publish-failures: {states_line(run.overview.clients)}", file=stderr)
    opened = f" (open {settings.out / 'index.html'})" if "html" in settings.formats else ""
    print(f"publish-failures: wrote {len(run.reports)} client report(s) to {settings.out}/{opened}", file=stderr)
    return EXIT_INPUT if analysis.failures else EXIT_OK


@contextlib.contextmanager
def _cluster(address: str, shared=None, given_by: str = "--scheduler"):
    """The Dask cluster to run on (analyzer.cluster, imported only when one is asked for), or
    None for the local pool. An address that cannot be used is named with where it was given
    (`--scheduler`, or the config file and its key)."""
    if shared is not None or not address:
        yield shared
        return
    from analyzer.cluster import Cluster

    try:
        cluster = Cluster.connect(address)
    except (ClusterAddressError, ClusterError, MissingExtra) as exc:
        raise type(exc)(f"{given_by} {exc}") from None
    with cluster:
        yield cluster




def _run(args, stdout, stderr) -> int:
    use_small_pages()
    given = args.config or []
    if len(given) <= 1 and not (given and given[0].is_dir()):
        return _run_practice(args, given[0] if given else None, stderr)
    from analyzer.practices import config_paths, run_practices

    paths = config_paths(given)
    owners = _output_owners(paths)

    def one(path: Path, cluster) -> int:
        if path in owners and owners[path][0] != path:
            first, out, log_file = owners[path]
            with _logging(io.StringIO(), log_file, True):  # said in the practice's own log too, which its owner reads
                raise ConfigError(f"{path}: output: {out} is where {first} writes its reports too; give each"
                                  " practice its own output folder (this practice was not run)")
        return _run_practice(args, path, stderr, cluster)

    with _cluster(args.scheduler) as cluster:
        return run_practices(paths, lambda path: one(path, cluster), _known_failure,
                             stderr, concurrent=cluster is not None, quiet=args.quiet)


def _output_owners(paths: list[Path]) -> dict[Path, tuple[Path, Path, str]]:
    """Practices run in one call each write their own folder: a second config giving the same
    output (a copy-paste slip) would replace the first's index and leave its reports unlisted.
    Each config -> the first config, in the order given, writing to its folder, the folder, and
    its log file (a config that cannot be read is left to its own run to report)."""
    owners, first_of = {}, {}
    today = dt.date.today()
    for path in paths:
        try:
            config = load_config(path)
            period = config.period_for(today)
            out = config.output_dir(period, today).resolve()
        except (ConfigError, PeriodError, OSError):
            continue
        owners[path] = (first_of.setdefault(out, path), out, config.log_path(period, today))
    return owners


def _run_practice(args, config: Path | None, stderr, shared=None) -> int:
    """One practice's run from its config; `shared`: a cluster already connected for many practices."""
    from analyzer.normalise import Options
    from analyzer.pipeline import ReportSettings, analyse, run_report

    path = find_config(config, Path.cwd())
    if path is None:
        raise UsageError(f"publish-failures run: no {DEFAULT_NAME} in {Path.cwd()}; pass --config FILE"
                         " (see analyzer.example.toml)")
    config = load_config(path)
    if not config.inputs:
        raise ConfigError(f"{path}: inputs: list at least one file, folder or glob to read")
    if config.templates is not None:
        from analyzer.render_html import check_templates  # Jinja only when templates are given

        check_templates(config.templates)
    now = dt.datetime.now().replace(microsecond=0)
    store = None if args.no_history else configured_store(config)
    period = config.period_for(now.date())
    out = config.output_dir(period, now.date())
    with _logging(stderr, config.log_path(period, now.date()), args.quiet) as log, \
            _cluster(args.scheduler or config.scheduler, shared,
                     "--scheduler" if args.scheduler else f"{path}: scheduler") as cluster:
        log.info("run %s: period %s, %d input path(s), reports to %s", path, period.label, len(config.inputs), out)
        analysis = analyse(config.input_paths(period, now.date()), Options(columns=config.columns, dayfirst=config.dayfirst,
                           client_aliases=config.client_aliases, client_currencies=config.client_currencies),
                           _config_limits(config), config.catalogs, out,
                           store, now, cluster=cluster)
        for failure in analysis.failures:
            log.error("%s", failure)
        for note in analysis.notes:
            log.warning("note: %s", note)
        for where, note in _table_notes(analysis):  # as report prints them: the log is what a practice reads
            log.warning("note: %s: %s", where, note)
        settings = ReportSettings(
            out=out, formats=config.formats, practice=config.practice, period=period,
            history=store, templates=config.templates,
            lock_timeout=config.lock_timeout, expected=config.clients, aliases=config.client_aliases,
            merged_clients=config.merged_clients,
            cluster=cluster, replace=args.replace,
        )
        bar = _progress(stderr) if not args.quiet and _is_terminal(stderr) else None
        result = run_report(analysis, settings, now, progress=bar)
        for message in result.messages:
            log.warning("%s", message)
        # The items of this run's Unrecognised sections: a dismissed or snoozed one is no alarm
        unrecognised = sum(n for report in result.reports for _, n in report.templates)
        log.info("%d row(s) read, %d skipped; %d client report(s), %d client(s) in the practice view;"
                 " %d item(s) with unrecognised errors; wrote %s", analysis.rows_read, len(analysis.batch.skipped),
                 len(result.reports), len(result.overview.clients), unrecognised, out)
        from analyzer.overview import states_line

        log.info("%s", states_line(result.overview.clients))
        if unrecognised and (args.fail_on_unclassified or config.fail_on_unclassified):  # said even when quiet
            log.warning("%d item(s) hold errors the catalog does not recognise, so the run exits 3"
                        " (fail_on_unclassified); their templates are in the Unrecognised section of the reports in %s",
                        unrecognised, out)
    if not args.quiet:  # the last line: where to look
        where = f"open {out / 'index.html'}" if "html" in config.formats else f"reports in {out}{os.sep}"
        print(f"publish-failures: {where}", file=stderr)
    if analysis.failures:
        return EXIT_INPUT
    if unrecognised and (args.fail_on_unclassified or config.fail_on_unclassified):
        return EXIT_UNCLASSIFIED
    return EXIT_OK


def _config_limits(config) -> Limits:
    from analyzer.read import Limits

    base, mb, given = Limits(), 1024 * 1024, config.limits
    return Limits(
        max_file_bytes=int(given.get("max_file_mb", base.max_file_bytes / mb) * mb),
        max_unzipped_bytes=int(given.get("max_unzipped_mb", base.max_unzipped_bytes / mb) * mb),
        max_rows=int(given.get("max_rows", base.max_rows)),
        max_cell_chars=int(given.get("max_cell_chars", base.max_cell_chars)),
        max_cells=int(given.get("max_cells", base.max_cells)),
        max_columns=int(given.get("max_columns", base.max_columns)),
    )


@contextlib.contextmanager
def _logging(stderr: TextIO, log_file: str, quiet: bool):
    import logging  # only `run` logs; the other commands print, and start faster without it

    log = logging.getLogger("analyzer")
    """Log to stderr (warnings only when quiet) and to the configured file, for this run only."""
    handlers: list[logging.Handler] = [logging.StreamHandler(stderr)]
    handlers[0].setFormatter(logging.Formatter("publish-failures: %(message)s"))
    handlers[0].setLevel(logging.WARNING if quiet else logging.INFO)
    if log_file:
        try:
            Path(log_file).parent.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{log_file}: log_file: cannot write the log here ({exc.strerror or exc});"
                              " choose another file") from None
        handlers[-1].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.setLevel(logging.INFO)
    this_run = threading.get_ident()  # practices run side by side on a cluster: each logs only its own
    for handler in handlers:
        handler.addFilter(lambda record: record.thread == this_run)
        log.addHandler(handler)
    try:
        yield log
    except BaseException as exc:
        if log_file:  # standard error gets the line from `main`; the log, which a scheduler's owner reads, too
            handlers[-1].handle(log.makeRecord(log.name, logging.ERROR, __file__, 0, "%s", (_failure_line(exc),), None))
        raise
    finally:
        for handler in handlers:
            log.removeHandler(handler)
            handler.close()


def _failure_line(exc: BaseException) -> str:
    """How a run that stopped says why, as standard error says it (with its exit code)."""
    from analyzer.cli.common import Terminated

    known = _known_failure(exc)
    if known:
        return f"{re.sub(r'^publish-failures(?: [a-z]+)?: ', '', known[0])} (exit {known[1]})"
    if isinstance(exc, (KeyboardInterrupt, Terminated)):
        return f"stopped ({'SIGTERM' if isinstance(exc, Terminated) else 'interrupted'}); nothing of this run was published"
    return f"stopped by an unexpected error: {type(exc).__name__}: {exc}"


def _progress(stream: TextIO):
    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        stream.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} clients")
        if done == total:
            stream.write("\n")
        stream.flush()
    return show




def _table_notes(analysis):
    """Each note of each table read (a hidden sheet passed over, dates read month first...),
    with the file and sheet it is about; both as one line a terminal shows honestly (a file name
    or a header may hold control characters or a right-to-left override)."""
    from analyzer.read.common import one_line

    for table in analysis.batch.tables:
        where = one_line(f"{table.source_file}" + (f" [{table.sheet}]" if table.sheet else ""))
        for note in table.notes:
            yield where, one_line(note)


def _report_reading(analysis, stderr) -> None:
    for failure in analysis.failures:
        print(f"publish-failures: {failure}", file=stderr)
    for note in analysis.notes:
        print(f"publish-failures: note: {note}", file=stderr)
    for where, note in _table_notes(analysis):
        print(f"publish-failures: note: {where}: {note}", file=stderr)
    from analyzer.report_model import reason_counts, reasons_text

    skipped = analysis.batch.skipped
    detail = reasons_text(reason_counts((skip.reason, 1) for skip in skipped))
    files = sum(1 for i in analysis.inputs if i.ok)
    print(
        f"publish-failures: {analysis.rows_read} data row(s) from {files} file(s)"
        + (f"; skipped {len(skipped)} ({detail})" if skipped else ""),
        file=stderr,
    )
