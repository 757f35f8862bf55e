"""The `publish-failures` command: thin wrappers that build the library's objects, call one
function, and turn known failures into one-line errors with documented exit codes.

Only what parsing the command line and `explain` need is imported here; each command imports
the rest (pandas, numpy, the readers and renderers) when it runs, so a bookkeeper pasting one
error, or asking for `--help`, does not wait half a second for a table library
(tests/test_cli_startup.py keeps it so)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import signal
import threading
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from analyzer.catalog import CatalogError, load_catalog
from analyzer.config import DEFAULT_NAME, PERIOD_FORMS, ConfigError, Period, PeriodError, find_config, load_config
from analyzer.columns import ROLES
from analyzer.errors import (ClusterAddressError, ClusterError, FolderBusy, MissingExtra, NothingRead, OutputError,
                             StoreBusy, StoreLocationError, TemplateProblem, UnknownClient)
from analyzer.store import Store
from analyzer.store import StoreError as HistoryError

if TYPE_CHECKING:
    from analyzer.normalise import Options
    from analyzer.pipeline import ReportSettings
    from analyzer.read import Limits

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_UNCLASSIFIED, EXIT_BUSY = 0, 1, 2, 3, 4
EXIT_OUTPUT, EXIT_STORE = 5, 6  # the reports could not be written; the history database failed
EXIT_CLUSTER = 7  # the Dask scheduler could not be reached or was lost mid-run
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # Ctrl-C; SIGTERM (128 + the signal)


class Terminated(BaseException):
    """SIGTERM: the run stops as cleanly as on Ctrl-C (workers stopped, nothing half published)."""
EXIT_PIPE = 141  # standard output was closed early (`... | head`): 128 + SIGPIPE, as other tools exit


class UsageError(Exception):
    """Wrong arguments: exit code 2."""


class UnreadableInput(Exception):
    """An input that cannot be read at all: exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every usage error
        raise UsageError(f"{self.prog}: {message} (see --help)")


