"""Checks a catalog document fully before anything is built from it, and compiles its patterns
with a linear-time engine.

A practice's own catalog file is untrusted input like an export: a wrong type (a string where a
list belongs, a category written as a table instead of a list of tables), an unknown key, or a
pattern that could take exponential time on a hostile cell must be one line naming the file, the
entry and the key, never a traceback or a hang. Every pattern that runs over cell text is
compiled with RE2 (google-re2), which matches in time linear in the text whatever the pattern:
`(a+)+$` on a megabyte of `a`s is as quick as any other pattern. RE2 does not do look-arounds or
back-references; a pattern that uses them is refused with a message saying so.
"""

from __future__ import annotations

import re

import re2

# Key -> the type its value must have: str, bool, "strings" (a list of strings) or "tables" (a
# list of tables).
FIX_KEYS = {
    "id": str, "title": str, "who": str, "where": str, "scope": str, "steps": "strings", "warnings": "strings",
    "publishable": bool, "clears_publishing_data": bool, "group_by": str, "variants": "tables",
    "transient": bool, "blocks": bool, "in_xero": bool, "client_why": str, "client_steps": "strings",
}
VARIANT_KEYS = {"when": str, "title": str, "steps": "strings", "publishable": bool, "who": str, "where": str}
CATEGORY_KEYS = {
    "id": str, "title": str, "cause": str, "fix": str, "seed": bool, "patterns": "strings", "extracts": "strings",
    "examples": "strings", "near_misses": "strings", "seed_wording": str, "cues": "strings",
    "cue_blockers": "strings",
}
MASK_KEYS = {"name": str, "pattern": str, "replace": str}
TOP_LEVEL = {"fix": "tables", "category": "tables", "mask": "tables", "noise": dict, "other_ledgers": dict}
OTHER_LEDGER_KEYS = {"names": "strings", "wordings": "strings", "examples": "strings", "near_misses": "strings"}
_TYPE_WORDS = {str: "text", bool: "true or false", dict: "a table", "strings": "a list of texts",
               "tables": "a list of tables ([[...]] entries)"}
_MAX_PATTERN_MEMORY = 64 * 1024**2  # RE2 refuses a pattern whose automaton would need more


class CatalogError(ValueError):
    """A catalog file is malformed; the message names the file and the entry."""


def check_document(source: str, doc: dict) -> None:
    """Every key known and of its type, in every entry of one catalog document."""
    _check_table(source, "top level", doc, TOP_LEVEL)
    for raw in doc.get("fix", []):
        where = f"fix {raw.get('id', '?')!r}"
        _check_table(source, where, raw, FIX_KEYS)
        for variant in raw.get("variants", []):
            _check_table(source, f"{where} variant", variant, VARIANT_KEYS)
    for raw in doc.get("category", []):
        _check_table(source, f"category {raw.get('id', '?')!r}", raw, CATEGORY_KEYS)
    for raw in doc.get("mask", []):
        _check_table(source, f"mask {raw.get('name', '?')!r}", raw, MASK_KEYS)
    if "noise" in doc:
        _check_table(source, "noise", doc["noise"], {"patterns": "strings"})
    if "other_ledgers" in doc:
        _check_table(source, "other_ledgers", doc["other_ledgers"], OTHER_LEDGER_KEYS)


def _check_table(source: str, where: str, raw: object, schema: dict) -> None:
    if not isinstance(raw, dict):
        raise CatalogError(f"{source}: {where}: must be a table of keys, not {type(raw).__name__}")
    if unknown := set(raw) - set(schema):
        raise CatalogError(f"{source}: {where}: unknown key(s) {', '.join(sorted(unknown))};"
                           f" known keys are {', '.join(schema)}")
    for key, value in raw.items():
        if not _is(value, schema[key]):
            raise CatalogError(f"{source}: {where}: {key} must be {_TYPE_WORDS[schema[key]]},"
                               f" not {type(value).__name__}")


def _is(value: object, kind: object) -> bool:
    if kind == "strings":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "tables":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if kind is bool:
        return isinstance(value, bool)
    return isinstance(value, kind) and not isinstance(value, bool)


def compile_linear(source: str, where: str, pattern: str):
    """A case-insensitive RE2 pattern, or one line saying why it cannot be one."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # the error is ours to say, in one line
    options.max_mem = _MAX_PATTERN_MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = ("; look-arounds ((?=, (?!, (?<=, (?<!) and back-references are not supported: they can take"
                " exponential time on a hostile cell") if "perl operator" in reason or "escape" in reason else ""
        raise CatalogError(f"{source}: {where}: bad pattern {pattern!r} ({reason}){hint}") from None


_GROUP_REFERENCE = re.compile(r"\\(\d+)|\\g<([^>]*)>")


def check_replacement(source: str, where: str, compiled, replace: str) -> None:
    """A mask's replacement may refer only to groups its pattern has."""
    for number, name in _GROUP_REFERENCE.findall(replace):
        if number and int(number) > compiled.groups or name and name not in compiled.groupindex \
                and not (name.isdigit() and int(name) <= compiled.groups):
            raise CatalogError(f"{source}: {where}: replace refers to group {number or name!r},"
                               f" which the pattern does not have")
