"""Classify error cells into catalog categories, extracting the values each fix needs.

A cell may hold several errors (newlines, ``;``, a Xero JSON body), wrapped in whatever text the
person or integration that copied it added (`messages`). Every pattern of every category is
scanned over each message (`patterns`); where two categories claim the same text the one earlier
in the catalog wins (the match order is the catalog's order, on purpose). A message no pattern
claims is looked up in what the practice taught, then read by the second stage (`second`); what
nothing claims becomes an ``unclassified`` finding with a masked template, so unknown errors
group into candidates for the catalog.

Each distinct cell is classified once and the result mapped back to every row holding it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import re2

from analyzer.catalog import Catalog
from analyzer.classify.messages import MAX_CLASSIFY_CHARS, PLACEHOLDERS, WORDS, clean_text, split_messages
from analyzer.classify.model import NO_ERROR_TEXT, Classified, Finding, SecondStage, unclassified
from analyzer.classify.helper import classify_shared
from analyzer.classify.patterns import mask_text, named_by_a_pattern, scan, strip_noise, sub
from analyzer.classify.second import normalised, phrasebook_of, second_stage, speller_of, template_key

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MAX_CLASSIFY_CHARS", "NO_ERROR_TEXT", "PLACEHOLDERS", "Classified", "Finding", "SecondStage", "classify_cell",
           "classify_rows", "clean_text", "mask_text", "normalised", "phrasebook_of", "speller_of", "split_messages",
           "strip_noise", "template_key"]


def classify_rows(errors: pd.Series, catalog: Catalog, second: SecondStage = SecondStage(),
                  helper: bool | None = None) -> Classified:
    """Classify a column of error cells, each distinct cell once, and each distinct message of
    them once (cells share messages). `helper`: whether a forked process may take a share of a
    large batch's messages (None: when that pays, `classify.helper`)."""
    import pandas as pd

    codes, uniques = pd.factorize(errors.fillna(""), sort=False)
    cells = tuple(str(u) for u in uniques)
    read = [_messages_of(cell) for cell in cells]
    distinct = list(dict.fromkeys(m for _, messages in read if messages for m in messages))
    found = classify_shared(distinct, lambda m: _classify_message(m, catalog, second),
                            lambda m: _costly(m, catalog), helper)
    findings = tuple(_findings(cell, messages, catalog, found, second) for cell, messages in read)
    return Classified(codes=codes, cells=cells, findings=findings)


def classify_cell(cell: str, catalog: Catalog, cache: dict[str, list[Finding]] | None = None,
                  second: SecondStage = SecondStage()) -> tuple[Finding, ...]:
    """Every error in one cell, in order of appearance, each distinct finding once."""
    return _findings(*_messages_of(cell), catalog, {} if cache is None else cache, second)


def _costly(message: str, catalog: Catalog) -> bool:
    """Whether a message is of the kind a helper process takes first (`classify.helper`): one no
    pattern names, which the second stage reads again; or one outside ASCII, which the pattern
    set searches in its UTF-8 build, not built until such a message comes (a few in a month:
    the helper builds it, beside the run's own work, rather than the run before it)."""
    return not message.isascii() or not named_by_a_pattern(message, catalog)


def _messages_of(cell: str) -> tuple[str, list[str] | None]:
    """The cell as classified (its start and its end past MAX_CLASSIFY_CHARS: a wrapper's log may
    end in Xero's message) and its messages; None for a placeholder ("n/a", "-")."""
    if len(cell) > MAX_CLASSIFY_CHARS:
        cell = f"{cell[:MAX_CLASSIFY_CHARS // 2]}\n{cell[-(MAX_CLASSIFY_CHARS // 2):]}"
    if " ".join(cell.split()).casefold() in PLACEHOLDERS:
        return cell, None
    return cell, split_messages(cell)


def _findings(cell: str, messages: list[str] | None, catalog: Catalog, cache: dict[str, list[Finding]],
              second: SecondStage) -> tuple[Finding, ...]:
    """A cell's findings from its messages' (each classified once, into `cache`)."""
    if messages is None:
        return (unclassified(NO_ERROR_TEXT),)
    if len(messages) == 1 and len(only := cache.get(messages[0], ())) == 1:
        return (only[0],)  # most cells: one message, one finding, nothing to put in order
    found: dict[Finding, None] = {}
    for message in messages:
        if message not in cache:
            cache[message] = _classify_message(message, catalog, second)
        for finding in cache[message]:
            found.setdefault(finding)
    if not found:
        remainder = strip_noise(clean_text(cell), catalog)
        template = NO_ERROR_TEXT if not cell.strip() else mask_text(remainder or clean_text(cell), catalog)
        found[unclassified(template)] = None
    return tuple(found)


def _classify_message(message: str, catalog: Catalog, second: SecondStage = SecondStage()) -> list[Finding]:
    elsewhere = another_ledgers(message, catalog)
    matches = [] if elsewhere else scan(message, catalog)
    if matches:
        return [finding for _, finding in sorted(matches, key=lambda m: m[0])]
    remainder = strip_noise(message, catalog)
    if not WORDS.search(remainder):
        return []
    template = mask_text(remainder, catalog)
    taught = second.taught.get(template_key(template))  # what the practice taught holds even there
    if taught and taught in catalog.ids:
        return [Finding(taught, catalog.category(taught).fix, (), "", "taught", 1.0)]
    if elsewhere:
        return [unclassified(template, not_consulted=f"another ledger's message ({elsewhere}), not Xero's")]
    if second.similarity:
        return second_stage(message, template, catalog)
    return [unclassified(template)]


_XERO = re2.compile(r"(?i)\bxero\b")


def another_ledgers(message: str, catalog: Catalog) -> str:
    """The other ledger a message is about ("" when none): it names one (QuickBooks, Sage,
    MYOB...) outside quotes and not Xero. Dext publishes to those too and one export can hold
    their clients' failures; their "subscription inactive" or "closed period" is not Xero's and
    no fix here is theirs."""
    ledgers = catalog.other_ledgers
    # Most messages name no ledger: one search says so, before quotes are taken out
    if ledgers is None or ledgers.search(message) is None or _XERO.search(message):
        return ""
    found = ledgers.search(_quoted_masked(message, catalog))
    return found.group(0) if found else ""


def _quoted_masked(message: str, catalog: Catalog) -> str:
    """The message with its quoted values masked as the catalog's `quoted` mask masks them: a
    name in quotes ('Sage (UK) Ltd', "Intuit") is a supplier or contact, not the ledger speaking."""
    for mask in catalog.masks:
        if mask.name == "quoted":
            return sub(mask.pattern, mask.replace, message)
    return message
