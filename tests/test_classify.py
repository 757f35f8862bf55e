"""Splitting cells into messages, templates for unknown errors, and row bookkeeping."""

import json

import numpy as np
import pandas as pd
import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.catalog import load_default_catalog
from analyzer.classify import NO_ERROR_TEXT, Classified, Finding, classify_cell, classify_rows, split_messages

CATALOG = load_default_catalog()
ARCHIVED = "Account code '455' has been archived, or has been deleted. Each line item must reference a valid account."


def _body(*messages):
    return json.dumps({
        "ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred",
        "Elements": [{"ValidationErrors": [{"Message": m} for m in messages]}],
    })


@pytest.mark.parametrize(
    "cell, messages",
    [
        ("one\ntwo", ["one", "two"]),
        ("one; two", ["one", "two"]),
        ("one\r\n\r\ntwo", ["one", "two"]),
        (_body("a", "b"), ["a", "b"]),
        ("Xero said: " + _body("a") + " (code 400)", ["Xero said:", "a", "(code 400)"]),
        ('{"Title":"Unauthorized","Status":401,"Detail":"AuthenticationUnsuccessful"}',
         ["Unauthorized", "AuthenticationUnsuccessful"]),
        ('Error: {"Elements":[{"ValidationErrors":[{"Message":"cut off', ["Error: {\"Elements\":[{\"ValidationErrors\":[{\"Message\":\"cut off"]),
        ("It&#39;s “quoted”", ["It's \"quoted\""]),
    ],
)
def test_split_messages(cell, messages):
    assert split_messages(cell) == messages


def test_repeated_message_counts_once():
    assert len(classify_cell(_body(ARCHIVED, ARCHIVED), CATALOG)) == 1


def test_several_errors_in_order():
    cell = "Invoice # must be unique.\n" + _body(ARCHIVED)
    assert [f.category for f in classify_cell(cell, CATALOG)] == ["invoice_number_not_unique", "account_archived"]


def test_unknown_messages_share_a_template():
    first = classify_cell("Contact name 'Bob Smith Holdings Limited' is too long", CATALOG)[0]
    second = classify_cell("Error: Contact name \"A\" is too long. Please try again.", CATALOG)[0]
    assert first.category == second.category == "unclassified"
    assert first.template == second.template == "Contact name <CODE> is too long"


def test_empty_cell_is_accounted_for():
    (finding,) = classify_cell("  ", CATALOG)
    assert finding.category == "unclassified" and finding.template == NO_ERROR_TEXT


def test_wrapper_alone_is_not_an_error_but_the_row_still_counts():
    (finding,) = classify_cell("Error: Please try again.", CATALOG)
    assert finding.category == "unclassified"


def test_each_distinct_cell_classified_once():
    errors = pd.Series([ARCHIVED, "x", ARCHIVED, None, "x"], dtype="object")
    result = classify_rows(errors, CATALOG)
    assert len(result.cells) == 3
    assert list(result.codes) == [0, 1, 0, 2, 1]


cells = st.one_of(
    st.sampled_from([ARCHIVED, "Invoice # must be unique.", "", "??", _body(ARCHIVED, "odd one")]),
    st.text(max_size=60),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(cells, max_size=40))
def test_classification_never_drops_or_duplicates_a_row(values):
    result = classify_rows(pd.Series(values, dtype="object"), CATALOG)
    columns = result.columns(CATALOG.value_names)
    assert len(columns) == len(values)
    assert all(columns["categories"].str.len() > 0)
    for value, categories in zip(values, columns["categories"]):
        assert categories == "+".join(dict.fromkeys(f.category for f in classify_cell(value or "", CATALOG)))