class _Version(argparse.Action):
    """--version, with the version looked up only when asked for (importlib.metadata is slow to load)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from analyzer import __version__

        sys.stdout.write(f"{parser.prog} {__version__}\n")  # as argparse's own version action: standard output
        parser.exit()


MOST_WORKERS = 64  # each worker is a process holding a share of the month: more only exhausts memory


def _worker_count(text: str) -> int:
    """--workers: 0 (choose) up to MOST_WORKERS."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= count <= MOST_WORKERS:
        raise argparse.ArgumentTypeError(f"{count} is not between 0 (choose for me) and {MOST_WORKERS}")
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="publish-failures",
        description="Turn Dext-to-Xero publish-failure exports into per-client action reports.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    classify = commands.add_parser(
        "classify", help="classify every row's error (CSV, or JSON Lines for .jsonl)",
        description="Classify every data row's error and write one output row per input row, in input order.",
    )
    _add_input_options(classify)
    classify.add_argument("--db", default=None, metavar="FILE|URL",
                          help="the practice's history database, for the errors it was taught (default: from the"
                               " config, else reports/history.sqlite if there is one)")
    classify.add_argument("--config", type=Path, default=None, metavar="FILE", help=argparse.SUPPRESS)
    classify.add_argument("-o", "--output", metavar="FILE",
                          help="write here (CSV, or JSON Lines when FILE ends in .jsonl); default: standard output")
    classify.add_argument("--raw", action="store_true",
                          help="write cells exactly as read, for programs: without it, a CSV cell that a spreadsheet"
                               " would run as a formula (= + - @ tab CR) starts with ' (JSON Lines are always raw)")
    classify.set_defaults(handler=_classify)

    report = commands.add_parser(
        "report", help="write per-client action reports (HTML and Excel), an index and an overview",
        description="Write, for each client, an HTML and an Excel action report grouped by fix, plus"
                    " index.html, overview.xlsx and manifest.json across all clients.",
    )
    _add_input_options(report, force_flag="--as-client")
    _add_report_options(report)
    report.set_defaults(handler=_report)

    run = commands.add_parser(
        "run", help="the whole month-end job from a config file, with no prompts (for schedulers)",
        description="Read the inputs named in the config (analyzer.toml here, or --config FILE), write every"
                    " report, and record the run history. Exit codes: 0 ok; 1 some inputs failed (the rest"
                    " are still reported); 2 configuration or usage error; 3 unrecognised errors found"
                    " (with --fail-on-unclassified); 4 another run is writing to the same folder;"
                    " 7 the Dask scheduler could not be reached or was lost. With several --config (or a"
                    " folder of configs) each practice runs on its own and the worst exit code is returned.",
    )
    run.add_argument("--config", type=Path, action="append", default=None, metavar="FILE|DIR",
                     help="the config file (default: analyzer.toml in the working folder); may repeat, and a"
                          " folder stands for every *.toml in it: each practice runs with its own lock, history"
                          " and outputs")
    _add_scheduler_option(run)
    run.add_argument("--quiet", action="store_true", help="log only warnings and errors")
    run.add_argument("--fail-on-unclassified", action="store_true",
                     help="exit 3 when any error was not recognised, so a job can alert someone")
    run.add_argument("--no-history", action="store_true", help="do not read or record run history")
    run.set_defaults(handler=_run)

    history = commands.add_parser(
        "history", help="items per client over past runs, and the items that keep coming back",
        description="Show, from the run history database, each client's failed items per run and the"
                    " items seen in more than one run.",
    )
    history.add_argument("--client", default="", metavar="NAME", help="only this client")
    history.add_argument("--db", default=None, metavar="FILE|URL",
                         help="the history database (default: from the config, else reports/history.sqlite)")
    history.add_argument("--config", type=Path, default=None, metavar="FILE",
                         help="the config file whose history to read (default: analyzer.toml here, if any)")
    history.add_argument("--items", action="store_true",
                         help="also list every item recorded, per client and period (id, supplier, date, amount,"
                              " categories)")
    history.add_argument("--json", action="store_true", help="print JSON instead of tables")
    history.set_defaults(handler=_history)

    teach = commands.add_parser(
        "teach", help="teach the practice's category for an error the catalog does not know",
        description="Remember that MESSAGE (and every message of its pattern: the same words, other codes,"
                    " amounts and dates) is CATEGORY for this practice: the next classify, report or run puts"
                    " it there (match = taught). --forget undoes it; --list shows what was taught.",
    )
    teach.add_argument("message", nargs="?", default="", help="the error text, quoted (- reads standard input)")
    teach.add_argument("category", nargs="?", default="", help="a category id or title (see `publish-failures rules`)")
    teach.add_argument("--forget", action="store_true", help="forget what was taught for MESSAGE")
    teach.add_argument("--list", action="store_true", help="list what the practice has taught")
    teach.add_argument("--db", default=None, metavar="FILE|URL",
                       help="the history database (default: from the config, else reports/history.sqlite)")
    teach.add_argument("--config", type=Path, default=None, metavar="FILE",
                       help="the config file whose database to use (default: analyzer.toml here, if any)")
    teach.add_argument("--catalog", action="append", type=Path, default=[], metavar="FILE",
                       help="an extra catalog file (may repeat)")
    teach.set_defaults(handler=_teach)

    clients = commands.add_parser(
        "clients", help="the practice's clients from the history: last period, state, retired",
        description="List every client the run history holds, with its last period and state then; retire a"
                    " client the practice no longer looks after (it leaves the index until an export of it"
                    " comes again), or restore one.",
    )
    change = clients.add_mutually_exclusive_group()
    change.add_argument("--retire", default="", metavar="NAME", help="retire this client")
    change.add_argument("--restore", default="", metavar="NAME", help="bring a retired client back")
    clients.add_argument("--db", default=None, metavar="FILE|URL",
                         help="the history database (default: from the config, else reports/history.sqlite)")
    clients.add_argument("--config", type=Path, default=None, metavar="FILE",
                         help="the config file whose history to use (default: analyzer.toml here, if any)")
    clients.add_argument("--json", action="store_true", help="print JSON instead of a table")
    clients.set_defaults(handler=_clients)

    explain = commands.add_parser(
        "explain", help="explain one pasted error message",
        description="Explain one error message: categories, cause, values found, fix steps and warnings.",
    )
    explain.add_argument("message", help="the error text, quoted; - reads it from standard input (all of it,"
                                         " so a pasted multi-line error works)")
    explain.add_argument("--json", action="store_true", help="print JSON instead of text")
    explain.add_argument("--catalog", action="append", type=Path, default=[], metavar="FILE",
                         help="an extra catalog file (may repeat)")
    explain.set_defaults(handler=_explain)

    rules = commands.add_parser("rules", help="list the catalog of errors and fixes",
                                description="List the catalog: every category, its fix, and who acts.")
    rules.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    rules.add_argument("--catalog", action="append", type=Path, default=[], metavar="FILE",
                       help="an extra catalog file (may repeat)")
    rules.set_defaults(handler=_rules)
    return parser


