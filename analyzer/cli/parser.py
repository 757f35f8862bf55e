"""The command line's grammar: every command, its options and its help."""

from __future__ import annotations

import argparse
from pathlib import Path

from analyzer.columns import ROLES
from analyzer.cli.common import _Parser, _Version, _positive_float, _positive_int, _worker_count
from analyzer.cli.explaining import _explain, _rules
from analyzer.cli.reporting import _classify, _report, _run
from analyzer.cli.state import _clients, _history, _teach



def _run_undone(args) -> str:
    return "nothing of this run was recorded or published"


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
    classify.set_defaults(handler=_classify, consequence=lambda args: "nothing was written")

    report = commands.add_parser(
        "report", help="write per-client action reports (HTML and Excel), an index and an overview",
        description="Write, for each client, an HTML and an Excel action report grouped by fix, plus"
                    " index.html, overview.xlsx and manifest.json across all clients.",
    )
    _add_input_options(report, force_flag="--as-client")
    _add_report_options(report)
    report.set_defaults(handler=_report, consequence=_run_undone)

    run = commands.add_parser(
        "run", help="the whole month-end job from a config file, with no prompts (for schedulers)",
        description="Read the inputs named in the config (analyzer.toml here, or --config FILE), write every"
                    " report, and record the run history. Exit codes: 0 ok; 1 some inputs failed (the rest"
                    " are still reported); 2 configuration or usage error; 3 unrecognised errors found"
                    " (with --fail-on-unclassified); 4 another run is writing to the same folder;"
                    " 5 the reports could not be written; 6 the history database could not be used;"
                    " 7 the Dask scheduler could not be reached or was lost; 130/143 stopped. With several --config (or a"
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
    _add_replace_option(run)
    run.set_defaults(handler=_run, consequence=_run_undone)

    history = commands.add_parser(
        "history", help="items per client over past runs, and the items failing in more than one run",
        description="Show, from the run history database, each client's failed items per run and the"
                    " items seen in more than one run.",
    )
    history.add_argument("--client", default="", metavar="NAME", help="only this client")
    _store_options(history, "whose history to read")
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
    _store_options(teach, "whose database to use")
    teach.add_argument("--catalog", action="append", type=Path, default=[], metavar="FILE",
                       help="an extra catalog file (may repeat)")
    teach.set_defaults(handler=_teach,
                       consequence=lambda args: "" if args.list else "nothing was taught or forgotten")

    clients = commands.add_parser(
        "clients", help="the practice's clients from the history: last period, state, retired",
        description="List every client the run history holds, with its last period and state then; retire a"
                    " client the practice no longer looks after (it leaves the index until an export of it"
                    " comes again), or restore one.",
    )
    change = clients.add_mutually_exclusive_group()
    change.add_argument("--retire", default="", metavar="NAME", help="retire this client")
    change.add_argument("--restore", default="", metavar="NAME", help="bring a retired client back")
    _store_options(clients, "whose history to use")
    clients.add_argument("--json", action="store_true", help="print JSON instead of a table")
    clients.set_defaults(handler=_clients, consequence=lambda args: "no client was retired or restored"
                         if args.retire or args.restore else "")

    explain = commands.add_parser(
        "explain", help="explain one pasted error message",
        description="Explain one error message: categories, cause, values found, fix steps and warnings.",
    )
    explain.add_argument("message", help="the error text, quoted; - reads it from standard input (all of it,"
                                         " so a pasted multi-line error works)")
    explain.add_argument("--json", action="store_true", help="print JSON instead of text")
    explain.add_argument("--catalog", action="append", type=Path, default=[], metavar="FILE",
                         help="an extra catalog file (may repeat)")
    explain.add_argument("--db", default=None, metavar="FILE|URL",
                         help="the practice's database, for the errors it taught (default: the config's, else"
                              " reports/history.sqlite when there is one)")
    explain.add_argument("--config", type=Path, default=None, metavar="FILE", help=argparse.SUPPRESS)
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
    command.add_argument(force_flag, dest="force_client", default=None, metavar="NAME",
                         help="treat every row as this client's")
    order = command.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", dest="dayfirst", action="store_const", const=True, default=None,
                       help="read dates like 05/08/2026 as 5 August (default: inferred per file, else day first)")
    order.add_argument("--monthfirst", dest="dayfirst", action="store_const", const=False,
                       help="read dates like 05/08/2026 as May 8")
    command.add_argument("--catalog", action="append", type=Path, default=[], metavar="FILE",
                         help="an extra catalog file of the practice's own categories and fixes (may repeat)")
    command.add_argument("--currency", action="append", default=[], metavar="CODE|CLIENT=CODE",
                         help="the currency of amounts whose export states none ($ alone, or no currency column): for"
                              " every client (AUD) or one ('Acme Ltd=AUD'); may repeat (as currency in the config)")
    command.add_argument("--max-file-mb", type=_positive_float, default=None, help="largest input file read (default 1024)")
    command.add_argument("--max-rows", type=_positive_int, default=None, help="most data rows read from one table (default 5,000,000)")
    command.add_argument("--max-cell-chars", type=_positive_int, default=None, help="longest cell read (default 1,000,000)")
    command.add_argument("--max-unzipped-mb", type=_positive_float, default=None,
                         help="largest size a workbook may unpack to (default 2048)")
    command.add_argument("--max-cells", type=_positive_int, default=None,
                         help="most cells one sheet may span, blanks included (default 16,000,000)")
    command.add_argument("--max-columns", type=_positive_int, default=None, help="most columns one table may have (default 2,000)")


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
                              " busy machine, else up to one per idle CPU this process may use, by the size of the work;"
                              " a large month's classification takes a second process where two CPUs may be used);"
                              " 1: one process throughout")
    command.add_argument("--history", "--db", dest="history", default=None, metavar="FILE|URL",
                         help="the practice's history database: run history, tracking and taught errors; a file"
                              " (SQLite) or a postgresql://user@host/db URL (default: history.sqlite in the --out folder)")
    command.add_argument("--no-history", action="store_true",
                         help="do not read or record run history (no new / carried-over marks)")
    _add_replace_option(command)
    _add_scheduler_option(command)


def _add_replace_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--replace", action="store_true",
                         help="when the period was reported before, replace its report with this run's exports alone: a"
                              " client whose export is not in this run is export missing, or gone if first seen in the"
                              " period (default: it keeps the period's earlier report, as a late export run alone needs)")


def _add_scheduler_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--scheduler", default="", metavar="tcp://HOST:8786",
                         help="run reading and rendering on this Dask distributed cluster (pip install"
                              " '.[cluster]'; config key `scheduler`); default: worker processes on this machine")


def _store_options(command: argparse.ArgumentParser, whose: str) -> None:
    """--db and --config of the commands that work on the practice's state store alone."""
    command.add_argument("--db", default=None, metavar="FILE|URL",
                         help="the history database (default: from the config, else reports/history.sqlite)")
    command.add_argument("--config", type=Path, default=None, metavar="FILE",
                         help=f"the config file {whose} (default: analyzer.toml here, if any)")
