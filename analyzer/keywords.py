"""Key words: the part of the second stage that reads a message the patterns missed by what it
is about and what went wrong, in whatever order and wording ("the category you selected has been
archived in Xero", "Xero authorisation has expired, please reconnect").

Each category's `cues` in the catalog name word groups ("account|category ; archived|deleted");
a message holding a word of every group of one cue, and none of the category's `cue_blockers`
("bank", "tracking": the same words about another thing), reads as that category. Where cues of
two categories fit, the one naming more groups wins; a tie is no verdict, only a suggestion, as a
wrong category costs a practice more than an unrecognised one.
"""

from __future__ import annotations

from dataclasses import dataclass

# Error names written as one word ("InvalidTrackingCategory") are not split into their words: tried,
# it put a held-out near-miss into one of the seed's 19.
CONFIDENCE = 0.9  # a fitting cue: probable, not certain (reports mark it "probably")


@dataclass(frozen=True)
class Reading:
    category: str  # a category id, or "" when no cue fits or two categories tie
    cue: str = ""  # the cue that fitted, as the catalog writes it
    suggestion: str = ""  # on a tie: the first of the tied categories


def read_key_words(text: str, categories) -> Reading:
    """The category whose key words a (masked) message holds. Each text is read once: the
    messages the second stage reads share a few dozen templates (574 messages, 34 templates
    at a million rows)."""
    groups = _word_groups(categories)
    reading = groups.readings.get(text)
    if reading is None:
        if len(groups.readings) >= _READINGS_KEPT:  # a file of endless distinct wordings: memory stays bounded
            groups.readings.clear()
        reading = groups.readings[text] = _read(text, groups)
    return reading


_READINGS_KEPT = 50_000


def _read(text: str, groups: _WordGroups) -> Reading:
    found = groups.found(text.lower())
    fits: list[tuple[int, str, str]] = []
    if not found:  # most messages hold no word of any cue
        return Reading("")
    for category_id, blocker, cues in groups.cues:
        if blocker in found:
            continue
        # the cue with most groups among those whose every group the message holds (the first on a tie)
        best = max(((size, -order, cue) for order, (size, cue, needed) in enumerate(cues) if needed <= found), default=None)
        if best:
            fits.append((best[0], category_id, best[2]))
    if not fits:
        return Reading("")
    most = max(size for size, _, _ in fits)
    leaders = [(category, cue) for size, category, cue in fits if size == most]
    if len({category for category, _ in leaders}) > 1:
        return Reading("", suggestion=leaders[0][0])
    return Reading(*leaders[0])


class _WordGroups:
    """Every word group and blocker of the catalog's key words in one RE2 set: one search of a
    message tells which of them it holds. Searched one by one they took 0.2 s of a month's
    classification (a hundred searches for each of five hundred messages the patterns miss)."""

    def __init__(self, categories):
        import re2

        patterns = list(dict.fromkeys(
            [group.pattern for category in categories for cue in category.cues for group in cue.groups]
            + [category.cue_blockers.pattern for category in categories if category.cue_blockers is not None]))
        self.patterns = patterns
        # per category with cues: its id, its blockers' pattern, and each cue's size, text and groups
        self.cues = tuple(
            (category.id, category.cue_blockers.pattern if category.cue_blockers is not None else None,
             tuple((len(cue.groups), cue.text, frozenset(group.pattern for group in cue.groups)) for cue in category.cues))
            for category in categories if category.cues)
        self.readings: dict[str, Reading] = {}  # text -> what read_key_words read in it
        self.set = None
        if patterns:
            options = re2.Options()
            options.case_sensitive = False
            options.log_errors = False
            options.max_mem = 32 * 1024**2
            self.set = re2.Set.SearchSet(options)
            for pattern in patterns:
                self.set.Add(pattern)
            self.set.Compile()

    def found(self, text: str) -> frozenset[str]:
        """The patterns the text holds (by their text)."""
        if self.set is None:
            return frozenset()
        return frozenset(self.patterns[i] for i in self.set.Match(text) or ())  # None when it holds none


_GROUPS: dict[int, tuple] = {}


def _word_groups(categories) -> _WordGroups:
    """The word groups of these categories, gathered once (the catalog's categories never change)."""
    entry = _GROUPS.get(id(categories))
    if entry is None or entry[0] is not categories:
        entry = _GROUPS[id(categories)] = (categories, _WordGroups(categories))
    return entry[1]
