#!/usr/bin/env python3
"""(Re)create the example Dext -> Xero publish-failure exports in ``sample_exports/``.

Deterministic: a fixed random seed, the standard library and openpyxl only. Every client, supplier,
item id and permalink is invented. Run from anywhere::

    python tools/make_samples.py                 # writes sample_exports/*
    python tools/make_samples.py --out DIR       # writes elsewhere (e.g. a test's tmp dir)
    python tools/make_samples.py --labels x.json # also writes the intended category of every
                                                 # error cell (ground truth for tests); the
                                                 # labels file is never written into the
                                                 # exports folder unless you ask for it

The error cells deliberately mix Dext's own sentences (seed article wording, sometimes with a
trailing "!" or curly quotes), Xero's raw API messages with real values, wrapped forms
("Error: ...", "ValidationException: ...", "Xero error - ...", "... Please try again."), Xero
JSON bodies, cells holding several errors, a message repeated once per bad line, and about 5%
of messages no catalogue knows.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

SEED = 20261031
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "sample_exports"
PERMALINK = "https://app.dext.com/receipts/view/{}"
UNRECOGNISED = "unrecognised"

# --------------------------------------------------------------------------------------------
# Message catalogue (values substituted at render time)
# --------------------------------------------------------------------------------------------
SEED_TEXT = {
    "account_archived": "Account code '{code}' has been archived or deleted",
    "account_invalid_for_document": 'Account code "{code}" is not a valid code for this document',
    "tax_type_invalid_for_account": "The TaxType code {tax} cannot be used with this account code",
    "invoice_not_found": "An existing invoice with the specified ID could not be found",
    "invalid_status_for_modification": "Credit note or invoice not of valid status for modification",
    "not_authorised": "Sorry, we cannot publish this item because your request to Xero was not authorised",
    "image_publish_failed": "Sorry, we were not able to publish the image for this item",
    "spend_money_not_updatable": "Spend money transactions cannot be updated",
    "lock_date": "The document date cannot be before the end of year lock date",
    "already_exists_not_draft": "The item already exists in Xero with status different from 'DRAFT'",
    "inventory_account": "You cannot save this transaction using an inventory account type",
    "bank_account_mismatch": "The specified bank account details do not match a known bank account",
    "tax_exceeds_line_amount": "The tax amount cannot be greater than the line amount",
    "user_permissions": "The User specified does not have the correct permissions to perform this action",
    "invoice_number_not_unique": "This invoice number must be unique",
    "no_linked_bank_account": "To send to bank accounts you will need to set a linked bank account",
    "user_not_linked": "A valid user should be identified using the UserID",
    "subscription_inactive": "You can't publish the item - make sure your Xero subscription is still active",
    "approval_limit": "You have reached the limit of invoices you can approve",
}

RAW_TEXT = {
    "account_archived": ["Account code '{code}' has been archived, or has been deleted. "
                         "Each line item must reference a valid account."],
    "account_invalid_for_document": ["Account code '{code}' is not a valid code for this document."],
    "tax_type_invalid_for_account": ["The TaxType code '{tax}' cannot be used with account code '{code}'."],
    "invoice_not_found": ["An existing Invoice with the specified InvoiceID could not be found",
                          "An existing Credit Note with the specified CreditNoteID could not be found"],
    "invalid_status_for_modification": ["Invoice not of valid status for modification",
                                        "Credit Note not of valid status for modification"],
    "not_authorised": ['{{"Type":null,"Title":"Unauthorized","Status":401,"Detail":"AuthenticationUnsuccessful"}}',
                       "TokenExpired: token expired at {ts}",
                       "401 Unauthorized: AuthorizationUnsuccessful"],
    "image_publish_failed": ["The file is too large. Maximum size is 10MB",
                             "413 Request Entity Too Large"],
    "spend_money_not_updatable": ["This Bank Transaction cannot be edited as it has been reconciled "
                                  "with a Bank Statement."],
    "lock_date": ["The document date cannot be before the end of year lock date, currently set at {lock}.",
                  "The document date cannot be before the period lock date, currently set at {lock}"],
    "already_exists_not_draft": ["The item already exists in Xero with status different from 'DRAFT'."],
    "inventory_account": ["You cannot save this transaction using an inventory account type."],
    "bank_account_mismatch": ["The specified bank account details do not match a known bank account."],
    "tax_exceeds_line_amount": ["The tax amount cannot be greater than the line amount."],
    "user_permissions": ["The User specified does not have the correct permissions to perform this action."],
    "invoice_number_not_unique": ["Invoice # must be unique."],
    "no_linked_bank_account": ["To send to bank accounts you will need to set a linked bank account."],
    "user_not_linked": ["A valid user should be identified using the UserID."],
    "subscription_inactive": ["You can\u2019t publish the item - make sure your Xero subscription is still active."],
    "approval_limit": ["You have reached the limit of invoices you can approve this month. "
                       "Upgrade your plan to approve more."],
    # outside the seed's 19
    "contact_archived": ["The contact with the specified contact details has been archived. "
                         "The contact must be unarchived before it can be used."],
    "currency_not_enabled": ["Organisation is not subscribed to currency {cur}"],
    "totals_mismatch": ["The line total {a} does not match the expected line total {b}",
                        "Tax amount {a} is incorrect for {tax} tax type, should be {b}"],
    "account_code_missing": ["Account code or ID must be specified."],
    "tracking_invalid": ["The TrackingOption '{opt}' for TrackingCategory '{cat}' is not valid",
                         "Tracking category '{cat}' has been archived"],
    "item_code_invalid": ["Item code '{item}' is not valid"],
    "payment_exceeds_outstanding": ["Payment amount exceeds the amount outstanding on this document"],
    "xero_rate_limited": ["429 Too Many Requests: rate limit exceeded",
                          "Xero API rate limit exceeded (HTTP 429). Retry after 60 seconds"],
    "xero_unavailable": ["The Organisation is offline", "503 Service Unavailable"],
}

ALL_CATEGORIES = list(SEED_TEXT) + [c for c in RAW_TEXT if c not in SEED_TEXT]

def _curly(text: str) -> str:
    """Typographic quotes as Dext's web app shows them: ‘x’ and “x”, can’t."""
    out, single_open, double_open = [], True, True
    for i, ch in enumerate(text):
        if ch == "'":
            prev = text[i - 1] if i else " "
            if prev.isalpha():  # apostrophe (can't)
                out.append("\u2019")
            else:
                out.append("\u2018" if single_open else "\u2019")
                single_open = not single_open
        elif ch == '"':
            out.append("\u201c" if double_open else "\u201d")
            double_open = not double_open
        else:
            out.append(ch)
    return "".join(out)


# Spec constructors. A spec renders to (text, [categories in order, repeats kept], params).
def m(category, form="seed", /, **p):
    return ("m", category, form, p)


def W(style, spec):
    return ("wrap", style, spec)


def J(sep, *specs):
    return ("join", sep, specs)


def X(*specs, **meta):
    return ("json", specs, meta)


def U(text):
    return ("unrec", text)


