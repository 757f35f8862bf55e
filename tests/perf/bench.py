#!/usr/bin/env python3
"""Month-end at scale: a benchmark of every stage at 1,000,000 failed rows, against baselines.

Not part of the test suite (pytest collects only ``test_*.py``); run it by hand or with
``make bench``::

    .venv/bin/python tests/perf/bench.py                  # 1,000,000 rows, 1,000 clients
    .venv/bin/python tests/perf/bench.py --quick          # 20,000 rows: a smoke run
    .venv/bin/python tests/perf/bench.py --rows 200000 --json bench.json
    .venv/bin/python tests/perf/bench.py --cluster        # LocalCluster vs local pool (bench_cluster.py)

What it does, in order:

1. Generates (seeded, vectorised) a synthetic merged export of N rows: Dext's full header set plus
   ``Client`` and ``Error``, about ``--clients`` clients of log-normal sizes, and error cells
   drawn from every catalog category. Wordings come from the catalog's own ``examples``, with
   values substituted (account codes, tax types, dates, amounts, contacts, item codes, ...),
   wrappers (``Error: ``, ``ValidationException: ``, ``Xero error - ``, `` Please try again.``),
   curly quotes, case changes, Xero JSON bodies and multi-error cells; plus about 5% of rows with
   messages no category knows. Every pooled message is checked with the classifier before use,
   so the intended category mix is what the pipeline sees. A second file of N/10 rows (same
   message pool) serves the linearity check. Files are cached in ``--workdir`` by their
   parameters.
2. Times every stage in a fresh child process (``python bench.py --child STAGE``), so each
   stage's peak memory is its own: a stage child loads its inputs from the pickle the previous
   stage wrote (untimed), resets the kernel's peak-RSS mark (``/proc/self/clear_refs``), runs the
   stage under ``time.perf_counter`` and reports the peak RSS during the stage (``VmHWM``; this
   includes the inputs it holds, as the real run does). "start MB" is the RSS when the timer
   started; the ``python + imports`` row is the floor every child starts from. The stages the
   ratios compare (``pandas.read_csv``, classify, read->plan in one process) run five times
   each, interleaved, and the run of median time counts (with three, one spell of other work on
   this shared machine moved read_csv's median by a third).
3. Render HTML / render Excel / write: ``run_report`` with one format and one worker, in process,
   with ``analyzer.render``'s and ``analyzer.pipeline``'s functions wrapped in timers (nothing
   under ``analyzer/`` is changed), so the report-model build, the renderers and the file writes
   are timed separately.
4. Baselines, each in its own child: ``pandas.read_csv`` with default arguments; a naive per-row
   ``Series.apply`` of every catalog pattern with ``groupdict`` extraction, on a sample of
   ``--naive-rows`` rows scaled linearly to N (it is too slow to run on N); an xlsx of
   ``--xlsx-rows`` rows of the same data (written once with XlsxWriter) read by
   ``pandas.read_excel(engine="openpyxl")`` and by ``analyzer.read.read_export``; and an
   unformatted ``openpyxl.Workbook(write_only=True)`` dump of the same cells as the Excel reports'
   Items sheets (one workbook per client, rows converted from the same DataFrame, saved to disk).
5. The whole ``publish-failures report`` run as a subprocess, with default workers and with
   ``--workers 1``: wall time, CPU (user+sys of the tree, from ``wait4``), the largest single
   process's peak RSS (``wait4``'s ``ru_maxrss`` covers every reaped descendant) and the sampled
   peak of the whole tree's PSS (shared copy-on-write pages counted once), and the same at N/10.

It then prints every target of the issue as ``ratio (target) PASS/FAIL``. Numbers are noisy on a
shared machine; the ratios within one run are what matter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SEED = 20261031
RESULT_MARK = "@@BENCH-RESULT@@"
RUN_DATE = dt.datetime(2026, 11, 3, 9, 0, 0)
STAGE_REPEATS = 5  # read_csv, classify and read->plan: each this many times, interleaved

DEXT_HEADER = (
    "Receipt ID,Type,Date,Due Date,Invoice Number,Supplier,Category,Customer,Project,Payment Method,"
    "Bank Account,Tax,Tax Name,Tax Code,Tax Percentage,Total,Currency,Tax (GBP),Total (GBP),Status,"
    "Owner,Note,Description,Image"
).split(",")
HEADER = [*DEXT_HEADER, "Client", "Error"]
NUMERIC_COLUMNS = ("Tax", "Tax Percentage", "Total", "Tax (GBP)", "Total (GBP)")


# =============================================================================================
# Memory and timing helpers (used inside children)


def _status_mb(key: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0), so VmHWM afterwards
    is the peak of what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _cpu_with_children() -> float:
    """This process's CPU seconds and those of its children that ended (classify's forked helper)."""
    children = os.times()
    return time.process_time() + children.children_user + children.children_system


class Measure:
    """Time and peak RSS of one block: `with Measure() as m: ...`; then m.seconds, m.peak_mb."""

    def __enter__(self):
        self.reset = _reset_peak()
        self.start_mb = _status_mb("VmRSS")
        self.cpu0 = _cpu_with_children()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.cpu_s = _cpu_with_children() - self.cpu0
        # Without a reset the peak is the process's whole-life peak (still an upper bound).
        self.peak_mb = _status_mb("VmHWM")
        return False

    def result(self, **extra) -> dict:
        return {"seconds": self.seconds, "cpu_s": self.cpu_s, "peak_mb": self.peak_mb,
                "start_mb": self.start_mb, "peak_reset": self.reset, **extra}


def _dump(obj, path: Path) -> None:
    with open(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _load(path: Path):
    with open(path, "rb") as handle:
        return pickle.load(handle)


# =============================================================================================
# Synthetic export


ACCOUNT_CODES = ["200", "310", "320", "325", "400", "404", "408", "412", "420", "425", "429", "433",
                 "445", "449", "453", "455", "461", "463", "469", "473", "477", "480", "485", "489",
                 "493", "494", "497", "505", "600", "610", "710", "720", "4000", "5000", "6100-02",
                 "7100", "40010-01", "51020", "6240", "8100"]
TAX_TYPES = ["INPUT", "INPUT2", "OUTPUT", "OUTPUT2", "NONE", "EXEMPTINPUT", "ZERORATEDINPUT",
             "RRINPUT", "ECZRINPUT", "GSTONIMPORTS", "TAX001", "TAX002", "GST on Expenses",
             "GST on Income", "20% (VAT on Expenses)", "BAS Excluded", "Zero Rated Expenses"]
CURRENCIES = ["EUR", "USD", "AUD", "NZD", "CAD", "CHF", "JPY", "SEK", "NOK", "DKK", "ZAR", "SGD",
              "HKD", "PLN", "GBP"]
TRACKING = ["Region", "Department", "Crew", "Job Site", "Branch", "Cost Centre", "Location", "Team"]
TRACKING_OPTIONS = ["North", "South", "East", "West", "Wellington", "Auckland", "Crew 1", "Crew 2",
                    "Crew 4", "Admin", "Sales", "Workshop", "Site A", "Site B", "Kitchen", "Front of House"]
ITEM_WORDS = ["PAVER", "BEAN", "FLOUR", "TURF", "SOURDOUGH", "BOLT", "PIPE", "CABLE", "TILE",
              "GLOVE", "MASK", "FILTER", "VALVE", "BRUSH", "PAINT", "OIL", "SEED", "MULCH"]
NAME_A = ["Acme", "Harbour", "Summit", "Greenleaf", "Northside", "Bluewater", "Redwood", "Silver",
          "Oak", "Kestrel", "Coastline", "Highland", "Riverside", "Granite", "Maple", "Bright",
          "Crown", "Falcon", "Meadow", "Pioneer", "Beacon", "Willow", "Copper", "Lumière", "O'Brien's",
          "St. Clair", "Ashford", "Brook", "Cedar", "Dunmore", "Elm", "Fenwick", "Glen", "Hawthorn",
          "Ivy", "Juniper", "Kingfisher", "Larch", "Moss", "Nettle"]
NAME_B = ["Plumbing", "Dental", "Physio", "Landscaping", "Bakery", "Bistro", "Electrical", "Joinery",
          "Consulting", "Logistics", "Motors", "Pharmacy", "Vets", "Architects", "Roofing",
          "Catering", "Fitness", "Print", "Media", "Builders", "Optics", "Florists", "Coffee", "Wines"]
NAME_C = ["Ltd", "Limited", "LLP", "Pty Ltd", "LLC", "& Co", "Group", "Services", "(UK) Ltd", "Inc."]
SUPPLIER_B = ["Supplies", "Wholesale", "Fuel", "Hire", "Traders", "Foods", "Timber", "Hardware",
              "Telecom", "Energy", "Stationers", "Couriers", "Insurance", "Software", "Lab Services"]
FIRST = ["Priya", "Liam", "Sarah", "Camille", "Tom", "Aisha", "Mateo", "Grace", "Oliver", "Mei",
         "Noah", "Zara", "Ethan", "Ines", "Kofi", "Hannah", "Luca", "Freya", "Ravi", "Chloe"]
LAST = ["Desai", "Nguyen", "Mitchell", "Roux", "Walsh", "Khan", "Garcia", "Osei", "Brown", "Chen",
        "Murphy", "Silva", "Novak", "Patel", "Evans", "Schmidt", "Rossi", "Kowalski", "Hughes", "Ali"]

PREFIXES = ["", "", "", "Error: ", "ValidationException: ", "Xero error - ", "Publishing failed: ",
            "Xero API error: ", "Dext says: "]
SUFFIXES = ["", "", "", " Please try again.", "!", ".", " Please try again later."]
JSON_BODY = ('{{"ErrorNumber":10,"Type":"ValidationException","Message":"A validation exception occurred",'
             '"Elements":[{{"Type":"{doc}","ValidationErrors":[{errors}]}}]}}')
SEPARATORS = ["\n", "; ", "\r\n", " | ", " • "]
UNKNOWN_TEMPLATES = [
    "Receipt {n} is still being processed; try publishing again when extraction has finished",
    "Line {small}: description exceeds {n4} characters",
    "Document {n} has no line items",
    "Attachment {uuid} failed the virus scan",
    "Unexpected response from the accounting system (code {n4})",
    "Purchase order PO-{n4} is closed and cannot receive bills",
    "Exchange rate for {cur} on {date} is unavailable",
    "Duplicate detected: matches receipt {n} published on {date}",
    "Project '{word} {small}' is closed in Xero",
    "Quantity must be greater than zero on line {small}",
    "Timeout while waiting for a reply after {small} seconds",
    "Field 'Reference' exceeds {n3} characters on item {n}",
    "Fixed asset register is locked for period {date}",
    "Split line {small} total differs from the receipt total by {amount}",
    "Supplier reference {code} is blocked by a payment run",
    "Unsupported file type .{ext} for item {n}",
    "Bill {n} is part of batch payment {uuid}",
    "Purchase order matching failed for PO-{n4} (variance {amount})",
]


def _rng(seed: int):
    import numpy as np

    return np.random.default_rng(seed)


class MessagePool:
    """Several thousand distinct error cells, each with its intended categories, built from the
    catalog's examples and checked with the classifier."""

    def __init__(self, distinct: int, seed: int):
        import random

        from analyzer.catalog import UNCLASSIFIED, load_default_catalog
        from analyzer.classify import classify_cell

        self.catalog = load_default_catalog()
        self.random = random.Random(seed)
        self._classify = lambda text: tuple(dict.fromkeys(f.category for f in classify_cell(text, self.catalog)))
        self.unclassified = UNCLASSIFIED
        self.known: dict[str, list[str]] = {c.id: [] for c in self.catalog.categories}
        seen: set[str] = set()
        self.single_target = int(distinct * 0.78)
        self.multi_target = int(distinct * 0.12)
        self.unknown_target = distinct - self.single_target - self.multi_target
        self._fill_known(seen)
        self.multi = self._multi(seen)
        self.unknown = self._unknown(seen)

    # -- known single messages --------------------------------------------------------------

    def _fill_known(self, seen: set[str]) -> None:
        categories = self.catalog.categories
        per_category = max(4, self.single_target // len(categories))
        for category in categories:
            bases = []
            for example in category.examples:
                if self._classify(example)[:1] == (category.id,):
                    bases.append(example)
            if not bases:
                continue
            messages = self.known[category.id]
            attempts = 0
            while len(messages) < per_category and attempts < per_category * 20:
                attempts += 1
                text = self._variant(self.random.choice(bases), category)
                if text in seen or self._classify(text)[:1] != (category.id,):
                    continue
                seen.add(text)
                messages.append(text)
            for example in bases:  # every example is in the pool too, verbatim
                if example not in seen:
                    seen.add(example)
                    messages.append(example)

    def _variant(self, text: str, category) -> str:
        r = self.random
        text = self._substitute_values(text, category)
        text = self._vary_incidentals(text)
        if r.random() < 0.15:
            text = text.replace("'", "\u2018", 1).replace("'", "\u2019", 1)
        if r.random() < 0.08:
            text = text.upper() if r.random() < 0.5 else text.lower()
        if not text.lstrip().startswith("{"):
            if r.random() < 0.12:
                return self._json_body([text])
            suffix = r.choice(SUFFIXES)
            text = text.rstrip()
            if suffix.startswith(" Please") and text[-1:].isalnum():
                text += "."
            elif suffix in ("!", ".") and text[-1:] in ("!", ".", "?"):
                suffix = ""
            text = r.choice(PREFIXES) + text + suffix
        return text

    def _substitute_values(self, text: str, category) -> str:
        from analyzer.classify import classify_cell

        for finding in classify_cell(text, self.catalog):
            for name, value in finding.values:
                if value and value in text:
                    text = text.replace(value, self._value(name, value), 1)
        return text

    def _value(self, name: str, old: str) -> str:
        r = self.random
        if name == "account_code":
            return r.choice(ACCOUNT_CODES) if r.random() < 0.6 else str(r.randint(200, 8999))
        if name == "tax_type":
            return r.choice(TAX_TYPES)
        if name == "currency":
            code = r.choice(CURRENCIES)
            return code.lower() if old.islower() else code
        if name == "contact":
            return f"{r.choice(NAME_A)} {r.choice(SUPPLIER_B)}"
        if name == "tracking":
            return r.choice(TRACKING)
        if name == "tracking_option":
            return r.choice(TRACKING_OPTIONS)
        if name == "item_code":
            return f"{r.choice(ITEM_WORDS)}-{r.randint(1, 999)}" + (f"-{r.randint(1, 50)}KG" if r.random() < 0.3 else "")
        if name == "invoice_number":
            return f"{r.choice(['INV', 'SI', 'BILL', 'CS', 'PO'])}-{r.randint(1, 99999):04d}"
        if name in ("stated_amount", "expected_amount"):
            amount = f"{r.randint(1, 99999) / 100:.2f}"
            return f"{float(amount):,.2f}" if "," in old else amount
        if name == "lock_date":
            return self._date_like(old)
        return old

    def _date_like(self, old: str) -> str:
        day = dt.date(2024, 1, 1) + dt.timedelta(days=self.random.randint(0, 1000))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", old):
            return day.isoformat()
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", old):
            return day.strftime("%d/%m/%Y")
        return day.strftime("%d-%b-%Y")

    def _vary_incidentals(self, text: str) -> str:
        r = self.random
        text = re.sub(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}",
                      lambda m: f"{r.randint(1, 12):02d}/{r.randint(1, 28):02d}/2026 "
                                f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}", text)
        text = re.sub(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
                      lambda m: self._uuid(), text)
        text = re.sub(r"Retry after \d+ seconds", lambda m: f"Retry after {r.choice([30, 60, 90, 120])} seconds", text)
        return text

    def _uuid(self) -> str:
        h = "%032x" % self.random.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _json_body(self, messages: list[str]) -> str:
        errors = ",".join(json.dumps({"Message": m}, ensure_ascii=False, separators=(",", ":")) for m in messages)
        return JSON_BODY.format(doc=self.random.choice(["ACCPAY", "ACCPAYCREDIT", "SPEND"]), errors=errors)

    # -- multi-error cells ------------------------------------------------------------------

    def _multi(self, seen: set[str]) -> list[str]:
        r = self.random
        plain = [m for ms in self.known.values() for m in ms if not m.lstrip().startswith("{")]
        out = []
        attempts = 0
        while len(out) < self.multi_target and attempts < self.multi_target * 20 and plain:
            attempts += 1
            parts = r.sample(plain, r.choice([2, 2, 2, 3]))
            if r.random() < 0.2:
                text = self._json_body(parts)
            elif r.random() < 0.1:  # one message repeated per bad line
                text = "\n".join([parts[0]] * r.randint(2, 4))
            else:
                text = r.choice(SEPARATORS).join(parts)
            if text in seen or self.unclassified in self._classify(text):
                continue
            seen.add(text)
            out.append(text)
        return out

    # -- unknown messages -------------------------------------------------------------------

    def _unknown(self, seen: set[str]) -> list[str]:
        r = self.random
        out = []
        attempts = 0
        while len(out) < self.unknown_target and attempts < self.unknown_target * 20:
            attempts += 1
            text = r.choice(UNKNOWN_TEMPLATES).format(
                n=r.randint(10_000_000, 99_999_999), n3=r.randint(100, 999), n4=r.randint(1000, 9999),
                small=r.randint(1, 40), uuid=self._uuid(), cur=r.choice(CURRENCIES),
                date=(dt.date(2026, 1, 1) + dt.timedelta(days=r.randint(0, 300))).strftime("%d/%m/%Y"),
                word=r.choice(NAME_A), amount=f"{r.randint(1, 99999) / 100:.2f}",
                code=f"{r.choice(ITEM_WORDS)}{r.randint(10, 99)}", ext=r.choice(["heic", "tiff", "zip", "docx"]),
            )
            if r.random() < 0.3:
                text = r.choice(PREFIXES[3:]) + text
            if text in seen or self._classify(text) != (self.unclassified,):
                continue
            seen.add(text)
            out.append(text)
        return out


