"""The similarity stage measured on real wordings it has not seen: the half of the blind-labelled
corpus (tests/data/wordings) kept out of the phrasebook. The rule that matters most holds: no
message that is none of the seed's 19 is put into one of them. The figures are printed with -s."""

from __future__ import annotations

import csv
import hashlib
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from analyzer.catalog import load_default_catalog
from analyzer.classify import SecondStage, classify_cell, normalised
from analyzer.similar import Calibration, Phrasebook

CORPORA = [Path(__file__).resolve().parent / "data" / "wordings" / name for name in ("wordings.csv", "wordings-2.csv", "wordings-5.csv", "wordings-6.csv", "wordings-7.csv")]
PHRASEBOOK = Path(__file__).resolve().parent.parent / "analyzer" / "phrasebook.toml"


def _held_out() -> list[dict]:
    rows = [row for corpus in CORPORA for row in csv.DictReader(corpus.open(encoding="utf-8"))]
    return [r for r in rows if int(hashlib.sha1(r["text"].encode("utf-8")).hexdigest(), 16) % 2 == 0]


def _measure(second: SecondStage) -> dict[str, Counter]:
    catalog = load_default_catalog()
    seed = {c.id for c in catalog.categories if c.seed}
    figures: dict[str, Counter] = defaultdict(Counter)
    for row in _held_out():
        finding = classify_cell(row["text"], catalog, None, second)[0]
        kind = figures[row["kind"]]
        kind["rows"] += 1
        if row["label"] == "none":
            kind["right"] += finding.category not in seed
            kind["seed_violations"] += finding.category in seed
        else:
            kind["right"] += finding.category == row["label"]
            kind["wrong"] += finding.category not in ("unclassified", row["label"])
            kind[f"right_by_{finding.match}"] += finding.category == row["label"]
    return figures


def test_the_held_out_half_is_not_in_the_phrasebook():
    phrases = {p["text"] for p in tomllib.loads(PHRASEBOOK.read_text(encoding="utf-8"))["phrase"]}
    held = {r["text"] for r in _held_out()}
    assert held and not phrases & held


def test_on_unseen_wordings_no_other_error_lands_in_a_seed_category_and_recall_does_not_drop():
    before, after = _measure(SecondStage(similarity=False)), _measure(SecondStage())
    for kind, counts in sorted(after.items()):
        print(f"{kind:<11} patterns only {before[kind]['right']}/{counts['rows']}"
              f"  with similarity {counts['right']}/{counts['rows']}  {dict(counts)}")
    for kind in ("near_miss", "other"):
        assert after[kind]["seed_violations"] == 0
    for kind in ("core", "paraphrase"):
        gained = after[kind]["right"] - before[kind]["right"]
        lost = after[kind]["wrong"] - before[kind]["wrong"]
        assert gained >= 0
        # The second stage trades a little precision for recall: every wrong category it gives
        # must be paid for by at least five right ones (held out, corpora 1, 2, 5, 6 and 7:
        # paraphrases 43 right, 6 wrong; core 9 and 1).
        assert lost * 5 <= gained, (kind, gained, lost)


def _book(pairs, calibration=Calibration(threshold=70, margin=10, negative_margin=15)):
    catalog = load_default_catalog()
    seed = frozenset(c.id for c in catalog.categories if c.seed)
    return Phrasebook(tuple(normalised(t, catalog) for t, _ in pairs), tuple(label for _, label in pairs), calibration,
                      seed=seed)


@pytest.mark.parametrize("message, category, suggestion", [
    # A typo or two, but one of the seed's 19: only ever a suggestion.
    ("Acount code has ben archived or deleted", "", "account_archived"),
    # One word apart, but about another thing: never the invoice's category, nor a suggestion of it.
    ("An existing Contact with the specified ContactID could not be found", "", ""),
    # Masked values are no thing: "<CODE>" shares nothing with an account code.
    ("Contact name 'Harbour Supplies' is too long", "", ""),
    # Close to a negative about the same things: stays unclassified.
    ("The invoice could not be found in the archive folder", "", "invoice_not_found"),
])
def test_a_verdict(message, category, suggestion):
    book = _book([
        ("Account code has been archived or deleted", "account_archived"),
        ("An existing Invoice with the specified InvoiceID could not be found", "invoice_not_found"),
        ("The invoice could not be found in the archive", "none"),
    ])
    verdict = book.judge(normalised(message, load_default_catalog()))
    assert (verdict.category, verdict.suggestion) == (category, suggestion)
    assert 0 <= verdict.confidence <= 1


