"""Amounts as people write them (signs, symbols, grouping, decimal commas) and the currency each
is in."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.cells import distinct_text, is_categorical
from analyzer.columns import ISO_CURRENCIES
from analyzer.normalise.text import arrow_text, cell_text


# An amount as exports and people write one: a sign or parentheses, a currency symbol or code
# before or after, digits grouped by commas, dots, spaces or apostrophes, a trailing minus.
# Anything more ('10 x 4.50', '1e3', '=2*3', '1.5k', '£45 inc. VAT') is no amount, not a number
# made of its digits.
_CURRENCY_MARK = r"(?:[£$€¥]|[A-Za-z]{3}|[A-Z]{1,2}\$)"



AMOUNT = re.compile(
    rf"^[-+(]?\s*(?:{_CURRENCY_MARK}\s*)?[-+(]?\s*(?P<number>\d(?:[\d,.' \u00a0]*\d)?\.?)\s*[-)]?\s*"
    rf"(?:{_CURRENCY_MARK}\s*)?[-)]?$")



def unread_amounts(written: pd.Series, parsed: pd.Series) -> np.ndarray:
    """Cells holding text that is no amount (left out of the value at risk, never guessed from
    their digits); a cell saying there is none ("n/a") is not among them."""
    unread = parsed.isna().to_numpy() & (written != "").to_numpy(dtype=bool)
    if unread.any():  # only those cells looked at: a column is usually all amounts
        at = np.flatnonzero(unread)
        unread[at] = ~written.iloc[at].astype("str").str.strip().str.lower().isin(_NO_AMOUNT).to_numpy(dtype=bool)
    return unread



# Cells that say there is no amount: not worth a note.
_NO_AMOUNT = ("-", "--", "n/a", "na", "none", "nil", "tbc", "?")



_DOT_DECIMAL = re.compile(r"\d,\d{3}\.\d|\d\.\d{1,2}\s*$")  # 1,234.56 or 12.50



_COMMA_DECIMAL = re.compile(r"\d\.\d{3},\d|\d,\d{1,2}\s*$")  # 1.234,56 or 12,50



def dot_decimals(values: pd.Series) -> bool:
    """Whether a column's amounts use a dot for decimals though the file is separated by `;`
    (the European habit that also means comma decimals): some cells say so (12.50, 1,234.56) and
    none says otherwise, so 1,250 is twelve hundred and fifty, not 1.25."""
    texts = [v for v in pd.unique(values) if isinstance(v, str)]  # each distinct cell once
    return any(_DOT_DECIMAL.search(t) for t in texts) and not any(_COMMA_DECIMAL.search(t) for t in texts)



def parse_amounts(values: pd.Series, decimal_comma: bool = False) -> pd.Series:
    """`1,234.50`, `£12.00`, `(45.00)`, `45.00-`, `1.234,50`. Plain numbers are converted in one
    vectorised step; only the rest are parsed one distinct value at a time."""
    if is_categorical(values):  # each distinct text once
        numbers = parse_amounts(distinct_text(values), decimal_comma).to_numpy()
        return pd.Series(np.append(numbers, np.nan)[values.cat.codes.to_numpy()], dtype="float64")
    if values.dtype == object and values.map(type).eq(float).all():
        return values.astype("float64")
    numbers = np.full(len(values), np.nan)
    text = values if values.dtype != object else values.map(cell_text).astype("str")
    plain = np.zeros(len(values), dtype=bool)
    if not decimal_comma:
        plain, parsed = _plain_numbers(text)
        numbers[plain] = parsed[plain]
    rest = ~plain & (text != "").to_numpy(dtype=bool)
    if rest.any():
        raw = values[rest] if values.dtype == object else text[rest]
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
        parsed = np.array([parse_amount(u, decimal_comma) for u in uniques] + [np.nan], dtype="float64")
        numbers[rest] = parsed[codes]
    return pd.Series(numbers, dtype="float64")



_PLAIN_NUMBER = r"^\s*-?\d+(?:\.\d+)?\s*$"



def _plain_numbers(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Which cells are plain numbers (12.50, -3), and their values: Arrow's vectorised regex and
    cast when the column is Arrow-backed, else pandas'."""
    array = arrow_text(text)
    if array is None:
        plain = text.str.match(_PLAIN_NUMBER).fillna(False).to_numpy(dtype=bool)
        return plain, pd.to_numeric(text.where(plain, "nan"), errors="coerce").to_numpy(dtype="float64")
    filled = pc.greater(pc.binary_length(array), 0)
    try:  # the usual column: every filled cell a plain number, converted in one step
        numbers = np.asarray(pc.cast(pc.if_else(filled, array, pa.scalar(None, array.type)), pa.float64()).to_numpy(zero_copy_only=False),
                             dtype="float64")
        filled = np.asarray(filled, dtype=bool)
        # Arrow also reads "inf", "nan" and "1e3"; people do not mean those
        if np.isfinite(numbers[filled]).all() and not _any_letter_e(array):
            return filled, numbers
    except pa.ArrowInvalid:
        pass
    plain = pc.fill_null(pc.match_substring_regex(array, _PLAIN_NUMBER), False)
    only = pc.if_else(plain, pc.utf8_trim_whitespace(array), pa.scalar(None, array.type))
    return np.asarray(plain, dtype=bool), np.asarray(pc.cast(only, pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")



def _any_letter_e(array: pa.Array | pa.ChunkedArray) -> bool:
    """Whether the text's bytes hold an e or E anywhere (an exponent): one search of each data
    buffer, several times faster than Arrow's per-cell substring match; bytes outside the
    array's slice can only send it to the careful path."""
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    for chunk in chunks:
        data = chunk.buffers()[2]
        raw = data.to_pybytes() if data is not None else b""  # a copy, then memchr: faster than a regex
        if b"e" in raw or b"E" in raw:
            return True
    return False



# Minus signs a word processor or another system writes instead of a hyphen: the minus sign,
# the en dash and figure dash, the small and full-width hyphen-minus.
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2012": "-", "\ufe63": "-", "\uff0d": "-"})


def parse_amount(value: object, decimal_comma: bool = False) -> float:
    if isinstance(value, bool) or value is None:
        return np.nan
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if not text.isascii():
        text = text.translate(_MINUS_SIGNS)
    match = AMOUNT.match(text)
    if match is None:
        return np.nan
    negative = "-" in text.replace(match["number"], "") or (text.startswith("(") and text.endswith(")"))
    digits = re.sub(r"[' \u00a0]", "", match["number"])
    if "," in digits and "." in digits:
        decimal = "," if digits.rfind(",") > digits.rfind(".") else "."
    elif "," in digits:
        decimal = "," if decimal_comma or re.search(r",\d{1,2}$", digits) else ""
    elif decimal_comma and re.fullmatch(r"\d{1,3}(?:\.\d{3})+", digits):
        decimal = ","  # 1.234 where commas mark decimals: dots group thousands
    else:
        decimal = "."
    thousands = {"," : ".", ".": ","}.get(decimal, ",")
    digits = digits.replace(thousands, "").replace(decimal, ".") if decimal else digits.replace(",", "")
    try:
        number = float(digits)
    except ValueError:
        return np.nan
    return -number if negative else number



def currencies(codes: pd.Series, totals: pd.Series, base: str) -> pd.Series:
    """The item's currency: its own column (a code, a symbol or a name: GBP, £, Sterling, US$),
    else what the amount cell says (GBP 12.50, 12.50 EUR, £12.50, AU$15.00), else the base
    currency. Each distinct cell is read once, and the result is a categorical worked out on
    codes: a million rows hold a handful of currencies, not a million strings."""
    choice, names = _named_currencies(codes)  # each row: an index into names
    unnamed = np.flatnonzero(~_filled(names)[choice])
    if len(unnamed):
        from_total, total_names = _named_currencies(totals.iloc[unnamed])
        choice[unnamed] = len(names) + from_total
        names += total_names
        choice[unnamed[~_filled(total_names)[from_total]]] = len(names)  # named by neither
        names.append(base)
    return _chosen_names(choice, names)


def _named_currencies(cells: pd.Series) -> tuple[np.ndarray, list[str]]:
    """For each row a code into the currencies its distinct cells name ("" for a cell that names
    none): each distinct cell read once."""
    codes, distinct = pd.factorize(cells, use_na_sentinel=False)
    return codes.astype(np.int64), pd.Series(distinct, dtype="str").map(currency_named).tolist()


def _filled(names: list[str]) -> np.ndarray:
    return np.array([bool(name) for name in names] or [False], dtype=bool)


def _chosen_names(choice: np.ndarray, names: list[str]) -> pd.Series:
    """Each row's name (`names` may repeat one) as a categorical of the names rows hold, sorted."""
    held = np.bincount(choice, minlength=len(names)) > 0
    found = sorted({name for name, used in zip(names, held.tolist()) if used})
    number = {name: index for index, name in enumerate(found)}
    codes = np.array([number.get(name, -1) for name in names] or [-1], dtype=np.int64)[choice]
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(found, dtype="str"), validate=False))



