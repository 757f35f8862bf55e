"""The catalog's patterns over a message, on RE2 (time linear in the message): which categories
claim it and the values they pull out; and the noise and masks that make an unknown message a
template."""

from __future__ import annotations

import re
from functools import cache

import re2

from analyzer.catalog import Catalog, Deferred
from analyzer.classify.model import Finding


def scan(message: str, catalog: Catalog) -> list[tuple[int, Finding]]:
    """Matches of every category, earlier categories winning any overlap. One RE2 set search
    tells which patterns match at all (microseconds for the whole catalog), and only those run;
    when it names one pattern with no values to pull out, that is the finding (nothing can
    overlap it, and its own automaton is neither compiled nor run: 156 of the 178 patterns)."""
    patterns, order, must_run = _pattern_set(catalog)
    text = _Text(message)
    hits = patterns.search(text)
    if not hits:
        return []
    if len(hits) == 1 and not must_run[hits[0]]:
        category = order[hits[0]][0]
        return [(0, Finding(category.id, category.fix))]
    return _scan_hits(text, sorted(hits), order)


def named_by_a_pattern(message: str, catalog: Catalog) -> bool:
    """Whether the set search names any pattern of the catalog in the message."""
    return bool(_pattern_set(catalog)[0].search(_Text(message)))


def _scan_hits(text: _Text, hits: list[int], order) -> list[tuple[int, Finding]]:
    """Each pattern the set search named, in catalog order, over the message."""
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, Finding]] = []
    for category, pattern in (order[i] for i in hits):
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
    for spans in _spans_in_re2(compiled, text.encoded):
        yield (text.at(spans[0][0]), text.at(spans[0][1])), tuple(
            (name, None if spans[index][0] < 0 else text.between(*spans[index])) for index, name in names)


def _spans_in_re2(compiled, encoded: bytes):
    """Each match as the wrapper's finditer finds them: the byte spans of the match (0) and of
    each group ((-1, -1) for a group that takes no part)."""
    search = compiled._regexp.Match
    position, end = 0, len(encoded)
    while True:
        spans = search(re2._Anchor.UNANCHORED, encoded, position, end)
        start, stop = spans[0]
        if start < 0:
            return
        yield spans
        if position == end:
            return
        # An empty match where the search began would be found for ever: step one character on.
        position = stop if stop != position else position + _character_bytes(encoded[position])


def sub(compiled, replacement: str, text: str) -> str:
    """`compiled.sub(replacement, text)`, each match found as `matches` finds it, for a
    replacement of plain text and group numbers (`\\1<CODE>`); another kind goes to the
    wrapper's sub. Its sub costs 8-45 µs a changed message (match objects built in Python)."""
    pieces = _replacement_pieces(replacement)
    if (pieces is None or not _in_re2(compiled)
            or any(isinstance(piece, int) and piece > compiled.groups for piece in pieces)):
        return compiled.sub(replacement, text)
    encoded, out, last = text.encode("utf-8"), [], 0
    for spans in _spans_in_re2(compiled, encoded):
        out.append(encoded[last : spans[0][0]])
        out.extend(piece if isinstance(piece, bytes) else encoded[spans[piece][0] : spans[piece][1]]
                   if spans[piece][0] >= 0 else b"" for piece in pieces)
        last = spans[0][1]
    if not out:
        return text
    out.append(encoded[last:])
    return b"".join(out).decode("utf-8")


def split(compiled, text: str) -> list[str]:
    """`compiled.split(text)` for a pattern without groups, each match found as `matches` finds
    it (the wrapper's split costs about 20 µs a cell)."""
    if not _in_re2(compiled) or compiled.groups:
        return compiled.split(text)
    encoded, pieces, last = text.encode("utf-8"), [], 0
    for spans in _spans_in_re2(compiled, encoded):
        pieces.append(encoded[last : spans[0][0]].decode("utf-8"))
        last = spans[0][1]
    pieces.append(encoded[last:].decode("utf-8"))
    return pieces


def _in_re2(compiled) -> bool:
    """Whether RE2 can be asked directly for this pattern's matches (see `matches`)."""
    return hasattr(compiled, "_regexp") and _fast_matching()


_GROUP_REFERENCE = re.compile(r"\\([1-9])(?![0-9])")


@cache
def _replacement_pieces(replacement: str) -> tuple[bytes | int, ...] | None:
    """A replacement as literal bytes and group numbers; None when it holds anything else
    (another escape, a named group, a character outside ASCII): the wrapper expands those."""
    parts = _GROUP_REFERENCE.split(replacement)
    literals = parts[0::2]
    if any("\\" in literal or not literal.isascii() for literal in literals):
        return None
    return tuple(int(part) if index % 2 else part.encode("ascii") for index, part in enumerate(parts) if part)


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
    """Every category pattern of a catalog in one RE2 search (`_PatternSet`), numbered in catalog
    order; the (category, pattern) of each number; and whether each must be run even when the
    search names it alone: it has named groups (values to pull out: `(?P<name>`, or RE2's
    `(?<name>`), or the set may not read it as it does."""
    entry = _PATTERN_SETS.get(id(catalog))
    if entry is None or entry[0] is not catalog:
        order = [(category, pattern) for category in catalog.categories for pattern in category.patterns]
        patterns = _PatternSet([pattern.pattern for _, pattern in order])
        # to run when the set names it alone: a pattern with values, or one the set may not read
        # as it does (a practice's own compiled pattern: case-sensitive, or not RE2 at all)
        must_run = tuple("(?P<" in pattern.pattern or "(?<" in pattern.pattern or not _as_in_set(pattern)
                         for _, pattern in order)
        entry = _PATTERN_SETS[id(catalog)] = (catalog, patterns, order, must_run)
    return entry[1:]


