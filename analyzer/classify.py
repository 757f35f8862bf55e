"""Classify error cells into catalog categories, extracting the values each fix needs.

A cell may hold several errors (newlines, ``;``, a Xero JSON body), wrapped in whatever text the
person or integration that copied it added. Every pattern of every category is scanned over each
message; where two categories claim the same text the one earlier in the catalog wins (the match
order is the catalog's order, on purpose). Text no category claims becomes an ``unclassified``
finding with a masked template, so unknown errors group into candidates for the catalog.

Each distinct cell is classified once and the result mapped back to every row holding it.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field, replace
from functools import cache

from typing import TYPE_CHECKING

import re2

from analyzer.catalog import MANUAL_REVIEW, UNCLASSIFIED, Catalog, Deferred
from analyzer.keywords import CONFIDENCE as KEY_WORDS_CONFIDENCE
from analyzer.keywords import read_key_words
from analyzer.similar import Phrasebook, load_phrasebook
from analyzer.spelling import CONFIDENCE as SPELLING_CONFIDENCE
from analyzer.spelling import Speller

if TYPE_CHECKING:  # numpy and pandas load with the first table, not for one pasted message (`explain`)
    import numpy as np
    import pandas as pd

NO_ERROR_TEXT = "(no error text in the export)"
# What spreadsheets and people put in a cell that has no error: no message to look up.
PLACEHOLDERS = frozenset({"-", "--", "–", "—", "n/a", "na", "#n/a", "none", "null", "nil", "(blank)", "(none)",
                          "(empty)", "no error", "ok", "published"})
_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'",
                         "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
                         "\u00a0": " ", "\u2007": " ", "\u202f": " "})
# Patterns over cell text run on RE2, in time linear in the cell (Python's engine takes
# quadratic time to split a cell of 100,000 spaces with `\s*...\s*`).
_SEPARATORS = re2.compile(r"\s*(?:\r?\n|\r|;|\s\|\s|•)\s*")
_SEPARATOR_CHARACTERS = "\n\r;|•"  # a cell without any of these has nothing _SEPARATORS splits on
_JSON_START = re.compile(r"[\[{]")
_JSON_TEXT_FIELD = re2.compile(r'"(Message|Detail|Title)"\s*:\s*"((?:\\.|[^"\\])*)"')
# No cell needs more than this to say what went wrong; a longer one is classified on its start
# and its end, so the work per cell is bounded whatever a file holds.
MAX_CLASSIFY_CHARS = 20_000
_WORDS = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class Finding:
    """One error found in a cell: its category, the fix, and the values pulled out of it."""

    category: str
    fix: str
    values: tuple[tuple[str, str], ...] = ()
    template: str = ""
    match: str = "pattern"  # how it was decided: pattern, similar (the phrasebook), taught, none
    confidence: float = 1.0  # 0-1: a pattern or a taught template is certain
    suggestion: str = ""  # for an unclassified message: the category it looks most like
    cue: str = ""  # for a match by key words: the catalog's cue that fitted
    read_as: str = ""  # a pattern's match after reading typing slips: what was read ("read 'acount' as 'account'")

    def value(self, name: str) -> str:
        return dict(self.values).get(name, "")


@dataclass(frozen=True)
class Classified:
    """Findings per distinct cell, and for each row the index of its cell."""

    codes: np.ndarray
    cells: tuple[str, ...]
    findings: tuple[tuple[Finding, ...], ...]

    def columns(self, value_names: tuple[str, ...]) -> pd.DataFrame:
        """Per-row output columns: categories, fixes, template and one column per value.
        Categorical: each row holds its cell's code, each distinct text is stored once."""
        import numpy as np
        import pandas as pd

        names = ("categories", "fixes", "template", "match", "confidence", *value_names)
        per_cell = dict(zip(names, zip(*(_cell_columns(f, value_names) for f in self.findings)))) if self.findings \
            else {name: () for name in names}
        confidence = per_cell.pop("confidence")
        table = pd.DataFrame({k: _per_row(v, self.codes) for k, v in per_cell.items()}, copy=False)
        table["confidence"] = np.asarray(confidence or [0.0], dtype=np.float32)[self.codes] if len(self.codes) \
            else np.zeros(0, dtype=np.float32)
        return table


