"""Build the independent evaluation corpus for the error classifier.

Writes, next to this script:
  cells.csv           labelled error cells (cell, expected, note)
  expected_rows.csv   per-row labels for the three unseen export files
  Ridgeway Electrical Ltd - failed items Nov 2026.csv
  Copperleaf Studio - failed items Nov 2026.csv
  Unseen merged Nov 2026.xlsx

Deterministic (fixed seed).  Written without looking at the analyzer's own
catalog: every label below comes from the category definitions in the task
brief, the seed article and the public sources cited in README.md.

Run:  python tests/data/eval/build_eval_data.py
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import uuid
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
RNG = random.Random(20261130)

# --------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------
ACCOUNTS = ["200", "260", "310", "400", "404", "408", "420", "429", "433", "445",
            "449", "453", "461", "463", "469", "473", "477", "485", "489", "493",
            "5000", "6100", "6210", "7502", "51305", "40010-01", "310-02"]
SALES_ACCOUNTS = ["200", "260", "4000", "4010"]
TAXES = ["INPUT2", "OUTPUT2", "INPUT", "OUTPUT", "ZERORATEDINPUT", "EXEMPTEXPENSES",
         "EXEMPTINPUT", "RRINPUT", "CAPEXINPUT2", "NONE", "TAX001", "GSTONIMPORTS",
         "BASEXCLUDED", "INPUTTAXED", "ECZRINPUT", "REVERSECHARGES", "EXEMPTOUTPUT"]
LOCK_DATES = ["31-Mar-2026", "30-Jun-2026", "31-Dec-2025", "30-Sep-2026",
              "31-Oct-2026", "31-Jul-2026", "31-Mar-2025", "30-Apr-2026"]
CURRENCIES = ["EUR", "USD", "AUD", "NZD", "CAD", "CHF", "SGD", "JPY", "SEK", "DKK", "HKD"]
TRACK_CATS = ["Region", "Department", "Branch", "Project", "Site", "Cost Centre", "Job"]
TRACK_OPTS = ["North", "Leeds", "Sales", "Workshop", "Job 1042", "Brisbane CBD",
              "Marketing", "Van 3", "Retail", "Head Office"]
ITEM_CODES = ["WIDGET-01", "SKU-197", "ACSP505027CG", "CABLE-2.5MM", "LAB-HR",
              "PLT-44", "FUEL", "MAT-0091", "SVC-CALLOUT", "BRK-PAD-F"]
FILES = ["IMG_4471.jpg", "scan_0193.pdf", "receipt.pdf", "invoice_88213.pdf",
         "20261104_091233.jpg", "Bill-Screwfix.pdf"]


def acc():
    return RNG.choice(ACCOUNTS)


def tax():
    return RNG.choice(TAXES)


def money(lo=5, hi=4000):
    return f"{RNG.uniform(lo, hi):.2f}"


def guid():
    return str(uuid.UUID(int=RNG.getrandbits(128)))


def xero_ts():
    d = dt.datetime(2026, 11, 1) + dt.timedelta(minutes=RNG.randint(0, 40000))
    return d.strftime("%m/%d/%Y %H:%M:%S")


# --------------------------------------------------------------------------
# Dext sentences (seed article), with placeholders filled per row
# --------------------------------------------------------------------------
SEED = {
    "account_archived": lambda: f"Account code '{acc()}' has been archived or deleted",
    "account_invalid_for_document": lambda: f'Account code "{acc()}" is not a valid code for this document',
    "tax_type_invalid_for_account": lambda: f"The TaxType code {tax()} cannot be used with this account code",
    "invoice_not_found": lambda: "An existing invoice with the specified ID could not be found",
    "invalid_status_for_modification": lambda: "Credit note or invoice not of valid status for modification",
    "not_authorised": lambda: "Sorry, we cannot publish this item because your request to Xero was not authorised",
    "image_publish_failed": lambda: "Sorry, we were not able to publish the image for this item",
    "spend_money_not_updatable": lambda: "Spend money transactions cannot be updated",
    "lock_date": lambda: "The document date cannot be before the end of year lock date",
    "already_exists_not_draft": lambda: "The item already exists in Xero with status different from 'DRAFT'",
    "inventory_account": lambda: "You cannot save this transaction using an inventory account type",
    "bank_account_mismatch": lambda: "The specified bank account details do not match a known bank account",
    "tax_exceeds_line_amount": lambda: "The tax amount cannot be greater than the line amount",
    "user_permissions": lambda: "The User specified does not have the correct permissions to perform this action",
    "invoice_number_not_unique": lambda: "This invoice number must be unique",
    "no_linked_bank_account": lambda: "To send to bank accounts you will need to set a linked bank account",
    "user_not_linked": lambda: "A valid user should be identified using the UserID",
    "subscription_inactive": lambda: "You can't publish the item - make sure your Xero subscription is still active",
    "approval_limit": lambda: "You have reached the limit of invoices you can approve",
}

# --------------------------------------------------------------------------
# Xero raw wordings: (generator -> message, source tag)
# "validation" messages travel inside a 400 ValidationException body;
# the others are HTTP-level answers (401/403/413/429/500/503).
# --------------------------------------------------------------------------
RAW_VALIDATION = {
    "account_archived": [
        (lambda: f"Account code '{acc()}' has been archived, or has been deleted. Each line item must reference a valid account.",
         "Xero wording (domain notes; cf. XeroAPI/Xero-Java#370)"),
    ],
    "account_invalid_for_document": [
        (lambda: f"Account code '{acc()}' is not a valid code for this document.",
         "Xero wording (XeroAPI/Xero-NetStandard#364; Xero Central Hubdoc article)"),
    ],
    "tax_type_invalid_for_account": [
        (lambda: f"The TaxType code '{tax()}' cannot be used with account code '{acc()}'.",
         "Xero wording (XeroAPI/Xero-Java#336; Retail Express KB)"),
    ],
    "invoice_not_found": [
        (lambda: "An existing Invoice with the specified InvoiceID could not be found",
         "Xero wording (PHPAccounting Xero ErrorResponseHelper)"),
        (lambda: "An existing CreditNote with the specified CreditNoteID could not be found",
         "modelled on Xero's 'An existing <Entity> with the specified <Entity>ID' wording"),
    ],
    "invalid_status_for_modification": [
        (lambda: "Invoice not of valid status for modification",
         "Xero wording (XeroAPI/xero-php-oauth2#257; XeroAPI/Xero-NetStandard#79)"),
        (lambda: "Invoice not of valid status for modification. This document cannot be edited as it has a payment or credit note allocated to it.",
         "Xero wording (garagehive docs 'Common Xero Errors')"),
    ],
    "spend_money_not_updatable": [
        (lambda: "This Bank Transaction cannot be edited as it has been reconciled with a Bank Statement.",
         "Xero wording (quoted in several public Xero integrations)"),
    ],
    "lock_date": [
        (lambda: f"The document date cannot be before the end of year lock date, currently set at {RNG.choice(LOCK_DATES)}",
         "Xero wording (waynerobinson/xeroizer#92; Retail Express KB)"),
        (lambda: f"The document date cannot be before the period lock date, currently set at {RNG.choice(LOCK_DATES)}",
         "period-lock variant modelled on the end-of-year wording"),
    ],
    "invoice_number_not_unique": [
        (lambda: "Invoice # must be unique.", "Xero wording (many public Xero clients/tests)"),
    ],
    "user_not_linked": [
        (lambda: "A valid user should be identified using the UserID.", "Xero wording (domain notes)"),
    ],
    "approval_limit": [
        (lambda: "You have reached the limit of invoices you can approve",
         "Xero wording (Retail Express KB 'Reached Invoice Limit')"),
    ],
    "tax_exceeds_line_amount": [
        (lambda: "The tax amount cannot be greater than the line amount.", "seed wording as Xero message"),
    ],
    "user_permissions": [
        (lambda: "The User specified does not have the correct permissions to perform this action.", "seed wording as Xero message"),
    ],
    "bank_account_mismatch": [
        (lambda: "The specified bank account details do not match a known bank account.", "seed wording as Xero message"),
    ],
    "inventory_account": [
        (lambda: "You cannot save this transaction using an inventory account type.", "seed wording as Xero message"),
    ],
    "no_linked_bank_account": [
        (lambda: "To send to bank accounts you will need to set a linked bank account.", "seed wording as Xero message"),
    ],
    "contact_archived": [
        (lambda: "The contact with the specified contact details has been archived. The contact must be un-archived before creating new invoices or credit notes.",
         "Xero wording (Xero Central 'Fix Xero publishing errors in Hubdoc'; Retail Express KB)"),
        (lambda: "The contact with the specified contact details has been archived. The contact must be un-archived before creating new invoices or credit notes",
         "Xero wording, no final full stop"),
        (lambda: "The contact is archived and cannot be used.",
         "short form seen in public integration tests (modelled)"),
    ],
    "currency_not_enabled": [
        (lambda: f"Organisation is not subscribed to currency {RNG.choice(CURRENCIES)}",
         "Xero wording (documented example; several public integrations)"),
        (lambda: f"The current organisation is not subscribed to currency '{RNG.choice(CURRENCIES)}'.",
         "Xero wording (comment in public Xero bank-account code)"),
    ],
    "totals_mismatch": [
        (lambda: (lambda a: f"The line total {a:.2f} does not match the expected line total {a + RNG.choice([-0.01, 0.01, -0.02]):.2f}")(RNG.uniform(10, 2500)),
         "Xero wording (XeroAPI/Xero-NetStandard#74, #412, #147)"),
        (lambda: "The invoice total does not equal the sum of the lines.",
         "Xero wording (waynerobinson/xeroizer PR #23)"),
        (lambda: "Line item tax amounts do not total to document tax amount",
         "Xero wording (Xero Central Hubdoc article)"),
        (lambda: (lambda a, t: f"Tax amount {a:.2f} is incorrect for {t} tax type, should be {a + RNG.choice([0.05, -0.03, 0.01]):.2f}")(RNG.uniform(5, 400), RNG.choice(["INPUT2", "INPUT", "OUTPUT2"])),
         "Xero wording (domain notes)"),
        (lambda: "The document total does not equal the total of the lines.",
         "modelled on XeroAPI/xero-mcp-server#206"),
    ],
    "account_code_missing": [
        (lambda: "Account code or ID must be specified.",
         "Xero wording (Khaos Control help; public Xero integrations)"),
        (lambda: "Account code must be specified",
         "Xero wording (calcinai/xero-php#230; BQE CORE help)"),
    ],
    "tracking_invalid": [
        (lambda: f"There is no ACTIVE tracking category with the name '{RNG.choice(TRACK_CATS)}'",
         "Xero wording (calcinai/xero-php PR #386)"),
        (lambda: f"Tracking option '{RNG.choice(TRACK_OPTS)}' is not valid for tracking category '{RNG.choice(TRACK_CATS)}'",
         "modelled"),
        (lambda: f"The tracking option '{RNG.choice(TRACK_OPTS)}' has been archived",
         "modelled"),
        (lambda: f"Tracking category '{RNG.choice(TRACK_CATS)}' could not be found",
         "modelled (cf. PaySpace 'Tracking Category not found in Xero')"),
    ],
    "item_code_invalid": [
        (lambda: f"Item code '{RNG.choice(ITEM_CODES)}' is not valid",
         "Xero wording (Fooman Connect help 'Item Code X is not valid')"),
        (lambda: f"Item code '{RNG.choice(ITEM_CODES)}' is not valid.", "Xero wording, with full stop"),
    ],
    "payment_exceeds_outstanding": [
        (lambda: "Payment amount exceeds the amount outstanding on this document",
         "Xero wording (XeroAPI/Xero-Java tests; PHPAccounting helper; garagehive docs)"),
        (lambda: "Payment amount exceeds the amount outstanding on this document.", "Xero wording, with full stop"),
    ],
}

RAW_HTTP = {
    "not_authorised": [
        (lambda: json.dumps({"Type": None, "Title": "Unauthorized", "Status": 401,
                             "Detail": f"TokenExpired: token expired at {xero_ts()}",
                             "Instance": guid(), "Extensions": {}}, separators=(",", ":")),
         "401 body (waynerobinson/xeroizer PR #509)"),
        (lambda: f"TokenExpired: token expired at {xero_ts()}", "401 detail (XeroAPI/xero-node#435)"),
        (lambda: json.dumps({"Type": None, "Title": "Forbidden", "Status": 403,
                             "Detail": "AuthorizationUnsuccessful", "Instance": guid(),
                             "Extensions": {}}, separators=(",", ":")),
         "403 body (waynerobinson/xeroizer#556)"),
        (lambda: "AuthorizationUnsuccessful", "403 detail (waynerobinson/xeroizer#556)"),
        (lambda: "AuthenticationUnsuccessful", "401 detail"),
        (lambda: "Xero API error calling CreateInvoices: AuthenticationUnsuccessful",
         "shape from Retail Express KB 'Reconnect'"),
        (lambda: json.dumps({"Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful",
                             "Instance": guid()}, indent=2),
         "401 body, pretty-printed"),
        (lambda: "401 Unauthorized - TokenExpired", "status line + detail"),
    ],
    "image_publish_failed": [
        (lambda: json.dumps({"Title": "RequestEntityTooLarge", "Status": 413, "Detail": "PayloadTooLarge",
                             "Instance": guid(), "Extensions": {}}, separators=(",", ":")),
         "413 body (XeroAPI/Xero-Java#349)"),
        (lambda: "HTTP Error 413.0 - Request Entity Too Large", "413 page title (freakboy3742/pyxero#161)"),
        (lambda: f"413 Request Entity Too Large: attachment {RNG.choice(FILES)} ({RNG.randint(11, 24)} MB) is larger than Xero allows",
         "modelled 413 (Xero attachment size limit, codatio/codat-docs PR #1802)"),
        (lambda: "RequestEntityTooLarge: PayloadTooLarge", "413 title + detail"),
    ],
    "xero_rate_limited": [
        (lambda: "429 Too Many Requests", "HTTP 429 (XeroAPI/xero-node#634)"),
        (lambda: f"HTTP 429 Too Many Requests (X-Rate-Limit-Problem: {RNG.choice(['minute', 'day', 'concurrent'])})",
         "429 + header (XeroAPI/xero-node#634; XeroAPI/xero-python#74)"),
        (lambda: "oauth_problem=rate%20limit%20exceeded&oauth_problem_advice=please%20wait%20before%20retrying%20the%20xero%20api",
         "legacy body (XeroAPI/Xero-Net#189, #216)"),
        (lambda: "XeroRateLimitExceeded: please wait before retrying the xero api",
         "pyxero exception (freakboy3742/pyxero#323)"),
        (lambda: "Rate limit exceeded", "short form (XeroAPI/Xero-Net#30)"),
        (lambda: json.dumps({"Title": "Too Many Requests", "Status": 429, "Detail": "Rate limit exceeded",
                             "Instance": guid()}, separators=(",", ":")),
         "429 problem body (modelled on Xero's 401/413 shape)"),
    ],
    "xero_unavailable": [
        (lambda: "The Organisation is offline", "503 body (Xero developer docs, HTTP response codes)"),
        (lambda: "The Xero API is currently offline for maintenance", "503 body (Xero developer docs)"),
        (lambda: "The Xero API is temporarily unavailable", "503 body (Xero developer docs)"),
        (lambda: "503 Service Unavailable", "HTTP 503 status line"),
        (lambda: json.dumps({"Title": "An error occurred",
                             "Detail": "An error occurred in Xero. Check the API Status page http://status.developer.xero.com for current service status.",
                             "Status": 500, "Instance": guid()}, separators=(",", ":")),
         "500 body (XeroAPI/xero-node#510; XeroAPI/Xero-Java#246)"),
        (lambda: "An error occurred in Xero. Check the API Status page http://status.developer.xero.com for current service status.",
         "500 detail (XeroAPI/xero-node#539)"),
        (lambda: "500 Internal Server Error", "HTTP 500 status line"),
    ],
}

# --------------------------------------------------------------------------
# hard negatives: real (or closely modelled) Xero / integration errors whose
# wording overlaps a category but which are a different error.
# --------------------------------------------------------------------------
NEGATIVES = [
    ("Invoice not of valid status for creation", "status wording, but creation not modification (modelled, per brief)"),
    ("Invoice not of valid status for deletion", "status wording, but deletion not modification (modelled, per brief)"),
    ("The due date cannot be before the invoice date", "'cannot be before' like lock date, but due-date rule"),
    ("The Contact Name is too long. Maximum of 255 characters allowed.", "contact field length (pattern of XeroAPI/Xero-Net#285)"),
    ("Email address must be valid.", "contact email (garagehive docs)"),
    ("A Contact must be specified for this type of transaction", "missing contact, not archived contact"),
    ("The description field is mandatory for each line item", "line description (BQE CORE help)"),
    ("Account Code is too long. Maximum of 10 characters allowed", "mentions account code; account creation rule (XeroAPI/Xero-Net#285)"),
    ("Cannot update account details and STATUS on the same request", "mentions account + status (waynerobinson/xeroizer#324)"),
    ("Can only update STATUS on Archived accounts", "mentions archived accounts; chart-of-accounts edit (PHPAccounting helper)"),
    ("Cannot archive System accounts", "mentions archive + accounts (PHPAccounting helper)"),
    ("Please enter a unique Code", "'unique' but chart-of-accounts code (PHPAccounting helper)"),
    ("The contact name Brightwell Supplies Ltd is already assigned to another contact. The contact name must be unique across all active contacts.",
     "'already' + 'must be unique' but contact name"),
    ("Another contact has this contact number. Please enter a different contact number.", "contact number clash (garagehive docs)"),
    ("Payment is applied to more than one document.", "payment, not amount exceeding outstanding (garagehive docs)"),
    ("This payment is not applied.", "payment not applied (garagehive docs)"),
    ("Payments can only be made against Authorised documents", "'Authorised' + payment, neither auth nor overpayment (garagehive docs)"),
    ("Website must be valid", "contact website (Retail Express KB)"),
    ("Paid to name cannot be empty.", "spend money payee missing (public gist 'Failing invoice update in Xero')"),
    ("TaxType field is mandatory", "tax type missing, not tax/account mismatch (public integration notes)"),
    ("For each specified tracking option the name must be unique.", "tracking + unique, creating options (calcinai/xero-php#920)"),
    ("Tracking Option cannot be archived because it is not in use.", "tracking + archived, archiving an option (Bill.com help)"),
    ("Unrecognised GUID format", "malformed identifier (Xero Central Hubdoc article)"),
    ("A Contact Group already exists with this name", "'already exists' but contact group (PHPAccounting helper)"),
    ("A currency code must be provided.", "currency missing, not currency not enabled (XeroAPI/Xero-Java#141)"),
    ("An existing Contact with the specified ContactID could not be found",
     "'An existing ... could not be found' but the contact, not the published item (modelled on Xero pattern)"),
    ("Insufficient quantity on hand for tracked inventory item 'PLT-44'",
     "inventory + item code, but stock level (modelled)"),
    ("All receipts on an expense claim must belong to the same user", "mentions user; expense-claim grouping (modelled)"),
    ("The From and To bank accounts cannot be the same", "mentions bank accounts; bank transfer rule (modelled)"),
    ("A validation exception occurred", "bare ValidationException header, no detail"),
    ("Contact cannot be empty.", "contact missing (public gist 'Failing invoice update in Xero')"),
]

PREFIXES = ["Error: ", "ValidationException: ", "Xero error - ", "Xero returned: ", "[400] ",
            "A validation exception occurred: ", "Xero API error: ", "Publish failed: ",
            "Error from Xero - A validation exception occurred ", "400 Bad Request: "]
HTTP_PREFIXES = ["", "", "Error: ", "Xero returned: ", "Xero error - ", "Publish failed: "]


# --------------------------------------------------------------------------
# cosmetic variation
# --------------------------------------------------------------------------
def curly(s: str) -> str:
    s = s.replace("n't", "n\u2019t")
    out, single_open, double_open = [], False, False
    for ch in s:
        if ch == "'":
            out.append("\u2019" if single_open else "\u2018")
            single_open = not single_open
        elif ch == '"':
            out.append("\u201d" if double_open else "\u201c")
            double_open = not double_open
        else:
            out.append(ch)
    return "".join(out)


def unquote(s: str) -> str:
    s = s.replace("can't", "CANT_TOKEN")
    s = s.replace("'", "").replace('"', "")
    return s.replace("CANT_TOKEN", "can't")


def extra_spaces(s: str) -> str:
    words = s.split(" ")
    if len(words) > 3:
        i = RNG.randrange(1, len(words) - 1)
        words[i] = words[i] + " "
    return "  " + " ".join(words) + "  "


def bang(s: str) -> str:
    return s.rstrip(".") + "!"


def try_again(s: str) -> str:
    return s + (" " if s.endswith((".", "!")) else ". ") + "Please try again."


COSMETICS = [
    ("as shown", lambda s: s),
    ("trailing !", bang),
    ("curly quotes", curly),
    ("curly quotes + !", lambda s: bang(curly(s))),
    ("lower case", str.lower),
    ("upper case", str.upper),
    ("no quotes", unquote),
    ("extra spaces", extra_spaces),
    ("+ Please try again.", try_again),
    ("full stop", lambda s: s + "."),
    ("Error: prefix", lambda s: "Error: " + s),
    ("no quotes + !", lambda s: bang(unquote(s))),
    ("lower case + Please try again.", lambda s: try_again(s.lower())),
]


def json_body(messages, rich=False, pretty=False, entity="ACCPAY"):
    if rich:
        element = {"Type": entity, "InvoiceID": guid(), "Status": "DRAFT",
                   "LineAmountTypes": RNG.choice(["Exclusive", "Inclusive"]),
                   "HasErrors": True,
                   "ValidationErrors": [{"Message": m} for m in messages]}
    else:
        element = {"ValidationErrors": [{"Message": m} for m in messages]}
    body = {"ErrorNumber": 10, "Type": "ValidationException",
            "Message": "A validation exception occurred", "Elements": [element]}
    if pretty:
        return json.dumps(body, indent=2, ensure_ascii=False)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def wrap_validation(msg: str):
    """Wrap one Xero validation message the way it lands in an export cell."""
    r = RNG.random()
    if r < 0.30:
        return msg, "bare"
    if r < 0.62:
        p = RNG.choice(PREFIXES)
        return p + msg, f"prefix {p.strip()!r}"
    if r < 0.78:
        n = RNG.choice([1, 1, 2, 3, 4])
        return json_body([msg] * n, rich=RNG.random() < 0.5), f"JSON body, message x{n}"
    if r < 0.86:
        n = RNG.choice([1, 2, 3])
        return json_body([msg] * n, rich=True, pretty=True), f"pretty JSON body, message x{n}"
    if r < 0.93:
        return try_again(msg), "suffix 'Please try again.'"
    return f"ValidationException: A validation exception occurred ({msg})", "ValidationException + parentheses"


# --------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------
rows: list[tuple[str, str, str]] = []
seen: set[str] = set()


def add(cell: str, labels: list[str], note: str) -> bool:
    if cell in seen:
        return False
    seen.add(cell)
    expected = "+".join(labels) if labels else "unclassified"
    rows.append((cell, expected, note))
    return True


def dedupe_labels(labels):
    out = []
    for l in labels:
        if l is not None and l not in out:
            out.append(l)
    return out


# 1) Dext seed sentences with cosmetic variation (~140)
for cat, gen in SEED.items():
    want = 8 if cat in ("account_archived", "account_invalid_for_document", "tax_type_invalid_for_account",
                        "lock_date", "not_authorised") else 7
    got = 0
    for name, fn in RNG.sample(COSMETICS, len(COSMETICS)):
        if got >= want:
            break
        for _ in range(5):
            base = gen()
            cell = fn(base)
            if name != "as shown" and (cell == base or
                                       ("quotes" in name and cell.strip("!") == base)):
                break  # the variation does not apply to this sentence
            if add(cell, [cat], f"seed: Dext sentence, {name}"):
                got += 1
                break
# US spelling and mixed wording variants of the Dext sentences
add("Sorry, we cannot publish this item because your request to Xero was not authorized", ["not_authorised"], "seed: US spelling 'authorized'")
add("Sorry, we cannot publish this item because your request to Xero was not authorized.  Please try again.", ["not_authorised"], "seed: US spelling + Please try again.")
add("The document date cannot be before the end of year lock date. Please check the period lock date in Xero", ["lock_date"], "seed: lock date with extra advice")
add("Sorry, we were not able to publish the image for this item. The data is in Xero - only the image is missing.", ["image_publish_failed"], "seed: image sentence + explanation")

# 2) Xero raw wordings (~140)
RAW_COUNTS = {
    "account_archived": 7, "account_invalid_for_document": 6, "tax_type_invalid_for_account": 7,
    "invoice_not_found": 5, "invalid_status_for_modification": 5, "spend_money_not_updatable": 4,
    "lock_date": 7, "invoice_number_not_unique": 5, "user_not_linked": 3, "approval_limit": 3,
    "tax_exceeds_line_amount": 3, "user_permissions": 2, "bank_account_mismatch": 2,
    "inventory_account": 2, "no_linked_bank_account": 2,
    "contact_archived": 8, "currency_not_enabled": 8, "totals_mismatch": 9, "account_code_missing": 7,
    "tracking_invalid": 8, "item_code_invalid": 7, "payment_exceeds_outstanding": 9,
}
for cat, n in RAW_COUNTS.items():
    forms = RAW_VALIDATION[cat]
    made = 0
    tries = 0
    while made < n and tries < 200:
        tries += 1
        gen, src = forms[made % len(forms)] if made < len(forms) else RNG.choice(forms)
        cell, how = wrap_validation(gen())
        if add(cell, [cat], f"xero raw: {src}; {how}"):
            made += 1
HTTP_COUNTS = {"not_authorised": 8, "image_publish_failed": 6, "xero_rate_limited": 8, "xero_unavailable": 9}
for cat, n in HTTP_COUNTS.items():
    forms = RAW_HTTP[cat]
    made = 0
    tries = 0
    while made < n and tries < 200:
        tries += 1
        gen, src = forms[made] if made < len(forms) else RNG.choice(forms)
        p = RNG.choice(HTTP_PREFIXES)
        if add(p + gen(), [cat], f"xero raw: {src}" + (f"; prefix {p.strip()!r}" if p else "")):
            made += 1
# a few hand-written raw shapes
add("Xero returned HTTP 401 (Unauthorized): AuthenticationUnsuccessful. Reconnect Xero and try again.", ["not_authorised"], "xero raw: 401 with advice")
add("Publish failed: 503 Service Unavailable - The Organisation is offline", ["xero_unavailable"], "xero raw: 503 status + body")
add("Xero is currently undergoing scheduled maintenance. Please try again later.", ["xero_unavailable"], "xero raw: maintenance notice (modelled on Xero 503 body)")
add("[429] Too many requests - X-Rate-Limit-Problem: minute. Retry-After: 41", ["xero_rate_limited"], "xero raw: 429 with headers")
add("Attachment upload failed: 413 Payload Too Large", ["image_publish_failed"], "xero raw: 413 on attachment upload")

# 3) multi-error cells (~60)
VALIDATION_CATS = [c for c in RAW_VALIDATION]
JSON_FRIENDLY = ["account_archived", "account_invalid_for_document", "tax_type_invalid_for_account",
                 "lock_date", "invoice_number_not_unique", "tax_exceeds_line_amount", "contact_archived",
                 "currency_not_enabled", "totals_mismatch", "account_code_missing", "tracking_invalid",
                 "item_code_invalid", "inventory_account", "bank_account_mismatch", "user_not_linked",
                 "user_permissions", "approval_limit"]
ANY_CATS = list(SEED) + ["contact_archived", "currency_not_enabled", "totals_mismatch",
                         "account_code_missing", "tracking_invalid", "item_code_invalid",
                         "payment_exceeds_outstanding", "xero_rate_limited", "xero_unavailable"]


def one_message(cat, prefer_raw=True):
    """A single message for category `cat` (raw Xero wording if any, else Dext)."""
    if cat in RAW_VALIDATION and (prefer_raw or cat not in SEED):
        gen, _ = RNG.choice(RAW_VALIDATION[cat])
        return gen()
    if cat in RAW_HTTP and (prefer_raw or cat not in SEED):
        gen, _ = RNG.choice(RAW_HTTP[cat])
        return gen()
    return SEED[cat]()


# 3a) one JSON body, several different validation messages, some repeated per line
# simpler, explicit construction keeping (category, message) pairs together
def build_pairs(cats, prefer_raw=True):
    pairs = []
    for c in cats:
        m = one_message(c, prefer_raw)
        pairs.append((c, m))
    return pairs


multi_made = 0
while multi_made < 22:
    k = RNG.choice([2, 2, 2, 3])
    cats = RNG.sample(JSON_FRIENDLY, k)
    pairs = []
    for c, m in build_pairs(cats):
        pairs += [(c, m)] * RNG.choice([1, 1, 2, 3])
    if RNG.random() < 0.35 and len(pairs) > 2:
        pairs = [pairs[0]] + RNG.sample(pairs[1:], len(pairs) - 1)
    labels = dedupe_labels([c for c, _ in pairs])
    cell = json_body([m for _, m in pairs], rich=RNG.random() < 0.6, pretty=RNG.random() < 0.3)
    if add(cell, labels, f"multi: one JSON body, {len(pairs)} messages, {len(labels)} categories"):
        multi_made += 1

# 3b) newline- or '; '-joined, mixing Dext sentences and raw wordings
while multi_made < 46:
    k = RNG.choice([2, 2, 2, 3])
    cats = RNG.sample(ANY_CATS, k)
    pairs = build_pairs(cats, prefer_raw=RNG.random() < 0.6)
    pairs = [(c, m if not m.startswith("{") else ("AuthenticationUnsuccessful" if c == "not_authorised" else m))
             for c, m in pairs]
    if any(m.startswith("{") for _, m in pairs):
        continue
    sep = RNG.choice(["\n", "\n", "; ", "; ", "\r\n", " | "])
    text = sep.join(m.rstrip(".") if sep == "; " else m for _, m in pairs)
    if RNG.random() < 0.25:
        text = "Error: " + text
    labels = dedupe_labels([c for c, _ in pairs])
    sepname = {"\n": "newline", "; ": "'; '", "\r\n": "CRLF", " | ": "' | '"}[sep]
    if add(text, labels, f"multi: {len(pairs)} errors joined by {sepname}"):
        multi_made += 1

# 3c) same category twice in different wording (counts once) + a non-category message mixed in
neg_texts = [t for t, _ in NEGATIVES if t != "A validation exception occurred"]
while multi_made < 54:
    c = RNG.choice([x for x in SEED if x in RAW_VALIDATION])
    other = RNG.choice(neg_texts)
    d = SEED[c]()
    r = RNG.choice(RAW_VALIDATION[c])[0]()
    variant = RNG.random()
    if variant < 0.5:
        text = f"{d}\n{r}"
        labels = [c]
        note = "multi: Dext sentence + Xero wording of the same error (one label)"
    else:
        text = f"{other}\n{r}" if RNG.random() < 0.5 else f"{r}; {other}"
        labels = [c]
        note = "multi: category error + non-category error (only the category is labelled)"
    if add(text, labels, note):
        multi_made += 1

# 3d) hand-written multi cells
HAND_MULTI = [
    ("Payments can only be made against Authorised documents. Payment amount exceeds the amount outstanding on this document.",
     ["payment_exceeds_outstanding"], "multi: garagehive pairing; only the overpayment part is a category"),
    (json_body(["Email address must be valid.", "The TaxType code 'INPUT2' cannot be used with account code '200'.",
                "The TaxType code 'INPUT2' cannot be used with account code '200'."], rich=True),
     ["tax_type_invalid_for_account"], "multi: JSON with a non-category message first"),
    ("The document date cannot be before the end of year lock date, currently set at 31-Mar-2026\nThe document date cannot be before the end of year lock date, currently set at 31-Mar-2026\nThe document date cannot be before the end of year lock date, currently set at 31-Mar-2026",
     ["lock_date"], "multi: same message repeated per line (one label)"),
    ("TokenExpired: token expired at 11/03/2026 22:34:36\n429 Too Many Requests\nThe Organisation is offline",
     ["not_authorised", "xero_rate_limited", "xero_unavailable"], "multi: three transient/auth errors from successive attempts"),
    ("Sorry, we were not able to publish the image for this item; Organisation is not subscribed to currency EUR",
     ["image_publish_failed", "currency_not_enabled"], "multi: Dext image sentence + currency"),
    ("Invoice # must be unique.\nThe contact with the specified contact details has been archived. The contact must be un-archived before creating new invoices or credit notes.\nThe line total 120.00 does not match the expected line total 119.99",
     ["invoice_number_not_unique", "contact_archived", "totals_mismatch"], "multi: three validation errors, newline"),
    ("Account code or ID must be specified.; Tracking option 'Van 3' is not valid for tracking category 'Cost Centre'",
     ["account_code_missing", "tracking_invalid"], "multi: ';' right after a full stop"),
    ("The tax amount cannot be greater than the line amount\nLine item tax amounts do not total to document tax amount",
     ["tax_exceeds_line_amount", "totals_mismatch"], "multi: both tax errors of the seed's cause 1"),
]
for cell, labels, note in HAND_MULTI:
    if add(cell, labels, note):
        multi_made += 1

# 4) hard negatives (~60)
neg_made = 0
for text, why in NEGATIVES:
    add(text, [], f"hard negative: {why}")
    neg_made += 1
neg_wrapped = 0
while neg_wrapped < 30:
    text, why = RNG.choice(NEGATIVES)
    if text == "A validation exception occurred":
        continue
    r = RNG.random()
    if r < 0.4:
        p = RNG.choice(PREFIXES)
        cell, how = p + text, f"prefix {p.strip()!r}"
    elif r < 0.65:
        n = RNG.choice([1, 2])
        cell, how = json_body([text] * n, rich=RNG.random() < 0.5), f"JSON body x{n}"
    elif r < 0.8:
        cell, how = try_again(text), "suffix"
    elif r < 0.9:
        cell, how = text.lower(), "lower case"
    else:
        cell, how = bang(curly(text)), "curly quotes + !" if curly(text) != text else "trailing !"
    if add(cell, [], f"hard negative: {why}; {how}"):
        neg_wrapped += 1
# two-negative cells: still unclassified
add("Email address must be valid.\nWebsite must be valid", [], "hard negative: two non-category errors")
add(json_body(["Paid to name cannot be empty.", "Contact cannot be empty.", "Contact cannot be empty."], rich=True),
    [], "hard negative: JSON body of two non-category errors (public gist)")

# --------------------------------------------------------------------------
# write cells.csv
# --------------------------------------------------------------------------
RNG.shuffle(rows)
with open(HERE / "cells.csv", "w", encoding="utf-8", newline="") as fh:
    w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
    w.writerow(["cell", "expected", "note"])
    w.writerows(rows)

# --------------------------------------------------------------------------
# unseen export files
# --------------------------------------------------------------------------
by_label: dict[str, list[str]] = {}
for cell, expected, _ in rows:
    by_label.setdefault(expected, []).append(cell)
all_cells = [(c, e) for c, e, _ in rows]


def pick_cells(n, encoding=None):
    """n cells covering many labels; optionally encodable in `encoding`."""
    pool = [(c, e) for c, e in all_cells if not encoding or _encodes(c, encoding)]
    singles = [(c, e) for c, e in pool if "+" not in e]
    labels = sorted({e for _, e in singles})
    RNG.shuffle(labels)
    chosen = []
    for lab in labels:
        if len(chosen) >= int(n * 0.7):
            break
        chosen.append(RNG.choice([x for x in singles if x[1] == lab]))
    rest = [x for x in pool if x not in chosen]
    chosen += RNG.sample(rest, n - len(chosen))
    RNG.shuffle(chosen)
    return chosen


def _encodes(s, enc):
    try:
        s.encode(enc)
        return True
    except UnicodeEncodeError:
        return False


TYPE_FOR = {
    "user_not_linked": "Expense claim", "user_permissions": "Expense claim",
    "spend_money_not_updatable": "Receipt", "no_linked_bank_account": "Receipt",
    "bank_account_mismatch": "Receipt", "invoice_number_not_unique": "Invoice",
    "payment_exceeds_outstanding": "Invoice",
}
SUPPLIERS_UK = ["Screwfix Direct", "CEF City Electrical Factors", "Toolstation", "Rexel UK",
                "Shell Fleet", "BT Business", "Travis Perkins", "Edmundson Electrical",
                "Amazon Business EU", "Vodafone Ltd", "Wickes", "Premier Inn", "Trainline",
                "Yesss Electrical", "RS Components", "Costa Coffee"]
CATEGORIES_UK = ["310 - Cost of Goods Sold (20%)", "429 - General Expenses (20%)", "449 - Motor Vehicle Expenses (20%)",
                 "493 - Travel - National (No VAT)", "463 - IT Software and Consumables (20%)",
                 "445 - Light, Power, Heating (5%)", "420 - Entertainment (No VAT)", "200 - Sales (20%)"]


def dext_date(d):
    return d.strftime("%d-%b-%Y")


def ridgeway():
    name = "Ridgeway Electrical Ltd - failed items Nov 2026.csv"
    header = ["Receipt ID", "Type", "Date", "Due Date", "Invoice Number", "Supplier", "Category",
              "Customer", "Project", "Payment Method", "Bank Account", "Tax", "Tax Name", "Tax Code",
              "Tax Percentage", "Total", "Currency", "Tax (GBP)", "Total (GBP)", "Status", "Owner",
              "Note", "Description", "Image", "Publish error"]
    chosen = pick_cells(60)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    expected = []
    grand = 0.0
    for i, (cell, exp) in enumerate(chosen):
        rid = str(41730000 + RNG.randint(0, 99999))
        first = exp.split("+")[0]
        typ = TYPE_FOR.get(first, RNG.choice(["Receipt", "Invoice", "Receipt", "Invoice", "Sales invoice"]))
        d = dt.date(2026, 10, 1) + dt.timedelta(days=RNG.randint(0, 44))
        due = d + dt.timedelta(days=30) if typ in ("Invoice", "Sales invoice") else None
        cur = "GBP" if RNG.random() < 0.85 else RNG.choice(["EUR", "USD"])
        total = round(RNG.uniform(4, 3800), 2)
        rate = RNG.choice([20, 20, 20, 5, 0])
        taxv = round(total * rate / (100 + rate), 2)
        fx = 1.0 if cur == "GBP" else (0.86 if cur == "EUR" else 0.79)
        grand += total * fx
        cat = RNG.choice(CATEGORIES_UK)
        w.writerow([
            rid, typ, dext_date(d), dext_date(due) if due else "",
            f"INV-{RNG.randint(1000, 99999)}" if typ != "Receipt" else "",
            RNG.choice(SUPPLIERS_UK), cat,
            RNG.choice(["", "", "Hallam Estates", "Kestrel Homes"]) if typ == "Sales invoice" else "",
            RNG.choice(["", "", "Job 2231 - Mill Lane rewire", "Job 2240 - Fenwick school"]),
            RNG.choice(["Business Card", "Cash", "Director's Loan", "Bank Transfer"]),
            RNG.choice(["Barclays Business 4471", "Amex 1003", ""]),
            f"{taxv:.2f}", f"{rate}% VAT" if rate else "No VAT",
            RNG.choice(["INPUT2", "INPUT", "ZERORATEDINPUT", "NONE"]), f"{rate}",
            f"{total:.2f}", cur, f"{taxv * fx:.2f}", f"{total * fx:.2f}",
            "Publish failed", RNG.choice(["Sam Okafor", "Priya Nair", "Dean Holt"]),
            RNG.choice(["", "", "chased supplier for VAT receipt", "split with job 2240"]),
            RNG.choice(["", "Cable, 2.5mm T&E, 100m", "Fuel", "Parking, Leeds", "Consumer unit"]),
            f"https://app.dext.com/items/{rid}", cell,
        ])
        expected.append((name, i + 2, exp))
    # a totals row at the bottom, as practices often add (no error: not a data row)
    w.writerow([""] * 17 + ["", f"{grand:.2f}", "TOTAL"] + [""] * 5)
    data = "\ufeff" + buf.getvalue()
    (HERE / name).write_bytes(data.encode("utf-8"))
    return expected


def copperleaf():
    name = "Copperleaf Studio - failed items Nov 2026.csv"
    header = ["Item ID", "Status", "Submitted by", "Date", "Supplier", "Total Amount", "Permalink", "Message"]
    chosen = pick_cells(40, encoding="cp1252")
    # make sure cp1252-only punctuation (curly quotes) is exercised
    curly_cells = [(c, e) for c, e in all_cells if "\u2018" in c or "\u201c" in c]
    for extra in RNG.sample(curly_cells, 2):
        if extra not in chosen:
            chosen[RNG.randrange(len(chosen))] = extra
    suppliers = ["Café Lumière", "Société Générale Equipment", "Adobe Systems Software Ireland",
                 "Pantone LLC", "Crème Studio Supplies", "Muji Europe", "Figma Inc", "Royal Mail",
                 "Ryman", "Mühlbauer Papier GmbH", "Fotografía Díaz", "WeTransfer B.V."]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow(header)
    expected = []
    for i, (cell, exp) in enumerate(chosen):
        iid = str(90210000 + RNG.randint(0, 99999))
        d = dt.date(2026, 10, 1) + dt.timedelta(days=RNG.randint(0, 45))
        amt = RNG.uniform(3, 6500)
        s = f"{amt:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
        if amt < 1000 or RNG.random() < 0.5:
            s = s.replace(".", "")
        w.writerow([iid, "Failed", RNG.choice(["Léa Martin", "Tom Ashby", "Zoë Clarke"]),
                    d.strftime("%d/%m/%Y"), RNG.choice(suppliers),
                    RNG.choice(["", "", "£"]) + s, f"https://app.dext.com/items/{iid}", cell])
        expected.append((name, i + 2, exp))
    (HERE / name).write_bytes(buf.getvalue().encode("cp1252"))
    return expected


def merged_xlsx():
    from openpyxl import Workbook
    from openpyxl.styles import Font
    name = "Unseen merged Nov 2026.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "Failed items"
    header = ["Client", "Receipt ID", "Date", "Supplier", "Category", "Total", "Currency", "Issue"]
    ws.append(header)
    for c in ws[1]:
        c.font = Font(bold=True)
    clients = [("Northgate Veterinary Clinic", "GBP"), ("Pennant & Vale Architects", "AUD"),
               ("Oakmoor Bakery Ltd", "NZD")]
    chosen = pick_cells(60)
    expected = []
    # rows grouped by client, as a person would paste them
    chosen.sort(key=lambda x: RNG.random())
    groups = [chosen[:22], chosen[22:41], chosen[41:]]
    r = 2
    for (client, cur), group in zip(clients, groups):
        for cell, exp in group:
            d = dt.datetime(2026, 10, 1) + dt.timedelta(days=RNG.randint(0, 45))
            ws.append([client, 55100000 + RNG.randint(0, 99999), d,
                       RNG.choice(["Vetsupply", "Officeworks", "Bunnings", "Countdown", "Z Energy",
                                   "Spark NZ", "Medivet Wholesale", "Telstra", "Xero Ltd"]),
                       RNG.choice(["429 - General Expenses", "310 - Purchases", "461 - Printing & Stationery",
                                   "449 - Motor Vehicle Expenses", "300 - Cost of Sales"]),
                       round(RNG.uniform(5, 5000), 2), cur, cell])
            ws.cell(row=r, column=3).number_format = "dd mmm yyyy"
            ws.cell(row=r, column=6).number_format = "#,##0.00"
            expected.append((name, r, exp))
            r += 1
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["H"].width = 90
    wb.save(HERE / name)
    return expected


exp_rows = ridgeway() + copperleaf() + merged_xlsx()
with open(HERE / "expected_rows.csv", "w", encoding="utf-8", newline="") as fh:
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(["file", "source_row", "expected"])
    w.writerows(exp_rows)

# --------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------
counts = Counter()
for _, e, _ in rows:
    for lab in e.split("+"):
        counts[lab] += 1
kinds = Counter(n.split(":")[0] for _, _, n in rows)
print(f"rows: {len(rows)}  kinds: {dict(kinds)}")
print(f"multi-label cells: {sum('+' in e for _, e, _ in rows)}")
for lab, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])):
    print(f"  {lab:34s} {n}")
print(f"export rows: {len(exp_rows)}")