class _PatternSet:
    r"""The catalog's patterns as one RE2 set search, in two builds: one reading bytes as Latin-1
    for a message all in ASCII (nearly every one), one reading UTF-8 for the rest, built when
    first needed.

    On ASCII text the two find the same patterns: each character is one byte either way; RE2's
    `\w`, `\b` and `\d` are ASCII in both; case folding differs only for letters outside
    ASCII (`k` and the Kelvin sign); and a character of a pattern outside Latin-1, written here
    as the byte 0xFF, matches no ASCII text as it matched none before. The Latin-1 automaton
    is far smaller (`.` or `[^']` is one byte range, not a UTF-8 decoder), and a month's first
    searches, which build it, take half the time (about 50 ms instead of 85-110 at a million
    rows). A pattern the Latin-1 build refuses leaves every message to the UTF-8 one."""

    __slots__ = ("_patterns", "_ascii", "_utf8")

    def __init__(self, patterns: list[str]):
        self._patterns, self._utf8 = patterns, None
        try:
            self._ascii = _search_set([_as_latin1(p) for p in patterns], latin1=True)
        except re2.error:
            self._ascii = None

    def search(self, text: _Text):
        """The numbers of the patterns that match the message somewhere (None when none does)."""
        if text.ascii and self._ascii is not None:
            return self._ascii.Match(text.encoded)
        if self._utf8 is None:
            self._utf8 = _search_set(self._patterns)
        return self._utf8.Match(text.encoded)


def _as_latin1(pattern: str) -> bytes:
    """A pattern's text for the Latin-1 build: a character outside Latin-1 (`–`, `€`), which no
    ASCII text holds, as one that no ASCII text holds either."""
    return bytes(ord(c) if ord(c) < 256 else 0xFF for c in pattern)


def _search_set(patterns: list, latin1: bool = False):
    """One RE2 set searching for these patterns, as the catalog compiles each (case-insensitive)."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    if latin1:
        options.encoding = re2.Options.Encoding.LATIN1
    # Room for the automaton of 178 patterns: in RE2's default 8 MB it ran out and fell back to
    # the slow matcher (40 µs a message instead of 1-7; it holds about 6 MB once built).
    options.max_mem = 32 * 1024**2
    found = re2.Set.SearchSet(options)
    for pattern in patterns:
        found.Add(pattern)
    found.Compile()
    return found


def _as_in_set(pattern) -> bool:
    """Whether the pattern matches what the set's copy of it matches (RE2, case-insensitive)."""
    if isinstance(pattern, Deferred):  # compiled by the catalog, as every catalog pattern is
        return True
    options = getattr(pattern, "options", None)
    return isinstance(pattern, re2._Regexp) and options is not None and not options.case_sensitive


def _tidy_value(value: str) -> str:
    return value.strip().strip("'\"").rstrip(".,;:").strip()


def strip_noise(message: str, catalog: Catalog) -> str:
    message = in_turn(message, substitutions(catalog, "noise"))
    message = " ".join(message.split()).strip(" .,:;-!")
    # A message quoted whole ('Invoice 12 was not approved...') is the message, not one value.
    while len(message) > 2 and message[0] == message[-1] and message[0] in "'\"":
        message = message[1:-1].strip(" .,:;-!")
    return message


def mask_text(text: str, catalog: Catalog) -> str:
    """Mask the parts of a message that vary (codes, ids, dates, amounts) into a template."""
    text = " ".join(text.split())
    return in_turn(text, substitutions(catalog, "masks")).strip(" .!")


def in_turn(text: str, substitutions) -> str:
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
        changed = sub(pattern, replace, text)
        if changed != text:
            text = changed
            hits = [hit for hit in sorted(matcher.Match(text) or ()) if hit > index]
    return text


_SUBSTITUTIONS: dict[tuple[int, str], tuple] = {}


def substitutions(catalog: Catalog, kind: str):
    """(an RE2 set of the patterns, [(pattern, replacement)...]) of the catalog's noise or masks."""
    entry = _SUBSTITUTIONS.get((id(catalog), kind))
    if entry is None or entry[0] is not catalog:
        steps = ([(pattern, " ") for pattern in catalog.noise] if kind == "noise"
                 else [(mask.pattern, mask.replace) for mask in catalog.masks])
        matcher = _search_set([pattern.pattern for pattern, _ in steps]) if steps else None
        entry = _SUBSTITUTIONS[(id(catalog), kind)] = (catalog, (matcher, steps))
    return entry[1]