def _cell_columns(findings: tuple[Finding, ...], value_names: tuple[str, ...]) -> tuple:
    """One cell's categories, fixes, template, match, confidence and values (in `value_names`'
    order): the weakest finding says how sure the cell is; a value found twice is listed once."""
    if len(findings) == 1 and len({name for name, _ in findings[0].values}) == len(findings[0].values):
        only = findings[0]  # most cells: one finding, nothing to join
        values = dict(only.values)
        return (only.category, only.fix, only.template, only.match, only.confidence,
                *(values.get(name, "") for name in value_names))
    weakest = min(findings, key=lambda f: f.confidence, default=None)
    values: dict[str, dict[str, None]] = {}
    for finding in findings:
        for name, value in finding.values:
            values.setdefault(name, {})[value] = None
    return (_join(f.category for f in findings), _join(f.fix for f in findings),
            " | ".join(f.template for f in findings if f.template),
            weakest.match if weakest else "none", weakest.confidence if weakest else 0.0,
            *(", ".join(values.get(name, ())) for name in value_names))


def _per_row(per_cell: list[str], codes: np.ndarray) -> pd.Categorical:
    """Map per-cell texts to rows without copying a string per row. The distinct texts are found
    with a dict (a few thousand cells: faster than sorting objects) and kept sorted, as the
    category order is the order a sort of the column gives."""
    import numpy as np
    import pandas as pd

    texts = sorted(set(per_cell))
    number = {text: index for index, text in enumerate(texts)}
    # Narrowed before the take: a million one- or two-byte codes, not int64 ones copied again.
    narrow = np.int8 if len(texts) < 2**7 else np.int16 if len(texts) < 2**15 else np.int32
    if len(texts) == 1:  # a value no finding has: every row the same, no take
        positions = np.zeros(len(codes), dtype=narrow)
    else:
        positions = np.fromiter(map(number.__getitem__, per_cell), dtype=narrow, count=len(per_cell))[codes]
    return pd.Categorical.from_codes(positions, categories=pd.Index(texts, dtype="str"), validate=False)


@dataclass(frozen=True)
class SecondStage:
    """What decides a message no pattern claims: the practice's taught templates (template ->
    category id, from the state store), then the catalog's key words, then the phrasebook's
    similarity."""

    taught: dict[str, str] = field(default_factory=dict)
    similarity: bool = True


def classify_rows(errors: pd.Series, catalog: Catalog, second: SecondStage = SecondStage()) -> Classified:
    """Classify a column of error cells, each distinct cell once."""
    import pandas as pd

    codes, uniques = pd.factorize(errors.fillna(""), sort=False)
    cells = tuple(str(u) for u in uniques)
    messages: dict[str, list[Finding]] = {}  # cells share messages: classify each message once
    findings = tuple(classify_cell(cell, catalog, messages, second) for cell in cells)
    return Classified(codes=codes, cells=cells, findings=findings)


def classify_cell(cell: str, catalog: Catalog, cache: dict[str, list[Finding]] | None = None,
                  second: SecondStage = SecondStage()) -> tuple[Finding, ...]:
    """Every error in one cell, in order of appearance, each distinct finding once."""
    found: dict[Finding, None] = {}
    cache = {} if cache is None else cache
    if len(cell) > MAX_CLASSIFY_CHARS:  # its start and its end: a wrapper's log may end in Xero's message
        cell = f"{cell[:MAX_CLASSIFY_CHARS // 2]}\n{cell[-(MAX_CLASSIFY_CHARS // 2):]}"
    if " ".join(cell.split()).casefold() in PLACEHOLDERS:
        return (_unclassified(NO_ERROR_TEXT),)
    for message in split_messages(cell):
        if message not in cache:
            cache[message] = _classify_message(message, catalog, second)
        for finding in cache[message]:
            found.setdefault(finding)
    if not found:
        remainder = _strip_noise(clean_text(cell), catalog)
        template = NO_ERROR_TEXT if not cell.strip() else mask_text(remainder or clean_text(cell), catalog)
        found[_unclassified(template)] = None
    return tuple(found)


def clean_text(text: str) -> str:
    """Undo what copying does to a message: HTML entities, curly quotes, odd spaces."""
    if "&" in text:
        text = html.unescape(text)
    return text.translate(_QUOTES)


