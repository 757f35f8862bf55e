"""The second stage of classification: a message no catalog pattern claims is compared with a
phrasebook of labelled wordings (analyzer/phrasebook.toml, plus the catalog's own examples), and
with the catalog's near-misses as negatives.

Comparison is rapidfuzz's token-sort ratio (a Levenshtein similarity of the words, in sorted
order) between the two messages after noise is stripped and the parts that vary are masked
(codes, amounts, dates, quoted values become <CODE>, <AMOUNT>...): typos cost a few points, word
order and values nothing. A category is given only when the closest wording scores at least the
calibrated threshold and beats the closest wording of any other category and the closest
negative by the calibrated margins; below that the message stays unclassified but carries the
closest category as a suggestion ("looks like: account archived, 0.71"). Rule that matters
most: a message that is none of the seed's 19 is never put into one of them, even at the cost of
recall; the thresholds are chosen (tools/make_phrasebook.py) on the phrasebook itself, leave one
out, with no such violation.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path


NONE = "none"
NOT = "not:"  # a near-miss: "not:account_archived" is a wording that is not that category


def _positive(label: str) -> bool:
    return label != NONE and not label.startswith(NOT)


@dataclass(frozen=True)
class Calibration:
    threshold: float = 65.0  # score (0-100) the closest wording must reach
    margin: float = 0.0  # over the closest wording of another category
    negative_margin: float = 5.0  # over the closest negative (a near-miss, a "none" wording)


# Words that name the thing an error is about. Two messages a word or two apart read alike to a
# string measure ("An existing Invoice / Contact with the specified ... could not be found") but
# are about different things: a match is refused when one of these words is in one message and
# not the other.
THING_WORDS = frozenset("""
    account accounts bank contact contacts currency currencies invoice invoices bill bills credit note
    item items tracking tax taxtype payment payments user users journal receipt receipts attachment
    image file subscription plan approval period lock date reference number code category categories
    organisation organization employee expense claim claims quote purchase order overpayment prepayment
""".split())


_MASKS = re.compile(r"<[a-z]+>")  # a masked value (<CODE>, <AMOUNT>) names no thing
# Below this a "looks like" misleads more than it helps: "Object reference not set to an instance of
# an object" read 0.56 like a category error by the one word "reference" they share.
SUGGESTION_FLOOR = 60


def _thing_words(text: str) -> frozenset[str]:
    """The thing words of a message, a typo of one letter forgiven in longer words ("acount")."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    found = set()
    for word in re.findall(r"[a-z]+", _MASKS.sub(" ", text.lower())):
        if word in THING_WORDS:
            found.add(word)
        elif len(word) >= 5:
            near = process.extractOne(word, THING_WORDS, scorer=Levenshtein.distance, score_cutoff=1)
            if near:
                found.add(near[0])
    return frozenset(found)


@dataclass(frozen=True)
class Verdict:
    category: str  # a category id, or "" when below the bar
    confidence: float  # 0-1: the closest wording's score
    suggestion: str = ""  # the closest category when below the bar


@dataclass(frozen=True)
class Phrasebook:
    texts: tuple[str, ...]  # normalised wordings
    labels: tuple[str, ...]  # category id, or "none"
    calibration: Calibration
    # The seed's 19: a wording that resembles one of them only earns a suggestion. A string
    # measure cannot tell "Authentication successful" from "...unsuccessful", and the rule that
    # matters most is that no other error is ever put into one of the 19.
    seed: frozenset[str] = frozenset()
    # Verdicts by message: the distinct unknown cells of a month share a few templates once their
    # values are masked, so each template is compared with the phrasebook once.
    memo: dict = field(default_factory=dict, compare=False, repr=False)
    nearest: dict = field(default_factory=dict, compare=False, repr=False)  # message -> (closest wordings, things)
    things: tuple = field(default=(), compare=False, repr=False)  # each wording's thing words, found once

    def __post_init__(self) -> None:
        if len(self.things) != len(self.texts):
            object.__setattr__(self, "things", tuple(_thing_words(t) for t in self.texts))

    def judge(self, normalised: str) -> Verdict:
        """The category of one normalised message, or a suggestion."""
        verdict = self.memo.get(normalised)
        if verdict is None:
            verdict = self.memo[normalised] = self._judge(normalised)
        return verdict

    def _judge(self, normalised: str) -> Verdict:
        if not self.texts or not normalised.strip():
            return Verdict("", 0.0)
        matches, things = self._nearest(normalised)
        positives = [(self.labels[i], score, i) for _, score, i in matches if _positive(self.labels[i])]
        if not positives:
            return Verdict("", 0.0)
        best, score, closest = positives[0]
        # Only wordings about the same things compete: a near-miss or another category's wording
        # about a contact says nothing against a message about an account code.
        other = next((s for label, s, i in positives if label != best and self.things[i] == things), 0.0)
        against = (NONE, f"{NOT}{best}")  # none of the categories, or not this one (its near-misses)
        negative = next((s for _, s, i in matches if self.labels[i] in against and self.things[i] == things), 0.0)
        c = self.calibration
        # A message that names no thing (an account, a contact, an invoice...) is too vague to
        # place by its wording alone, however alike: "JSON body, message 4" is no error of ours.
        confident = (best not in self.seed and bool(things) and score >= c.threshold and score - other >= c.margin and score - negative >= c.negative_margin
                     and things == self.things[closest])
        # A suggestion is worth showing only about the same kind of thing ("Contact name <CODE> is too
        # long" is no tax-rate error, however many of its letters a tax-rate wording shares).
        suggestion = "" if confident or not (things & self.things[closest]) or score < SUGGESTION_FLOOR else best
        return Verdict(best if confident else "", round(score / 100, 2), suggestion)

    def _nearest(self, normalised: str) -> tuple[list, frozenset[str]]:
        """The 40 closest wordings of a message and its thing words, found once: a message the
        key words read is checked against the phrasebook (vetoes), and judged by it when vetoed."""
        found = self.nearest.get(normalised)
        if found is None:
            from rapidfuzz import fuzz, process  # imported when a message first reaches this stage

            found = self.nearest[normalised] = (
                process.extract(normalised, self.texts, scorer=fuzz.token_sort_ratio, limit=40), _thing_words(normalised))
        return found

    def vetoes(self, normalised: str, category: str, floor: float = 60.0, close: float = 80.0) -> bool:
        """Whether the wordings known *not* to be this category (near-misses, "none" wordings)
        read closer to a message than any wording of it: a second opinion on a key-word reading,
        so words shared with a near-miss do not put another error into the category."""
        matches, things = self._nearest(normalised)
        against = (NONE, f"{NOT}{category}")
        positive = next((score for _, score, i in matches if self.labels[i] == category), 0.0)
        # A negative about the same things vetoes from the floor; one about other things only
        # when it reads almost the same ("... not found in Xero" says little by itself).
        return any(self.labels[i] in against and score >= positive
                   and score >= (floor if things and self.things[i] == things else close)
                   for _, score, i in matches)