_FINDINGS = st.builds(
    Finding,
    category=st.sampled_from(["account_archived", "tax_type_invalid", "unclassified"]),
    fix=st.sampled_from(["reactivate_account", "fix_tax", "manual_review"]),
    values=st.lists(st.tuples(st.sampled_from(["account_code", "tax_type"]), st.sampled_from(["200", "400", "OUTPUT"])),
                    max_size=3).map(tuple),
    template=st.sampled_from(["", "Thing {id} failed"]),
    match=st.sampled_from(["pattern", "similar", "none"]),
    confidence=st.sampled_from([1.0, 0.9, 0.0]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_FINDINGS, max_size=3).map(tuple), min_size=1, max_size=6), st.data())
def test_output_columns_are_each_rows_findings_joined(per_cell, data):
    """Each row's columns say what its cell's findings say: categories and fixes joined once each,
    templates joined, the weakest finding's match and confidence, each value found listed once."""
    codes = np.asarray(data.draw(st.lists(st.integers(0, len(per_cell) - 1), max_size=12)), dtype=np.int64)
    names = ("account_code", "tax_type")
    table = Classified(codes, tuple(str(i) for i in range(len(per_cell))), tuple(per_cell)).columns(names)
    assert list(table.columns) == ["categories", "fixes", "template", "match", *names, "confidence"]
    for row, code in enumerate(codes.tolist()):
        findings = per_cell[code]
        weakest = min(findings, key=lambda f: f.confidence, default=None)
        assert table["categories"].iloc[row] == "+".join(dict.fromkeys(f.category for f in findings))
        assert table["fixes"].iloc[row] == "+".join(dict.fromkeys(f.fix for f in findings))
        assert table["template"].iloc[row] == " | ".join(f.template for f in findings if f.template)
        assert table["match"].iloc[row] == (weakest.match if weakest else "none")
        assert table["confidence"].iloc[row] == np.float32(weakest.confidence if weakest else 0.0)
        for name in names:
            found = dict.fromkeys(value for f in findings for n, value in f.values if n == name)
            assert table[name].iloc[row] == ", ".join(found)
    for column in ("categories", "template", *names):  # categories kept sorted: a sort of the column is by text
        assert list(table[column].cat.categories) == sorted(table[column].cat.categories)


_SAMPLES = [text for category in load_default_catalog().categories for text in (*category.examples, *category.near_misses)]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_SAMPLES), st.sampled_from(_SAMPLES), st.text(alphabet="0123456789-/'\" .£$€ABCxyz", max_size=12))
def test_masks_and_noise_apply_as_one_sub_after_another(first, second, extra):
    """The set search that skips masks which cannot change a message leaves what applying every
    one in turn leaves."""
    from analyzer.classify.patterns import in_turn, mask_text, substitutions

    catalog = load_default_catalog()
    message = f"{first} {extra} {second}"
    noisy = message
    for pattern in catalog.noise:
        noisy = pattern.sub(" ", noisy)
    masked = " ".join(message.split())
    for mask in catalog.masks:
        masked = mask.pattern.sub(mask.replace, masked)
    assert mask_text(message, catalog) == masked.strip(" .!")
    assert in_turn(message, substitutions(catalog, "noise")) == noisy


def _every_pattern_and_text():
    from analyzer.catalog import load_default_catalog as load

    catalog = load()
    texts = [t for c in catalog.categories for t in (*c.examples, *c.near_misses)]
    texts += ["", "£", "Account code '4ü0' £12.50 – é", "x" * 300]
    return [p.compiled() for c in catalog.categories for p in c.patterns], texts  # the built-in one defers them


PATTERNS, TEXTS = _every_pattern_and_text()


def test_re2_asked_directly_finds_what_the_wrappers_finditer_finds():
    """classify asks RE2 through the wrapper's compiled object (the wrapper's finditer cost most
    of classify's time); every catalog pattern over every example and near-miss gives the same
    spans and groups either way."""
    from analyzer.classify.patterns import _Text, _fast_matching, _matches_by_wrapper, _matches_in_re2

    assert _fast_matching()
    for pattern in PATTERNS:
        for text in TEXTS:
            wrapped = _Text(text)
            assert list(_matches_in_re2(pattern, wrapped)) == list(_matches_by_wrapper(pattern, wrapped)), \
                (pattern.pattern, text)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PATTERNS), st.text(alphabet=st.sampled_from("ac0 '£é–\n\"x:-1/"), max_size=40))