def generate_export(path: Path, rows: int, clients: int, distinct: int, seed: int) -> dict:
    """Write the synthetic export; returns facts about it. Vectorised: numpy picks indices into
    small pools of values and pyarrow assembles and writes the columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t0 = time.perf_counter()
    rng = _rng(seed)
    pool = MessagePool(distinct, seed)
    categories = [c.id for c in pool.catalog.categories]
    # How often each category's messages are picked: a realistic, skewed mix.
    heavy = {"account_archived": 6, "tax_type_invalid_for_account": 6, "lock_date": 5, "not_authorised": 3,
             "account_invalid_for_document": 3, "totals_mismatch": 3, "contact_archived": 3,
             "image_publish_failed": 2, "currency_not_enabled": 2, "tracking_invalid": 2,
             "item_code_invalid": 2, "invoice_number_not_unique": 2, "xero_rate_limited": 2}
    single_text, single_weight = [], []
    for cid in categories:
        messages = pool.known[cid]
        for m in messages:
            single_text.append(m)
            single_weight.append(heavy.get(cid, 1) / len(messages))
    known_text = single_text + pool.multi
    known_weight = np.array(single_weight + [0.12 * sum(single_weight) / max(1, len(pool.multi))] * len(pool.multi))
    known_weight /= known_weight.sum()
    texts = known_text + pool.unknown
    n_known = len(known_text)
    auth = [i for i, t in enumerate(single_text) if pool._classify(t)[:1] == ("not_authorised",)]

    # Clients: log-normal sizes, names unique.
    names: list[str] = []
    r = pool.random
    taken: set[str] = set()
    while len(names) < clients:
        name = f"{r.choice(NAME_A)} {r.choice(NAME_B)} {r.choice(NAME_C)}"
        if name in taken:
            name = f"{name} {len(names)}"
        taken.add(name)
        names.append(name)
    sizes = rng.lognormal(0.0, 1.0, clients)
    client = np.sort(rng.choice(clients, size=rows, p=sizes / sizes.sum()))  # a merged export: client by client
    # Each client meets a profile of 8-40 known messages (its own archived codes, tax types, ...).
    profile_len = 40
    profiles = rng.choice(n_known, size=(clients, profile_len), p=known_weight)
    profile_size = rng.integers(8, profile_len + 1, clients)
    pick = (rng.random(rows) * profile_size[client]).astype(np.int64)
    error = profiles[client, pick]
    unknown = rng.random(rows) < 0.05
    error[unknown] = n_known + rng.integers(0, max(1, len(pool.unknown)), int(unknown.sum()))
    disconnected = rng.random(clients) < 0.03  # a lost connection fails (almost) every item
    lost = disconnected[client] & (rng.random(rows) < 0.85)
    if auth:
        error[lost] = np.asarray(auth)[rng.integers(0, len(auth), int(lost.sum()))]

    def take(values, index) -> pa.Array:
        return pa.array(values, type=pa.string()).take(pa.array(index))

    def choice(values, weights=None) -> pa.Array:
        p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
        return take(values, rng.choice(len(values), size=rows, p=p))

    def money(pennies: np.ndarray) -> pa.Array:
        whole = pc.cast(pa.array(pennies // 100), pa.string())
        cents = pc.utf8_lpad(pc.cast(pa.array(pennies % 100), pa.string()), 2, "0")
        return pc.binary_join_element_wise(whole, cents, ".")

    def blank_unless(values: pa.Array, keep: np.ndarray) -> pa.Array:
        return pc.if_else(pa.array(keep), values, pa.scalar("", pa.string()))

    first_day = dt.date(2025, 9, 1)
    days = [first_day + dt.timedelta(days=i) for i in range(500)]
    day_text = [d.strftime("%d/%m/%Y") for d in days]
    day_index = np.clip((rng.beta(5, 1.3, rows) * 425).astype(np.int64), 0, 425)
    doc_type = rng.choice(5, size=rows, p=[0.55, 0.3, 0.08, 0.05, 0.02])
    type_names = ["Invoice", "Receipt", "Credit Note", "Sales Invoice", "Sales Credit Note"]
    has_due = np.isin(doc_type, [0, 2, 3, 4])
    receipt_id = (50_000_000 + np.arange(rows, dtype=np.int64) * 37 + rng.integers(0, 37, rows))
    receipt_id = rng.permutation(receipt_id)
    suppliers = [f"{a} {b}" + (f" {c}" if c else "") for a in NAME_A for b in SUPPLIER_B for c in ("", "Ltd", "plc")]
    supplier_index = rng.integers(0, len(suppliers), rows)
    initials = ["".join(w[0] for w in s.split() if w[0].isalpha()).upper() or "X" for s in suppliers]
    categories_acc = ["310 - Cost of Goods Sold", "325 - Direct Expenses", "400 - Advertising",
                      "404 - Bank Fees", "408 - Cleaning", "412 - Consulting & Accounting", "420 - Entertainment",
                      "425 - Freight & Courier", "429 - General Expenses", "433 - Insurance",
                      "445 - Light, Power, Heating", "449 - Motor Vehicle Expenses", "453 - Office Expenses",
                      "461 - Printing & Stationery", "469 - Rent", "473 - Repairs and Maintenance",
                      "477 - Salaries", "485 - Subscriptions", "489 - Telephone & Internet", "493 - Travel - National",
                      "494 - Travel - International", "720 - Computer Equipment"]
    taxes = [("20% (VAT on Expenses)", "INPUT2", "20", 20), ("No VAT", "NONE", "0", 0),
             ("5% (VAT on Expenses)", "INPUT", "5", 5), ("Zero Rated Expenses", "ZERORATEDINPUT", "0", 0),
             ("Exempt Expenses", "EXEMPTINPUT", "0", 0)]
    tax_index = rng.choice(len(taxes), size=rows, p=[0.6, 0.15, 0.08, 0.1, 0.07])
    total = np.round(rng.lognormal(4.3, 1.2, rows) * 100).astype(np.int64) + 1
    rate = np.array([t[3] for t in taxes])[tax_index]
    tax = np.round(total * rate / (100 + rate)).astype(np.int64)
    weird = rng.random(rows) < 0.01  # tax entered as more than the net amount
    tax[weird] = np.round(total[weird] * 0.7).astype(np.int64)
    currency_index = rng.choice(3, size=rows, p=[0.9, 0.06, 0.04])
    fx = np.array([1.0, 0.86, 0.79])[currency_index]
    paid = rng.random(rows) < 0.45
    people = [f"{f} {l}" for f in FIRST for l in LAST]
    notes = ["Paid by card, receipt emailed", 'Client said "urgent"', "Split across two jobs; see email",
             "Reimburse to director", "Line 2 is a deposit\nbalance due next month", "Dup? check with client"]
    descriptions = ["Monthly subscription", "Materials for job", "Fuel", "Stationery and postage",
                    "Staff lunch", "Equipment hire", "Software licence", "Cleaning supplies", "Parking",
                    "Train fare", "Courier charges", "Repairs"]
    status_names = ["Ready", "Ready", "Awaiting approval", "In review", "Processing", "Ready for export"]

    table = pa.table({
        "Receipt ID": pc.cast(pa.array(receipt_id), pa.string()),
        "Type": take(type_names, doc_type),
        "Date": take(day_text, day_index),
        "Due Date": blank_unless(take(day_text, day_index + 30), has_due),
        "Invoice Number": blank_unless(pc.binary_join_element_wise(
            take(initials, supplier_index), pc.cast(pa.array(rng.integers(1000, 99999, rows)), pa.string()), "-"), has_due),
        "Supplier": take(suppliers, supplier_index),
        "Category": choice(categories_acc),
        "Customer": blank_unless(choice(people), rng.random(rows) < 0.05),
        "Project": blank_unless(choice([f"Job {i}" for i in range(1, 400)]), rng.random(rows) < 0.1),
        "Payment Method": take(["Unpaid", "Credit Card", "Bank Transfer", "Cash", "Direct Debit"],
                               np.where(paid, rng.integers(1, 5, rows), 0)),
        "Bank Account": blank_unless(choice(["Business Current Account", "Business Credit Card", "Petty Cash",
                                             "Business Cheque"]), paid),
        "Tax": money(tax),
        "Tax Name": take([t[0] for t in taxes], tax_index),
        "Tax Code": take([t[1] for t in taxes], tax_index),
        "Tax Percentage": take([t[2] for t in taxes], tax_index),
        "Total": money(total),
        "Currency": take(["GBP", "EUR", "USD"], currency_index),
        "Tax (GBP)": money(np.round(tax * fx).astype(np.int64)),
        "Total (GBP)": money(np.round(total * fx).astype(np.int64)),
        "Status": choice(status_names, [0.5, 0.2, 0.06, 0.04, 0.05, 0.15]),
        "Owner": choice(people),
        "Note": blank_unless(choice(notes), rng.random(rows) < 0.04),
        "Description": blank_unless(choice(descriptions), rng.random(rows) < 0.3),
        "Image": pc.binary_join_element_wise(pa.scalar("https://app.dext.com/receipts/view/"),
                                             pc.cast(pa.array(receipt_id), pa.string()), ""),
        "Client": take(names, client),
        "Error": take(texts, error),
    })
    write_csv_minimal(table, path)
    used = np.unique(error)
    return {
        "rows": rows, "clients": int(len(np.unique(client))), "seconds": time.perf_counter() - t0,
        "bytes": path.stat().st_size, "distinct_cells": int(len(used)),
        "distinct_unknown": int((used >= n_known).sum()),
        "categories": len([c for c in categories if pool.known[c]]),
        "unknown_share": float(unknown.mean()), "multi_cells": len(pool.multi),
    }


def write_csv_minimal(table, path: Path, chunk: int = 200_000) -> None:
    """CSV as spreadsheets and Dext write it: a field is quoted only when it holds a comma, a
    quote or a line break (pyarrow's writer quotes every string). Vectorised per column."""
    import pyarrow.compute as pc

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(HEADER) + "\n")
        for start in range(0, table.num_rows, chunk):
            part = table.slice(start, chunk)
            columns = []
            for column in part.columns:
                column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
                needs = pc.match_substring_regex(column, r'[,"\r\n]')
                quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
                columns.append(pc.if_else(needs, quoted, column))
            lines = pc.binary_join_element_wise(*columns, ",")
            handle.write("\n".join(lines.to_pylist()))
            handle.write("\n")
    temporary.replace(path)