def split_messages(cell: str) -> list[str]:
    """The separate messages in a cell: Xero JSON bodies opened up, then split on separators."""
    text = clean_text(cell)
    pieces: list[str] = []
    for chunk in _open_json(text):
        # Most cells hold one message: no separator character, no split (RE2's wrapper costs
        # 20 µs a call, a month's classification 0.09 s).
        parts = _SEPARATORS.split(chunk) if any(c in chunk for c in _SEPARATOR_CHARACTERS) else (chunk,)
        pieces.extend(" ".join(p.split()) for p in parts if p.strip())
    return pieces


def _open_json(text: str) -> list[str]:
    """Replace a JSON body by the messages inside it, keeping the text around it."""
    start_match = _JSON_START.search(text)
    if not start_match or '"' not in text:
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


def _classify_message(message: str, catalog: Catalog, second: SecondStage = SecondStage()) -> list[Finding]:
    matches = _scan(message, catalog)
    if matches:
        return [finding for _, finding in sorted(matches, key=lambda m: m[0])]
    remainder = _strip_noise(message, catalog)
    if not _WORDS.search(remainder):
        return []
    template = mask_text(remainder, catalog)
    taught = second.taught.get(template_key(template))
    if taught and taught in catalog.ids:
        return [Finding(taught, catalog.category(taught).fix, (), "", "taught", 1.0)]
    if second.similarity:
        return _second_stage(message, template, catalog)
    return [_unclassified(template)]


def _second_stage(message: str, template: str, catalog: Catalog) -> list[Finding]:
    """A message no pattern claims and nobody taught: the patterns decide again on other readings
    of it (its typing slips read, then its own sentences); else its key words, then the
    phrasebook. The key words must read the same with the slips read as typed: a slipped blocker
    word (`Cusotmer invoice does not exist`) must block as `Customer invoice` does, and a misread
    word must not make a cue fit."""
    spelled = speller_of(catalog).read(message)
    readings = [(spelled.text, spelled.said)] if spelled.slips else []
    readings += [(part, f"read as {part!r}") for part in _parts(message, catalog)]
    for text, said in readings:
        matches = _scan(text, catalog)
        if matches:
            return [replace(finding, match="similar", confidence=SPELLING_CONFIDENCE, read_as=said)
                    for _, finding in sorted(matches, key=lambda m: m[0])]
    words = read_key_words(template, catalog.categories)
    if spelled.slips and words.category:
        read = mask_text(_strip_noise(spelled.text, catalog), catalog)
        if read_key_words(read, catalog.categories).category != words.category:
            words = read_key_words("", catalog.categories)  # the two readings disagree: no verdict
    if words.category and not phrasebook_of(catalog).vetoes(template.lower(), words.category):
        return [Finding(words.category, catalog.category(words.category).fix, (), "", "similar",
                        KEY_WORDS_CONFIDENCE, cue=words.cue)]
    verdict = phrasebook_of(catalog).judge(template.lower())
    if verdict.category:
        return [Finding(verdict.category, catalog.category(verdict.category).fix, (), "", "similar",
                        verdict.confidence)]
    return [Finding(UNCLASSIFIED, MANUAL_REVIEW, (), template, "none", verdict.confidence, verdict.suggestion)]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_TRAILING_REFERENCE = re.compile(r"\s*[(\[][^()\[\]]{0,60}[)\]]\s*$")


def _parts(message: str, catalog: Catalog) -> list[str]:
    """A message's own sentences, without the wrapper text around it or a reference after it:
    what a pattern written for the whole of a short message ("Invoice not found") can claim in
    "Invoice not found. Please fix and try again (ref 8841-22A)"."""
    stripped = " ".join(_in_turn(message, _substitutions(catalog, "noise")).split())  # its punctuation kept
    parts = [stripped, _TRAILING_REFERENCE.sub("", stripped)]
    for text in list(parts):
        sentences = _SENTENCE_END.split(text)
        if len(sentences) > 1:
            parts += [s for s in sentences if _WORDS.search(s)]
    return [p for p in dict.fromkeys(p.strip() for p in parts) if p and p != message]


def template_key(template: str) -> str:
    """What a taught template is remembered by: the masked message, case and spacing aside."""
    return " ".join(template.casefold().split())


_PHRASEBOOKS: dict[int, tuple[Catalog, Phrasebook]] = {}


def phrasebook_of(catalog: Catalog) -> Phrasebook:
    """The phrasebook with this catalog's examples and near-misses, built once per catalog."""
    entry = _PHRASEBOOKS.get(id(catalog))
    if entry is None or entry[0] is not catalog:
        entry = (catalog, load_phrasebook(catalog, lambda text: normalised(text, catalog)))
        _PHRASEBOOKS[id(catalog)] = entry
    return entry[1]


