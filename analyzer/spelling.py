"""Typing slips in a message no pattern claims, read as the words the catalog knows.

Errors reach the export through people and other integrations, and published wordings carry
slips: `acount`, `Accont code`, `witha ccount`, `erorr`. One slipped word is enough for every
pattern of its category to miss: a one-letter slip in the catalog's examples left 285 of 648
such variants unrecognised.

The vocabulary is the words of the phrasebook's distinct wordings (which hold the catalog's
examples and near-misses), those seen at least twice: real wordings carry slips too, each seen
once. A word seen in no wording at all (any word of a real wording stays as typed: `blocked` is
not a slip of `locked`) is read as the vocabulary word a single slip away (a letter dropped,
doubled, changed, or two swapped), the commonest when one is clearly commoner (`acount`:
account, not amount), else left as typed; a word that is a known word with an ending English adds
is no slip of it (`enabled`, `larger`, `invoices`); a space typed a letter off (`witha ccount`, `acc ount`)
is put back where that makes known words. A word is not split in two: error names written as
one word (`InvalidTrackingCategory`) read as their words put a held-out near-miss into one of the
seed's 19 when the key words tried it.

Only words of five letters or more are read again (`item`/`iten`, `code`/`node` are too close),
but for `then` after a comparison (`greater then the line amount`), read as `than`;
and never a value: words in capitals (tax types, codes), words joined to a digit, anything in
quotes (account and contact names) stay as typed, so what a fix extracts is what the message
said. The reading is used only where the catalog's patterns then claim the message
(analyzer.classify): the patterns and their near-misses decide, not the speller. What was read
differently is kept with the finding and shown ("read 'acount' as 'account'"), and a category
found this way is "probably" right, as for the key words.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

SHORTEST = 5  # a word shorter than this is never read as another
CONFIDENCE = 0.9  # a pattern's category after reading slips: probable, as for the key words
_WORD = re.compile(r"[A-Za-z]+")
# Quoted values: a quote not inside a word ('Office Supplies', "ACME LTD"), up to its closing one.
_QUOTED = re.compile(r"""(?<![A-Za-z])'[^']*'(?![A-Za-z])|(?<![A-Za-z])"[^"]*"(?![A-Za-z])""")
_VOCABULARY_WORD = re.compile(r"[a-z]{2,}")


@dataclass(frozen=True)
class Reading:
    text: str  # the message with its slips read as known words
    slips: tuple[tuple[str, str], ...] = ()  # (as typed, as read)

    @property
    def said(self) -> str:
        return ", ".join(f"read {typed!r} as {read!r}" for typed, read in self.slips)


