"""Which rows of a table are failed items: blank rows, totals, repeated headers, titles and
footers, and rows of an export of every item that did publish are skipped, each with its reason."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.cells import passes
from analyzer.normalise.amounts import AMOUNT
from analyzer.normalise.model import SkippedRow
from analyzer.normalise.text import arrow_text
from analyzer.read import Sheet


_TOTAL_LABEL = re.compile(
    r"(?i)\s*(?:(?:(?:grand\s+|sub\s*)?totals?|sums?|count)\s*:?\s*\d*|\d+\s+(?:items?|rows?|receipts?))\s*:?\s*")



_CURRENCY_CODE = re.compile(r"[A-Z]{3}")



_TOTAL_ROW = re.compile(r"^\s*(?:grand\s+)?(?:sub)?totals?\b\s*:?", re.I)



def rows_to_keep(path: str, sheet: Sheet, text: dict[str, pd.Series], roles: dict[str, str]):
    """Blank rows, totals rows, repeated header rows and lines of words alone in the first column
    (a footer, a second title) are skipped, each with its reason.
    Each has an empty or header-like error cell, so only those rows are examined in full."""
    n = len(sheet.rows)
    if not text:
        return np.zeros(n, dtype=bool), []
    candidates = _blank_or_header_like(text[roles["error"]], roles["error"])
    blank = np.zeros(n, dtype=bool)
    totals = np.zeros(n, dtype=bool)
    repeated = np.zeros(n, dtype=bool)
    lines = np.zeros(n, dtype=bool)
    published = np.zeros(n, dtype=bool)
    if candidates.any():
        at = np.flatnonzero(candidates)
        stripped = {h: s.iloc[at].str.strip().reset_index(drop=True) for h, s in text.items()}
        filled = sum((s != "").astype("int64") for s in stripped.values()).to_numpy()
        blank[at] = filled == 0
        error_empty = (stripped[roles["error"]] == "").to_numpy()
        labelled = np.zeros(len(at), dtype=bool)  # a cell saying "Total", wherever it sits
        for column in stripped.values():
            labelled |= column.str.fullmatch(_TOTAL_LABEL).fillna(False).to_numpy(dtype=bool)
        first_cells = _first_filled(stripped)
        labelled |= first_cells.str.match(_TOTAL_ROW).fillna(False).to_numpy(dtype=bool)
        totals[at] = error_empty & (labelled | _sums_only(stripped, roles)) & (filled > 0)
        repeated[at] = _repeated_headers(stripped) & (filled > 0)
        # A line of words alone in the first column, no error: "Page 1 of 2", "Printed by Jane",
        # "Confidential", a second title. An item id alone there is an item with no error text.
        first_column = next(iter(stripped.values()))
        words = (filled == 1) & (first_column != "").to_numpy() & ~first_column.str.fullmatch(_ID_LIKE).to_numpy(dtype=bool)
        lines[at] = error_empty & words & ~totals[at] & ~repeated[at]
        if "status" in roles:  # an export of every item, not only the failed ones: a published row is no failure
            done = stripped[roles["status"]].str.casefold().isin(_PUBLISHED).to_numpy(dtype=bool)
            published[at] = error_empty & done & ~totals[at] & ~repeated[at] & ~lines[at]
    keep = ~(blank | totals | repeated | lines | published)
    sheet_label = sheet.sheet_name or ""
    source_rows = sheet.rows["source_row"].to_numpy()
    skips = []
    for mask, reason in ((blank, "blank row"), (totals, "totals row"), (repeated, "repeated header row"),
                         (lines, "title or footer row"), (published, "published row")):
        skips.extend(SkippedRow(path, sheet_label, int(r), reason) for r in source_rows[mask])
    skips.sort(key=lambda s: s.source_row)
    return keep, skips



def _sums_only(stripped: dict[str, pd.Series], roles: dict[str, str]) -> np.ndarray:
    """Rows of amounts and counts alone (no item id, nothing else): a totals row without its
    label, such as `,,,150.00,` under the items it sums. Counted as an item it would double the
    value at risk."""
    only = np.ones(len(next(iter(stripped.values()))), dtype=bool)
    summed = np.zeros(len(only), dtype=bool)  # a sum or a label somewhere, not a currency code alone
    if "item_id" in roles:
        only &= (stripped[roles["item_id"]] == "").to_numpy(dtype=bool)
    for column in stripped.values():
        # An amount (AMOUNT, as parse_amount reads one: =SUM() leaves one) or a label; beside them
        # at most a currency code.
        sums = (column.str.match(AMOUNT) | column.str.fullmatch(_TOTAL_LABEL)).fillna(False).to_numpy(dtype=bool)
        summed |= sums
        only &= sums | (column == "").to_numpy(dtype=bool) | column.str.fullmatch(_CURRENCY_CODE).fillna(False).to_numpy(dtype=bool)
    return only & summed



def _blank_or_header_like(error: pd.Series, header: str) -> np.ndarray:
    """Rows whose error cell is blank or repeats the header: only those can be blank, totals or
    repeated header rows. Decided from each cell's length and Arrow's whitespace test, so a
    million error messages are not stripped and lowered to find none."""
    array = arrow_text(error)
    if array is None:
        return passes(error, lambda text: text.str.strip().str.lower().isin(["", header.lower()]))
    lengths = pc.binary_length(array).to_numpy(zero_copy_only=False)
    candidates = (lengths == 0) | pc.utf8_is_space(array).to_numpy(zero_copy_only=False)
    # Room for spaces around the header, and for case changes that change a character's size.
    short = ~candidates & (lengths <= 4 * len(header) + 16)
    if short.any():  # a filter, not a take: Arrow's take would first join the column's chunks
        cells = pc.utf8_trim_whitespace(array.filter(pa.array(short)))
        same = pc.or_(pc.equal(cells, ""), pc.equal(pc.utf8_lower(cells), header.lower()))
        candidates[short] = np.asarray(same, dtype=bool)
    return candidates



def _repeated_headers(stripped: dict[str, pd.Series]) -> np.ndarray:
    """Rows that repeat the header (two exports pasted one under the other). Only rows whose
    first cell names the first column are compared in full."""
    headers = list(stripped)
    first = stripped[headers[0]]
    candidates = np.array(first.str.lower() == headers[0].lower(), dtype=bool)
    if not candidates.any():
        return candidates
    for h in headers[1:]:
        values = stripped[h][candidates]
        candidates[candidates] = ((values.str.lower() == h.lower()) | (values == "")).to_numpy(dtype=bool)
    return candidates



_PUBLISHED = frozenset({"published", "posted", "exported", "success", "successful", "synced", "published to xero"})



_ID_LIKE = re.compile(r"(?=.*\d)[A-Za-z0-9_\-./#:]{1,64}")  # an item id: one token holding a digit



def _first_filled(stripped: dict[str, pd.Series]) -> pd.Series:
    columns = list(stripped.values())
    first = columns[0].copy()
    for column in columns[1:]:
        first = first.where(first != "", column)
    return first