# Other errors worded almost like one of the seed's 19, invented by a reviewer: a bar of 80 on the
# phrasebook for the seed's 19 (chosen leaving each source out, with no violation there) put 25 of 97
# such wordings into one of them, scoring up to 0.94. The phrasebook only ever suggests the 19.
@pytest.mark.parametrize("message", [
    "You can't publish the item - make sure your Dext subscription is still active",
    "Sorry, we were not able to read the image for this item",
    "Invoice number must be specified",
    "Invoice creation failed because account locked",
    "Sorry, we cannot publish this item because your request to Xero timed out",
    "Organisation accounts are suspended on the specified payment",
    "Bank account not matched",
    "Tax rate must be unique.",
])
def test_a_wording_like_one_of_the_seed_categories_is_only_a_suggestion(message):
    catalog = load_default_catalog()
    seed = {c.id for c in catalog.categories if c.seed}
    finding = classify_cell(message, catalog, None, SecondStage())[0]
    assert not (finding.match == "similar" and not finding.cue and finding.category in seed), finding


def test_reports_mark_a_similar_match_as_probable(tmp_path):
    import io

    import openpyxl

    from analyzer.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "Acme Ltd - failed items.csv").write_text(
        "Item ID,Supplier,Error\n1,Café Nord,Tracking option 'North' no longer exists\n", encoding="utf-8")
    assert main(["report", str(folder), "--out", str(tmp_path / "out")], stdout=io.StringIO(), stderr=io.StringIO()) == 0
    html = (tmp_path / "out" / "Acme Ltd.html").read_text(encoding="utf-8")
    assert "Probably: similar wording" in html and "tracking option" in html
    rows = list(openpyxl.load_workbook(tmp_path / "out" / "Acme Ltd.xlsx")["Items"].iter_rows(values_only=True))
    assert dict(zip(rows[0], rows[1]))["Match"] == "similar"


def test_the_packaged_phrasebook_index_is_current_and_the_same_as_building_it():
    """Runs read the phrasebook ready-made (analyzer/phrasebook-index.json); it must be what
    building it gives. Stale: run `.venv/bin/python tools/make_phrasebook.py --index`."""
    from analyzer.catalog import load_default_catalog
    from analyzer.classify import normalised
    from analyzer.similar import _build_phrasebook, _packaged_index, load_phrasebook

    assert _packaged_index() is not None, "stale phrasebook index: run tools/make_phrasebook.py --index"
    catalog = load_default_catalog()
    built = _build_phrasebook(catalog, lambda text: normalised(text, catalog),
                              frozenset(c.id for c in catalog.categories if c.seed))
    read = load_phrasebook(catalog, lambda text: normalised(text, catalog))
    assert (read.texts, read.labels, read.things, read.calibration, read.seed) == \
        (built.texts, built.labels, built.things, built.calibration, built.seed)


def test_a_practice_catalog_builds_its_own_phrasebook(tmp_path):
    from analyzer.catalog import load_catalog
    from analyzer.classify import phrasebook_of

    extra = tmp_path / "practice.toml"
    extra.write_text("[[category]]\nid = 'frobnicator'\ntitle = 'Frobnicator overflow'\ncause = 'c'\n"
                     "fix = 'manual-review'\npatterns = ['frobnicator overflow']\nexamples = ['Frobnicator overflow']\n",
                     encoding="utf-8")
    book = phrasebook_of(load_catalog([extra]))
    assert "frobnicator overflow" in book.texts and "frobnicator" in book.labels
