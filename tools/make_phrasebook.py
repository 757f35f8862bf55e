#!/usr/bin/env python3
"""(Re)write analyzer/phrasebook.toml from the blind-labelled corpus of real wordings in
tests/data/wordings/ (both corpora), and calibrate the similarity stage on it.

Only half of each corpus goes into the phrasebook (the rows whose sha1(text) is odd); the other
half is never seen by the phrasebook or its calibration and is what tests/test_similar.py
measures. Calibration is leave-one-out over the phrasebook's own entries: each entry is judged
against all the others (and the catalog's examples and near-misses), for a grid of thresholds
and margins. Only the entries the catalog's patterns miss count, as only those reach the stage.
The setting kept gives the most right answers less wrong ones with no "none" entry put into one of
the seed's 19 categories; among equals, the strictest.

Then it writes analyzer/phrasebook-index.json: the phrasebook as classification builds it for the
built-in catalog (wordings normalised, their thing words found), so a run reads it instead of
building it. The index names what it was made from; after any change to catalog.toml, run this
again (`--index` alone rewrites just the index; tests/test_similar.py fails while it is stale).

    .venv/bin/python tools/make_phrasebook.py [--index]
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analyzer.catalog import load_default_catalog  # noqa: E402
from analyzer.classify import normalised  # noqa: E402
from analyzer.similar import _positive, _thing_words  # noqa: E402

sys.path.insert(0, str(ROOT / "tools"))
from eval_wordings import halves  # noqa: E402

TARGET = ROOT / "analyzer" / "phrasebook.toml"
GRID = {"threshold": (55, 60, 65, 70, 75, 80), "margin": (0, 5, 10), "negative_margin": (0, 5, 10, 15)}


def main() -> None:
    if "--index" not in sys.argv[1:]:
        write_phrasebook()
    write_index()


def write_index() -> None:
    import json

    from analyzer.similar import INDEX, _build_phrasebook, _raw_phrasebook, index_of

    _raw_phrasebook.cache_clear()  # the phrasebook just written, not the one read before
    catalog = load_default_catalog()
    book = _build_phrasebook(catalog, lambda text: normalised(text, catalog),
                             frozenset(c.id for c in catalog.categories if c.seed))
    INDEX.write_text(json.dumps(index_of(book), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{INDEX.name}: {len(book.texts)} wordings")


def write_phrasebook() -> None:
    split = halves()
    entries = split["phrasebook half"]
    rows = entries + split["held-out half"]
    catalog = load_default_catalog()
    calibration, figures = calibrate(entries, catalog)
    TARGET.write_text(render(entries, calibration, figures), encoding="utf-8")
    print(f"{len(entries)} entries of {len(rows)}; calibration {calibration}; {figures}")


def calibrate(entries: list[dict], catalog) -> tuple[dict, str]:
    seed = {c.id for c in catalog.categories if c.seed}
    texts = [normalised(e["text"], catalog) for e in entries]
    labels = [e["category"] if "category" in e else e["label"] for e in entries]
    fixed_texts, fixed_labels = [], []
    for category in catalog.categories:
        fixed_texts += [normalised(x, catalog) for x in category.examples]
        fixed_labels += [category.id] * len(category.examples)
        fixed_texts += [normalised(x, catalog) for x in category.near_misses]
        fixed_labels += [f"not:{category.id}"] * len(category.near_misses)
    from analyzer.classify import SecondStage, classify_cell
    from analyzer.similar import without_contradictions

    everything_t, everything_l = without_contradictions(texts + fixed_texts, labels + fixed_labels)
    fixed_texts, fixed_labels = everything_t[len(texts):], everything_l[len(texts):]

    from analyzer.keywords import read_key_words

    # Only what neither the patterns nor the key words claim reaches the phrasebook.
    reached = [classify_cell(e["text"], catalog, None, SecondStage(similarity=False))[0].category == "unclassified"
               and not read_key_words(text, catalog.categories).category for e, text in zip(entries, texts)]
    scored = []
    for index, query in enumerate(texts):  # each entry against all the others
        if not reached[index]:
            continue
        others = texts[:index] + texts[index + 1:] + fixed_texts
        other_labels = labels[:index] + labels[index + 1:] + fixed_labels
        matches = process.extract(query, others, scorer=fuzz.token_sort_ratio, limit=40)
        positives = [(other_labels[i], s) for _, s, i in matches if _positive(other_labels[i])]
        positives3 = [(other_labels[i], s, i) for _, s, i in matches if _positive(other_labels[i])]
        best, score = positives[0] if positives else ("", 0.0)
        negative = next((s for _, s, i in matches if other_labels[i] in ("none", f"not:{best}")
                         and _thing_words(others[i]) == _thing_words(query)), 0.0)
        other = next((s for label, s, i in positives3 if label != best and _thing_words(others[i]) == _thing_words(query)), 0.0)
        closest = next((others[i] for _, s, i in matches if _positive(other_labels[i])), "")
        if best in seed or not _thing_words(query) or _thing_words(query) != _thing_words(closest):
            score = 0.0  # the stage refuses a match about another thing whatever the score
        scored.append((labels[index], best, score, other, negative))
    best_setting, best_key, best_counts = None, None, None
    for threshold, margin, negative_margin in itertools.product(*GRID.values()):
        right = wrong = violations = 0
        for truth, guess, score, other, negative in scored:
            taken = score >= threshold and score - other >= margin and score - negative >= negative_margin
            if not taken:
                continue
            if truth == "none":
                violations += guess in seed
            elif guess == truth:
                right += 1
            else:
                wrong += 1
        key = (right - wrong, threshold, margin, negative_margin)
        if violations == 0 and (best_key is None or key > best_key):
            best_setting, best_key, best_counts = (threshold, margin, negative_margin), key, (right, wrong)
    positives = sum(1 for truth, *_ in scored if truth != "none")
    setting = dict(zip(GRID, best_setting))
    figures = (f"leave-one-out over the {len(scored)} entries the patterns and key words miss: {best_counts[0]} of {positives}"
               f" labelled ones right, {best_counts[1]} wrong, 0 put into a seed category wrongly")
    return setting, figures


def render(entries: list[dict], calibration: dict, figures: str) -> str:
    lines = [
        "# Phrasebook: labelled wordings of each category for the similarity stage of classification",
        "# (analyzer/similar.py). A message no catalog pattern claims is compared with these and with the",
        "# catalog's own examples; the closest wording above a calibrated score, by a clear margin over any",
        "# other category and any \"none\" wording (real messages that look like a category but are not one),",
        "# gives its category.",
        "#",
        "# Entries are real wordings from public sources, each with its source, labelled by someone who had",
        "# not read the catalog (tests/data/wordings/README.md). Half of that corpus is kept out of this file",
        "# for evaluation (tests/test_similar.py): an entry is here only when sha1(text) is odd.",
        "#",
        "# Written by tools/make_phrasebook.py; do not edit by hand.",
        "",
        "[calibration]",
        f"# {figures}",
        *(f"{key} = {value}" for key, value in calibration.items()),
        "",
    ]
    for entry in entries:
        lines += ["[[phrase]]", f"category = {_string(entry['label'])}", f"kind = {_string(entry['kind'])}",
                  f"text = {_string(entry['text'])}", f"source = {_string(entry['source'])}", ""]
    return "\n".join(lines)


def _string(text: str) -> str:
    """A TOML basic string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


if __name__ == "__main__":
    main()