class Speller:
    """The vocabulary: words seen at least twice in the texts (real wordings carry slips too, each
    seen once: `witha ccount` must not become known words), and how often each was seen, to
    choose between two words a slip away (`acount`: account, far more common than amount)."""

    def __init__(self, texts):
        counts = Counter(w for text in texts for w in _VOCABULARY_WORD.findall(text.lower()))
        self.seen = frozenset(counts)  # never read again: a word of a real wording ("blocked", not "locked")
        self.counts = {w: n for w, n in counts.items() if n >= 2}
        self.words = frozenset(self.counts)
        self._long = sorted(w for w in self.words if len(w) >= SHORTEST - 1)
        self._memo: dict[str, str | None] = {}

    def read(self, message: str) -> Reading:
        """The message with each slipped word read as the known word it must be."""
        message, confused = _confusions(message)
        words = list(_WORD.finditer(message))
        if not any(self._unknown(t.group()) for t in words):  # most messages: every word known
            return Reading(message, confused)
        quoted = _quoted_spans(message)
        tokens = [t for t in words if not _a_value(message, t, quoted)]
        if not any(self._unknown(t.group()) for t in tokens):
            return Reading(message, confused)
        slips: list[tuple[str, str]] = list(confused)
        pieces: list[str] = []
        at = 0
        index = 0
        while index < len(tokens):
            token = tokens[index]
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            pair = self._two_words(token.group(), following.group()) \
                if following is not None and message[token.end():following.start()] == " " else None
            if pair is not None:
                typed = message[token.start():following.end()]
                pieces += [message[at:token.start()], pair]
                slips.append((typed, pair))
                at, index = following.end(), index + 2
                continue
            read = self._one_word(token.group())
            if read is not None:
                pieces += [message[at:token.start()], read]
                slips.append((token.group(), read))
                at = token.end()
            index += 1
        pieces.append(message[at:])
        return Reading("".join(pieces), tuple(slips)) if slips else Reading(message)

    def _unknown(self, word: str) -> bool:
        return len(word) >= SHORTEST - 1 and word.lower() not in self.seen

    def _one_word(self, word: str) -> str | None:
        """The known word a slip away from an unknown one."""
        if len(word) < SHORTEST or word.lower() in self.seen:
            return None
        key = word.lower()
        if key not in self._memo:
            self._memo[key] = self._nearest(key)
        read = self._memo[key]
        return _cased(read, word) if read else None

    def _nearest(self, word: str) -> str | None:
        from rapidfuzz import process
        from rapidfuzz.distance import OSA  # a swap of two letters is one slip, as a dropped one

        found = sorted((w for w, _, _ in process.extract(word, self._long, scorer=OSA.distance, score_cutoff=1,
                                                         limit=None) if not _inflected(w, word)), key=lambda w: -self.counts[w])
        if not found:
            return None
        # The commonest reading, when it is clearly commoner than the next one (twice as common).
        return found[0] if len(found) == 1 or self.counts[found[0]] >= 2 * self.counts[found[1]] else None

    def _two_words(self, first: str, second: str) -> str | None:
        """Two neighbours, one of them unknown, that are known words with the space in its
        place: `acc ount` -> `account`, `witha ccount` -> `with account`."""
        if not (self._unknown(first) or self._unknown(second)) or len(first) + len(second) < SHORTEST:
            return None
        joined = (first + second).lower()
        readings = {joined} if joined in self.words and len(joined) >= SHORTEST else set()
        readings |= {f"{joined[:i]} {joined[i:]}" for i in range(2, len(joined) - 1)
                     if joined[:i] in self.words and joined[i:] in self.words and joined[:i] != first.lower()}
        if len(readings) != 1:
            return None
        read = readings.pop()
        return _cased(read, first + second) if read != f"{first} {second}".lower() else None


def _inflected(known: str, typed: str) -> bool:
    """Whether the typed word is the known one with an ending English adds: `enable`/`enabled`,
    `large`/`larger` (a `d` or `r` after a final `e`), `invoice`/`invoices` (an `s`, but not after
    the endings that take `es`). Both are words, not a slip: read as the vocabulary's form, "not
    enabled for payments" missed its key words. Only that way round: a final letter dropped or
    doubled (`invali`, `invalidd`, `greaterr`) is a slip, and is read."""
    if len(typed) != len(known) + 1 or not typed.startswith(known):
        return False
    ending = typed[-1]
    return (ending in "dr" and known.endswith("e")) or (ending == "s" and not known.endswith(_TAKES_ES))


_TAKES_ES = ("s", "x", "z", "ch", "sh", "u")


# A known word typed for another, which no vocabulary tells: "greater then the line amount".
_THEN_FOR_THAN = re.compile(r"\b(?:greater|more|less|larger|higher|lower|smaller|fewer|bigger)\s+(then)\b", re.I)


def _confusions(message: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """`then` after a comparison read as `than`."""
    found = list(_THEN_FOR_THAN.finditer(message))
    if not found:
        return message, ()
    text = message
    for match in reversed(found):
        text = text[:match.start(1)] + _cased("than", match.group(1)) + text[match.end(1):]
    return text, tuple((m.group(1), _cased("than", m.group(1))) for m in found)


def _quoted_spans(message: str) -> list[tuple[int, int]]:
    return [m.span() for m in _QUOTED.finditer(message)] if ("'" in message or '"' in message) else []


def _a_value(message: str, token: re.Match, quoted: list[tuple[int, int]]) -> bool:
    """Whether a word is (part of) a value: in capitals, joined to a digit or _, or in quotes."""
    start, end = token.span()
    word = token.group()
    if len(word) > 1 and word.isupper():
        return True
    if (start and (message[start - 1].isdigit() or message[start - 1] == "_")) or \
            (end < len(message) and (message[end].isdigit() or message[end] == "_")):
        return True
    return any(a < start and end < b for a, b in quoted)


def _cased(read: str, typed: str) -> str:
    """The reading in the typed word's case: ACOUNT -> ACCOUNT, Acount -> Account."""
    if typed.isupper() and len(typed) > 1:
        return read.upper()
    return read[:1].upper() + read[1:] if typed[:1].isupper() else read