def test_re2_asked_directly_agrees_on_any_text(pattern, text):
    from analyzer.classify.patterns import _Text, _matches_by_wrapper, _matches_in_re2

    wrapped = _Text(text)
    assert list(_matches_in_re2(pattern, wrapped)) == list(_matches_by_wrapper(pattern, wrapped))


_SUBSTITUTIONS = [(mask.pattern, mask.replace) for mask in load_default_catalog().masks] + \
    [(pattern, " ") for pattern in load_default_catalog().noise] + \
    [(re2.compile(r"(a)|(b)"), r"[\2\1]"), (re2.compile(r"x*"), "-"), (re2.compile(r"(?P<n>c)"), r"\g<n>!"),
     (re2.compile(r"(c)(d)?"), r"<\2>"), (re2.compile(r"é"), "è"), (re2.compile(r"\s"), r"\n")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_SUBSTITUTIONS), st.one_of(st.sampled_from(TEXTS),
       st.text(alphabet=st.sampled_from("abc0 '£é–\n\"x:-1/;|•"), max_size=40)))
def test_sub_and_split_asked_of_re2_give_what_the_wrappers_give(substitution, text):
    """Masks, noise and the cell's separators run on RE2 directly; a replacement it cannot expand
    itself (a named group, an escape, a two-digit group, text outside ASCII) goes to the wrapper."""
    from analyzer.classify.messages import _SEPARATORS
    from analyzer.classify.patterns import split, sub

    pattern, replacement = substitution
    assert sub(pattern, replacement, text) == pattern.sub(replacement, text)
    assert split(_SEPARATORS, text) == _SEPARATORS.split(text)


def _all_patterns_run(message: str, catalog) -> set:
    """The findings when every pattern the set search names is run over the message."""
    from analyzer.classify.patterns import _pattern_set, _scan_hits, _Text

    patterns, order, _ = _pattern_set(catalog)
    text = _Text(message)
    return {finding for _, finding in _scan_hits(text, sorted(patterns.search(text) or ()), order)}


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.sampled_from(TEXTS), st.builds(lambda a, b, glue: f"{a}{glue}{b}", st.sampled_from(TEXTS),
                                                   st.sampled_from(TEXTS), st.sampled_from([" ", ". ", " and "]))))
def test_one_pattern_without_values_is_its_finding_without_running_it(text):
    """The set search naming one pattern with no named groups gives, unrun, what running it gives."""
    from analyzer.classify.patterns import scan

    catalog = load_default_catalog()
    assert {finding for _, finding in scan(text, catalog)} == _all_patterns_run(text, catalog)


def test_a_pattern_the_set_reads_otherwise_is_run_even_alone():
    """A compiled pattern the catalog did not make (here case-sensitive) decides for itself: the
    set search's case-insensitive copy naming it is not its finding."""
    from dataclasses import replace

    from analyzer.classify.patterns import scan

    pattern = re2.compile("zzqq widget failed")
    catalog = load_default_catalog()
    first = replace(catalog.categories[0], patterns=(pattern,))
    custom = replace(catalog, categories=(first, *catalog.categories[1:]))
    assert [f.category for _, f in scan("zzqq widget failed", custom)] == [first.id]
    assert scan("ZZQQ WIDGET FAILED", custom) == []


def test_a_wrapper_without_the_compiled_object_gets_its_own_finditer(monkeypatch):
    import analyzer.classify.patterns as classify

    def no_compiled_object(compiled, text):
        raise AttributeError("'_Regexp' object has no attribute '_regexp'")
        yield

    monkeypatch.setattr(classify, "_matches_in_re2", no_compiled_object)
    classify._fast_matching.cache_clear()
    try:
        assert not classify._fast_matching()
        catalog = load_default_catalog()
        example = catalog.category("account_archived").examples[0]
        assert classify_cell(example, catalog)[0].category == "account_archived"
    finally:
        monkeypatch.undo()
        classify._fast_matching.cache_clear()