def generate_xlsx(csv_path: Path, xlsx_path: Path, rows: int) -> dict:
    """The first `rows` rows of the export as a workbook, numbers as numbers (as Dext writes)."""
    import pandas as pd
    import xlsxwriter

    t0 = time.perf_counter()
    frame = pd.read_csv(csv_path, nrows=rows, dtype=str, keep_default_na=False)
    numeric = {i for i, c in enumerate(frame.columns) if c in NUMERIC_COLUMNS}
    temporary = xlsx_path.with_suffix(".part.xlsx")
    book = xlsxwriter.Workbook(str(temporary), {"constant_memory": True, "strings_to_formulas": False,
                                                "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet("Failed items")
    sheet.write_row(0, 0, list(frame.columns))
    for r, record in enumerate(frame.itertuples(index=False, name=None), start=1):
        for c, value in enumerate(record):
            if c in numeric and value:
                sheet.write_number(r, c, float(value))
            elif value:
                sheet.write_string(r, c, value)
    book.close()
    temporary.replace(xlsx_path)
    return {"rows": len(frame), "seconds": time.perf_counter() - t0, "bytes": xlsx_path.stat().st_size}


# =============================================================================================
# Stages, each run in a fresh child process


def _catalog():
    from analyzer.catalog import load_default_catalog

    return load_default_catalog()


def child_generate(args: dict) -> dict:
    return generate_export(Path(args["csv"]), args["rows"], args["clients"], args["distinct"], args["seed"])


def child_generate_xlsx(args: dict) -> dict:
    return generate_xlsx(Path(args["csv"]), Path(args["xlsx"]), args["rows"])


def child_imports(args: dict) -> dict:
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    import analyzer.pipeline  # noqa: F401
    try:
        import analyzer.render  # noqa: F401
    except ImportError:
        pass
    _catalog()
    peak = _status_mb("VmHWM")  # not ru_maxrss: on Linux that also counts the parent at fork/exec
    return {"seconds": 0.0, "peak_mb": peak, "start_mb": _status_mb("VmRSS")}


def child_read_csv(args: dict) -> dict:
    import pandas as pd

    with Measure() as m:
        frame = pd.read_csv(args["csv"])
    return m.result(rows=len(frame))


def child_read(args: dict) -> dict:
    from analyzer.read import read_export

    with Measure() as m:
        inputs = [read_export(Path(args["csv"]))]
    assert inputs[0].ok, inputs[0].error
    if args.get("save"):
        _dump(inputs, Path(args["work"]) / "inputs.pkl")
    return m.result(rows=sum(len(s.rows) for s in inputs[0].sheets))


def child_normalise(args: dict) -> dict:
    from analyzer.normalise import normalise_inputs

    inputs = _load(Path(args["work"]) / "inputs.pkl")
    with Measure() as m:
        batch = normalise_inputs(inputs)
    _dump(batch, Path(args["work"]) / "batch.pkl")
    return m.result(rows=len(batch))


def child_classify(args: dict) -> dict:
    from analyzer.classify import classify_rows

    batch = _load(Path(args["work"]) / "batch.pkl")
    catalog = _catalog()
    with Measure() as m:
        t0 = time.perf_counter()
        classified = classify_rows(batch.fields["error"], catalog)
        t1 = time.perf_counter()
        columns = classified.columns(catalog.value_names)
    _dump(classified, Path(args["work"]) / "classified.pkl")
    unknown = int((columns["categories"] == "unclassified").sum())
    return m.result(rows=len(batch), distinct_cells=len(classified.cells), classify_rows_s=t1 - t0,
                    columns_s=m.seconds - (t1 - t0), unclassified_rows=unknown)


def child_plan(args: dict) -> dict:
    from analyzer.plan import plan_actions

    work = Path(args["work"])
    batch, classified = _load(work / "batch.pkl"), _load(work / "classified.pkl")
    catalog = _catalog()
    with Measure() as m:
        plan = plan_actions(batch, classified, catalog)
    _dump(plan, work / "plan.pkl")
    return m.result(rows=len(batch), clients=len(plan.clients),
                    groups=sum(len(c.groups) for c in plan.clients))


def child_pipeline(args: dict) -> dict:
    """read -> normalise -> classify (+ extraction) -> plan in one process, as a run does."""
    from analyzer.classify import classify_rows
    from analyzer.normalise import normalise_inputs
    from analyzer.plan import plan_actions
    from analyzer.read import read_export

    catalog = _catalog()
    laps = {}
    with Measure() as m:
        t = time.perf_counter()
        inputs = [read_export(Path(args["csv"]))]
        laps["read"], t = time.perf_counter() - t, time.perf_counter()
        batch = normalise_inputs(inputs)
        laps["normalise"], t = time.perf_counter() - t, time.perf_counter()
        classified = classify_rows(batch.fields["error"], catalog)
        classified.columns(catalog.value_names)
        laps["classify"], t = time.perf_counter() - t, time.perf_counter()
        plan_actions(batch, classified, catalog)
        laps["plan"] = time.perf_counter() - t
    return m.result(rows=len(batch), laps=laps)


def _analysis(work: Path):
    from analyzer.pipeline import Analysis

    inputs, batch, classified = _load(work / "inputs.pkl"), _load(work / "batch.pkl"), _load(work / "classified.pkl")
    return Analysis(inputs, batch, classified, _catalog(), [])


def _timed(module, name: str, laps: dict, key: str | None = None) -> None:
    original = getattr(module, name)

    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            laps[key or name] = laps.get(key or name, 0.0) + time.perf_counter() - t

    setattr(module, name, wrapper)


def child_report(args: dict) -> dict:
    """run_report with one format and one worker, with the render and write functions timed."""
    import analyzer.pipeline as pipeline
    import analyzer.render as render
    from analyzer.pipeline import ReportSettings, run_report

    work = Path(args["work"])
    out = work / f"report-{args['format']}"
    shutil.rmtree(out, ignore_errors=True)
    analysis = _analysis(work)
    laps: dict[str, float] = {}
    for name in ("build_client_report", "render_client_html", "render_client_xlsx", "render_index_html",
                 "render_overview_xlsx", "write_text", "write_bytes"):
        if hasattr(render, name):
            _timed(render, name, laps)
    if hasattr(render, "client_html_bytes"):  # the client page, encoded as it renders
        _timed(render, "client_html_bytes", laps, "render_client_html")
    import analyzer.jobs as jobs

    for name in ("plan_actions", "items_table", "build_overview", "build_manifest", "_history_items"):
        if hasattr(pipeline, name):
            _timed(pipeline, name, laps)
    for name in ("items_table",):  # the report jobs build the Items table since it left the pipeline
        if hasattr(jobs, name):
            _timed(jobs, name, laps)
    settings = ReportSettings(out=out, formats=(args["format"],), workers=1)
    with Measure() as m:
        run = run_report(analysis, settings, RUN_DATE)
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    files = sum(1 for p in out.iterdir() if p.is_file())
    result = m.result(rows=analysis.rows_read, clients=len(run.reports), laps=laps, bytes=size, files=files)
    shutil.rmtree(out, ignore_errors=True)
    return result


def child_openpyxl_dump(args: dict) -> dict:
    """The same cells as the Excel reports' Items sheets, unformatted, openpyxl write-only."""
    import numpy as np
    import openpyxl

    from analyzer.items_table import items_table

    work = Path(args["work"])
    out = work / "dump"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    analysis = _analysis(work)
    plan = _load(work / "plan.pkl") if (work / "plan.pkl").exists() else analysis.plan()
    table = items_table(analysis, plan)
    cells = 0
    with Measure() as m:
        for number, client in enumerate(plan.clients):
            part = table.iloc[np.sort(client.rows)]
            values = part.astype(object).where(part.notna(), None)
            book = openpyxl.Workbook(write_only=True)
            sheet = book.create_sheet("Items")
            sheet.append(list(part.columns))
            for record in values.itertuples(index=False, name=None):
                sheet.append(record)
            book.save(out / f"client-{number}.xlsx")
            cells += part.size
    size = sum(p.stat().st_size for p in out.iterdir())
    shutil.rmtree(out, ignore_errors=True)
    return m.result(rows=len(table), cells=cells, bytes=size, columns=len(table.columns))


def child_naive(args: dict) -> dict:
    """The naive way: every pattern of every category searched on every row, values extracted."""
    import pandas as pd

    catalog = _catalog()
    errors = pd.read_csv(args["csv"], nrows=args["sample"], usecols=["Error"], dtype=str,
                         keep_default_na=False)["Error"]

    def classify(text: str):
        found = []
        for category in catalog.categories:
            for pattern in category.patterns:
                match = pattern.search(text)
                if match:
                    found.append((category.id, match.groupdict()))
        return found

    with Measure() as m:
        errors.apply(classify)
    return m.result(rows=len(errors))


def child_read_excel_openpyxl(args: dict) -> dict:
    import pandas as pd

    with Measure() as m:
        frame = pd.read_excel(args["xlsx"], engine="openpyxl")
    return m.result(rows=len(frame))


def child_read_excel_analyzer(args: dict) -> dict:
    from analyzer.read import read_export

    with Measure() as m:
        inputs = read_export(Path(args["xlsx"]))
    assert inputs.ok, inputs.error
    return m.result(rows=sum(len(s.rows) for s in inputs.sheets))


CHILDREN = {name[len("child_"):]: fn for name, fn in globals().items() if name.startswith("child_")}
# What the baselines do is measured as anyone would run it; our stages run in a process set up as
# the command sets up its own (analyzer.pages: ordinary memory pages).
BASELINES = {"read_csv", "openpyxl_dump", "naive", "read_excel_openpyxl", "generate", "generate_xlsx"}


def child_main(stage: str, payload: str) -> int:
    args = json.loads(payload)
    if stage not in BASELINES:
        from analyzer.pages import use_small_pages

        use_small_pages()
    if args.get("profile"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        result = profiler.runcall(CHILDREN[stage], args)
        profiler.dump_stats(args["profile"])
        stats = pstats.Stats(args["profile"], stream=sys.stderr).sort_stats("cumulative")
        stats.print_stats(args.get("profile_lines", 40))
    else:
        result = CHILDREN[stage](args)
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


# =============================================================================================
# Parent: run children, the CLI, and report


class Bench:
    def __init__(self, opts: argparse.Namespace):
        self.opts = opts
        self.work = Path(opts.workdir)
        self.work.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, dict] = {}
        self.log = print

    def interleaved(self, runs: dict[str, tuple[str, dict]], repeats: int) -> dict[str, dict]:
        """Each child `repeats` times, in turn; per key, the run of median seconds (its other
        figures with it) and every run's seconds."""
        results: dict[str, list[dict]] = {key: [] for key in runs}
        for _ in range(repeats):
            for key, (stage, args) in runs.items():
                results[key].append(self.child(stage, **args))
        chosen = {}
        for key, found in results.items():
            failed = [r for r in found if "error" in r]
            if failed:
                chosen[key] = failed[0]
                continue
            found.sort(key=lambda r: r["seconds"])
            chosen[key] = {**found[len(found) // 2], "runs_s": [round(r["seconds"], 3) for r in found]}
        return chosen

    def child(self, stage: str, timeout: float = 7200, **args) -> dict:
        args = {"work": str(self.work), **args}
        command = [sys.executable, str(Path(__file__).resolve()), "--child", stage, json.dumps(args)]
        t0 = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT))
        wall = time.perf_counter() - t0
        for line in proc.stdout.splitlines():
            if line.startswith(RESULT_MARK):
                result = json.loads(line[len(RESULT_MARK):])
                result["child_wall_s"] = wall
                if proc.stderr.strip() and args.get("profile"):
                    result["profile_text"] = proc.stderr
                return result
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        return {"error": f"child {stage} exited {proc.returncode}: {tail}"}

    def cli_report(self, csv_path: Path, out: Path, workers: int | None) -> dict:
        """The whole `publish-failures report` run; wall, CPU of the tree and peak memory."""
        shutil.rmtree(out, ignore_errors=True)
        command = [sys.executable, "-m", "analyzer", "report", str(csv_path), "--out", str(out),
                   "--period", "October 2026"]
        if workers is not None:
            command += ["--workers", str(workers)]
        stderr_path = self.work / "cli-stderr.txt"
        sampler = TreeSampler()
        load_before = os.getloadavg()[0]
        with open(stderr_path, "w") as stderr:
            t0 = time.perf_counter()
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, cwd=str(ROOT))
            sampler.start(proc.pid)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
        # Workers started by a fork server are not the CLI's children, so wait4's rusage misses
        # them; the sampler's last reading of each process's CPU time covers the whole tree.
        cpu = max(usage.ru_utime + usage.ru_stime, sampler.tree_cpu_s)
        result = {
            "seconds": wall, "cpu_s": cpu, "cpu_reaped_s": usage.ru_utime + usage.ru_stime,
            "cpu_per_wall": cpu / wall if wall else 0.0,
            "max_process_rss_mb": usage.ru_maxrss / 1024, "tree_pss_peak_mb": sampler.peak_pss_mb,
            "tree_rss_peak_mb": sampler.peak_rss_mb, "max_processes": sampler.max_processes,
            "exit": proc.returncode, "loadavg_1m": [load_before, os.getloadavg()[0]],
            "largest_hwm_mb": sampler.max_hwm_mb,
        }
        if proc.returncode not in (0,):
            result["error"] = f"exit {proc.returncode}: " + " ".join(stderr_path.read_text().strip().splitlines()[-3:])
        files = [p for p in out.iterdir()] if out.exists() else []
        result["files"] = len(files)
        shutil.rmtree(out, ignore_errors=True)
        return result


_TICKS = os.sysconf("SC_CLK_TCK")


class TreeSampler:
    """Polls the process tree's memory: the sum of PSS (shared pages split between the processes
    sharing them, so forked workers are not double counted) and of RSS."""

    def __init__(self, interval: float = 0.1):
        self.interval = interval
        self.peak_pss_mb = 0.0
        self.peak_rss_mb = 0.0
        self.max_processes = 0
        self.max_hwm_mb = 0.0
        self._cpu: dict[int, float] = {}  # pid -> CPU seconds last seen
        self._stop = threading.Event()

    @property
    def tree_cpu_s(self) -> float:
        return sum(self._cpu.values())

    def start(self, pid: int) -> None:
        self.pid = pid
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()

    def _tree(self) -> list[int]:
        pids, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                    todo.extend(int(c) for c in text.split())
            except OSError:
                continue
        return pids

    def _run(self) -> None:
        while not self._stop.is_set():
            pss = rss = 0
            pids = self._tree()
            for pid in pids:
                try:
                    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
                            pss += int(line.split()[1])
                        elif line.startswith("Rss:"):
                            rss += int(line.split()[1])
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.max_hwm_mb = max(self.max_hwm_mb, int(line.split()[1]) / 1024)
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    self._cpu[pid] = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
                except OSError:
                    continue
            self.peak_pss_mb = max(self.peak_pss_mb, pss / 1024)
            self.peak_rss_mb = max(self.peak_rss_mb, rss / 1024)
            self.max_processes = max(self.max_processes, len(pids))
            self._stop.wait(self.interval)


def code_state() -> dict:
    """Which code was measured: the commit and the files changed since (the tree moves fast)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=str(ROOT), timeout=30).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "subject": git("log", "-1", "--format=%s").strip(),
            "changed": [line[3:] for line in git("status", "--porcelain", "--", "analyzer").splitlines()],
            "at": dt.datetime.now().isoformat(timespec="seconds")}


def renderers_present() -> bool:
    return (ROOT / "analyzer" / "render_html.py").exists() and (ROOT / "analyzer" / "render_xlsx").is_dir()


def _fmt_rate(rows, seconds) -> str:
    return f"{rows / seconds:,.0f}" if seconds and rows else "-"


def run(opts: argparse.Namespace) -> dict:
    bench = Bench(opts)
    n, small_n = opts.rows, max(1, opts.rows // 10)
    work = bench.work
    out: dict = {"options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
                 "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "stages": {}, "targets": []}
    stages = out["stages"]
    wanted = set(opts.only.split(",")) if opts.only else None
    out["code"] = code_state()
    print(f"code: {out['code']['commit']} {out['code']['subject'][:70]!r}; changed under analyzer/: "
          f"{', '.join(out['code']['changed']) or 'none'}; {out['code']['at']}", flush=True)

    def want(group: str) -> bool:
        return wanted is None or group in wanted

    def note(text: str) -> None:
        print(text, flush=True)

    # -- inputs -------------------------------------------------------------------------------
    def export(rows: int) -> Path:
        path = work / f"export-{rows}r-{opts.clients}c-{opts.distinct}d-{opts.seed}.csv"
        meta = path.with_suffix(".json")
        if path.exists() and meta.exists() and not opts.regenerate:
            facts = json.loads(meta.read_text())
            facts["reused"] = True
        else:
            note(f"generating {rows:,} rows ...")
            facts = bench.child("generate", csv=str(path), rows=rows, clients=opts.clients,
                                distinct=opts.distinct, seed=opts.seed)
            if "error" in facts:
                raise SystemExit(facts["error"])
            meta.write_text(json.dumps(facts))
        note(f"export: {path.name}: {facts['rows']:,} rows, {facts['clients']:,} clients, "
             f"{facts['distinct_cells']:,} distinct error cells ({facts['distinct_unknown']:,} unknown, "
             f"{facts['multi_cells']:,} multi-error in pool), {facts['unknown_share']:.1%} unknown rows, "
             f"{facts['bytes'] / 1e6:,.0f} MB" + (" (reused)" if facts.get("reused") else
                                                f", generated in {facts['seconds']:.1f} s"))
        return path

    only_speed = wanted is not None and wanted <= {"speed"}
    csv_path = export(n) if not only_speed else None
    out["export"] = json.loads(csv_path.with_suffix(".json").read_text()) if csv_path else {}
    small_path = export(small_n) if want("linear") and not only_speed else None

    def stage(key: str, label: str, result: dict, rows: int | None = None) -> dict:
        result = dict(result)
        result["label"] = label
        if rows is not None:
            result["rows"] = rows
        stages[key] = result
        if "error" in result:
            note(f"  {label}: ERROR {result['error']}")
        else:
            note(f"  {label}: {result.get('seconds', 0):.2f} s, peak {result.get('peak_mb', result.get('tree_pss_peak_mb', 0)):,.0f} MB")
        return result

    # -- stages -------------------------------------------------------------------------------
    note("\nrunning stages (each in a fresh child process) ...")
    stage("imports", "python + imports", bench.child("imports"))
    if want("stages"):
        stage("read", "read (read_export)", bench.child("read", csv=str(csv_path), save=True))
        stage("normalise", "normalise (normalise_inputs)", bench.child("normalise"))
        # The three stages the ratios compare, interleaved: one run each took from 2.7 to 4.1 s for
        # read->plan on this shared machine, a spell of other work landing on one side only. The
        # classify runs also leave plan its input.
        medians = bench.interleaved({"read_csv": ("read_csv", {"csv": str(csv_path)}), "classify": ("classify", {}),
                                     "pipeline": ("pipeline", {"csv": str(csv_path)})}, STAGE_REPEATS)
        stage("read_csv", "baseline: pandas.read_csv (defaults)", medians["read_csv"])
        stage("classify", "classify (+ extraction: columns())", medians["classify"])
        stage("plan", "plan (plan_actions)", bench.child("plan"))
        stage("pipeline", "read->plan in one process", medians["pipeline"])
    if want("baselines"):
        if "read_csv" not in stages:
            stage("read_csv", "baseline: pandas.read_csv (defaults)", bench.child("read_csv", csv=str(csv_path)))
        sample = min(opts.naive_rows, n)
        naive = bench.child("naive", csv=str(csv_path), sample=sample)
        if "error" not in naive:
            naive["sample_seconds"] = naive["seconds"]
            naive["sample_rows"] = sample
            naive["seconds"] = naive["seconds"] * n / sample
            naive["cpu_s"] = naive["cpu_s"] * n / sample
        stage("naive", f"baseline: naive Series.apply (x{n / sample:.0f} of {sample:,}-row sample)", naive, rows=n)
    if want("xlsx"):
        xlsx_path = work / f"export-{opts.xlsx_rows}r-{opts.clients}c-{opts.distinct}d-{opts.seed}.xlsx"
        if not xlsx_path.exists() or opts.regenerate:
            note(f"writing {opts.xlsx_rows:,}-row xlsx ...")
            facts = bench.child("generate_xlsx", csv=str(csv_path), xlsx=str(xlsx_path), rows=opts.xlsx_rows)
            note(f"  xlsx: {facts['bytes'] / 1e6:,.0f} MB in {facts['seconds']:.1f} s")
        stage("xlsx_openpyxl", f"xlsx read: pandas.read_excel openpyxl ({opts.xlsx_rows:,} rows)",
              bench.child("read_excel_openpyxl", xlsx=str(xlsx_path)))
        stage("xlsx_analyzer", f"xlsx read: analyzer read_export ({opts.xlsx_rows:,} rows)",
              bench.child("read_excel_analyzer", xlsx=str(xlsx_path)))
    have_render = renderers_present()
    if want("render") or want("report"):
        if not have_render:
            note("renderers missing (analyzer/render_html.py, analyzer/render_xlsx/): render stages skipped")
        elif not (work / "classified.pkl").exists():
            note("render stages need the 'stages' group first (pickled inputs); skipped")
    if want("render") and have_render and (work / "classified.pkl").exists():
        stage("report_html", "report run, html only (run_report, 1 worker)", bench.child("report", format="html"))
        stage("report_xlsx", "report run, xlsx only (run_report, 1 worker)", bench.child("report", format="xlsx"))
        stage("dump", "baseline: openpyxl write-only dump of Items", bench.child("openpyxl_dump"))
    if want("report") and have_render:
        note("whole report runs (CLI subprocess) ...")
        stage("cli", "publish-failures report (default workers)", bench.cli_report(csv_path, work / "cli-out", None), rows=n)
        stage("cli_1", "publish-failures report --workers 1", bench.cli_report(csv_path, work / "cli-out", 1), rows=n)
    if want("linear") and small_path is not None:
        small_work = work / "small"
        small_work.mkdir(exist_ok=True)
        small_bench = Bench(argparse.Namespace(**{**vars(opts), "workdir": str(small_work)}))
        stage("pipeline_small", f"read->plan in one process at N/10 ({small_n:,} rows)",
              small_bench.child("pipeline", csv=str(small_path)))
        if "pipeline" not in stages:
            stage("pipeline", "read->plan in one process", bench.child("pipeline", csv=str(csv_path)))
        if have_render:
            stage("cli_small", f"publish-failures report at N/10 ({small_n:,} rows)",
                  small_bench.cli_report(small_path, small_work / "cli-out", None), rows=small_n)
            if "cli" not in stages:
                stage("cli", "publish-failures report (default workers)", bench.cli_report(csv_path, work / "cli-out", None), rows=n)

    if want("speed"):
        speed_group(bench, opts, stage)

    out["code_after"] = code_state()
    if (out["code_after"]["commit"], out["code_after"]["changed"]) != (out["code"]["commit"], out["code"]["changed"]):
        note(f"NOTE: the code changed during the run (now {out['code_after']['commit']}); stages ran on the code of their start")
    derive(stages, n)
    out["targets"] = targets(stages, n, small_n)
    print_report(out, n)
    if opts.profile_failing:
        profile_failures(bench, out, csv_path)
    return out


# =============================================================================================
# Speed where users feel it (issue #13): classify output, cold start, the cost of each client,
# the default number of workers. Each pair of runs is interleaved (A B A B ...) and the median
# of each side taken (for the cost per client, the least: see there), so a burst of load from
# other work on the machine hits both sides.


def _run_timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and the children it reaped) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(cwd))
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"{' '.join(command[:4])} ... exited {code}: {proc.stderr.read().decode()[-400:]}")
    proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime


def _pairs(commands: dict[str, list[str]], repeats: int, cwd: Path, before=None) -> dict[str, dict]:
    """Each command `repeats` times, interleaved; the median wall and CPU of each."""
    import statistics

    walls: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(repeats):
        for key, command in commands.items():
            if before:
                before(key)
            wall, cpu = _run_timed(command, cwd)
            walls[key].append(wall)
            cpus[key].append(cpu)
    return {k: {"seconds": statistics.median(walls[k]), "cpu_s": statistics.median(cpus[k]), "walls": walls[k],
                "cpus": cpus[k]} for k in commands}


def _runs(stage: dict) -> str:
    return "/".join(f"{c:.1f}" for c in stage.get("cpus", []))


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("publish-failures")
    return [str(script)] if script.exists() else [sys.executable, "-m", "analyzer"]


def speed_group(bench: Bench, opts: argparse.Namespace, stage) -> None:
    work = bench.work
    quick = opts.quick
    python = sys.executable

    # Cold start: a bookkeeper pasting one error, or asking for help.
    runs = _pairs({"pass": [python, "-c", "pass"],
                   "explain": [*_cli(), "explain", "Account code 200 is archived"],
                   # a message no pattern claims also loads the phrasebook for the similarity stage
                   "unknown": [*_cli(), "explain", "The widget flange could not be reconciled"],
                   "help": [*_cli(), "--help"]}, 5 if quick else 9, ROOT)
    stage("start_pass", "python -c pass", runs["pass"])
    stage("start_explain", "publish-failures explain MESSAGE", runs["explain"])
    stage("start_help", "publish-failures --help", runs["help"])
    stage("start_unknown", "publish-failures explain UNKNOWN-MESSAGE (no target)", runs["unknown"])

    def generated(rows: int, clients: int) -> Path:
        path = work / f"speed-{rows}r-{clients}c-{opts.seed}.csv"
        if not path.exists() or opts.regenerate:
            bench.log(f"generating {rows:,} rows for {clients:,} clients ...")
            facts = bench.child("generate", csv=str(path), rows=rows, clients=clients, distinct=opts.distinct, seed=opts.seed)
            if "error" in facts:
                raise SystemExit(facts["error"])
        return path

    # classify's output against pandas reading and writing the same file.
    rows = 30_000 if quick else 300_000
    source = generated(rows, max(1, rows // 300))
    written = work / "speed-classified.csv"
    runs = _pairs({
        "pandas": [python, "-c", "import pandas as pd, sys; pd.read_csv(sys.argv[1]).to_csv(sys.argv[2], index=False)",
                   str(source), str(written)],
        "classify": [*_cli(), "classify", str(source), "-o", str(written)],
    }, 3, ROOT)
    stage("classify_pandas", f"baseline: pandas read_csv + to_csv ({rows:,} rows, process)", runs["pandas"], rows=rows)
    stage("classify_cli", f"publish-failures classify -o FILE ({rows:,} rows)", runs["classify"], rows=rows)

    # The cost of each client: the same rows as few and as many clients, one worker.
    rows = 6_000 if quick else 60_000
    few, many = (6, 60) if quick else (6, 600)
    paths = {few: generated(rows, few), many: generated(rows, many)}
    out = work / "speed-reports"

    def clear(_key) -> None:
        shutil.rmtree(out, ignore_errors=True)

    def report(path: Path, workers: int | None) -> list[str]:
        command = [*_cli(), "report", str(path), "--out", str(out), "--period", "October 2026", "--no-history"]
        return command + (["--workers", str(workers)] if workers is not None else [])

    # Five interleaved pairs. The cost per client is the difference of two runs of about 25 s CPU
    # each, divided by 594: one command's runs moved by 3-7 s CPU on this shared machine (other
    # work slows a run, never speeds it), and the difference of medians gave 17.5 and 1.6 ms in
    # two benchmarks of one commit. It is taken from each side's least CPU (the least disturbed
    # run, as timeit advises), the medians' figure printed beside it.
    runs = _pairs({"few": report(paths[few], 1), "many": report(paths[many], 1)}, 5, ROOT, clear)
    stage("clients_few", f"report --workers 1: {rows:,} rows as {few} clients", {**runs["few"], "clients": few}, rows=rows)
    stage("clients_many", f"report --workers 1: {rows:,} rows as {many} clients", {**runs["many"], "clients": many},
          rows=rows)

    # The default number of workers against one.
    from analyzer.jobs import default_workers

    chosen = default_workers(many, rows)
    load = os.getloadavg()[0]
    runs = _pairs({"default": report(paths[many], None), "one": report(paths[many], 1),
                   "two": report(paths[many], 2)}, 1 if not quick else 3, ROOT, clear)
    stage("workers_default", f"report, default workers ({chosen} at load {load:.1f}): {rows:,} rows, {many} clients",
          {**runs["default"], "workers": chosen}, rows=rows)
    stage("workers_one", f"report --workers 1: {rows:,} rows, {many} clients", runs["one"], rows=rows)
    stage("workers_two", f"report --workers 2: {rows:,} rows, {many} clients (CPU misses the workers)", runs["two"],
          rows=rows)
    clear(None)


def speed_targets(s: dict, add, missing) -> None:
    if _ok(s, "start_pass", "start_explain", "start_help"):
        for key, label in (("start_explain", "explain MESSAGE"), ("start_help", "--help")):
            ratio = s[key]["seconds"] / s["start_pass"]["seconds"]
            add(f"{label} / python -c pass (wall)", ratio, "<= 6", ratio <= 6,
                f"{s[key]['seconds'] * 1000:.0f} ms vs {s['start_pass']['seconds'] * 1000:.0f} ms; in CPU time "
                f"{s[key]['cpu_s'] / s['start_pass']['cpu_s']:.2f}")
        if _ok(s, "start_unknown"):
            add("(info) explain UNKNOWN-MESSAGE / python -c pass (wall)",
                s["start_unknown"]["seconds"] / s["start_pass"]["seconds"], "no target", True,
                "a message no pattern claims loads the phrasebook too")
    else:
        missing("explain / --help start-up", "<= 6", "needs the speed group")
    if _ok(s, "classify_cli", "classify_pandas"):
        ratio = s["classify_cli"]["seconds"] / s["classify_pandas"]["seconds"]
        add("classify -o FILE / pandas read_csv + to_csv (wall)", ratio, "<= 1.0", ratio <= 1.0,
            f"in CPU time {s['classify_cli']['cpu_s'] / s['classify_pandas']['cpu_s']:.2f}")
    else:
        missing("classify / pandas read_csv + to_csv", "<= 1.0", "needs the speed group")
    if _ok(s, "clients_few", "clients_many"):
        few, many = s["clients_few"], s["clients_many"]
        least_few, least_many = min(few.get("cpus") or [few["cpu_s"]]), min(many.get("cpus") or [many["cpu_s"]])
        ratio = least_many / least_few
        add(f"report --workers 1, {many['clients']} / {few['clients']} clients (least CPU of each)", ratio, "<= 1.6",
            ratio <= 1.6, f"of medians {many['cpu_s'] / few['cpu_s']:.2f}; wall {many['seconds'] / few['seconds']:.2f}")
        extra = many["clients"] - few["clients"]
        per_client = (least_many - least_few) / extra * 1000
        add("fixed cost per client, ms (least CPU of each, --workers 1)", per_client, "< 10", per_client < 10,
            f"(CPU {least_many:.1f} s - {least_few:.1f} s) / {extra} clients; of medians "
            f"{(many['cpu_s'] - few['cpu_s']) / extra * 1000:.1f} ms; CPU runs {_runs(few)} and {_runs(many)} s")
    else:
        missing("cost per client", "<= 1.6, < 10 ms", "needs the speed group")
    if _ok(s, "workers_default", "workers_one"):
        ratio = s["workers_default"]["seconds"] / s["workers_one"]["seconds"]
        add(f"report, default workers ({s['workers_default']['workers']}) / --workers 1 (wall)", ratio, "<= 1.05",
            ratio <= 1.05, f"load average {os.getloadavg()[0]:.1f} at the end"
            + (f"; --workers 2 / --workers 1 = {s['workers_two']['seconds'] / s['workers_one']['seconds']:.2f}"
               if _ok(s, "workers_two") else ""))
    else:
        missing("default workers / one", "<= 1.05", "needs the speed group")


def derive(stages: dict, n: int) -> None:
    """Split the report runs into render and write rows."""
    for fmt, render_key, index_key in (("html", "render_client_html", "render_index_html"),
                                       ("xlsx", "render_client_xlsx", "render_overview_xlsx")):
        run = stages.get(f"report_{fmt}")
        if not run or "error" in run:
            continue
        laps = run["laps"]
        peak, start = run["peak_mb"], run["start_mb"]
        label = "HTML" if fmt == "html" else "Excel"
        stages[f"render_{fmt}"] = {"label": f"render {label} (all clients + {'index' if fmt == 'html' else 'overview'})",
                                   "seconds": laps.get(render_key, 0) + laps.get(index_key, 0), "rows": n,
                                   "peak_mb": peak, "start_mb": start, "shared_peak": True}
        write = laps.get("write_text", 0) + laps.get("write_bytes", 0)
        stages[f"write_{fmt}"] = {"label": f"write {label} files ({run.get('files', 0):,} files, {run.get('bytes', 0) / 1e6:,.0f} MB)",
                                  "seconds": write, "rows": n, "peak_mb": peak, "start_mb": start, "shared_peak": True}
        stages[f"model_{fmt}"] = {"label": f"report model (build_client_report) in {fmt} run",
                                  "seconds": laps.get("build_client_report", 0), "rows": n, "peak_mb": peak,
                                  "start_mb": start, "shared_peak": True}
        other = run["seconds"] - sum(laps.get(k, 0) for k in ("build_client_report", render_key, index_key, "write_text", "write_bytes"))
        stages[f"prepare_{fmt}"] = {"label": f"plan + items_table + jobs + overview/manifest in {fmt} run",
                                    "seconds": other, "rows": n, "peak_mb": peak, "start_mb": start, "shared_peak": True}


def _ok(stages: dict, *keys: str) -> bool:
    return all(k in stages and "error" not in stages[k] for k in keys)


def targets(stages: dict, n: int, small_n: int) -> list[dict]:
    found = []

    def add(name: str, ratio: float, target: str, passed: bool, detail: str = "") -> None:
        found.append({"target": name, "ratio": ratio, "goal": target, "pass": bool(passed), "detail": detail})

    def missing(name: str, goal: str, why: str) -> None:
        found.append({"target": name, "ratio": None, "goal": goal, "pass": None, "detail": why})

    s = stages

    def cpu(a: str, b: str) -> str:
        """The same ratio in CPU seconds: steadier than wall time when other work shares the cores."""
        if s[a].get("cpu_s") and s[b].get("cpu_s"):
            return f"in CPU time {s[a]['cpu_s'] / s[b]['cpu_s']:.2f}"
        return ""

    if _ok(s, "classify", "read_csv"):
        add("classify (extraction included) / pandas.read_csv", s["classify"]["seconds"] / s["read_csv"]["seconds"],
            "<= 0.25", s["classify"]["seconds"] / s["read_csv"]["seconds"] <= 0.25, cpu("classify", "read_csv"))
    else:
        missing("classify / pandas.read_csv", "<= 0.25", "needs stages classify and read_csv")
    if _ok(s, "classify", "naive"):
        speed = s["naive"]["seconds"] / s["classify"]["seconds"]
        add("naive per-row apply / classify (speed-up)", speed, ">= 30", speed >= 30,
            f"naive timed on {s['naive'].get('sample_rows', 0):,} rows and scaled to {n:,}; {cpu('naive', 'classify')}")
    else:
        missing("naive apply / classify", ">= 30", "needs stages classify and naive")
    if _ok(s, "pipeline", "read_csv"):
        ratio = s["pipeline"]["seconds"] / s["read_csv"]["seconds"]
        add("read+normalise+classify+plan / pandas.read_csv", ratio, "<= 2", ratio <= 2,
            f"one process, read->plan; {cpu('pipeline', 'read_csv')}")
    else:
        missing("read->plan / pandas.read_csv", "<= 2", "needs stages pipeline and read_csv")
    if _ok(s, "xlsx_openpyxl", "xlsx_analyzer"):
        speed = s["xlsx_openpyxl"]["seconds"] / s["xlsx_analyzer"]["seconds"]
        add("xlsx read: pandas openpyxl / analyzer (speed-up)", speed, ">= 8", speed >= 8, cpu("xlsx_openpyxl", "xlsx_analyzer"))
    else:
        missing("xlsx read speed-up", ">= 8", "needs the xlsx group")
    if _ok(s, "report_xlsx", "dump"):
        laps = s["report_xlsx"]["laps"]
        formatted = laps.get("render_client_xlsx", 0) + laps.get("write_bytes", 0)
        ratio = formatted / s["dump"]["seconds"]
        add("formatted Excel reports / openpyxl write-only dump", ratio, "<= 1.3", ratio <= 1.3,
            "render_client_xlsx + write of the client workbooks vs building + saving the dump; with the "
            f"report model build it is {(formatted + laps.get('build_client_report', 0)) / s['dump']['seconds']:.2f}")
    else:
        missing("formatted Excel / write-only dump", "<= 1.3", "needs the render group (renderers present)")
    if _ok(s, "cli"):
        ratio = s["cli"]["cpu_per_wall"]
        detail = f"{s['cli']['max_processes']} processes at most"
        if _ok(s, "cli_1"):
            detail += f"; wall with --workers 1 / default = {s['cli_1']['seconds'] / s['cli']['seconds']:.2f}"
        add("report run uses both cores: CPU time / wall time", ratio, ">= 1.3", ratio >= 1.3, detail)
    else:
        missing("report uses both cores", "cpu/wall >= 1.3", "needs the report group")
    if _ok(s, "cli", "read_csv"):
        ratio = s["cli"]["tree_pss_peak_mb"] / s["read_csv"]["peak_mb"]
        add("report run peak memory (tree PSS) / pandas.read_csv peak", ratio, "< 2.5", ratio < 2.5,
            f"largest single process {s['cli']['max_process_rss_mb']:,.0f} MB = "
            f"{s['cli']['max_process_rss_mb'] / s['read_csv']['peak_mb']:.2f} x; tree RSS sum "
            f"{s['cli']['tree_rss_peak_mb']:,.0f} MB")
    else:
        missing("report peak memory", "< 2.5", "needs the report group and read_csv")
    scale = n / small_n
    if _ok(s, "pipeline", "pipeline_small"):
        t = s["pipeline"]["seconds"] / s["pipeline_small"]["seconds"]
        mem = s["pipeline"]["peak_mb"] / s["pipeline_small"]["peak_mb"]
        add(f"linear time, read->plan: {n:,} / {small_n:,} rows", t, f"<= {1.2 * scale:g}", t <= 1.2 * scale,
            cpu("pipeline", "pipeline_small"))
        add(f"linear memory, read->plan: {n:,} / {small_n:,} rows", mem, f"<= {1.2 * scale:g}", mem <= 1.2 * scale)
    else:
        missing("linear read->plan", "<= 12", "needs the linear group")
    if _ok(s, "cli", "cli_small"):
        t = s["cli"]["seconds"] / s["cli_small"]["seconds"]
        mem = s["cli"]["tree_pss_peak_mb"] / s["cli_small"]["tree_pss_peak_mb"]
        add(f"linear time, report run: {n:,} / {small_n:,} rows", t, f"<= {1.2 * scale:g}", t <= 1.2 * scale)
        add(f"linear memory, report run: {n:,} / {small_n:,} rows", mem, f"<= {1.2 * scale:g}", mem <= 1.2 * scale)
    else:
        missing("linear report run", "<= 12", "needs the linear and report groups")
    speed_targets(s, add, missing)
    return found


ORDER = ["imports", "read_csv", "read", "normalise", "classify", "plan", "pipeline", "pipeline_small",
         "render_html", "render_xlsx", "write_html", "write_xlsx", "model_html", "model_xlsx",
         "prepare_html", "prepare_xlsx", "report_html", "report_xlsx", "naive", "dump", "xlsx_openpyxl",
         "xlsx_analyzer", "cli", "cli_1", "cli_small", "start_pass", "start_explain", "start_help", "start_unknown",
         "classify_pandas", "classify_cli", "clients_few", "clients_many", "workers_default", "workers_one", "workers_two"]


SPEED_STAGES = ("start_", "classify_", "clients_", "workers_")  # and start_unknown


def print_report(out: dict, n: int) -> None:
    stages = out["stages"]
    print()
    print(f"{'stage':<62} {'seconds':>9} {'rows/s':>11} {'cpu/wall':>8} {'peak MB':>9} {'start MB':>9}")
    print("-" * 112)
    for key in ORDER:
        s = stages.get(key)
        if not s:
            continue
        label = s["label"]
        if "error" in s:
            print(f"{label:<62} ERROR: {s['error'][:300]}")
            continue
        rows = s.get("rows", 0)
        if key.startswith(SPEED_STAGES):
            runs = ", ".join(f"{w:.2f}" for w in s.get("walls", []))
            print(f"{label:<62} {s['seconds']:>9.2f} {_fmt_rate(rows, s['seconds']):>11} {s['cpu_s'] / s['seconds']:>8.2f}"
                  f"  median of {len(s.get('walls', []))} interleaved runs ({runs} s); CPU {s['cpu_s']:.2f} s")
            continue
        if key.startswith("cli"):
            print(f"{label:<62} {s['seconds']:>9.2f} {_fmt_rate(rows, s['seconds']):>11} {s['cpu_per_wall']:>8.2f} "
                  f"{s['tree_pss_peak_mb']:>9,.0f} {'':>9}  tree PSS; largest process {s['max_process_rss_mb']:,.0f} MB; "
                  f"{s['max_processes']} processes; load avg {s['loadavg_1m'][0]:.1f}->{s['loadavg_1m'][1]:.1f}")
            continue
        peak = f"{s['peak_mb']:,.0f}" + ("*" if s.get("shared_peak") else "")
        start = f"{s.get('start_mb', 0):,.0f}"
        cpu = f"{s['cpu_s'] / s['seconds']:.2f}" if s.get("cpu_s") is not None and s.get("seconds") else "-"
        extra = ""
        if key == "classify":
            extra = (f"  {s['distinct_cells']:,} distinct cells; classify_rows {s['classify_rows_s']:.2f} s, "
                     f"columns() {s['columns_s']:.2f} s")
        elif key.startswith("pipeline"):
            extra = "  " + ", ".join(f"{k} {v:.2f}" for k, v in s["laps"].items())
        elif key == "naive":
            extra = f"  (measured {s['sample_seconds']:.2f} s on {s['sample_rows']:,} rows)"
        elif key == "dump":
            extra = f"  {s['cells']:,} cells, {s['bytes'] / 1e6:,.0f} MB"
        elif key == "plan":
            extra = f"  {s['clients']:,} clients, {s['groups']:,} fix groups"
        if s.get("runs_s"):
            extra += f"  median of {len(s['runs_s'])} interleaved runs ({', '.join(f'{r:.2f}' for r in s['runs_s'])} s)"
        print(f"{label:<62} {s['seconds']:>9.2f} {_fmt_rate(rows, s['seconds']):>11} {cpu:>8} {peak:>9} {start:>9}{extra}")
    print("  peak MB: peak RSS of the child while the stage ran (inputs it holds included); start MB: RSS when the")
    print("  timer started; * = peak of the whole run_report child it was timed in; cpu/wall < 1 = waiting or a busy machine;")
    print("  report runs: peak = sampled sum of PSS over the process tree (workers included)")
    print()
    print("targets")
    print("-" * 112)
    for t in out["targets"]:
        if t["pass"] is None:
            print(f"{t['target']:<62} {'n/a':>8} ({t['goal']})  NOT RUN: {t['detail']}")
        else:
            print(f"{t['target']:<62} {t['ratio']:>8.2f} ({t['goal']})  {'PASS' if t['pass'] else 'FAIL'}"
                  + (f"  [{t['detail']}]" if t["detail"] else ""))


def profile_failures(bench: Bench, out: dict, csv_path: Path) -> None:
    """cProfile the child of each failing stage target, top functions by cumulative time."""
    to_profile = []
    for t in out["targets"]:
        if t["pass"] is False:
            if t["target"].startswith(("classify", "naive")):
                to_profile.append(("classify", {}))
            elif t["target"].startswith("read+normalise"):
                to_profile.append(("pipeline", {"csv": str(csv_path)}))
            elif t["target"].startswith("formatted Excel"):
                to_profile.append(("report", {"format": "xlsx"}))
    seen = set()
    for stage_name, args in to_profile:
        if stage_name in seen:
            continue
        seen.add(stage_name)
        profile = bench.work / f"profile-{stage_name}.pstats"
        result = bench.child(stage_name, profile=str(profile), profile_lines=35, **args)
        print(f"\ncProfile of child '{stage_name}' (top by cumulative time; stats in {profile}):")
        print(result.get("profile_text", result.get("error", ""))[-12000:])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1], argv[2])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="rows in the synthetic export (default 1,000,000)")
    parser.add_argument("--clients", type=int, default=None, help="clients (default 1,000)")
    parser.add_argument("--distinct", type=int, default=5000, help="size of the error-cell pool (default 5,000)")
    parser.add_argument("--xlsx-rows", type=int, default=None, help="rows in the xlsx read test (default 100,000)")
    parser.add_argument("--naive-rows", type=int, default=None,
                        help="rows the naive apply is timed on, then scaled to --rows (default 50,000)")
    parser.add_argument("--workdir", default="", help="where exports, pickles and reports go (default: a folder in /tmp)")
    parser.add_argument("--json", default="", metavar="FILE", help="also write every number as JSON")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,000 rows, 100 clients, small samples")
    parser.add_argument("--only", default="", metavar="GROUPS",
                        help="comma-separated groups to run: stages,baselines,xlsx,render,report,linear,speed"
                             " (default all; speed alone needs no million-row export)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--regenerate", action="store_true", help="write the exports again even if cached")
    parser.add_argument("--cluster", action="store_true",
                        help="only the cluster benchmark (tests/perf/bench_cluster.py): one practice of --rows and"
                             " --practices practices of --practice-rows on a LocalCluster of 2 workers vs the local"
                             " pool (slow; needs the cluster extra)")
    parser.add_argument("--practices", type=int, default=20, help="practices in the cluster benchmark (default 20)")
    parser.add_argument("--practice-rows", type=int, default=50_000, help="rows per practice there (default 50,000)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved local/cluster pairs there (default 1)")
    parser.add_argument("--profile-failing", action="store_true",
                        help="re-run the stage behind each failing speed target under cProfile and print the top functions")
    opts = parser.parse_args(argv)
    quick = opts.quick
    opts.rows = opts.rows or (20_000 if quick else 1_000_000)
    opts.clients = opts.clients or (100 if quick else 1000)
    opts.xlsx_rows = min(opts.xlsx_rows or (5_000 if quick else 100_000), opts.rows)
    opts.naive_rows = opts.naive_rows or (5_000 if quick else 50_000)
    if opts.quick and opts.distinct == 5000:
        opts.distinct = 1500
    opts.workdir = opts.workdir or f"/tmp/analyzer-bench-{opts.rows}"
    if opts.cluster:
        from bench_cluster import run_cluster

        results = run_cluster(opts, generate_export)
    else:
        results = run(opts)
    if opts.json:
        Path(opts.json).write_text(json.dumps(results, indent=2, default=str))
        print(f"\nJSON written to {opts.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # a child's traceback must reach the parent's error line
        traceback.print_exc()
        sys.exit(1)