def _add_input_options(command: argparse.ArgumentParser, force_flag: str = "--client") -> None:
    command.add_argument("paths", nargs="+", metavar="PATH", help="export files, folders or globs")
    command.add_argument("--column", action="append", default=[], metavar='ROLE="Header"',
                         help=f"use this column for a role ({', '.join(ROLES)}); may repeat")
    command.add_argument(force_flag, dest="force_client", default="", metavar="NAME",
                         help="treat every row as this client's")
    order = command.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", dest="dayfirst", action="store_const", const=True, default=None,
                       help="read dates like 05/08/2026 as 5 August (default: inferred per file, else day first)")
    order.add_argument("--monthfirst", dest="dayfirst", action="store_const", const=False,
                       help="read dates like 05/08/2026 as May 8")
    command.add_argument("--catalog", action="append", type=Path, default=[], metavar="FILE",
                         help="an extra catalog file of the practice's own categories and fixes (may repeat)")
    command.add_argument("--max-file-mb", type=float, default=None, help="largest input file read (default 1024)")
    command.add_argument("--max-rows", type=int, default=None, help="most data rows read from one table (default 5,000,000)")
    command.add_argument("--max-cell-chars", type=int, default=None, help="longest cell read (default 1,000,000)")
    command.add_argument("--max-unzipped-mb", type=float, default=None,
                         help="largest size a workbook may unpack to (default 2048)")
    command.add_argument("--max-cells", type=int, default=None,
                         help="most cells one sheet may span, blanks included (default 16,000,000)")
    command.add_argument("--max-columns", type=int, default=None, help="most columns one table may have (default 2,000)")


def _add_report_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR",
                         help="folder for the reports (default: reports/)")
    command.add_argument("--format", default="html,xlsx", metavar="html,xlsx",
                         help="which reports to write: html, xlsx or both (default: both)")
    command.add_argument("--client", dest="clients", action="append", default=[], metavar="NAME",
                         help="report only this client (may repeat; --as-client NAME treats every row as one client's)")
    command.add_argument("--period", default="", metavar="MONTH",
                         help="the month the report covers, e.g. 2026-10 or 'October 2026'"
                              " (default: the previous calendar month)")
    command.add_argument("--templates", type=Path, default=None, metavar="DIR",
                         help="a folder of templates that override the built-in ones (logo, colours, wording)")
    command.add_argument("--practice", default="", metavar="NAME", help="the practice's name for report headers")
    command.add_argument("--workers", type=_worker_count, default=0, metavar="N",
                         help="processes rendering clients in parallel, 0 to 64 (default 0: one for a small month or a"
                              " busy"
                              " machine, else up to one per idle CPU this process may use, by the size of the work)")
    command.add_argument("--history", "--db", dest="history", default=None, metavar="FILE|URL",
                         help="the practice's history database: run history, tracking and taught errors; a file"
                              " (SQLite) or a postgresql://user@host/db URL (default: history.sqlite in the --out folder)")
    command.add_argument("--no-history", action="store_true",
                         help="do not read or record run history (no new / carried-over marks)")
    _add_scheduler_option(command)