_SPELLERS: dict[int, tuple[Catalog, Speller]] = {}


def speller_of(catalog: Catalog) -> Speller:
    """The speller whose vocabulary is the phrasebook's distinct wordings, built once per catalog."""
    entry = _SPELLERS.get(id(catalog))
    if entry is None or entry[0] is not catalog:
        entry = _SPELLERS[id(catalog)] = (catalog, Speller(sorted(set(phrasebook_of(catalog).texts))))
    return entry[1]


def normalised(text: str, catalog: Catalog) -> str:
    """A message as the similarity stage compares it: noise stripped, values masked, lower case."""
    return mask_text(_strip_noise(clean_text(text), catalog), catalog).lower()


def _scan(message: str, catalog: Catalog) -> list[tuple[int, Finding]]:
    """Matches of every category, earlier categories winning any overlap. One RE2 set search
    tells which patterns match at all (microseconds for the whole catalog), and only those run."""
    hits = _pattern_set(catalog).Match(message)
    if not hits:
        return []
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, Finding]] = []
    order = _PATTERN_SETS[id(catalog)][2]
    text = _Text(message)
    for category, pattern in (order[i] for i in sorted(hits)):  # in catalog order
        for span, groups in matches(pattern.compiled() if isinstance(pattern, Deferred) else pattern, text):
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            taken.append(span)
            values = tuple((name, _tidy_value(value)) for name, value in groups if value)
            found.append((span[0], Finding(category.id, category.fix, values)))
    return found


class _Text:
    """A message and its UTF-8 bytes, encoded once for every pattern the set says matches."""

    __slots__ = ("text", "encoded", "ascii")

    def __init__(self, text: str):
        self.text, self.encoded = text, text.encode("utf-8")
        self.ascii = len(self.encoded) == len(text)

    def at(self, offset: int) -> int:
        """A byte offset (RE2's) as a character offset."""
        return offset if self.ascii else len(self.encoded[:offset].decode("utf-8"))

    def between(self, start: int, end: int) -> str:
        return self.encoded[start:end].decode("utf-8")


def matches(compiled, text: _Text):
    """Each match of `compiled` in the text as the wrapper's finditer finds them: (its span in
    characters, the named groups in the pattern's order with their text or None).

    The google-re2 wrapper's finditer does in Python, for each call, work that is the same for
    every pattern of a message (encoding it, mapping byte offsets to characters, building match
    objects): about 50 µs a message, most of classify's time. Here RE2 is asked through the
    wrapper's compiled object and the message is encoded once; a wrapper version without that
    object, or answering a probe otherwise, gets its own finditer (`_fast_matching`)."""
    return _matches_in_re2(compiled, text) if _fast_matching() else _matches_by_wrapper(compiled, text)


def _matches_by_wrapper(compiled, text: _Text):
    names = _group_names(compiled)
    for match in compiled.finditer(text.text):
        yield match.span(), tuple((name, match.group(index)) for index, name in names)


def _matches_in_re2(compiled, text: _Text):
    names = _group_names(compiled)
    search, encoded = compiled._regexp.Match, text.encoded
    position, end = 0, len(encoded)
    while True:
        spans = search(re2._Anchor.UNANCHORED, encoded, position, end)
        start, stop = spans[0]
        if start < 0:
            return
        yield (text.at(start), text.at(stop)), tuple(
            (name, None if spans[index][0] < 0 else text.between(*spans[index])) for index, name in names)
        if position == end:
            return
        # An empty match where the search began would be found for ever: step one character on.
        position = stop if stop != position else position + _character_bytes(encoded[position])


def _character_bytes(lead: int) -> int:
    """The length in UTF-8 of the character whose first byte is `lead`."""
    return 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _group_names(compiled) -> tuple[tuple[int, str], ...]:
    """The pattern's named groups in their order in the pattern: (group number, name). Kept
    per pattern: the wrapper builds its groupindex afresh on every call (10 µs)."""
    names = _GROUP_NAMES.get(id(compiled))
    if names is None or names[0] is not compiled:
        names = _GROUP_NAMES[id(compiled)] = (compiled, tuple(sorted((i, n) for n, i in compiled.groupindex.items())))
    return names[1]


_GROUP_NAMES: dict[int, tuple] = {}


