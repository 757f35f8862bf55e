"""A cell's separate messages: what copying did to the text undone, Xero JSON bodies opened,
and the cell split on the separators people and integrations put between errors."""

from __future__ import annotations

import html
import json
import re

import re2

from analyzer.classify.patterns import split


# What spreadsheets and people put in a cell that has no error: no message to look up.
PLACEHOLDERS = frozenset({"-", "--", "–", "—", "n/a", "na", "#n/a", "none", "null", "nil", "(blank)", "(none)",
                          "(empty)", "no error", "ok", "published"})


_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'",
                         "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
                         "\u00a0": " ", "\u2007": " ", "\u202f": " "})


# Patterns over cell text run on RE2, in time linear in the cell (Python's engine takes
# quadratic time to split a cell of 100,000 spaces with `\s*...\s*`).
_SEPARATORS = re2.compile(r"\s*(?:\r?\n|\r|;|\s\|\s|•)\s*")


_SEPARATOR_CHARACTER = re.compile("[\n\r;|•]")  # a cell without one has nothing _SEPARATORS splits on


_JSON_START = re.compile(r"[\[{]")


_JSON_TEXT_FIELD = re2.compile(r'"(Message|Detail|Title)"\s*:\s*"((?:\\.|[^"\\])*)"')


# No cell needs more than this to say what went wrong; a longer one is classified on its start
# and its end, so the work per cell is bounded whatever a file holds.
MAX_CLASSIFY_CHARS = 20_000


WORDS = re.compile(r"[^\W\d_]{2,}")


def clean_text(text: str) -> str:
    """Undo what copying does to a message: HTML entities, curly quotes, odd spaces."""
    if "&" in text:
        text = html.unescape(text)
    if text.isascii() and "`" not in text:  # nothing to translate (isascii reads a flag: no pass over the text)
        return text
    return text.translate(_QUOTES)


def split_messages(cell: str) -> list[str]:
    """The separate messages in a cell: Xero JSON bodies opened up, then split on separators."""
    text = clean_text(cell)
    pieces: list[str] = []
    for chunk in _open_json(text):
        # Most cells hold one message: no separator character, no split.
        parts = split(_SEPARATORS, chunk) if _SEPARATOR_CHARACTER.search(chunk) else (chunk,)
        pieces.extend(" ".join(p.split()) for p in parts if p.strip())
    return pieces


def _open_json(text: str) -> list[str]:
    """Replace a JSON body by the messages inside it, keeping the text around it."""
    start_match = _JSON_START.search(text) if '"' in text else None
    if not start_match:
        return [text]
    start = start_match.start()
    end = max(text.rfind("}"), text.rfind("]"))
    if end <= start:
        return [text]
    try:
        messages = _json_messages(json.loads(text[start : end + 1]))
    except (ValueError, RecursionError):
        # A cut-off or hand-escaped body: pull the message fields out of what is there.
        messages = [_unescape(m.group(2)) for m in _JSON_TEXT_FIELD.finditer(text)]
    if not messages:
        return [text]
    return [text[:start], *messages, text[end + 1 :]]


def _unescape(raw: str) -> str:
    """A JSON string body; pasted from PHP or JavaScript it may carry escapes JSON forbids (\\')."""
    try:
        return json.loads(f'"{raw}"')
    except ValueError:
        return re.sub(r"\\(.)", r"\1", raw)


def _json_messages(body: object) -> list[str]:
    """Every ``ValidationErrors[].Message``; failing those, the body's Detail/Message/Title."""
    validation: list[str] = []
    summary: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for item in node.get("ValidationErrors") or []:
                if isinstance(item, dict) and isinstance(item.get("Message"), str):
                    validation.append(item["Message"])
            for key in ("Title", "Detail", "Message", "message", "error", "detail"):
                if isinstance(node.get(key), str):
                    summary.append(node[key])
            for key, value in node.items():
                if key != "ValidationErrors" and isinstance(value, (list, dict)):
                    walk(value)

    walk(body)
    return validation or summary