@pytest.mark.parametrize("cell", ["-", " N/A ", "#N/A", "None", "null", "—", "OK", "Published", "n/a"])
def test_a_placeholder_is_no_error_text(cell):
    (finding,) = classify_cell(cell, load_default_catalog())
    assert (finding.category, finding.template) == ("unclassified", NO_ERROR_TEXT)


def test_a_known_error_at_the_end_of_a_very_long_cell_is_found():
    """A wrapper's log of 20,000 characters and more, Xero's message last."""
    cell = "lorem ipsum " * 2000 + "\nAccount code '455' has been archived, or has been deleted."
    assert "account_archived" in {f.category for f in classify_cell(cell, load_default_catalog())}


@pytest.mark.parametrize("cell, category", [
    ("Invoice already exists (ref 8841-22A)", "invoice_number_not_unique"),
    ("Account could not be found. (ref 8841-22A)", "bank_account_mismatch"),
    ("Invoice not found. Please check the item in Dext before publishing again.", "invoice_not_found"),
])
def test_a_short_message_with_a_reference_or_sentence_after_it_is_still_recognised(cell, category):
    """Patterns written for the whole of a short message (anchored: "Invoice not found" says little
    inside a longer text) are tried on the message's own sentences, without a reference after it."""
    (finding,) = classify_cell(cell, load_default_catalog())
    assert (finding.category, finding.match) == (category, "similar") and finding.read_as.startswith("read as ")


def test_every_near_miss_with_a_sentence_after_it_stays_out_of_its_category():
    catalog = load_default_catalog()
    for category in catalog.categories:
        for near_miss in category.near_misses:
            for cell in (f"{near_miss.rstrip('.')}. Please check the item in Dext.", f"{near_miss} (ref 8841-22A)"):
                assert category.id not in {f.category for f in classify_cell(cell, catalog)}, (category.id, cell)


_CATALOG_TEXTS = sorted({t for c in CATALOG.categories for t in (*c.examples, *c.near_misses)})


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_CATALOG_TEXTS), st.lists(st.tuples(st.integers(0, 400), st.characters(
    min_codepoint=32, max_codepoint=126)), max_size=4), st.sampled_from(["", "kK sS", " \u212a \u017f \u00e9 \u2013 "]))
def test_the_latin1_pattern_search_names_what_the_utf8_one_names(text, edits, extra):
    """ASCII messages are searched by the set built to read Latin-1 (a smaller automaton); on
    them it names exactly the patterns the UTF-8 set names. A message outside ASCII (the Kelvin
    sign, which folds to k in UTF-8) goes to the UTF-8 set."""
    from analyzer.classify.patterns import _pattern_set, _search_set, _Text

    for at, character in edits:  # slips: a character put in
        at = min(at, len(text))
        text = text[:at] + character + text[at:]
    text += extra
    patterns = _pattern_set(CATALOG)[0]
    utf8 = _search_set([p.pattern for c in CATALOG.categories for p in c.patterns])
    message = _Text(text)
    assert sorted(patterns.search(message) or ()) == sorted(utf8.Match(message.encoded) or ())


def test_a_character_outside_latin1_in_a_pattern_matches_no_ascii_text():
    from analyzer.classify.patterns import _PatternSet, _Text

    patterns = _PatternSet(["total \u2013 due", "[\u20ac$]5", "caf\u00e9"])
    assert patterns.search(_Text("total - due")) is None
    assert patterns.search(_Text("total \u2013 due")) == [0]
    assert patterns.search(_Text("$5")) == [1]
    assert patterns.search(_Text("\u20ac5")) == [1]
    assert patterns.search(_Text("cafe")) is None
    assert patterns._ascii is not None