# Symbols and names people write for a currency; a bare "$" names none (US, Australian, NZ...).
_CURRENCY_WORDS = {
    "£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR", "us$": "USD", "a$": "AUD", "au$": "AUD", "nz$": "NZD",
    "c$": "CAD", "ca$": "CAD", "hk$": "HKD", "s$": "SGD", "sterling": "GBP", "pound": "GBP", "pounds": "GBP",
    "euro": "EUR", "euros": "EUR", "us dollar": "USD", "us dollars": "USD", "australian dollar": "AUD",
    "new zealand dollar": "NZD", "canadian dollar": "CAD", "yen": "JPY", "rand": "ZAR",
}



_CURRENCY_IN_TEXT = re.compile(r"(?i)(?<![a-z])(us\$|au\$|a\$|nz\$|ca\$|c\$|hk\$|s\$|[£€¥₹])|\b([A-Za-z]{3})\b")



def currency_named(text: str) -> str:
    """The ISO code a cell names (`GBP`, `gbp 12.50`, `£`, `Sterling`, `US$1,000`), or ""."""
    folded = " ".join(text.split()).casefold()
    if folded in _CURRENCY_WORDS:
        return _CURRENCY_WORDS[folded]
    for symbol, code in _CURRENCY_IN_TEXT.findall(text):
        if symbol:
            return _CURRENCY_WORDS[symbol.casefold()]
        if code.upper() in ISO_CURRENCIES:
            return code.upper()
    return ""



def configured_currency(currency: pd.Series, clients: pd.Series, configured: dict[str, str]) -> pd.Series:
    """Amounts that state no currency take their client's configured one, else the practice's."""
    missing = (currency == "").to_numpy(dtype=bool)
    if not missing.any():
        return currency
    default = configured.get("", "")
    fill = clients.astype("str").map(lambda c: configured.get(c.casefold(), default))
    return currency.astype("str").where(~missing, fill).astype("str")