def _add_scheduler_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--scheduler", default="", metavar="tcp://HOST:8786",
                         help="run reading and rendering on this Dask distributed cluster (pip install"
                              " '.[cluster]'; config key `scheduler`); default: worker processes on this machine")


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None,
         stdin: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:  # --help or --version, printed to sys.stdout: flush it here, where a closed pipe is caught
            if sys.stdout is not None:
                sys.stdout.flush()
            raise
        args.stdin = stdin if stdin is not None else sys.stdin
        with _terminate_cleanly():
            code = args.handler(args, stdout, stderr)
        stdout.flush()  # a closed pipe shows here, not as "Exception ignored" at interpreter exit
        return code
    except BrokenPipeError:
        _discard_stdout(stdout)
        return EXIT_PIPE
    except _KNOWN_FAILURES as exc:
        prefix, code = next((p, c) for kind, p, c in _FAILURES if isinstance(exc, kind))
        print(f"{prefix}{exc}", file=stderr)
        return code
    except KeyboardInterrupt:
        print("publish-failures: interrupted; nothing of this run was published", file=stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("publish-failures: stopped (SIGTERM); nothing of this run was published", file=stderr)
        return EXIT_TERMINATED


@contextlib.contextmanager
def _terminate_cleanly():
    """While a command runs in the main thread, SIGTERM unwinds it like Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Terminated()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# Failures the command knows: each is one line (this prefix, then the message) and an exit code.
_FAILURES = (
    (UsageError, "", EXIT_USAGE),
    (UnreadableInput, "", EXIT_INPUT),
    (NothingRead, "publish-failures: ", EXIT_INPUT),
    (CatalogError, "publish-failures: catalog: ", EXIT_USAGE),
    (ConfigError, "publish-failures: ", EXIT_USAGE),
    (TemplateProblem, "publish-failures: ", EXIT_USAGE),
    (UnknownClient, "publish-failures: ", EXIT_USAGE),
    (MissingExtra, "publish-failures: ", EXIT_USAGE),
    (StoreLocationError, "publish-failures: ", EXIT_USAGE),
    (StoreBusy, "publish-failures: ", EXIT_BUSY),
    (HistoryError, "publish-failures: ", EXIT_STORE),
    (OutputError, "publish-failures: ", EXIT_OUTPUT),
    (FolderBusy, "publish-failures: ", EXIT_BUSY),
    (ClusterAddressError, "publish-failures: ", EXIT_USAGE),
    (ClusterError, "publish-failures: ", EXIT_CLUSTER),
)
_KNOWN_FAILURES = tuple(kind for kind, _, _ in _FAILURES)


def _discard_stdout(stdout: TextIO) -> None:
    """After the reader of standard output went away (`| head`), point the process's standard
    output at the null device, so the interpreter's last flush at exit has nowhere to fail.
    Only for the real standard output: a stream passed in by a caller is the caller's."""
    real = sys.__stdout__
    if real is None or (stdout is not real and sys.stdout is not real):
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, real.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


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
    return Options(columns=columns, client=args.force_client, dayfirst=args.dayfirst)


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

    database = _database(args) if args.db else _default_database(args.config)
    analysis = analyse(args.paths, options_from(args), limits_from(args), tuple(args.catalog), database=database,
                       hashed=False)  # the hashes are for the report's manifest
    table = classified_table(analysis)
    target = args.output or "-"
    write_table(table, target, stdout, raw=args.raw)
    _report_reading(analysis, stderr)
    return EXIT_INPUT if analysis.failures else EXIT_OK


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
                          history=history, templates=args.templates, clients=tuple(args.clients), workers=args.workers)


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

    settings = report_settings_from(args)
    with _cluster(args.scheduler) as cluster:
        analysis = analyse(args.paths, options_from(args), limits_from(args), tuple(args.catalog), settings.out,
                           settings.history, cluster=cluster)
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
def _cluster(address: str, shared=None):
    """The Dask cluster to run on (analyzer.cluster, imported only when one is asked for), or
    None for the local pool."""
    if shared is not None or not address:
        yield shared
        return
    from analyzer.cluster import Cluster

    with Cluster.connect(address) as cluster:
        yield cluster


def _known_failure(exc: BaseException) -> tuple[str, int] | None:
    """A failure the command knows: its one line and exit code."""
    for kind, prefix, code in _FAILURES:
        if isinstance(exc, kind):
            return f"{prefix}{exc}", code
    return None


