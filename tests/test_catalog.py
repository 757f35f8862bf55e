"""Every catalog example must classify as its category (first), every near-miss must not."""

import tomllib

import pytest

from analyzer.catalog import CatalogError, build_catalog, default_catalog_text, load_default_catalog
from analyzer.classify import classify_cell

CATALOG = load_default_catalog()

SEED_IDS = [
    "account_archived", "account_invalid_for_document", "tax_type_invalid_for_account",
    "invoice_not_found", "invalid_status_for_modification", "not_authorised",
    "image_publish_failed", "spend_money_not_updatable", "lock_date", "already_exists_not_draft",
    "inventory_account", "bank_account_mismatch", "tax_exceeds_line_amount", "user_permissions",
    "invoice_number_not_unique", "no_linked_bank_account", "user_not_linked",
    "subscription_inactive", "approval_limit",
]

EXAMPLES = [
    pytest.param(c.id, text, id=f"{c.id}-{n}") for c in CATALOG.categories
    for n, text in enumerate(c.examples)
]
NEAR_MISSES = [
    pytest.param(c.id, text, id=f"{c.id}-near-{n}") for c in CATALOG.categories
    for n, text in enumerate(c.near_misses)
]


@pytest.mark.parametrize("category_id, text", EXAMPLES)
def test_example_matches_its_category(category_id, text):
    found = [f.category for f in classify_cell(text, CATALOG)]
    assert found[:1] == [category_id], f"{text!r} -> {found}"


@pytest.mark.parametrize("category_id, text", NEAR_MISSES)
def test_near_miss_does_not_match(category_id, text):
    found = [f.category for f in classify_cell(text, CATALOG)]
    assert category_id not in found, f"{text!r} -> {found}"


def test_seed_categories_are_exactly_the_nineteen():
    assert sorted(c.id for c in CATALOG.categories if c.seed) == sorted(SEED_IDS)


@pytest.mark.parametrize("category", CATALOG.categories, ids=lambda c: c.id)
def test_every_category_is_documented(category):
    assert category.title and category.cause and category.examples and category.near_misses
    fix = CATALOG.fixes[category.fix]
    assert fix.steps and fix.title


def test_fixes_that_clear_publishing_data_warn_about_duplicates():
    for fix in CATALOG.fixes.values():
        if fix.clears_publishing_data:
            assert any("duplicate" in w.lower() for w in fix.warnings), fix.id


def _doc():
    return tomllib.loads(default_catalog_text())


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["category"][0].update(fix="no-such-fix"), "fix 'no-such-fix' is not defined"),
        (lambda d: d["category"][0].update(patterns=["(unclosed"]), "bad pattern"),
        (lambda d: d["category"][0].update(colour="red"), "unknown key(s) colour"),
        (lambda d: d["category"][0].update(extracts=["nothing"]), "not in extracts"),
        (lambda d: d["fix"][0].update(who="intern"), "who must be one of"),
        (lambda d: d["fix"][0].update(scope="galaxy"), "scope must be one of"),
        (lambda d: d["category"][0].pop("cause"), "missing cause"),
    ],
)
def test_broken_catalog_fails_loudly(mutate, message):
    doc = _doc()
    mutate(doc)
    with pytest.raises(CatalogError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_catalog([("catalog.toml", doc)])


def test_practice_file_overrides_and_adds_before_builtins():
    extra = {
        "category": [
            {"id": "account_archived", "title": "T", "cause": "C", "fix": "manual-review",
             "patterns": ["archived"], "examples": ["archived"]},
            {"id": "due_date_before_invoice", "title": "Due date", "cause": "C",
             "fix": "manual-review", "patterns": ["due date .* before"], "examples": ["due date x before"]},
        ]
    }
    catalog = build_catalog([("catalog.toml", _doc()), ("practice.toml", extra)])
    ids = [c.id for c in catalog.categories]
    assert ids[0] == "due_date_before_invoice"
    assert catalog.category("account_archived").fix == "manual-review"
    assert ids.count("account_archived") == 1