@cache
def _fast_matching() -> bool:
    """Whether RE2's compiled object answers as the wrapper's finditer does, on a probe with
    empty matches, characters of two and three bytes and a group that takes no part."""
    try:
        probe = re2.compile(r"(?P<amount>\d*)£?(?P<letter>x)?")
        text = _Text("1£x é 22 – x")
        return list(_matches_in_re2(probe, text)) == list(_matches_by_wrapper(probe, text))
    except Exception:  # noqa: BLE001 - whatever another wrapper version does: its finditer is used
        return False


_PATTERN_SETS: dict[int, tuple] = {}


def _pattern_set(catalog: Catalog):
    """Every category pattern of a catalog in one RE2 set, numbered in catalog order."""
    entry = _PATTERN_SETS.get(id(catalog))
    if entry is None or entry[0] is not catalog:
        options = re2.Options()
        options.case_sensitive = False
        options.log_errors = False
        # Room for the automaton of 178 patterns: in RE2's default 8 MB it ran out and fell back
        # to the slow matcher (40 µs a message instead of 1-7; it holds about 6 MB once built).
        options.max_mem = 32 * 1024**2
        patterns = re2.Set.SearchSet(options)
        order = []
        for category in catalog.categories:
            for pattern in category.patterns:
                patterns.Add(pattern.pattern)
                order.append((category, pattern))
        patterns.Compile()
        entry = _PATTERN_SETS[id(catalog)] = (catalog, patterns, order)
    return entry[1]


def _tidy_value(value: str) -> str:
    return value.strip().strip("'\"").rstrip(".,;:").strip()


def _strip_noise(message: str, catalog: Catalog) -> str:
    message = _in_turn(message, _substitutions(catalog, "noise"))
    message = " ".join(message.split()).strip(" .,:;-!")
    # A message quoted whole ('Invoice 12 was not approved...') is the message, not one value.
    while len(message) > 2 and message[0] == message[-1] and message[0] in "'\"":
        message = message[1:-1].strip(" .,:;-!")
    return message


def mask_text(text: str, catalog: Catalog) -> str:
    """Mask the parts of a message that vary (codes, ids, dates, amounts) into a template."""
    text = " ".join(text.split())
    return _in_turn(text, _substitutions(catalog, "masks")).strip(" .!")


def _in_turn(text: str, substitutions) -> str:
    """Each substitution in turn on what the ones before left, as one `sub` after another would
    do; but one RE2 set search says which of them can change anything, repeated only after a
    change. Most messages need one or two of the catalog's seventeen masks and noise patterns,
    and each `sub` of RE2's wrapper costs microseconds even when it changes nothing (0.1 s of
    a month's classification, mostly building the phrasebook)."""
    matcher, steps = substitutions
    hits = sorted(matcher.Match(text) or ()) if matcher is not None else []
    while hits:
        index = hits.pop(0)
        pattern, replace = steps[index]
        changed = pattern.sub(replace, text)
        if changed != text:
            text = changed
            hits = [hit for hit in sorted(matcher.Match(text) or ()) if hit > index]
    return text


_SUBSTITUTIONS: dict[tuple[int, str], tuple] = {}


def _substitutions(catalog: Catalog, kind: str):
    """(an RE2 set of the patterns, [(pattern, replacement)...]) of the catalog's noise or masks."""
    entry = _SUBSTITUTIONS.get((id(catalog), kind))
    if entry is None or entry[0] is not catalog:
        steps = ([(pattern, " ") for pattern in catalog.noise] if kind == "noise"
                 else [(mask.pattern, mask.replace) for mask in catalog.masks])
        matcher = None
        if steps:
            options = re2.Options()
            options.case_sensitive = False
            options.log_errors = False
            options.max_mem = 32 * 1024**2
            matcher = re2.Set.SearchSet(options)
            for pattern, _ in steps:
                matcher.Add(pattern.pattern)
            matcher.Compile()
        entry = _SUBSTITUTIONS[(id(catalog), kind)] = (catalog, (matcher, steps))
    return entry[1]


def _unclassified(template: str) -> Finding:
    """An unrecognised message: nothing decided it (match none), nothing vouches for it."""
    return Finding(UNCLASSIFIED, MANUAL_REVIEW, (), template, "none", 0.0)


def _join(items, separator: str = "+") -> str:
    return separator.join(dict.fromkeys(i for i in items if i))