def render(spec):
    kind = spec[0]
    if kind == "m":
        _, cat, form, p = spec
        if form.startswith("raw"):
            idx = int(form[3:] or 0)
            text = RAW_TEXT[cat][idx].format(**p)
        else:
            text = SEED_TEXT[cat].format(**p)
            if form == "seed!":
                text += "!"
            elif form == "curly":
                text = _curly(text) + "!"
            elif form == "lower":
                text = text.lower()
        return text, [cat], [p | {"_cat": cat}]
    if kind == "wrap":
        _, style, inner = spec
        text, cats, ps = render(inner)
        if style == "retry":
            text = text.rstrip(".") + ". Please try again."
        else:
            text = style + text
        return text, cats, ps
    if kind == "join":
        _, sep, specs = spec
        parts = [render(s) for s in specs]
        return (sep.join(t for t, _, _ in parts), [c for _, cs, _ in parts for c in cs],
                [q for _, _, ps in parts for q in ps])
    if kind == "json":
        _, specs, meta = spec
        parts = [render(s) for s in specs]
        element = {}
        if meta.get("doc_type"):
            element["Type"] = meta["doc_type"]
        if meta.get("number"):
            element["InvoiceNumber"] = meta["number"]
        element["ValidationErrors"] = [{"Message": t} for t, _, _ in parts]
        body = {"ErrorNumber": 10, "Type": "ValidationException",
                "Message": "A validation exception occurred", "Elements": [element]}
        return (json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                [c for _, cs, _ in parts for c in cs], [q for _, _, ps in parts for q in ps])
    if kind == "unrec":
        return spec[1], [UNRECOGNISED], []
    raise ValueError(spec)


# --------------------------------------------------------------------------------------------
# Row generation
# --------------------------------------------------------------------------------------------
rng = random.Random(SEED)
_used_ids: set[int] = set()


def new_id() -> int:
    while True:
        n = rng.randint(58_000_000, 59_999_999)
        if n not in _used_ids:
            _used_ids.add(n)
            return n


def money(lo, hi):
    return round(rng.uniform(lo, hi), 2)


