"""explain and rules: one message, or the catalog, in words."""

from __future__ import annotations

import json

from analyzer.errors import MissingExtra, StoreLocationError
from analyzer.store import StoreError as HistoryError
from analyzer.cli.common import EXIT_OK, _load_catalog, _message
from analyzer.cli.state import _database, _default_database



def _how_decided(finding, catalog) -> str:
    """How the category was found, in words, for a bookkeeper who wonders why."""
    if finding.match == "pattern":
        return "the catalog's patterns (certain)"
    if finding.match == "taught":
        return "this practice: someone taught it this message's pattern (certain)"
    if finding.match == "similar" and finding.read_as:
        return (f"the catalog's patterns, after reading typing slips ({finding.read_as}): probably right; check the"
                " cause matches")
    if finding.match == "similar" and finding.cue:
        return (f"the message's key words ({finding.cue}): probably right; check the cause matches")
    if finding.match == "similar":
        return (f"similarity to known wordings of this error ({finding.confidence:.2f}): probably right; check the"
                " cause matches")
    if finding.not_consulted:
        return f"nothing: it is {finding.not_consulted}, so Xero's catalog was not consulted"
    if finding.suggestion:
        title = catalog.category(finding.suggestion).title
        return (f"nothing: not recognised; it looks most like '{title}' ({finding.confidence:.2f}), too little"
                " to be sure; `publish-failures teach` can teach it")
    return "nothing: not recognised"


def _explain(args, stdout, stderr) -> int:
    message = _message(args.message, args.stdin, stderr)
    catalog = _load_catalog(args.catalog, stderr)
    from analyzer.classify import SecondStage, classify_cell
    from analyzer.taught import taught

    database, unread = None, False
    try:
        database = _database(args) if args.db else _default_database(args.config)
        if database is not None and not database.exists():
            print(f"publish-failures: note: no database at {database}; explained with the catalog alone", file=stderr)
        known = taught(database)
    except (HistoryError, StoreLocationError, MissingExtra) as exc:
        # A message is explained without the practice's database too (a shared server may be down).
        print(f"publish-failures: note: the errors this practice taught could not be read ({exc}); explained"
              " with the catalog alone", file=stderr)
        known, unread = {}, True
    findings = classify_cell(message, catalog, None, SecondStage(known))
    if database is None and not unread and any(f.category == "unclassified" for f in findings):
        # Not recognised here may be taught in the practice's database, kept elsewhere
        print("publish-failures: note: no practice database here (reports/history.sqlite or a config's): what the"
              " practice taught was not looked at; pass --db FILE to use it", file=stderr)
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


def _rules(args, stdout, stderr) -> int:
    catalog = _load_catalog(args.catalog, stderr)
    from analyzer.write import write_rules_table

    write_rules_table(catalog, args.format, stdout)
    return EXIT_OK
