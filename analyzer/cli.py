"""The `publish-failures` command: thin wrappers that build the library's objects, call one
function, and turn known failures into one-line errors with documented exit codes."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TextIO

from analyzer import __version__
from analyzer.catalog import CatalogError, load_catalog
from analyzer.classify import classify_cell
from analyzer.columns import ROLES
from analyzer.normalise import Options
from analyzer.pipeline import ReportSettings, analyse, classified_table, run_report
from analyzer.read import Limits
from analyzer.write import write_rules_table, write_table

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Wrong arguments: exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every usage error
        raise UsageError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="publish-failures",
        description="Turn Dext-to-Xero publish-failure exports into per-client action reports.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    classify = commands.add_parser(
        "classify", help="classify every row's error (CSV, or JSON Lines for .jsonl)",
        description="Classify every data row's error and write one output row per input row, in input order.",
    )
    _add_input_options(classify)
    classify.add_argument("-o", "--output", metavar="FILE",
                          help="write here (CSV, or JSON Lines when FILE ends in .jsonl); default: standard output")
    classify.set_defaults(handler=_classify)

    report = commands.add_parser(
        "report", help="write per-client action reports (HTML and Excel), an index and an overview",
        description="Write, for each client, an HTML and an Excel action report grouped by fix, plus"
                    " index.html, overview.xlsx and manifest.json across all clients.",
    )
    _add_input_options(report, force_flag="--as-client")
    _add_report_options(report)
    report.set_defaults(handler=_report)

    explain = commands.add_parser(
        "explain", help="explain one pasted error message",
        description="Explain one error message: categories, cause, values found, fix steps and warnings.",
    )
    explain.add_argument("message", help="the error text, quoted")
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


def _add_report_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--out", type=Path, default=Path("reports"), metavar="DIR",
                         help="folder for the reports (default: reports/)")
    command.add_argument("--format", default="html,xlsx", metavar="html,xlsx",
                         help="which reports to write: html, xlsx or both (default: both)")
    command.add_argument("--client", dest="clients", action="append", default=[], metavar="NAME",
                         help="report only this client (may repeat; --as-client NAME treats every row as one client's)")
    command.add_argument("--period", default="", metavar="TEXT",
                         help="the period the report covers (default: the previous calendar month)")
    command.add_argument("--templates", type=Path, default=None, metavar="DIR",
                         help="a folder of templates that override the built-in ones (logo, colours, wording)")
    command.add_argument("--practice", default="", metavar="NAME", help="the practice's name for report headers")
    command.add_argument("--workers", type=int, default=0, metavar="N",
                         help="processes rendering clients in parallel (default: one per core for 8+ clients)")


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args, stdout, stderr)
    except UsageError as exc:
        print(str(exc), file=stderr)
        return EXIT_USAGE
    except CatalogError as exc:
        print(f"publish-failures: catalog: {exc}", file=stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("publish-failures: interrupted", file=stderr)
        return 130


def options_from(args: argparse.Namespace) -> Options:
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
    base = Limits()
    mb = 1024 * 1024
    return Limits(
        max_file_bytes=int(args.max_file_mb * mb) if args.max_file_mb else base.max_file_bytes,
        max_unzipped_bytes=int(args.max_unzipped_mb * mb) if args.max_unzipped_mb else base.max_unzipped_bytes,
        max_rows=args.max_rows or base.max_rows,
        max_cell_chars=args.max_cell_chars or base.max_cell_chars,
    )


def _classify(args, stdout, stderr) -> int:
    analysis = analyse(args.paths, options_from(args), limits_from(args), tuple(args.catalog))
    table = classified_table(analysis)
    target = args.output or "-"
    write_table(table, target, stdout)
    _report_reading(analysis, stderr)
    return EXIT_INPUT if analysis.failures else EXIT_OK


def report_settings_from(args: argparse.Namespace) -> ReportSettings:
    formats = tuple(f.strip().lower() for f in args.format.split(",") if f.strip())
    if not formats or set(formats) - {"html", "xlsx"}:
        raise UsageError(f"--format {args.format!r}: use html, xlsx or html,xlsx")
    if args.templates is not None and not args.templates.is_dir():
        raise UsageError(f"--templates {args.templates}: no such folder")
    return ReportSettings(out=args.out, formats=formats, practice=args.practice, period=args.period,
                          templates=args.templates, clients=tuple(args.clients), workers=args.workers)


def _report(args, stdout, stderr) -> int:
    settings = report_settings_from(args)
    analysis = analyse(args.paths, options_from(args), limits_from(args), tuple(args.catalog))
    run = run_report(analysis, settings, dt.datetime.now().replace(microsecond=0))
    _report_reading(analysis, stderr)
    print(f"publish-failures: wrote {len(run.reports)} client report(s) to {settings.out}/"
          f" (open {settings.out / 'index.html'})", file=stderr)
    return EXIT_INPUT if analysis.failures else EXIT_OK


def _report_reading(analysis, stderr) -> None:
    for failure in analysis.failures:
        print(f"publish-failures: {failure}", file=stderr)
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


def _explain(args, stdout, stderr) -> int:
    catalog = load_catalog(tuple(args.catalog))
    findings = classify_cell(args.message, catalog)
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
        })
    if args.json:
        json.dump(explained, stdout, indent=2, ensure_ascii=False)
        stdout.write("\n")
        return EXIT_OK
    for number, item in enumerate(explained, start=1):
        if len(explained) > 1:
            stdout.write(f"Error {number} of {len(explained)}\n")
        stdout.write(f"{item['title']}  [{item['category']}]\n")
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


def _rules(args, stdout, stderr) -> int:
    catalog = load_catalog(tuple(args.catalog))
    write_rules_table(catalog, args.format, stdout)
    return EXIT_OK