def parse_lock(text: str) -> date:
    for fmt in ("%d-%b-%Y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise ValueError(text)


class Client:
    def __init__(self, name, currency, lock, suppliers, owners, month=(2026, 10), foreign=()):
        self.name, self.currency, self.lock = name, currency, lock
        self.suppliers, self.owners, self.month = suppliers, owners, month
        self.foreign = {s[0]: s for s in foreign}
        self.inv_seq = rng.randint(1000, 9000)

    def supplier(self, name=None):
        pool = self.suppliers + list(self.foreign.values())
        if name:
            return next(s for s in pool if s[0] == name)
        return rng.choice(self.suppliers)


# supplier tuple: (name, category, lo, hi, tax_name, tax_code, tax_pct, currency-or-None, type)
def make_row(client: Client, spec, hints=None):
    hints = dict(hints or {})
    text, cats, params = render(spec)
    sup = client.supplier(hints.get("supplier"))
    name, category, lo, hi, tax_name, tax_code, pct, cur, typ = sup
    cur = cur or client.currency
    y, mo = client.month
    d = date(y, mo, rng.randint(1, 31 if mo in (1, 3, 5, 7, 8, 10, 12) else 30))
    total = money(lo, hi)
    row = dict(id=new_id(), client=client.name, type=typ, supplier=name, customer="",
               category=category, tax_name=tax_name, tax_code=tax_code, pct=pct, currency=cur,
               status="Ready", owner=rng.choice(client.owners), note="", description="",
               project="", invoice_number="", payment_method="", bank_account="",
               error=text, cats=cats)
    # hints derived from the error itself, so each row is consistent with its message
    for p in params:
        c = p["_cat"]
        if c in ("account_archived", "account_invalid_for_document") and "code" in p and "cat_name" in p:
            row["category"] = f"{p['code']} - {p['cat_name']}"
        if c == "tax_type_invalid_for_account":
            if "code" in p and "cat_name" in p:
                row["category"] = f"{p['code']} - {p['cat_name']}"
            if "tax" in p:
                row["tax_code"] = p["tax"]
        if c == "lock_date":
            lock = parse_lock(p["lock"]) if "lock" in p else client.lock
            d = lock - timedelta(days=rng.randint(3, 40))
        if c in ("user_permissions", "user_not_linked"):
            row["type"] = "Expense claim"
        if c == "spend_money_not_updatable":
            row["type"] = "Receipt"
        if c == "currency_not_enabled":
            row["currency"] = p["cur"]
    if "date" in hints:
        d = hints["date"]
    row["date"] = d
    if hints.get("sales"):
        row.update(type="Sales invoice", customer=hints["sales"], supplier="",
                   category="200 - Sales", tax_name=hints.get("sales_tax_name", row["tax_name"]),
                   tax_code=hints.get("sales_tax_code", row["tax_code"]))
    for key in ("status", "type", "note", "description", "project", "category", "currency"):
        if key in hints:
            row[key] = hints[key]
    if "total" in hints:
        total = hints["total"]
    row["total"] = total
    pct = row["pct"]
    if hints.get("tax_gt_net"):  # tax genuinely greater than the net amount
        row["tax"] = round(total * rng.uniform(0.52, 0.68), 2)
    else:
        row["tax"] = round(total * pct / (100 + pct), 2) if pct else 0.0
    if row["type"] in ("Invoice", "Sales invoice"):
        client.inv_seq += rng.randint(1, 40)
        prefix = "INV" if row["type"] == "Sales invoice" else "".join(w[0] for w in (name or "X Y").split() if w[0].isalpha())[:3].upper()
        row["invoice_number"] = hints.get("invoice_number", f"{prefix}-{client.inv_seq}")
        row["due"] = d + timedelta(days=30)
        row["payment_method"] = "Unpaid"
    elif row["type"] == "Expense claim":
        row["due"] = None
        row["payment_method"] = "Paid by employee"
    else:
        row["due"] = None
        row["invoice_number"] = hints.get("invoice_number", "")
        row["payment_method"] = hints.get("payment_method", rng.choice(["Company Card", "Company Card", "Cash", "Direct Debit", "Bank Transfer"]))
        row["bank_account"] = {"Company Card": "Business Credit Card", "Cash": "Petty Cash",
                               "Direct Debit": "Business Current Account",
                               "Bank Transfer": "Business Current Account"}[row["payment_method"]]
    return row


def build(client, plan, shuffle=True):
    plan = list(plan)
    if shuffle:
        rng.shuffle(plan)
    rows = []
    for entry in plan:
        spec, hints = entry if isinstance(entry, list) else (entry, None)  # H() gives [spec, hints]
        rows.append(make_row(client, spec, hints))
    return rows


def H(spec, **hints):
    return [spec, hints]


# --------------------------------------------------------------------------------------------
# Clients and plans
# --------------------------------------------------------------------------------------------
UK_IN = ("20% (VAT on Expenses)", "INPUT2", 20)
UK_NONE = ("No VAT", "NONE", 0)
UK_EX = ("Exempt Expenses", "EXEMPTINPUT", 0)


def uk(name, cat, lo, hi, tax=UK_IN, cur=None, typ="Receipt"):
    return (name, cat, lo, hi, *tax, cur, typ)


HV = Client(
    "Harbour View Dental Ltd", "GBP", date(2026, 9, 30),
    suppliers=[
        uk("Brightsmile Dental Supplies Ltd", "310 - Cost of Goods Sold", 85, 1450, typ="Invoice"),
        uk("Kentmere Lab Services", "310 - Cost of Goods Sold", 120, 2200, typ="Invoice"),
        uk("Pennant Office Solutions", "453 - Office Expenses", 12, 260),
        uk("Calder & Moss Cleaning Co", "408 - Cleaning", 90, 480, typ="Invoice"),
        uk("Riverside Fuel Stop", "449 - Motor Vehicle Expenses", 30, 95),
        uk("Tolland Waste Management", "429 - General Expenses", 45, 210, typ="Invoice"),
        uk("Marlowe Telecom Ltd", "489 - Telephone & Internet", 38, 145, typ="Invoice"),
        uk("Ashgrove Stationers", "461 - Printing & Stationery", 6, 88),
        uk("The Quayside Café", "420 - Entertainment", 9, 140),
        uk("Fenwick Insurance Brokers", "433 - Insurance", 300, 2400, UK_EX, typ="Invoice"),
        uk("Hollins IT Support Ltd", "412 - Consulting & Accounting", 95, 650, typ="Invoice"),
        uk("Hughes, Patel & Co Solicitors", "441 - Legal Expenses", 250, 1800, typ="Invoice"),
    ],
    foreign=[
        uk("Dentalia GmbH", "310 - Cost of Goods Sold", 300, 1900, UK_NONE, "EUR", "Invoice"),
        uk("Orbis Implants BV", "455 - Dental Lab Fees", 400, 2600, UK_NONE, "EUR", "Invoice"),
        uk("ClearAlign Inc.", "310 - Cost of Goods Sold", 500, 2900, UK_NONE, "USD", "Invoice"),
    ],
    owners=["Sarah Mitchell", "Tom Okafor", "Priya Desai"],
)
A455 = dict(code="455", cat_name="Dental Lab Fees")
A420 = dict(code="420", cat_name="Entertainment")
HV_TT = dict(tax="INPUT2", code="310", cat_name="Cost of Goods Sold")
HV_LOCK = dict(lock="30/09/2026")
HV_TOKEN = dict(ts="10/28/2026 09:12:44")

HV_PLAN = [
    H(m("account_archived", **A455), supplier="Kentmere Lab Services"),
    H(m("account_archived", **A455), supplier="Kentmere Lab Services"),
    H(m("account_archived", "seed!", **A455), supplier="Kentmere Lab Services",
      note="Lab work for Mrs K. Doyle\nSplit across two patients, see email 28/10"),
    H(m("account_archived", "curly", **A455), supplier="Kentmere Lab Services"),
    H(m("account_archived", "raw", **A455), supplier="Kentmere Lab Services"),
    H(W("Error: ", m("account_archived", "raw", **A455)), supplier="Kentmere Lab Services"),
    H(X(m("account_archived", "raw", **A455), m("account_archived", "raw", **A455), doc_type="ACCPAY"),
      supplier="Kentmere Lab Services", description="Crowns, bridges and temporaries (2 lines)"),
    H(X(m("account_archived", "raw", **A455), m("tax_type_invalid_for_account", "raw", tax="INPUT2", code="310"),
        doc_type="ACCPAY"), supplier="Kentmere Lab Services"),
    H(J("\n", m("currency_not_enabled", "raw", cur="EUR"), m("account_archived", "raw", **A455)),
      supplier="Orbis Implants BV"),
    H(m("account_archived", "curly", **A420), supplier="The Quayside Café", description="Team lunch, 6 people"),
    H(m("account_archived", "raw", **A420), supplier="The Quayside Café"),
    H(W("Xero error - ", m("account_archived", "raw", **A420)), supplier="The Quayside Café"),
    H(m("tax_type_invalid_for_account", tax="INPUT2"), supplier="Brightsmile Dental Supplies Ltd"),
    H(m("tax_type_invalid_for_account", "raw", **HV_TT), supplier="Brightsmile Dental Supplies Ltd",
      description="Nitrile gloves, masks, bibs"),
    H(W("ValidationException: ", m("tax_type_invalid_for_account", "raw", **HV_TT)),
      supplier="Brightsmile Dental Supplies Ltd"),
    m("lock_date", lock="30/09/2026"),
    m("lock_date", "raw1", **HV_LOCK),
    W("retry", m("lock_date", "raw1", **HV_LOCK)),
    m("lock_date", "seed!", lock="30/09/2026"),
    H(m("image_publish_failed"), supplier="Fenwick Insurance Brokers", description="Annual policy schedule, 38 pages"),
    H(m("image_publish_failed", "raw"), supplier="ClearAlign Inc."),
    H(m("invoice_number_not_unique"), supplier="Hollins IT Support Ltd", invoice_number="HIS-0917"),
    H(m("invoice_number_not_unique", "raw"), sales="Mr J Alder", invoice_number="INV-0412",
      sales_tax_name="20% (VAT on Income)", sales_tax_code="OUTPUT2", description="Private treatment plan, phase 1"),
    H(m("already_exists_not_draft", "curly"), supplier="Calder & Moss Cleaning Co"),
    H(W("Error: ", m("already_exists_not_draft")), supplier="Marlowe Telecom Ltd"),
    m("not_authorised", **HV_TOKEN),
    m("not_authorised", "raw", **HV_TOKEN),
    m("not_authorised", "seed!", **HV_TOKEN),
    m("not_authorised", "raw1", **HV_TOKEN),
    H(m("currency_not_enabled", "raw", cur="EUR"), supplier="Dentalia GmbH"),
    H(m("contact_archived", "raw"), supplier="Hughes, Patel & Co Solicitors",
      note="Old contact archived in Xero after merger, use \"Hughes Patel LLP\"?"),
    H(m("tax_exceeds_line_amount"), supplier="Riverside Fuel Stop", tax_gt_net=True,
      note="Fuel card receipt, VAT shown on full pump price, discount applied after"),
    H(m("tax_exceeds_line_amount", "raw"), supplier="Pennant Office Solutions",
      description="Toner, paper, files (3 lines, 20% each)"),
    H(m("spend_money_not_updatable", "raw"), supplier="Riverside Fuel Stop", payment_method="Company Card"),
    H(J("\n", m("lock_date", "raw1", **HV_LOCK), m("image_publish_failed")), supplier="Tolland Waste Management"),
    H(U("The due date 12/11/2026 is before the invoice date 14/11/2026"), supplier="Marlowe Telecom Ltd"),
    H(U("Contact name 'Hughes, Patel & Co Solicitors (Harbour View Dental Ltd account, "
        "matters 2019-2026)' is too long"), supplier="Hughes, Patel & Co Solicitors"),
    H(J("; ", m("invoice_number_not_unique", "raw"), m("contact_archived", "raw")),
      supplier="Hughes, Patel & Co Solicitors", invoice_number="HPC/2026/311"),
    H(m("user_not_linked"), supplier="Ashgrove Stationers"),
    H(W("Error: ", m("user_permissions", "raw")), supplier="Riverside Fuel Stop"),
]

HV_MERGED_PLAN = [
    H(m("account_archived", **A455), supplier="Kentmere Lab Services"),
    H(m("account_archived", "raw", **A455), supplier="Kentmere Lab Services"),
    H(m("account_archived", "raw", **A455), supplier="Kentmere Lab Services"),
    H(m("account_archived", "curly", **A455), supplier="Kentmere Lab Services"),
    H(W("Error: ", m("account_archived", **A455)), supplier="Kentmere Lab Services"),
    m("lock_date", "raw", lock="31-Mar-2026"),
    m("lock_date", "raw", lock="31-Mar-2026"),
    H(m("image_publish_failed", "raw1"), supplier="Fenwick Insurance Brokers"),
    H(m("already_exists_not_draft"), supplier="Calder & Moss Cleaning Co"),
    H(m("invoice_number_not_unique", "raw"), supplier="Brightsmile Dental Supplies Ltd"),
    m("not_authorised", **HV_TOKEN),
    H(m("tax_type_invalid_for_account", tax="INPUT2", code="310"), supplier="Brightsmile Dental Supplies Ltd"),
    H(X(m("account_archived", "raw", **A455), m("lock_date", "raw", lock="31-Mar-2026"), doc_type="ACCPAY"),
      supplier="Kentmere Lab Services"),
]

# ---------------- Greenleaf Landscaping (AU) ----------------
AU_IN = ("GST on Expenses", "INPUT", 10)


def au(name, cat, lo, hi, typ="Receipt", tax=AU_IN, cur=None):
    return (name, cat, lo, hi, *tax, cur, typ)


GL = Client(
    "Greenleaf Landscaping Pty Ltd", "AUD", date(2026, 6, 30),
    suppliers=[
        au("Coastline Turf Supplies", "310 - Cost of Goods Sold", 220, 4800, "Invoice"),
        au("Red Gum Nursery", "310 - Cost of Goods Sold", 60, 2600, "Invoice"),
        au("Wattle Hire Pty Ltd", "473 - Repairs and Maintenance", 180, 1950, "Invoice"),
        au("Southern Cross Fuel", "449 - Motor Vehicle Expenses", 45, 260),
        au("Ironbark Tools & Hardware", "429 - General Expenses", 14, 890),
        au("Bluestone Quarries", "310 - Cost of Goods Sold", 350, 6200, "Invoice"),
        au("Eucalypt Irrigation Co", "310 - Cost of Goods Sold", 95, 3100, "Invoice"),
        au("Mulch Mates", "310 - Cost of Goods Sold", 40, 720),
        au("Sunline Mobile", "489 - Telephone & Internet", 59, 189, "Invoice"),
    ],
    owners=["Jess Taylor", "Liam Nguyen", "accounts@greenleaflandscaping.com.au"],
)
GL_200 = dict(code="200", cat_name="Sales")
GL_TT = dict(tax="OUTPUT", code="449", cat_name="Motor Vehicle Expenses")
GL_TRACK = dict(opt="Crew 4", cat="Crew")
GL_PLAN = [
    H(m("account_invalid_for_document", **GL_200), supplier="Coastline Turf Supplies"),
    H(m("account_invalid_for_document", "curly", **GL_200), supplier="Red Gum Nursery"),
    H(m("account_invalid_for_document", "raw", **GL_200), supplier="Bluestone Quarries"),
    H(m("tax_type_invalid_for_account", tax="OUTPUT"), supplier="Southern Cross Fuel"),
    H(m("tax_type_invalid_for_account", "raw", **GL_TT), supplier="Southern Cross Fuel"),
    H(m("bank_account_mismatch"), supplier="Ironbark Tools & Hardware"),
    H(m("bank_account_mismatch", "lower"), supplier="Mulch Mates"),
    H(W("Xero error - ", m("bank_account_mismatch", "raw")), supplier="Southern Cross Fuel"),
    H(m("no_linked_bank_account"), supplier="Ironbark Tools & Hardware"),
    H(W("retry", m("no_linked_bank_account")), supplier="Southern Cross Fuel"),
    H(m("inventory_account"), supplier="Eucalypt Irrigation Co"),
    H(m("inventory_account", "raw"), supplier="Red Gum Nursery"),
    H(m("item_code_invalid", "raw", item="PAVER-450"), supplier="Bluestone Quarries"),
    H(m("item_code_invalid", "raw", item="TURF-KIKUYU-M2"), supplier="Coastline Turf Supplies"),
    H(m("tracking_invalid", "raw", **GL_TRACK), supplier="Wattle Hire Pty Ltd"),
    H(m("tracking_invalid", "raw1", opt="", cat="Job Site"), supplier="Red Gum Nursery"),
    H(m("tracking_invalid", "raw", **GL_TRACK), supplier="Mulch Mates"),
    m("lock_date", "raw", lock="30-Jun-2026"),
    m("lock_date", lock="30-Jun-2026"),
    H(J("; ", m("bank_account_mismatch"), m("tracking_invalid", "raw", **GL_TRACK)), supplier="Southern Cross Fuel"),
    H(m("approval_limit"), supplier="Wattle Hire Pty Ltd"),
    H(m("subscription_inactive", "curly"), supplier="Sunline Mobile"),
    H(U("Contact name 'Eucalypt Irrigation Co - Western Sydney Depot (do not use, see new account)' is too long"),
      supplier="Eucalypt Irrigation Co"),
    m("xero_rate_limited", "raw"),
    H(m("payment_exceeds_outstanding", "raw"), supplier="Wattle Hire Pty Ltd"),
]

# ---------------- Bistro Lumière (Ireland, EUR) ----------------
IE_IN = ("23% (VAT on Expenses)", "INPUT2", 23)
IE_FOOD = ("0% (Zero Rated Purchases)", "ZERORATEDINPUT", 0)
IE_135 = ("13.5% (VAT on Expenses)", "INPUT", 13.5)


def ie(name, cat, lo, hi, tax=IE_IN, typ="Invoice", cur=None):
    return (name, cat, lo, hi, *tax, cur, typ)


BL = Client(
    "Bistro Lumière", "EUR", date(2025, 12, 31),
    suppliers=[
        ie("Boulangerie Étienne", "310 - Food Purchases", 40, 620, IE_FOOD),
        ie("Fromagerie Hélène", "310 - Food Purchases", 85, 1350, IE_FOOD),
        ie("Caves Saint-Émilion", "325 - Wine Purchases", 300, 4200),
        ie("Poissonnerie Mère Anaïs", "310 - Food Purchases", 150, 2100, IE_FOOD),
        ie("Brûlerie du Marché", "310 - Food Purchases", 60, 480, IE_FOOD),
        ie("Crème & Co Dairies", "310 - Food Purchases", 45, 690, IE_FOOD),
        ie("Légumes Frères", "310 - Food Purchases", 70, 940, IE_FOOD),
        ie("Pâtisserie Lefèvre", "310 - Food Purchases", 25, 310, IE_FOOD, "Receipt"),
        ie("Château Bérénice Wines", "325 - Wine Purchases", 420, 3900),
        ie("Liffey Linen Services", "408 - Cleaning & Laundry", 120, 760, IE_135),
    ],
    foreign=[ie("Borough Cheese Traders", "310 - Food Purchases", 120, 480, ("No VAT", "NONE", 0), cur="GBP")],
    owners=["Camille Roux", "Declan Byrne"],
)
BL_325 = dict(code="325", cat_name="Wine Purchases")
BL_PLAN = [
    H(m("invoice_not_found"), supplier="Fromagerie Hélène"),
    H(m("invoice_not_found", "raw1"), supplier="Caves Saint-Émilion", note="Avoir n° 2211 (credit note)"),
    H(m("invalid_status_for_modification"), supplier="Poissonnerie Mère Anaïs"),
    H(m("invalid_status_for_modification", "raw"), supplier="Légumes Frères"),
    H(m("invalid_status_for_modification", "seed!"), supplier="Crème & Co Dairies"),
    H(m("spend_money_not_updatable"), supplier="Pâtisserie Lefèvre", type="Receipt"),
    H(m("spend_money_not_updatable", "raw"), supplier="Pâtisserie Lefèvre", type="Receipt"),
    H(m("totals_mismatch", "raw", a="120.00", b="119.99"), supplier="Liffey Linen Services"),
    H(m("totals_mismatch", "raw1", a="31.05", b="31.09", tax="INPUT2"), supplier="Château Bérénice Wines"),
    H(W("Error: ", m("totals_mismatch", "raw", a="87.40", b="87.39")), supplier="Liffey Linen Services"),
    H(J("\n", m("totals_mismatch", "raw", a="245.60", b="245.61"), m("invalid_status_for_modification", "raw")),
      supplier="Château Bérénice Wines"),
    H(m("currency_not_enabled", "raw", cur="GBP"), supplier="Borough Cheese Traders",
      note="Commande Londres, payée £245 par carte — à convertir en €"),
    m("xero_unavailable", "raw"),
    m("xero_unavailable", "raw1"),
    m("xero_rate_limited", "raw"),
    W("retry", m("xero_rate_limited", "raw1")),
    H(U("The due date 03/10/2026 is before the invoice date 17/10/2026."), supplier="Fromagerie Hélène"),
    H(m("account_archived", **BL_325), supplier="Caves Saint-Émilion"),
    H(m("account_archived", "curly", **BL_325), supplier="Château Bérénice Wines"),
    H(m("lock_date", "raw", lock="31-Dec-2025"), supplier="Caves Saint-Émilion", note="Livraison réveillon, facture reçue en retard"),
]

# ---------------- Merged workbook clients ----------------
NW = Client(
    "Northwind Joinery Ltd", "GBP", date(2026, 9, 30),
    suppliers=[
        uk("Timberline Merchants", "310 - Cost of Goods Sold", 180, 3900, typ="Invoice"),
        uk("Axel Fixings Ltd", "310 - Cost of Goods Sold", 25, 640, typ="Invoice"),
        uk("Hardwood Direct", "310 - Cost of Goods Sold", 350, 5200, typ="Invoice"),
        uk("Pike Plant Hire", "473 - Repairs and Maintenance", 120, 980, typ="Invoice"),
        uk("Greaves Paint & Finish", "310 - Cost of Goods Sold", 30, 460),
        uk("M6 Van Rentals", "449 - Motor Vehicle Expenses", 85, 540),
        uk("Black Bull Inn", "420 - Entertainment", 18, 160),
        uk("Roadside Diner Crewe", "493 - Travel - National", 6, 38, typ="Expense claim"),
    ],
    owners=["Gareth Lloyd", "Hannah Pike"],
)
NW_PLAN = [
    H(m("user_permissions"), supplier="Roadside Diner Crewe"),
    H(m("user_permissions", "raw"), supplier="M6 Van Rentals"),
    H(W("Error: ", m("user_permissions")), supplier="Roadside Diner Crewe"),
    H(m("user_not_linked"), supplier="Roadside Diner Crewe"),
    H(m("user_not_linked", "raw"), supplier="Greaves Paint & Finish"),
    H(J("\n", m("user_permissions"), m("user_not_linked", "raw")), supplier="Roadside Diner Crewe"),
    H(m("approval_limit"), supplier="Timberline Merchants"),
    H(m("approval_limit", "seed!"), supplier="Hardwood Direct"),
    H(m("subscription_inactive"), supplier="Axel Fixings Ltd"),
    H(W("retry", m("subscription_inactive")), supplier="Pike Plant Hire"),
    H(m("account_archived", "raw", **A420), supplier="Black Bull Inn"),
    H(m("account_archived", **A420), supplier="Black Bull Inn"),
    H(m("inventory_account"), supplier="Hardwood Direct"),
    H(m("already_exists_not_draft"), supplier="Timberline Merchants"),
    H(U("The due date 01/10/2026 is before the invoice date 22/10/2026"), supplier="Pike Plant Hire"),
    H(J("\n", U("Contact name 'Greaves Paint & Finish (Trade Counter) - Northwich, Winsford & Middlewich branches' is too long"),
        m("user_not_linked")), supplier="Greaves Paint & Finish"),
    H(m("spend_money_not_updatable"), supplier="M6 Van Rentals", type="Receipt"),
]

NZ_IN = ("15% GST on Expenses", "INPUT2", 15)


def nz(name, cat, lo, hi, typ="Invoice", cur=None, tax=NZ_IN):
    return (name, cat, lo, hi, *tax, cur, typ)


KEA = Client(
    "Kea Coffee Roasters Ltd", "NZD", date(2026, 9, 30),
    suppliers=[
        nz("Greenbean Importers", "310 - Cost of Goods Sold", 900, 8600),
        nz("Pōhutukawa Packaging", "310 - Cost of Goods Sold", 140, 1900),
        nz("Southern Alps Freight", "425 - Freight & Courier", 60, 780),
        nz("Karori Dairy Co", "310 - Cost of Goods Sold", 45, 380, "Receipt"),
        nz("Tui Print House", "461 - Printing & Stationery", 80, 940),
        nz("Matai Electrical", "473 - Repairs and Maintenance", 150, 2300),
        nz("Harbour Fuel Ngauranga", "449 - Motor Vehicle Expenses", 40, 150, "Receipt"),
    ],
    foreign=[nz("Andes Green Coffee LLC", "310 - Cost of Goods Sold", 2400, 9800, cur="USD",
                tax=("No GST", "NONE", 0))],
    owners=["Aroha Walker", "Ben Fraser"],
)
KEA_TRACK = dict(opt="Wellington", cat="Region")
KEA_PLAN = [
    H(m("tracking_invalid", "raw", **KEA_TRACK), supplier="Southern Alps Freight"),
    H(m("tracking_invalid", "raw", **KEA_TRACK), supplier="Tui Print House"),
    H(m("tracking_invalid", "raw1", opt="", cat="Region"), supplier="Matai Electrical"),
    H(m("currency_not_enabled", "raw", cur="USD"), supplier="Andes Green Coffee LLC"),
    H(m("payment_exceeds_outstanding", "raw"), supplier="Greenbean Importers"),
    H(W("Xero error - ", m("payment_exceeds_outstanding", "raw")), supplier="Pōhutukawa Packaging"),
    H(m("account_code_missing", "raw"), supplier="Tui Print House", category=""),
    H(W("ValidationException: ", m("account_code_missing", "raw")), supplier="Karori Dairy Co", category=""),
    H(m("tax_exceeds_line_amount"), supplier="Harbour Fuel Ngauranga", tax_gt_net=True),
    H(X(m("tax_exceeds_line_amount", "raw"), m("tax_exceeds_line_amount", "raw"), doc_type="ACCPAY"),
      supplier="Pōhutukawa Packaging"),
    m("lock_date", "raw1", lock="30/09/2026"),
    m("lock_date", lock="30/09/2026"),
    H(m("item_code_invalid", "raw", item="BEAN-ETH-1KG"), supplier="Greenbean Importers"),
    H(m("totals_mismatch", "raw1", a="52.23", b="52.28", tax="INPUT2"), supplier="Matai Electrical"),
    H(U("The due date 05/11/2026 is before the invoice date 19/11/2026"), supplier="Greenbean Importers"),
]

US_NONE = ("Tax Exempt", "NONE", 0)


def us(name, cat, lo, hi, typ="Invoice", tax=US_NONE, cur=None):
    return (name, cat, lo, hi, *tax, cur, typ)


SUMMIT = Client(
    "Summit Physio LLC", "USD", date(2025, 12, 31),
    suppliers=[
        us("Rocky Ridge Medical Supply", "310 - Cost of Goods Sold", 85, 2400),
        us("Front Range Linen", "408 - Cleaning", 140, 620),
        us("Apex Billing Services", "412 - Consulting & Accounting", 300, 1800),
        us("Cascade Office Supply", "453 - Office Expenses", 18, 340, "Receipt"),
        us("PeakFit Equipment Co.", "310 - Cost of Goods Sold", 450, 6800),
        us("Mile High Janitorial", "408 - Cleaning", 220, 900),
        us("Aspen Telecom", "489 - Telephone & Internet", 65, 240),
    ],
    owners=["Megan Ortiz", "Chris Halvorsen"],
)
SUMMIT_TOKEN = dict(ts="10/21/2026 16:05:09")
SUMMIT_PLAN = [
    H(m("approval_limit"), supplier="PeakFit Equipment Co.", status="Awaiting approval"),
    H(m("approval_limit", "seed!"), supplier="Apex Billing Services", status="Awaiting approval"),
    H(W("Error: ", m("approval_limit", "raw")), supplier="Rocky Ridge Medical Supply", status="In approval"),
    H(m("subscription_inactive", "curly"), supplier="Mile High Janitorial", status="In approval"),
    m("not_authorised", "raw1", **SUMMIT_TOKEN),
    m("not_authorised", **SUMMIT_TOKEN),
    W("Xero error - ", m("not_authorised", "raw", **SUMMIT_TOKEN)),
    m("xero_rate_limited", "raw"),
    H(m("contact_archived", "raw"), supplier="Front Range Linen"),
    H(m("tax_type_invalid_for_account", "raw", tax="TAX001", code="477", cat_name="Wages and Salaries"),
      supplier="Apex Billing Services"),
    H(m("lock_date", "raw", lock="31-Dec-2025"), supplier="Rocky Ridge Medical Supply"),
    H(J("\n", m("approval_limit"), m("not_authorised", **SUMMIT_TOKEN)), supplier="PeakFit Equipment Co.",
      status="Awaiting approval"),
    H(U("The due date 11/02/2026 is before the invoice date 11/09/2026"), supplier="Aspen Telecom"),
    H(m("invoice_number_not_unique"), supplier="Rocky Ridge Medical Supply", invoice_number="RRMS-88213"),
    H(m("already_exists_not_draft", "seed!"), supplier="Front Range Linen", status="In approval"),
]
SUMMIT_MERGED_PLAN = [
    m("not_authorised", "raw1", **SUMMIT_TOKEN),
    m("not_authorised", "raw1", **SUMMIT_TOKEN),
    m("not_authorised", **SUMMIT_TOKEN),
    m("xero_rate_limited", "raw"),
    m("xero_rate_limited", "raw1"),
    H(m("contact_archived", "raw"), supplier="Front Range Linen"),
    H(m("approval_limit"), supplier="PeakFit Equipment Co.", status="Awaiting approval"),
    m("xero_unavailable", "raw1"),
    H(m("invoice_not_found", "raw"), supplier="Apex Billing Services"),
    H(U("Contact name 'Rocky Ridge Medical Supply - Lakewood Distribution Center (Acct 0041-7781)' is too long"),
      supplier="Rocky Ridge Medical Supply"),
]

# ---------------- Clients-by-sheet workbook ----------------
OAK = Client(
    "Oakridge Veterinary", "GBP", date(2026, 9, 30),
    suppliers=[
        uk("VetPharm Wholesale", "310 - Cost of Goods Sold", 180, 3600, typ="Invoice"),
        uk("Meadow Feeds Ltd", "310 - Cost of Goods Sold", 60, 940, typ="Invoice"),
        uk("Cobham Clinical Waste", "429 - General Expenses", 75, 320, typ="Invoice"),
        uk("Oak & Ash Utilities", "445 - Light, Power, Heating", 140, 880, typ="Invoice"),
        uk("PetScan Imaging Ltd", "463 - Diagnostic Imaging", 250, 2400, typ="Invoice"),
        uk("Ferncroft Farm Shop", "429 - General Expenses", 8, 65),
    ],
    owners=["Rachel Green", "Imran Shah"],
)
A463 = dict(code="463", cat_name="Diagnostic Imaging")
OAK_PLAN = [
    H(m("account_archived", **A463), supplier="PetScan Imaging Ltd"),
    H(m("account_archived", "raw", **A463), supplier="PetScan Imaging Ltd"),
    H(m("account_archived", "raw", **A463), supplier="PetScan Imaging Ltd"),
    H(m("account_archived", "curly", **A463), supplier="PetScan Imaging Ltd"),
    H(m("subscription_inactive"), supplier="Meadow Feeds Ltd"),
    H(m("subscription_inactive", "seed!"), supplier="Oak & Ash Utilities"),
    H(m("approval_limit"), supplier="VetPharm Wholesale"),
    H(W("Error: ", m("approval_limit")), supplier="VetPharm Wholesale"),
    H(m("approval_limit", "curly"), supplier="Cobham Clinical Waste"),
    H(m("invoice_number_not_unique", "raw"), supplier="VetPharm Wholesale"),
    H(m("already_exists_not_draft"), supplier="Meadow Feeds Ltd"),
    H(m("image_publish_failed", "raw1"), supplier="PetScan Imaging Ltd"),
    H(J("\n", m("approval_limit"), m("account_archived", "raw", **A463)), supplier="PetScan Imaging Ltd"),
    H(m("contact_archived", "raw"), supplier="Ferncroft Farm Shop"),
    H(U("The due date 14/10/2026 is before the invoice date 29/10/2026"), supplier="Cobham Clinical Waste"),
]

BF = Client(
    "Blue Finch Bakery", "NZD", date(2026, 9, 30),
    suppliers=[
        nz("Canterbury Flour Mills", "310 - Cost of Goods Sold", 320, 3400),
        nz("Harbourside Eggs", "310 - Cost of Goods Sold", 60, 420),
        nz("Rimu Packaging", "310 - Cost of Goods Sold", 90, 880),
        nz("Kowhai Dairy Supplies", "310 - Cost of Goods Sold", 70, 760),
        nz("Takahe Electrical", "473 - Repairs and Maintenance", 120, 1600),
        nz("Cuba St Hardware", "429 - General Expenses", 12, 240, "Receipt"),
    ],
    owners=["Mere Parata", "Sam Whitlock"],
)
BF_PLAN = [
    m("lock_date", lock="30/09/2026"),
    m("lock_date", "raw1", lock="30/09/2026"),
    m("lock_date", "raw1", lock="30/09/2026"),
    W("retry", m("lock_date", "raw1", lock="30/09/2026")),
    H(m("inventory_account"), supplier="Canterbury Flour Mills"),
    H(m("inventory_account", "raw"), supplier="Rimu Packaging"),
    H(m("item_code_invalid", "raw", item="SOURDOUGH-LG"), supplier="Rimu Packaging"),
    H(m("tracking_invalid", "raw", opt="Riccarton", cat="Store"), supplier="Kowhai Dairy Supplies"),
    H(m("payment_exceeds_outstanding", "raw"), supplier="Takahe Electrical"),
    H(m("user_not_linked", "raw"), supplier="Cuba St Hardware"),
    H(m("account_code_missing", "raw"), supplier="Harbourside Eggs", category=""),
    H(X(m("inventory_account", "raw"), m("item_code_invalid", "raw", item="FLOUR-T55-25KG"), doc_type="ACCPAY"),
      supplier="Canterbury Flour Mills"),
    m("xero_unavailable", "raw"),
    H(U("Contact name 'Kowhai Dairy Supplies Limited (formerly Kowhai Creamery & Cheese Co)' is too long"),
      supplier="Kowhai Dairy Supplies"),
    H(m("tax_exceeds_line_amount"), supplier="Cuba St Hardware", tax_gt_net=True),
]

TW = Client(
    "Tidewater Marine Supplies", "USD", date(2026, 9, 30),
    suppliers=[
        us("Gulfstream Fasteners Inc.", "310 - Cost of Goods Sold", 140, 3800),
        us("Bayou Diesel & Lube", "449 - Motor Vehicle Expenses", 60, 900, "Receipt"),
        us("Chesapeake Rope Co.", "310 - Cost of Goods Sold", 220, 4600),
        us("Pelican Freight Lines", "425 - Freight & Courier", 180, 1400),
        us("Harborline Insurance Agency", "433 - Insurance", 900, 5600),
        us("Dockside Hardware", "429 - General Expenses", 9, 180, "Receipt"),
    ],
    owners=["Dana Whitfield", "Luis Romero"],
)
TW_PLAN = [
    W("Error: ", m("not_authorised", "raw")),
    H(m("spend_money_not_updatable"), supplier="Bayou Diesel & Lube"),
    H(m("spend_money_not_updatable", "raw"), supplier="Dockside Hardware"),
    H(m("bank_account_mismatch"), supplier="Dockside Hardware"),
    H(m("no_linked_bank_account"), supplier="Bayou Diesel & Lube"),
    H(m("no_linked_bank_account", "seed!"), supplier="Dockside Hardware"),
    m("xero_unavailable", "raw1"),
    H(m("account_code_missing", "raw"), supplier="Pelican Freight Lines", category=""),
    H(m("totals_mismatch", "raw", a="120.00", b="119.99"), supplier="Chesapeake Rope Co."),
    H(m("invoice_not_found", "seed!"), supplier="Gulfstream Fasteners Inc."),
    H(W("Xero error - ", m("invalid_status_for_modification", "raw")), supplier="Harborline Insurance Agency"),
    H(J("; ", m("spend_money_not_updatable", "raw"), m("bank_account_mismatch")), supplier="Bayou Diesel & Lube"),
    H(m("account_invalid_for_document", "raw", code="200", cat_name="Sales"), supplier="Gulfstream Fasteners Inc."),
    H(m("tax_type_invalid_for_account", "raw", tax="TAX001", code="310", cat_name="Cost of Goods Sold"),
      supplier="Chesapeake Rope Co."),
    m("xero_rate_limited", "raw"),
]


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------
def fmt_dext_date(d):
    return d.strftime("%d-%b-%Y") if d else ""


def fmt_dmy(d):
    return d.strftime("%d/%m/%Y") if d else ""


def fmt_mdy(d):
    return d.strftime("%m/%d/%Y") if d else ""


def fmt_amt(x):
    return f"{x:.2f}"


def fmt_pct(p):
    return f"{p:g}"


FX_TO_GBP = {"GBP": 1.0, "EUR": 0.8642, "USD": 0.7911}


def write_csv(path, header, rows, *, encoding, delimiter=",", lineterminator="\r\n"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator=lineterminator, quoting=csv.QUOTE_MINIMAL)
        w.writerow(header)
        for r in rows:
            w.writerow(r)


# --------------------------------------------------------------------------------------------
# Writers for each file
# --------------------------------------------------------------------------------------------
LABELS: list[dict] = []


def label(file, sheet, line, row, error_col):
    LABELS.append(dict(file=file, sheet=sheet, row=line, item_id=str(row["id"]), client=row["client"],
                       error_column=error_col, error=row["error"], categories=row["cats"]))


DEXT_FULL = ["Receipt ID", "Type", "Date", "Due Date", "Invoice Number", "Supplier", "Category", "Customer",
             "Project", "Payment Method", "Bank Account", "Tax", "Tax Name", "Tax Code", "Tax Percentage",
             "Total", "Currency", "Tax ({base})", "Total ({base})", "Status", "Owner", "Note", "Description",
             "Image"]


def dext_full_values(r, base, amt=fmt_amt, date_fmt=fmt_dext_date, pct=fmt_pct, fx=None):
    rate = (fx or {}).get(r["currency"], 1.0)
    return [r["id"], r["type"], date_fmt(r["date"]), date_fmt(r["due"]), r["invoice_number"], r["supplier"],
            r["category"], r["customer"], r["project"], r["payment_method"], r["bank_account"], amt(r["tax"]),
            r["tax_name"], r["tax_code"], pct(r["pct"]), amt(r["total"]), r["currency"],
            amt(round(r["tax"] * rate, 2)), amt(round(r["total"] * rate, 2)), r["status"], r["owner"],
            r["note"], r["description"], PERMALINK.format(r["id"])]


def write_harbour_view(out, rows):
    fn = "Harbour View Dental Ltd - failed items Oct 2026.csv"
    header = [h.format(base="GBP") for h in DEXT_FULL] + ["Error"]
    body = []
    for i, r in enumerate(rows):
        body.append(dext_full_values(r, "GBP", fx=FX_TO_GBP) + [r["error"]])
        label(fn, None, i + 2, r, "Error")
    write_csv(out / fn, header, body, encoding="utf-8-sig", lineterminator="\r\n")
    return fn


def write_greenleaf(out, rows):
    fn = "Greenleaf Landscaping Pty Ltd - failed items Oct 2026.csv"
    header = ["Item ID", "Status", "Submitted by", "Date", "Supplier", "Total Amount", "Permalink",
              "Publishing error"]
    body = []
    for i, r in enumerate(rows):
        t = r["total"]
        if t >= 1000:
            amount = f"{t:,.2f}" if i % 3 else f"${t:,.2f}"
        else:
            amount = f"${t:.2f}" if i % 4 == 1 else f"{t:.2f}"
        body.append([r["id"], r["status"], r["owner"], fmt_dmy(r["date"]), r["supplier"], amount,
                     PERMALINK.format(r["id"]), r["error"]])
        label(fn, None, i + 2, r, "Publishing error")
    write_csv(out / fn, header, body, encoding="utf-8", lineterminator="\n")
    return fn


def write_bistro(out, rows):
    fn = "Bistro Lumière - failed items Oct 2026.csv"
    header = [h.format(base="EUR") for h in DEXT_FULL] + ["Error message"]
    fx = {"EUR": 1.0, "GBP": 1.1571}

    def comma(x):
        return f"{x:.2f}".replace(".", ",")

    body = []
    for i, r in enumerate(rows):
        body.append(dext_full_values(r, "EUR", amt=comma, date_fmt=fmt_dmy,
                                     pct=lambda p: f"{p:g}".replace(".", ","), fx=fx) + [r["error"]])
        label(fn, None, i + 2, r, "Error message")
    write_csv(out / fn, header, body, encoding="cp1252", delimiter=";", lineterminator="\r\n")
    return fn


def write_summit(out, rows):
    fn = "Summit Physio LLC - publishing errors Oct 2026.csv"
    header = ["Item ID", "Date", "Supplier", "Total Amount", "Currency", "Status", "Owner", "Permalink", "Error"]
    pad = [""] * (len(header) - 1)
    lines = [["Dext publishing errors report"] + pad, ["Exported 3 Nov 2026"] + pad, header]
    half = len(rows) // 2
    for i, r in enumerate(rows):
        if i == half:
            lines.append([""] * len(header))  # blank row in the middle
        lines.append([r["id"], fmt_mdy(r["date"]), r["supplier"], fmt_amt(r["total"]), r["currency"],
                      r["status"], r["owner"], PERMALINK.format(r["id"]), r["error"]])
        label(fn, None, len(lines), r, "Error")
    lines.append(["Total", "", "", fmt_amt(round(sum(r["total"] for r in rows), 2)), "USD"] + [""] * 4)
    with open(out / fn, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows(lines)
    return fn


def save_workbook(wb, path, author):
    """Save byte-for-byte reproducibly: fixed document timestamps and zip entry times."""
    import io
    import re
    import zipfile

    stamp = datetime(2026, 11, 3, 9, 0, 0)
    wb.properties.creator = author
    wb.properties.lastModifiedBy = author
    wb.properties.created = stamp
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-11-03T09:00:00Z", data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6]), data,
                         compress_type=zipfile.ZIP_DEFLATED)


def _style_header(ws, ncols):
    for c in range(1, ncols + 1):
        ws.cell(row=1, column=c).font = Font(bold=True)
    ws.freeze_panes = "A2"


def write_merged(out, groups):
    fn = "Practice merged workbook Oct 2026.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "Failed items"
    header = ["Client", "Item ID", "Type", "Date", "Supplier", "Category", "Tax", "Total", "Currency",
              "Status", "Owner", "Permalink", "Reason"]
    ws.append(header)
    _style_header(ws, len(header))
    for rows in groups:
        for r in rows:
            ws.append([r["client"], r["id"], r["type"], datetime.combine(r["date"], datetime.min.time()),
                       r["supplier"] or r["customer"], r["category"], r["tax"], r["total"], r["currency"],
                       r["status"], r["owner"], PERMALINK.format(r["id"]), r["error"]])
            n = ws.max_row
            ws.cell(row=n, column=4).number_format = "dd/mm/yyyy"
            ws.cell(row=n, column=7).number_format = "#,##0.00"
            ws.cell(row=n, column=8).number_format = "#,##0.00"
            ws.cell(row=n, column=13).alignment = Alignment(wrap_text=True, vertical="top")
            label(fn, "Failed items", n, r, "Reason")
    for col, width in zip("ABCDEFGHIJKLM", (26, 11, 13, 12, 30, 28, 10, 11, 9, 18, 16, 46, 80)):
        ws.column_dimensions[col].width = width
    save_workbook(wb, out / fn, "Priya Desai")
    return fn


def write_by_sheet(out, sheets):
    fn = "Clients by sheet Oct 2026.xlsx"
    wb = Workbook()
    wb.remove(wb.active)
    header = ["Item ID", "Date", "Supplier", "Category", "Total Amount", "Currency", "Status",
              "Submitted by", "Permalink", "Failure reason"]
    for title, rows, date_mode in sheets:
        ws = wb.create_sheet(title)
        ws.append(header)
        _style_header(ws, len(header))
        for r in rows:
            if date_mode == "cell":
                dv = datetime.combine(r["date"], datetime.min.time())
            elif date_mode == "dmy":
                dv = fmt_dmy(r["date"])
            else:
                dv = fmt_mdy(r["date"])
            ws.append([r["id"], dv, r["supplier"], r["category"], r["total"], r["currency"], r["status"],
                       r["owner"], PERMALINK.format(r["id"]), r["error"]])
            n = ws.max_row
            if date_mode == "cell":
                ws.cell(row=n, column=2).number_format = "dd/mm/yyyy"
            ws.cell(row=n, column=5).number_format = "#,##0.00"
            label(fn, title, n, r, "Failure reason")
        for col, width in zip("ABCDEFGHIJ", (11, 12, 30, 28, 13, 9, 10, 18, 46, 80)):
            ws.column_dimensions[col].width = width
    wb.create_sheet("Sheet4")  # empty sheet someone left behind
    save_workbook(wb, out / fn, "Rachel Green")
    return fn


# --------------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--labels", type=Path, help="also write the intended categories of every error cell (JSON)")
    args = ap.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    hv = build(HV, HV_PLAN)
    gl = build(GL, GL_PLAN)
    bl = build(BL, BL_PLAN)
    summit = build(SUMMIT, SUMMIT_PLAN)
    nw = build(NW, NW_PLAN)
    kea = build(KEA, KEA_PLAN)
    summit_m = build(SUMMIT, SUMMIT_MERGED_PLAN)
    hv_m = build(HV, HV_MERGED_PLAN)
    oak = build(OAK, OAK_PLAN)
    bf = build(BF, BF_PLAN)
    tw = build(TW, TW_PLAN)

    # The merged workbook repeats a few items that are also in the per-client CSVs (the practice
    # pasted the same export twice): same item id, same data, same error text.
    summit_dupes = [r for r in summit if r["cats"][0] in ("contact_archived", "not_authorised")][:2] + \
                   [r for r in summit if r["cats"] == ["approval_limit"]][:1]
    hv_dupes = [r for r in hv if r["cats"] == ["account_archived"]][:1] + \
               [r for r in hv if r["cats"] == ["lock_date"]][:1]
    summit_m = summit_m[:5] + summit_dupes + summit_m[5:]
    hv_m = hv_m[:7] + hv_dupes + hv_m[7:]

    # unambiguous month-first / day-first dates must exist (day > 12) next to ambiguous ones
    for rows in (tw, bf, summit, gl):
        assert any(r["date"].day > 12 for r in rows) and any(r["date"].day <= 12 for r in rows)

    written = {
        write_harbour_view(out, hv): {HV.name: hv},
        write_greenleaf(out, gl): {GL.name: gl},
        write_bistro(out, bl): {BL.name: bl},
        write_merged(out, [nw, kea, summit_m, hv_m]): {NW.name: nw, KEA.name: kea, SUMMIT.name: summit_m,
                                                       HV.name: hv_m},
        write_by_sheet(out, [("Oakridge Veterinary", oak, "cell"), ("Blue Finch Bakery", bf, "dmy"),
                             ("Tidewater Marine Supplies", tw, "mdy")]):
            {OAK.name: oak, BF.name: bf, TW.name: tw},
        write_summit(out, summit): {SUMMIT.name: summit},
    }

    # ---- coverage report and self-checks ----
    per_file = defaultdict(Counter)
    total_cells = unrec_cells = multi_cells = repeat_cells = 0
    for fn, clients in written.items():
        for rows in clients.values():
            for r in rows:
                total_cells += 1
                cats = r["cats"]
                per_file[fn].update(set(cats))
                unrec_cells += UNRECOGNISED in cats
                multi_cells += len(cats) > 1
                repeat_cells += len(cats) != len(set(cats))
    overall = sum(per_file.values(), Counter())
    missing = [c for c in ALL_CATEGORIES if overall[c] < 2]
    assert not missing, f"categories covered fewer than twice: {missing}"
    assert multi_cells >= 6 and repeat_cells >= 1
    for fn in written:
        size = (out / fn).stat().st_size
        assert size < 100_000, (fn, size)

    print(f"wrote {len(written)} files to {out}")
    for fn, clients in written.items():
        n = sum(len(v) for v in clients.values())
        print(f"  {fn}: {n} rows, {(out / fn).stat().st_size} bytes")
        for cname, rows in clients.items():
            print(f"      {cname}: {len(rows)}")
        print("      categories:", ", ".join(sorted(per_file[fn])))
    print(f"cells: {total_cells}; multi-error: {multi_cells}; with a repeated message: {repeat_cells}; "
          f"unrecognised: {unrec_cells} ({unrec_cells / total_cells:.1%})")
    print("cells per category:", ", ".join(f"{c}={overall[c]}" for c in ALL_CATEGORIES + [UNRECOGNISED]))

    if args.labels:
        args.labels.parent.mkdir(parents=True, exist_ok=True)
        args.labels.write_text(json.dumps(LABELS, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"labels: {args.labels} ({len(LABELS)} cells)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