def _run(args, stdout, stderr) -> int:
    given = args.config or []
    if len(given) <= 1 and not (given and given[0].is_dir()):
        return _run_practice(args, given[0] if given else None, stderr)
    from analyzer.practices import config_paths, run_practices

    paths = config_paths(given)
    with _cluster(args.scheduler) as cluster:
        return run_practices(paths, lambda path: _run_practice(args, path, stderr, cluster), _known_failure,
                             stderr, concurrent=cluster is not None)


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
    store = None if args.no_history else Store(config.database(), config.practice_key)
    period = config.period_for(now.date())
    out = config.output_dir(period, now.date())
    with _logging(stderr, config.log_file, args.quiet) as log, \
            _cluster(args.scheduler or config.scheduler, shared) as cluster:
        log.info("run %s: period %s, %d input path(s), reports to %s", path, period.label, len(config.inputs), out)
        analysis = analyse(list(config.inputs), Options(columns=config.columns, dayfirst=config.dayfirst,
                           client_aliases=config.client_aliases, client_currencies=config.client_currencies),
                           _config_limits(config), config.catalogs, out,
                           store, now, cluster=cluster)
        for failure in analysis.failures:
            log.error("%s", failure)
        for note in analysis.notes:
            log.warning("note: %s", note)
        settings = ReportSettings(
            out=out, formats=config.formats, practice=config.practice, period=period,
            history=store, templates=config.templates,
            lock_timeout=config.lock_timeout, expected=config.clients, aliases=config.client_aliases,
            merged_clients=config.merged_clients,
            cluster=cluster,
        )
        bar = _progress(stderr) if not args.quiet and _is_terminal(stderr) else None
        result = run_report(analysis, settings, now, progress=bar)
        for message in result.messages:
            log.warning("%s", message)
        unrecognised = int(analysis.classified.columns(())["categories"].str.contains("unclassified").sum())
        log.info("%d row(s) read, %d skipped; %d client report(s), %d client(s) in the practice view;"
                 " %d row(s) with unrecognised errors; wrote %s", analysis.rows_read, len(analysis.batch.skipped),
                 len(result.reports), len(result.overview.clients), unrecognised, out)
        from analyzer.overview import states_line

        log.info("%s", states_line(result.overview.clients))
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
    finally:
        for handler in handlers:
            log.removeHandler(handler)
            handler.close()


def _is_terminal(stream: TextIO) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


def _progress(stream: TextIO):
    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        stream.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} clients")
        if done == total:
            stream.write("\n")
        stream.flush()
    return show


def _default_database(config: Path | None) -> Store | None:
    """The database the practice's other commands use, when there is one."""
    path = find_config(config, Path.cwd())
    candidate = _store(path)
    return candidate if candidate.exists() else None


def _database(args) -> Store:
    """--db, else the config's database, else reports/history.sqlite; the practice key is the
    config's (analyzer.toml here, or --config)."""
    return _store(find_config(args.config, Path.cwd()), args.db)


def _store(config: Path | None, location: str | None = None) -> Store:
    settings = load_config(config) if config else None
    default = settings.database() if settings else Path("reports") / "history.sqlite"
    return Store(location or default, settings.practice_key if settings else "")


def _teach(args, stdout, stderr) -> int:
    from analyzer import taught

    db = _database(args)
    catalog = load_catalog(tuple(args.catalog))
    if args.list:
        table = taught.listing(db)
        if table.empty:
            stdout.write(f"Nothing taught yet in {db}.\n")
        for row in table.itertuples(index=False):
            stdout.write(f"{row.category:<30} {row.template}\n{'':<30} taught {row.taught_at[:10]} from: {row.message}"
                         f"{f' ({row.source})' if row.source != 'teach command' else ''}\n")
        return EXIT_OK
    message = _message(args.message, args.stdin, stderr) if args.message else ""
    if not message:
        raise UsageError("publish-failures teach: give the error message, quoted, and a category (see --help)")
    if args.forget:
        done = taught.forget(db, message, catalog, dt.datetime.now().replace(microsecond=0))
        stdout.write("Forgotten.\n" if done else "Nothing was taught for that message.\n")
        return EXIT_OK
    category = _category_named(args.category, catalog)
    template = taught.teach(db, message, category, catalog, dt.datetime.now().replace(microsecond=0), "teach command")
    stdout.write(f"Taught: messages like {template!r} are {catalog.category(category).title} [{category}].\n")
    return EXIT_OK


