"""The Items sheet's table: one row per input row, with the practice's tracking first (Status,
Assigned to, Note, Snooze until), who acts, its fix, categories (by title) and extracted values,
its own columns typed where the role is known, and where it came from; the category ids and the
item key last, for scripts and for reading the tracking back next run.

Built once for every row (vectorised, each distinct error cell worked out once) and cut per
client by the report jobs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analyzer.catalog import UNCLASSIFIED, WHO
from analyzer.columns import BASE_CURRENCY_HEADER
from analyzer.history import HistoryView
from analyzer.normalise import parse_amounts, parse_dates
from analyzer.plan import Plan
from analyzer.tracking import KEY_COLUMN, RowTracking

if TYPE_CHECKING:
    from analyzer.pipeline import Analysis

ITEM_FIELDS = {  # standard field -> Items sheet heading; the typed version of the item's columns
    "item_id": "Item ID", "date": "Date", "due_date": "Due date", "doc_type": "Type",
    "invoice_number": "Invoice number", "supplier": "Supplier", "customer": "Customer",
    "amount": "Amount", "tax": "Tax", "currency": "Currency", "amount_base": "Total (base currency)",
    "base_currency": "Base currency", "category": "Category",
    "tax_name": "Tax name", "tax_code": "Tax code", "payment_method": "Payment method",
    "bank_account": "Bank account", "project": "Project", "status": "Export status", "owner": "Owner",
    "description": "Description", "link": "Link",
}
REPEAT_COLUMN = "_repeat_of"  # batch row of the item's first row, or -1: the renderer marks repeats
# The tracking and who-acts columns, by internal name (an export may have its own "Note" or
# "Status" column): the renderer writes them first, under their headings.
TRACKING = {"_status": "Status", "_assigned_to": "Assigned to", "_note": "Note", "_snooze_until": "Snooze until",
            "_who": "Who acts", "_flag": "Attention"}
CATEGORY_IDS = "Category ids"
# Input columns holding money that no role claims (`Tax (SGD)`, `Net`, `VAT`): written as numbers.
_MONEY_HEADER = re.compile(r"(?i)\b(total|tax|amount|net|gross|vat|gst|subtotal)\b")


def items_table(analysis: "Analysis", plan: Plan, seen: HistoryView | None = None,
                tracking: RowTracking | None = None, keys: pd.Series | None = None) -> pd.DataFrame:
    """Every row for the Items sheets, indexed by batch row."""
    fields = analysis.batch.fields
    catalog = analysis.catalog
    titles, also, repeat_of, variant_who = _fix_titles(analysis, plan)
    values = catalog.value_names
    classified = analysis.classified.columns(values)
    # Gathered first and made into a table once, without copies: a column set on a table is copied,
    # which for a million rows held a hundred megabytes more through the rendering.
    table: dict[str, object] = {}
    if tracking is not None:
        table["_status"] = tracking.status
        table["_assigned_to"] = tracking.assigned_to
        table["_note"] = tracking.note
        table["_snooze_until"] = pd.to_datetime(pd.Series(tracking.snooze_until, dtype=object)).to_numpy()
        aside = np.where(tracking.dismissed, "Dismissed", np.where(tracking.snoozed, "Snoozed", ""))
        table["_flag"] = np.array([f"{a}; {f}" if a and f else a or f
                                   for a, f in zip(aside.tolist(), tracking.flags.tolist())], dtype=object)
    table["_who"] = _per_cell(analysis, lambda f: catalog.fixes[f[0].fix].who_label if f else "")
    if (variant_who != "").any():  # entered by hand in Xero: the adviser, not the bookkeeper in Dext
        table["_who"] = pd.Categorical(np.where(variant_who != "", variant_who, np.asarray(table["_who"], dtype=object)))
    table["Fix"] = titles
    table["Also needs"] = also
    table["Categories"] = _per_cell(analysis, lambda f: "; ".join(dict.fromkeys(
        catalog.category(x.category).title if x.category != UNCLASSIFIED else "Not recognised" for x in f)))
    table["Match"] = classified["match"].array
    if seen is not None:
        table["History"] = seen.status
        table["First seen"] = pd.Series(seen.first_seen, dtype=object).fillna("").to_numpy()
        table["Runs seen"] = seen.runs_seen
    for name in values:
        column = classified[name]
        if column.astype(bool).any():
            heading = name.replace("_", " ").capitalize()
            # A value read from the error is not the item's own field of the same name.
            heading = f"{heading} (in error)" if heading in ITEM_FIELDS.values() else heading
            table[heading] = parse_dates(column.astype("str"), True).to_numpy() if name.endswith("_date") else column.array
    for role, heading in ITEM_FIELDS.items():
        if role not in fields:
            continue
        column = fields[role]
        if column.dtype.kind in "Mf" and column.notna().any() or column.dtype.kind not in "Mf" and column.astype(bool).any():
            table[heading] = column.array
    table.update(_as_written(analysis))
    mapped = {h for info in analysis.batch.tables for r, h in info.roles.items()
              if r in ITEM_FIELDS or r in ("client", "error", "total")}
    for column in analysis.batch.original.columns:
        if column not in mapped:
            name = column if column not in table else f"{column} (input)"
            table[name] = _maybe_amounts(column, analysis.batch.original[column])
    table["Error"] = fields["error"].array
    codes, paths = pd.factorize(fields["source_file"], sort=False)
    table["Source file"] = pd.Categorical.from_codes(codes, shown_names([str(p) for p in paths]))
    if fields["sheet"].astype(bool).any():
        table["Source sheet"] = fields["sheet"].array
    table["Source row"] = fields["source_row"].array
    table[CATEGORY_IDS] = classified["categories"].array
    if keys is not None:
        table[KEY_COLUMN] = keys.array
    table[REPEAT_COLUMN] = repeat_of
    return pd.DataFrame(table, index=pd.RangeIndex(len(fields)), copy=False)


def shown_names(paths: list[str]) -> list[str]:
    """Each input's file name, with as much of its folder as makes two inputs of the same name
    (in different folders) tell apart."""
    parts = [p.replace("\\", "/").split("/") for p in paths]
    depth = [1] * len(parts)
    while True:
        names = ["/".join(p[-d:]) for p, d in zip(parts, depth)]
        seen: dict[str, list[int]] = {}
        for index, name in enumerate(names):
            seen.setdefault(name, []).append(index)
        clashing = [i for group in seen.values() if len(group) > 1 for i in group if depth[i] < len(parts[i])]
        if not clashing:
            return names
        for index in clashing:
            depth[index] += 1


def _fix_titles(analysis: "Analysis", plan: Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's first fix, the other fixes it needs, the row it repeats (-1 for none), and who
    acts where the first fix's variant names another person than its fix does ("" elsewhere). A
    row in no group this run (dismissed or snoozed) shows its own first fix."""
    fields = analysis.batch.fields
    n = len(fields)
    titles = np.full(n, "", dtype=object)
    also = np.full(n, "", dtype=object)
    repeat_of = np.full(n, -1, dtype=np.int64)
    who = np.full(n, "", dtype=object)
    for client in plan.clients:
        for group in client.groups:
            rows = group.rows
            first = titles[rows] == ""
            titles[rows[first]] = group.title
            if group.who != group.fix.who:
                who[rows[first]] = WHO[group.who]
            seconds = rows[~first]
            also[seconds] = [f"{a}; {group.title}" if a else group.title for a in also[seconds]]
        for row, original in client.duplicates.items():
            repeat_of[row] = original
    unplaced = titles == ""
    if unplaced.any():
        own = _per_cell(analysis, lambda f: analysis.catalog.fixes[f[0].fix].title if f else "")
        titles[unplaced] = np.asarray(own, dtype=object)[unplaced]
    return titles, also, repeat_of, who


