"""The column roles an export can have and the header names each is known by.

Shared vocabulary, not a stage: the reader uses it to find the header row under title rows, and
normalisation uses it to give each column its role. Headers are compared by ``header_key``, so
case, spaces and punctuation never matter.
"""

from __future__ import annotations

import re

# Role -> aliases, most specific first. Derived from the header sets of real Dext exports and
# the names people give the error column they paste in (domain notes).
ALIASES: dict[str, tuple[str, ...]] = {
    "client": ("Client", "Client name", "Client account", "Company", "Company name",
               "Organisation", "Organization", "Business", "Business name", "Entity", "Account name",
               "Xero organisation", "Xero organization", "Organisation name", "Organization name",
               "Dext account", "Dext client", "Practice client", "Client code", "Client ID"),
    "error": ("Error", "Errors", "Error message", "Error messages", "Publishing error",
              "Publish error", "Publishing errors", "Publish errors", "Message", "Reason",
              "Failure reason", "Failure", "Issue", "Issues", "Xero error", "Error text",
              "Problem", "Error details", "Publishing error message", "Dext error", "Error msg",
              "Reason for failure", "Failure message", "Sync error"),
    "item_id": ("Receipt ID", "Item ID", "Document ID", "Receipt", "ID", "Item", "Dext ID",
                "Record ID", "Receipt #", "Item #", "Item No"),
    "doc_type": ("Type", "Document type", "Item type", "Transaction type"),
    "date": ("Date", "Document date", "Invoice date", "Receipt date", "Transaction date",
             "Issue date", "Doc date", "Date of document", "Purchase date", "Bill date"),
    "due_date": ("Due Date", "Due"),
    "invoice_number": ("Invoice Number", "Invoice No", "Invoice #", "Reference", "Document reference",
                       "Doc ref", "Ref", "Bill number"),
    "supplier": ("Supplier", "Supplier name", "Vendor", "Merchant", "Payee", "Contact", "Contact name"),
    "customer": ("Customer", "Customer name"),
    "category": ("Category", "Account", "Account code", "Nominal", "Nominal code", "GL account"),
    "project": ("Project", "Tracking", "Job"),
    "payment_method": ("Payment Method", "Paid with", "Payment type"),
    "bank_account": ("Bank Account", "Bank"),
    "tax": ("Tax", "Tax amount", "VAT", "VAT amount", "GST", "GST amount", "Sales tax"),
    "tax_name": ("Tax Name", "Tax rate", "Tax rate name", "VAT rate"),
    "tax_code": ("Tax Code", "Tax type"),
    "tax_percentage": ("Tax Percentage", "Tax %", "Tax percent"),
    "total": ("Total", "Total Amount", "Amount", "Gross", "Gross amount", "Total (incl tax)",
              "Total inc tax", "Value", "Amount inc tax", "Amount incl tax", "Amount inc VAT", "Amount incl VAT",
              "Total inc VAT", "Total incl VAT", "Amount inc GST", "Amount incl GST", "Total inc GST",
              "Total incl GST", "Gross inc VAT", "Total amount inc VAT", "Amount (gross)"),
    "currency": ("Currency", "Currency code", "Ccy"),
    "status": ("Status", "Publish status", "State", "Location", "Workflow"),
    "owner": ("Owner", "Submitted by", "User", "Uploaded by", "Assignee"),
    "note": ("Note", "Notes", "Comment", "Comments"),
    "description": ("Description", "Details", "Line description"),
    "link": ("Image", "Permalink", "Link", "URL", "Item link", "Dext link"),
}
ROLES = tuple(ALIASES)
# Columns whose values repeat down a month's export (a few clients, tax codes, error texts over
# thousands of rows): the reader holds them dictionary-encoded, each distinct text once.
REPEATED_ROLES = frozenset({"client", "error", "doc_type", "date", "due_date", "supplier", "customer", "category",
                            "project", "payment_method", "bank_account", "tax_name", "tax_code",
                            "tax_percentage", "currency", "status", "owner", "note", "description"})
# `Total (GBP)` and `Tax (GBP)`: the same amount in the account's base currency.
BASE_CURRENCY_HEADER = re.compile(r"^\s*(total|tax|total amount|amount)\s*[\(\[]\s*([A-Za-z]{3})\s*[\)\]]\s*$", re.I)
_NON_ALNUM = re.compile(r"[^0-9a-z#%]+")


def header_key(header: object) -> str:
    """`Error Message`, `error_message` and ` ERROR-MESSAGE ` compare equal."""
    return _NON_ALNUM.sub("", str(header).casefold().replace("no.", "no"))


ALIAS_TO_ROLE: dict[str, str] = {}
ALIAS_RANK: dict[str, int] = {}  # header key -> its place in its role's aliases (0: the most specific)
for _role, _aliases in ALIASES.items():
    for _rank, _alias in enumerate(_aliases):
        if header_key(_alias) not in ALIAS_TO_ROLE:
            ALIAS_TO_ROLE[header_key(_alias)] = _role
            ALIAS_RANK[header_key(_alias)] = _rank


def role_of(header: object) -> str | None:
    """The role a header name is known by, or None."""
    if BASE_CURRENCY_HEADER.match(str(header)):
        return None  # base-currency columns are read as their own role pair, never as the total
    return ALIAS_TO_ROLE.get(header_key(header))


def known_header_count(cells: list[object]) -> int:
    """How many cells of a row look like known column names (to find the header row)."""
    seen = {role_of(c) for c in cells if str(c).strip()} - {None}
    base = sum(bool(BASE_CURRENCY_HEADER.match(str(c))) for c in cells)
    return len(seen) + base


# ISO 4217 codes in use: a three-letter word in a currency or amount cell is a currency only if
# it is one of these ("XYZ", "VAT" and "INC" are not).
ISO_CURRENCIES = frozenset("""
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
    GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
    LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
    NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD
    XOF XPF YER ZAR ZMW ZWL
""".split())
