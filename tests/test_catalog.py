"""Every catalog example must classify as its category (first), every near-miss must not."""

import re
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
        # a value named as an output column would stand in its place
        (lambda d: d["category"][0].update(patterns=["score (?P<confidence>\\d+) too low"], extracts=["confidence"]),
         "extracts 'confidence': the name of an output column"),
        (lambda d: d["category"][0].update(patterns=["from (?P<Client>\\w+)"], extracts=["Client"]),
         "extracts 'Client': the name of an output column"),
        (lambda d: d["fix"][0].update(who="intern"), "who must be one of"),
        (lambda d: d["fix"][0].update(scope="galaxy"), "scope must be one of"),
        (lambda d: d["category"][0].pop("cause"), "missing cause"),
        # A practice's file is untrusted: every wrong type is one line naming the entry and key.
        (lambda d: d["category"][0].update(patterns="boom"), "patterns must be a list of texts, not str"),
        (lambda d: d["category"][0].update(examples=[1, 2]), "examples must be a list of texts"),
        (lambda d: d["category"][0].update(seed="yes"), "seed must be true or false, not str"),
        (lambda d: d["fix"][0].update(who=["bookkeeper"]), "who must be text, not list"),
        (lambda d: d["fix"][0].update(steps=5), "steps must be a list of texts, not int"),
        (lambda d: d["fix"][0].update(variants={"when": "x"}), "variants must be a list of tables"),
        (lambda d: d.update(category={"id": "x"}), "top level: category must be a list of tables"),
        (lambda d: d.update(category=["x"]), "top level: category must be a list of tables"),
        (lambda d: d.update(noise=["x"]), "top level: noise must be a table"),
        (lambda d: d["noise"].update(patterns="x"), "noise: patterns must be a list of texts"),
        (lambda d: d.update(colour=1), "top level: unknown key(s) colour"),
        (lambda d: d["mask"][0].update(replace="\\9"), "replace refers to group '9'"),
        (lambda d: d["mask"][0].update(pattern=5), "pattern must be text, not int"),
        (lambda d: d["category"][0].update(patterns=["(?<=x)y"]), "look-arounds"),
        (lambda d: d["category"][0].update(patterns=["(a)\\1"]), "bad pattern"),
        (lambda d: d["category"][0].update(patterns=["x{0,5000}"]), "bad pattern"),
    ],
)
def test_broken_catalog_fails_loudly(mutate, message):
    doc = _doc()
    mutate(doc)
    with pytest.raises(CatalogError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_catalog([("catalog.toml", doc)])


def test_a_catastrophic_pattern_runs_in_linear_time():
    """`(a+)+$` backtracks exponentially in Python's engine; the catalog runs it on RE2."""
    import time

    from analyzer.classify import classify_cell

    extra = {"category": [{"id": "evil", "title": "T", "cause": "C", "fix": "manual-review",
                           "patterns": ["(a+)+$"], "examples": ["aaa"]}]}
    catalog = build_catalog([("catalog.toml", _doc()), ("practice.toml", extra)])
    started = time.perf_counter()
    findings = classify_cell("a" * 19_999 + "!", catalog)
    assert time.perf_counter() - started < 2
    assert [f.category for f in findings] == ["unclassified"]


@pytest.mark.parametrize("cell", [" " * 100_000, "a-" * 50_000, " 'a" * 40_000, "1a-" * 30_000, "a@" * 50_000,
                                  "x\n" * 50_000, "'" * 100_000])
def test_hostile_cells_classify_quickly(cell):
    import time

    from analyzer.catalog import load_default_catalog
    from analyzer.classify import classify_cell

    started = time.perf_counter()
    classify_cell(cell, load_default_catalog())
    assert time.perf_counter() - started < 2


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


# ---------------------------------------------------------------------------------------------
# Whole cells: several errors in one cell, wrappers, repeats, values pulled out of the wording.

_BODY = ('{"ErrorNumber":10,"Type":"ValidationException","Message":"A validation exception occurred",'
         '"Elements":[{"Type":"ACCPAY","ValidationErrors":[%s]}]}')


def _body(*messages):
    import json
    return _BODY % ",".join(json.dumps({"Message": m}) for m in messages)


@pytest.mark.parametrize(
    "cell, expected",
    [
        pytest.param(_body("Account code '455' has been archived, or has been deleted. Each line item must reference a valid account.",
                           "The TaxType code 'INPUT2' cannot be used with account code '310'."),
                     ["account_archived", "tax_type_invalid_for_account"], id="json-two-validation-errors"),
        pytest.param(_body("The tax amount cannot be greater than the line amount.",
                           "The tax amount cannot be greater than the line amount."),
                     ["tax_exceeds_line_amount"], id="json-repeated-message-counts-once"),
        pytest.param("Xero error - " + _body("You cannot save this transaction using an inventory account type.",
                                             "Item code 'FLOUR-T55-25KG' is not valid"),
                     ["inventory_account", "item_code_invalid"], id="wrapped-json-two-errors"),
        pytest.param("Organisation is not subscribed to currency EUR\nAccount code '455' has been archived, or has been deleted.",
                     ["currency_not_enabled", "account_archived"], id="newline-joined-pair"),
        pytest.param("Invoice # must be unique.; The contact with the specified contact details has been archived.",
                     ["invoice_number_not_unique", "contact_archived"], id="semicolon-joined-pair"),
        pytest.param("Account code '455' has been archived or deleted\nAccount code '455' has been archived or deleted!",
                     ["account_archived"], id="same-error-twice-counts-once"),
        pytest.param('Xero error - {"Type":null,"Title":"Unauthorized","Status":401,"Detail":"TokenExpired: token expired at 10/21/2026 16:05:09"}',
                     ["not_authorised"], id="401-body-title-and-detail-one-finding"),
        pytest.param('{"Type":null,"Title":"Forbidden","Status":403,"Detail":"AuthorizationUnsuccessful"}',
                     ["not_authorised"], id="403-body"),
        pytest.param('{"Title":"RequestEntityTooLarge","Status":413,"Detail":"PayloadTooLarge"}',
                     ["image_publish_failed"], id="413-body"),
        pytest.param("Contact name 'Greaves Paint & Finish (Trade Counter) - Northwich, Winsford & Middlewich branches' is too long\n"
                     "A valid user should be identified using the UserID",
                     ["unclassified", "user_not_linked"], id="unknown-and-known"),
        pytest.param("The line total 245.60 does not match the expected line total 245.61\nInvoice not of valid status for modification",
                     ["totals_mismatch", "invalid_status_for_modification"], id="totals-and-status"),
        pytest.param("Account   code  ‘455’   has been   ARCHIVED, or has been deleted. Please try again.",
                     ["account_archived"], id="extra-whitespace-curly-quotes-case"),
        pytest.param("Account code &#39;200&#39; is not a valid code for this document.",
                     ["account_invalid_for_document"], id="html-entities"),
        pytest.param("Contact name is too long", ["unclassified"], id="contact-name-too-long-is-nothing"),
        pytest.param("Contact name 'Unauthorised Access Security Ltd' is too long", ["unclassified"],
                     id="trigger-word-inside-a-contact-name"),
        pytest.param("The due date cannot be before the invoice date", ["unclassified"], id="due-date-is-not-lock-date"),
        pytest.param("Invoice not of valid status for creation", ["unclassified"], id="creation-is-not-modification"),
    ],
)
def test_cell_findings(cell, expected):
    assert [f.category for f in classify_cell(cell, CATALOG)] == expected


@pytest.mark.parametrize(
    "cell, category, name, value",
    [
        ("Account code '455' has been archived, or has been deleted. Each line item must reference a valid account.",
         "account_archived", "account_code", "455"),
        ("Account code ‘463’ has been archived or deleted!", "account_archived", "account_code", "463"),
        ("Error: account code 420 has been archived or deleted!", "account_archived", "account_code", "420"),
        ("Account code “200” is not a valid code for this document!", "account_invalid_for_document", "account_code", "200"),
        ("The TaxType code 'INPUT2' cannot be used with account code '310'.", "tax_type_invalid_for_account", "tax_type", "INPUT2"),
        ("The TaxType code 'INPUT2' cannot be used with account code '310'.", "tax_type_invalid_for_account", "account_code", "310"),
        ("The TaxType code OUTPUT cannot be used with this account code", "tax_type_invalid_for_account", "tax_type", "OUTPUT"),
        ("The TaxType code 'GST on Income' cannot be used with account code '40010-01'.",
         "tax_type_invalid_for_account", "tax_type", "GST on Income"),
        ("The document date cannot be before the end of year lock date, currently set at 31-Mar-2026.", "lock_date", "lock_date", "31-Mar-2026"),
        ("The document date cannot be before the period lock date, currently set at 30/09/2026. Please try again.",
         "lock_date", "lock_date", "30/09/2026"),
        ("The document date cannot be before the end of year lock date, currently set at 2026-03-31", "lock_date", "lock_date", "2026-03-31"),
        ("Organisation is not subscribed to currency EUR", "currency_not_enabled", "currency", "EUR"),
        ("The current organisation is not subscribed to currency 'GBP'.", "currency_not_enabled", "currency", "GBP"),
        ("Invoice number 'INV-0042' must be unique", "invoice_number_not_unique", "invoice_number", "INV-0042"),
        ("The contact 'Greaves Paint & Finish' has been archived", "contact_archived", "contact", "Greaves Paint & Finish"),
        ("The TrackingOption 'Crew 4' for TrackingCategory 'Crew' is not valid", "tracking_invalid", "tracking", "Crew"),
        ("The TrackingOption 'Crew 4' for TrackingCategory 'Crew' is not valid", "tracking_invalid", "tracking_option", "Crew 4"),
        ("Tracking category 'Job Site' has been archived", "tracking_invalid", "tracking", "Job Site"),
        ("Item code 'PAVER-450' is not valid", "item_code_invalid", "item_code", "PAVER-450"),
        # Codes in any script, quoted or not: RE2's \w is ASCII only, the catalog's {code} is not.
        ("The TaxType code INPUT2 cannot be used with account code Réglé-1", "tax_type_invalid_for_account",
         "account_code", "Réglé-1"),
        ("The TaxType code INPUT2 cannot be used with account code RÉGLÉ-2", "tax_type_invalid_for_account",
         "account_code", "RÉGLÉ-2"),
        ("Item code ÉPI-01 is not valid", "item_code_invalid", "item_code", "ÉPI-01"),
        ("The line total 120.00 does not match the expected line total 119.99", "totals_mismatch", "stated_amount", "120.00"),
        ("The line total 120.00 does not match the expected line total 119.99", "totals_mismatch", "expected_amount", "119.99"),
        ("Tax amount 52.23 is incorrect for INPUT2 tax type, should be 52.28", "totals_mismatch", "tax_type", "INPUT2"),
        ("Tax amount 52.23 is incorrect for INPUT2 tax type, should be 52.28", "totals_mismatch", "expected_amount", "52.28"),
    ],
)
def test_values_are_extracted(cell, category, name, value):
    found = {f.category: f for f in classify_cell(cell, CATALOG)}
    assert category in found, f"{cell!r} -> {list(found)}"
    assert found[category].value(name) == value


@pytest.mark.parametrize(
    "cell, template",
    [
        ("The due date 11/02/2026 is before the invoice date 11/09/2026", "The due date <DATE> is before the invoice date <DATE>"),
        ("Contact name 'Hughes, Patel & Co Solicitors (Harbour View Dental Ltd account, matters 2019-2026)' is too long",
         "Contact name <CODE> is too long"),
        ("Contact name 'O'Brien's Bakery & Café (Main St)' is too long", "Contact name <CODE> is too long"),
        ("Xero error - Email address must be valid. Please try again.", "Email address must be valid"),
        ("ValidationException: Amount 1234.56 exceeds the credit limit of 1,000.00", "Amount <AMOUNT> exceeds the credit limit of <AMOUNT>"),
    ],
)
def test_unknown_messages_are_templated(cell, template):
    findings = classify_cell(cell, CATALOG)
    assert [f.category for f in findings] == ["unclassified"]
    assert findings[0].template == template


# The fixes the seed's 19 errors must share (public contract of the report's grouping).
SEED_FIXES = {
    "not_authorised": "reconnect-xero",
    "subscription_inactive": "xero-plan", "approval_limit": "xero-plan",
    "account_archived": "refresh-categories",
    "account_invalid_for_document": "fix-tax-and-category", "tax_type_invalid_for_account": "fix-tax-and-category",
    "invoice_not_found": "void-then-republish", "invalid_status_for_modification": "void-then-republish",
    "spend_money_not_updatable": "void-then-republish", "already_exists_not_draft": "void-then-republish",
    "image_publish_failed": "republish-image",
    "lock_date": "lock-date",
    "inventory_account": "track-inventory",
    "bank_account_mismatch": "link-bank-account", "no_linked_bank_account": "link-bank-account",
    "tax_exceeds_line_amount": "tax-line-amount",
    "user_permissions": "xero-user-permissions",
    "user_not_linked": "link-users",
    "invoice_number_not_unique": "unique-invoice-number",
}


@pytest.mark.parametrize("category_id, fix_id", sorted(SEED_FIXES.items()))
def test_seed_category_uses_its_fix(category_id, fix_id):
    category = CATALOG.category(category_id)
    assert category.fix == fix_id
    assert category.seed and category.seed_wording
    # the seed's own sentence is an example of its category
    assert classify_cell(category.seed_wording, CATALOG)[0].category == category_id


def test_fix_contract_details():
    fixes = CATALOG.fixes
    assert fixes["reconnect-xero"].scope == "connection"
    assert fixes["xero-plan"].scope == "connection" and fixes["xero-plan"].who == "client_admin"
    assert fixes["void-then-republish"].clears_publishing_data
    assert not fixes["republish-image"].clears_publishing_data
    assert fixes["lock-date"].group_by == "lock_date" and fixes["lock-date"].scope == "settings"
    assert fixes["refresh-categories"].group_by == "account_code"
    assert fixes["retry-later"].scope == "connection"
    # tax genuinely greater than net cannot be published from Dext: the planner picks this per row
    variant = {v.when: v for v in fixes["tax-line-amount"].variants}["tax_exceeds_net"]
    assert fixes["tax-line-amount"].publishable and not variant.publishable


def test_the_built_in_catalog_checked_whole_as_a_practices_file_is():
    """The built-in catalog's patterns and key words are compiled when first used (explain starts
    faster); this is the check a practice's file gets as it loads, run on the built-in one, and
    the lazily compiled catalog classifies every example and near-miss as the checked one does."""
    checked = build_catalog([("catalog.toml", tomllib.loads(default_catalog_text()))])
    assert not any(type(p).__name__ == "Deferred" for c in checked.categories for p in c.patterns)
    assert all(type(p).__name__ == "Deferred" for c in CATALOG.categories for p in c.patterns)
    for category in CATALOG.categories:
        for text in (*category.examples, *category.near_misses):
            assert classify_cell(text, CATALOG) == classify_cell(text, checked), text


def test_a_deferred_pattern_pickles_for_the_workers():
    import pickle

    catalog = pickle.loads(pickle.dumps(load_default_catalog()))
    assert classify_cell("Account code '455' has been archived, or has been deleted.", catalog)[0].category == (
        "account_archived")


@pytest.mark.parametrize("fix", [f for f in CATALOG.fixes.values() if f.who == "client_admin"], ids=lambda f: f.id)
def test_a_fix_for_the_clients_xero_admin_has_words_for_the_client_and_no_practice_step(fix):
    """The "What we need from you" page is sent as it is: its why is a sentence, and its steps are
    the client's alone (nothing in Dext, no publishing: the practice does those)."""
    assert fix.client_why.endswith(".") and fix.client_why[0].isupper()
    assert fix.client_steps and not [s for s in fix.client_steps if "in Dext" in s or s.startswith("Publish")]


def test_every_column_classify_adds_is_a_name_no_value_may_take(tmp_path):
    from analyzer.catalog import OUTPUT_COLUMNS
    from analyzer.pipeline import analyse, classified_table

    export = tmp_path / "Client.csv"
    export.write_text("Receipt ID,Supplier,Sheet,Error\n1,Acme,x,Account code '200' is not a valid code for this document\n",
                      encoding="utf-8")
    analysis = analyse([str(export)])
    table = classified_table(analysis)
    input_columns = {f"{c} (input)" if f"{c} (input)" in table.columns else c for c in analysis.batch.original.columns}
    added = set(table.columns) - input_columns - set(analysis.catalog.value_names)
    assert added and added <= set(OUTPUT_COLUMNS)
    assert not set(load_default_catalog().value_names) & set(OUTPUT_COLUMNS)


LEDGERS = tomllib.loads(default_catalog_text())["other_ledgers"]


@pytest.mark.parametrize("text", LEDGERS["examples"])
def test_another_ledgers_message_is_not_looked_up_in_xeros_catalog(text):
    found = classify_cell(text, CATALOG)
    assert [f.category for f in found] == ["unclassified"], text
    assert found[0].not_consulted.startswith("another ledger's message"), found[0].not_consulted


@pytest.mark.parametrize("text", LEDGERS["near_misses"])
def test_a_message_naming_xero_too_is_looked_up(text):
    assert classify_cell(text, CATALOG)[0].category != "unclassified", text


def test_a_practice_names_more_ledgers_and_what_it_taught_still_holds():
    from analyzer.classify import SecondStage, template_key

    text = "Acme Ledger: Account code '200' has been archived, or has been deleted"
    assert classify_cell(text, CATALOG)[0].category == "account_archived"
    extra = {"other_ledgers": {"names": ["Acme Ledger"]}}
    catalog = build_catalog([("catalog.toml", tomllib.loads(default_catalog_text())), ("ours.toml", extra)], trusted=1)
    found = classify_cell(text, catalog)
    assert [f.category for f in found] == ["unclassified"] and "(Acme Ledger)" in found[0].not_consulted
    taught = SecondStage({template_key(found[0].template): "account_archived"})
    assert [f.match for f in classify_cell(text, catalog, None, taught)] == ["taught"]


@pytest.mark.parametrize("section, error", [
    ({"names": "quickbooks"}, "names must be a list of texts"),
    ({"names": ["sage", " "]}, "names and wordings hold an empty one"),
    ({"other": []}, "unknown key(s) other"),
])
def test_a_bad_other_ledgers_section_is_one_line(section, error):
    with pytest.raises(CatalogError, match=re.escape(error)):
        build_catalog([("ours.toml", {"other_ledgers": section})])