def _per_cell(analysis: "Analysis", describe) -> pd.Categorical:
    """A text worked out once per distinct error cell (from its findings), for every row."""
    per_cell = [describe(findings) for findings in analysis.classified.findings]
    texts, positions = np.unique(np.asarray(per_cell, dtype=object), return_inverse=True) if per_cell else ([], [])
    codes = np.asarray(positions, dtype=np.int32)[analysis.classified.codes] if per_cell else np.zeros(0, np.int32)
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(texts), dtype="str"))


DATE_AS_WRITTEN, AMOUNT_AS_WRITTEN = "Date as written", "Amount as written"


def _as_written(analysis: "Analysis") -> dict[str, np.ndarray]:
    """For the rows whose date or amount could not be read ("3rd Oct 2026", "CR 120.00"), the
    cell as written, beside the typed column (blank there): a bookkeeper sees what the export
    said, as the HTML shows it. Only when some row has one; only those rows' text is looked at
    (a million rows read in full cost nothing here)."""
    fields, original = analysis.batch.fields, analysis.batch.original
    totals = list(dict.fromkeys(info.roles["total"] for info in analysis.batch.tables if "total" in info.roles))
    found = {}
    for heading, typed, sources in ((DATE_AS_WRITTEN, fields["date"], [fields["date_text"]]),
                                    (AMOUNT_AS_WRITTEN, fields["amount"], [original[h] for h in totals if h in original])):
        blank = np.flatnonzero(typed.isna().to_numpy())
        if not len(blank):
            continue
        written = np.full(len(blank), "", dtype=object)
        for source in sources:  # each table's column for it: the first that holds text for a row
            cells = source.iloc[blank].fillna("").astype("str").str.strip().to_numpy(dtype=object)
            written = np.where(written != "", written, cells)
        if (written != "").any():
            column = np.full(len(fields), "", dtype=object)
            column[blank] = written
            found[heading] = column
    return found


def _maybe_amounts(header: str, column: pd.Series):
    """A money column no role claims, as numbers when every filled cell is one."""
    if not (_MONEY_HEADER.search(header) or BASE_CURRENCY_HEADER.match(header)):
        return column.array
    amounts = parse_amounts(column.astype("str"))
    filled = (column.astype("str").str.strip() != "").to_numpy(dtype=bool)
    if not filled.any() or np.isnan(amounts.to_numpy(dtype="float64")[filled]).any():
        return column.array
    return amounts.to_numpy(dtype="float64")