INDEX = Path(__file__).parent / "phrasebook-index.json"


def load_phrasebook(catalog, normalise) -> Phrasebook:
    """The packaged phrasebook plus the catalog's examples (positives) and near-misses
    (negatives), each normalised as messages are. For the built-in catalog alone, read ready-made
    from INDEX (tools/make_phrasebook.py writes it) while it matches the phrasebook and catalog it
    was made from: parsing, normalising and reading the thing words of a thousand wordings took
    0.09 s of every run that meets an unknown message."""
    seed = frozenset(c.id for c in catalog.categories if c.seed)
    index = _packaged_index() if catalog.sources == ("catalog.toml",) else None
    if index is not None:
        return Phrasebook(tuple(index["texts"]), tuple(index["labels"]), Calibration(**index["calibration"]), seed,
                          things=tuple(frozenset(t) for t in index["things"]))
    return _build_phrasebook(catalog, normalise, seed)


def index_of(phrasebook: Phrasebook) -> dict:
    """What INDEX holds: the built phrasebook, and the fingerprint of what it was built from."""
    return {"fingerprint": fingerprint(), "calibration": vars(phrasebook.calibration), "texts": list(phrasebook.texts),
            "labels": list(phrasebook.labels), "things": [sorted(t) for t in phrasebook.things]}


def fingerprint() -> str:
    """The phrasebook's and the built-in catalog's text, hashed: an index made from others is stale."""
    import hashlib

    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in ("phrasebook.toml", "catalog.toml"):
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


def _packaged_index() -> dict | None:
    import json

    try:
        index = json.loads(INDEX.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return index if index.get("fingerprint") == fingerprint() else None


def _build_phrasebook(catalog, normalise, seed: frozenset[str]) -> Phrasebook:
    raw = _raw_phrasebook()
    texts, labels = [], []
    known = {c.id for c in catalog.categories}
    for entry in raw.get("phrase", []):
        if entry["category"] in known or entry["category"] == NONE:
            texts.append(normalise(entry["text"]))
            labels.append(entry["category"])
    for category in catalog.categories:
        for example in category.examples:
            texts.append(normalise(example))
            labels.append(category.id)
        for near in category.near_misses:  # a near-miss of a category is a negative for it alone
            texts.append(normalise(near))
            labels.append(f"{NOT}{category.id}")
    texts, labels = without_contradictions(texts, labels)
    calibration = Calibration(**{k: float(v) for k, v in raw.get("calibration", {}).items()
                                 if k in Calibration.__dataclass_fields__})
    return Phrasebook(tuple(texts), tuple(labels), calibration, seed)


def without_contradictions(texts: list[str], labels: list[str]) -> tuple[list[str], list[str]]:
    """Drop the negatives that read the same as a positive once values are masked (a near-miss
    told apart only by its value, "account code '455'" in a tax message, is no negative here)."""
    positive = {(t, label) for t, label in zip(texts, labels) if _positive(label)}
    anything = {t for t, _ in positive}
    kept = [(t, label) for t, label in zip(texts, labels)
            if _positive(label) or (t not in anything if label == NONE else (t, label[len(NOT):]) not in positive)]
    return [t for t, _ in kept], [label for _, label in kept]


@cache
def _raw_phrasebook() -> dict:
    return tomllib.loads((Path(__file__).parent / "phrasebook.toml").read_text(encoding="utf-8"))