def _category_named(name: str, catalog) -> str:
    """A category by id or title (without case); a usage error naming the known ids, closest first."""
    import difflib

    known = {c.id.casefold(): c.id for c in catalog.categories} | {c.title.casefold(): c.id for c in catalog.categories}
    if name.strip().casefold() in known:
        return known[name.strip().casefold()]
    ids = [c.id for c in catalog.categories]
    closest = difflib.get_close_matches(name.casefold(), ids, n=len(ids), cutoff=0)
    raise UsageError(f"publish-failures teach: {name!r} is no category; categories, closest first: "
                     f"{', '.join(closest[:12])}{' …' if len(closest) > 12 else ''}")


def _clients(args, stdout, stderr) -> int:
    from analyzer.history import NoSuchClient, retire, roster

    db = _database(args)
    if args.retire or args.restore:
        try:
            name = retire(db, args.retire or args.restore, dt.datetime.now().replace(microsecond=0),
                          restore=bool(args.restore))
        except NoSuchClient as exc:
            raise UsageError(f"publish-failures: {exc.args[0]}") from None
        stdout.write(f"{name}: {'retired: left out of the index until an export of it comes again' if args.retire else 'restored'}\n")
        return EXIT_OK
    table = roster(db)
    if args.json:
        json.dump(_records(table.assign(retired=table["retired"].astype(bool))), stdout, indent=2, ensure_ascii=False)
        stdout.write("\n")
        return EXIT_OK
    width = max([len("Client"), *map(len, table["client"])])
    # Failing: in Dext then; to fix: as the index counted them (dismissed and snoozed items left out).
    stdout.write(f"{'Client'.ljust(width)}  Last period     State            Failing  To fix  Retired\n")
    for row in table.itertuples(index=False):
        stdout.write(f"{row.client.ljust(width)}  {row.last_period:<14}  {row.last_state:<15}  {row.items:>7}"
                     f"  {row.to_fix:>6}  {'yes' if row.retired else ''}".rstrip() + "\n")
    return EXIT_OK


def _history(args, stdout, stderr) -> int:
    db = _database(args)
    from analyzer.history import items as history_items
    from analyzer.history import summary as history_summary

    counts, recurring = history_summary(db, args.client)
    recorded = history_items(db, args.client) if args.items else None
    if args.json:
        data = {"runs": _records(counts), "recurring": _records(recurring)}
        if recorded is not None:
            data["items"] = _records(recorded)
        json.dump(data, stdout, indent=2)
        stdout.write("\n")
        return EXIT_OK
    if counts.empty:
        if args.client:  # a misspelt name is a usage error naming the closest, as for report --client
            from analyzer.history import known_clients
            from analyzer.workflow import check_wanted

            check_wanted((args.client,), known_clients(db))
        stdout.write(f"No runs recorded{' for ' + args.client if args.client else ''} in {db}.\n")
        return EXIT_OK
    stdout.write(f"Failed items per client per run ({db})\n")
    labels = dict(zip(counts["slug"], counts["period"]))
    _write_runs(stdout, counts, labels, recorded)
    if not recurring.empty:
        stdout.write(f"\nItems that keep coming back ({len(recurring)})\n")
        _write_recurring(stdout, recurring.head(RECURRING_SHOWN), labels)
        if len(recurring) > RECURRING_SHOWN:
            stdout.write(f"\n... and {len(recurring) - RECURRING_SHOWN} more (use --json for all)\n")
    return EXIT_OK


RECURRING_SHOWN = 200


def _records(frame) -> list[dict]:
    """Rows for JSON: missing values (SQL NULL, NaN) as null, never as the invalid NaN."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _text(value) -> str:
    return "" if value is None or value != value else str(value)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _aligned(rows: list[tuple[str, ...]], right: tuple[int, ...] = ()) -> list[str]:
    """Rows of cells as lines in aligned columns (the columns in `right` aligned right)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["   ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
            for row in rows]


