"""The second stage: a message no pattern claims and nobody taught is read again (its typing
slips, its own sentences), then by its key words, then by its likeness to the phrasebook."""

from __future__ import annotations

import re
from dataclasses import replace

from analyzer.catalog import MANUAL_REVIEW, UNCLASSIFIED, Catalog
from analyzer.classify.messages import WORDS, clean_text
from analyzer.classify.model import Finding
from analyzer.classify.patterns import in_turn, mask_text, scan, strip_noise, substitutions
from analyzer.keywords import CONFIDENCE as KEY_WORDS_CONFIDENCE
from analyzer.keywords import read_key_words
from analyzer.similar import Phrasebook, load_phrasebook
from analyzer.spelling import CONFIDENCE as SPELLING_CONFIDENCE
from analyzer.spelling import Speller


def second_stage(message: str, template: str, catalog: Catalog) -> list[Finding]:
    """A message no pattern claims and nobody taught: the patterns decide again on other readings
    of it (its typing slips read, then its own sentences); else its key words, then the
    phrasebook. The key words must read the same with the slips read as typed: a slipped blocker
    word (`Cusotmer invoice does not exist`) must block as `Customer invoice` does, and a misread
    word must not make a cue fit."""
    spelled = speller_of(catalog).read(message)
    readings = [(spelled.text, spelled.said)] if spelled.slips else []
    readings += [(part, f"read as {part!r}") for part in _parts(message, catalog)]
    for text, said in readings:
        matches = scan(text, catalog)
        if matches:
            return [replace(finding, match="similar", confidence=SPELLING_CONFIDENCE, read_as=said)
                    for _, finding in sorted(matches, key=lambda m: m[0])]
    words = read_key_words(template, catalog.categories)
    if spelled.slips and words.category:
        read = mask_text(strip_noise(spelled.text, catalog), catalog)
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
    stripped = " ".join(in_turn(message, substitutions(catalog, "noise")).split())  # its punctuation kept
    parts = [stripped, _TRAILING_REFERENCE.sub("", stripped)]
    for text in list(parts):
        sentences = _SENTENCE_END.split(text)
        if len(sentences) > 1:
            parts += [s for s in sentences if WORDS.search(s)]
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
    return mask_text(strip_noise(clean_text(text), catalog), catalog).lower()