def _item_name(row) -> str:
    return _text(row.item_id) or _text(row.item_key)


def _categories(text) -> str:
    return _text(text).replace("+", ", ")


def _write_runs(stdout: TextIO, counts, labels: dict[str, str], recorded) -> None:
    """Per client a block: its name, then each period and its number of items (0 for a run that
    recorded none of the client's items); with `recorded`, each period's items below it."""
    slugs = sorted(labels)
    per_client = {client: dict(zip(part["slug"], part["items"])) for client, part in counts.groupby("client", sort=True)}
    keys = [(client, slug) for client in per_client for slug in slugs]
    numbers = [str(int(per_client[client].get(slug, 0))) for client, slug in keys]
    width = max(len(n) for n in numbers)
    cells = [(labels[slug], f"{n.rjust(width)} {'item' if n == '1' else 'items'}") for (_, slug), n in zip(keys, numbers)]
    lines = dict(zip(keys, _aligned(cells)))
    items_of: dict[tuple[str, str], list[str]] = {}
    if recorded is not None and not recorded.empty:
        rows = [(_item_name(r), _text(r.supplier), _text(r.date), _amount(r.amount, r.currency), _categories(r.categories))
                for r in recorded.itertuples(index=False)]
        for key, line in zip(zip(recorded["client"], recorded["slug"]), _aligned(rows, right=(3,))):
            items_of.setdefault(key, []).append(line)
    for client in per_client:
        stdout.write(f"\n{client}\n")
        for slug in slugs:
            stdout.write(f"  {lines[(client, slug)]}\n")
            for line in items_of.get((client, slug), ()):
                stdout.write(f"      {line}\n")


def _amount(amount, currency) -> str:
    if amount is None or amount != amount:
        return _text(currency)
    return f"{float(amount):,.2f} {_text(currency)}".rstrip()


def _write_recurring(stdout: TextIO, recurring, labels: dict[str, str]) -> None:
    """Per client a block: each item's id (or key), supplier, runs, first and last period, categories."""
    def period(slug) -> str:
        return labels.get(slug, _text(slug))

    rows = [(_item_name(r), _text(r.supplier), _plural(int(r.runs), "run"),
             f"{period(r.first_period)} to {period(r.last_period)}", _categories(r.categories))
            for r in recurring.itertuples(index=False)]
    blocks: dict[str, list[str]] = {}
    for client, line in zip(recurring["client"], _aligned(rows, right=(2,))):
        blocks.setdefault(client, []).append(line)
    for client in sorted(blocks):
        stdout.write(f"\n{client}\n")
        for line in blocks[client]:
            stdout.write(f"  {line}\n")


def _report_reading(analysis, stderr) -> None:
    for failure in analysis.failures:
        print(f"publish-failures: {failure}", file=stderr)
    for note in analysis.notes:
        print(f"publish-failures: note: {note}", file=stderr)
    for table in analysis.batch.tables:
        where = f"{table.source_file}" + (f" [{table.sheet}]" if table.sheet else "")
        for note in table.notes:
            print(f"publish-failures: note: {where}: {note}", file=stderr)
    skipped = analysis.batch.skipped
    reasons: dict[str, int] = {}
    for skip in skipped:
        reasons[skip.reason] = reasons.get(skip.reason, 0) + 1
    detail = ", ".join(f"{n} {r}{'s' if n > 1 else ''}" for r, n in reasons.items())
    files = sum(1 for i in analysis.inputs if i.ok)
    print(
        f"publish-failures: {analysis.rows_read} data row(s) from {files} file(s)"
        + (f"; skipped {len(skipped)} ({detail})" if skipped else ""),
        file=stderr,
    )


def _how_decided(finding, catalog) -> str:
    """How the category was found, in words, for a bookkeeper who wonders why."""
    if finding.match == "pattern":
        return "the catalog's patterns (certain)"
    if finding.match == "taught":
        return "this practice: someone taught it this message's pattern (certain)"
    if finding.match == "similar" and finding.cue:
        return (f"the message's key words ({finding.cue}): probably right; check the cause matches")
    if finding.match == "similar":
        return (f"similarity to known wordings of this error ({finding.confidence:.2f}): probably right; check the"
                " cause matches")
    if finding.suggestion:
        title = catalog.category(finding.suggestion).title
        return (f"nothing: not recognised; it looks most like '{title}' ({finding.confidence:.2f}), too little"
                " to be sure; `publish-failures teach` can teach it")
    return "nothing: not recognised"


def _explain(args, stdout, stderr) -> int:
    message = _message(args.message, args.stdin, stderr)
    catalog = load_catalog(tuple(args.catalog))
    from analyzer.classify import SecondStage, classify_cell
    from analyzer.taught import taught

    try:
        known = taught(_default_database(None))
    except (HistoryError, StoreLocationError, MissingExtra) as exc:
        # A message is explained without the practice's database too (a shared server may be down).
        # The store's words are a run's ("nothing of this run was published"): explain publishes nothing.
        why = str(exc).split("; nothing of this run was", 1)[0]
        print(f"publish-failures: note: the errors this practice taught could not be read ({why}); explained"
              " with the catalog alone", file=stderr)
        known = {}
    findings = classify_cell(message, catalog, None, SecondStage(known))
    explained = []
    for finding in findings:
        fix = catalog.fixes[finding.fix]
        category = catalog.category(finding.category) if finding.category != "unclassified" else None
        explained.append({
            "category": finding.category,
            "title": category.title if category else "Not recognised",
            "cause": category.cause if category else "The analyzer's catalog has no entry for this message.",
            "values": dict(finding.values),
            "template": finding.template,
            "fix": fix.id,
            "fix_title": fix.title,
            "who": fix.who_label,
            "where": fix.where,
            "steps": list(fix.steps),
            "warnings": list(fix.warnings),
            "publishable": fix.publishable,
            "match": finding.match,
            "confidence": finding.confidence,
            "decided": _how_decided(finding, catalog),
            "suggestion": finding.suggestion,
        })
    if args.json:
        json.dump(explained, stdout, indent=2, ensure_ascii=False)
        stdout.write("\n")
        return EXIT_OK
    for number, item in enumerate(explained, start=1):
        if len(explained) > 1:
            stdout.write(f"Error {number} of {len(explained)}\n")
        stdout.write(f"{item['title']}  [{item['category']}]\n")
        stdout.write(f"Decided by: {item['decided']}\n")
        stdout.write(f"Cause: {item['cause']}\n")
        for name, value in item["values"].items():
            stdout.write(f"  {name.replace('_', ' ')}: {value}\n")
        if item["template"]:
            stdout.write(f"  template: {item['template']}\n")
        stdout.write(f"Fix: {item['fix_title']}  ({item['who']}; {item['where']})\n")
        for step_number, step in enumerate(item["steps"], start=1):
            stdout.write(f"  {step_number}. {step}\n")
        for warning in item["warnings"]:
            stdout.write(f"  Warning: {warning}\n")
        stdout.write("\n")
    return EXIT_OK


def _message(given: str, stdin: TextIO | None, stderr: TextIO) -> str:
    """The message to explain: as given, or all of standard input for `-`; never empty."""
    if given == "-":
        if stdin is None:  # no standard input at all (pythonw, some services)
            raise UsageError("publish-failures explain -: there is no standard input; pass the message in quotes")
        if _is_terminal(stdin):
            print("publish-failures: paste the error, then press Ctrl-D (Ctrl-Z then Enter on Windows)", file=stderr)
        try:
            given = stdin.read()
        except UnicodeDecodeError:
            raise UnreadableInput("publish-failures explain -: standard input is not UTF-8 text;"
                                  " save or paste it as UTF-8, or pass the message in quotes") from None
        if not given.strip():
            raise UsageError("publish-failures explain -: standard input was empty; pipe or paste the error text")
    elif not given.strip():
        raise UsageError('publish-failures explain: the message is empty; pass the error text in quotes,'
                         ' or - to read it from standard input')
    return given


def _rules(args, stdout, stderr) -> int:
    catalog = load_catalog(tuple(args.catalog))
    from analyzer.write import write_rules_table

    write_rules_table(catalog, args.format, stdout)
    return EXIT_OK
