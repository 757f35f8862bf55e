"""Typed fields from raw text: the vectorised paths (Arrow columns from the CSV reader, in several
chunks, and the categoricals it gives for columns whose values repeat) must give what the
one-value-at-a-time rules give, for every shape a cell takes."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.normalise import infer_dayfirst, parse_amount, parse_amounts, parse_dates
from analyzer.normalise.rows import _blank_or_header_like
from analyzer.normalise.text import strip_spaces


def arrow_text(values: list[str]) -> pd.Series:
    """A column as the CSV reader gives it: Arrow large_string in more than one chunk."""
    half = len(values) // 2
    chunks = [pa.array(values[:half], pa.large_string()), pa.array(values[half:], pa.large_string())]
    return pa.chunked_array(chunks, pa.large_string()).to_pandas()


def repeated_text(values: list[str]) -> pd.Series:
    """A column as the CSV reader gives a repeated one: dictionary chunks, each with its own
    dictionary, which pandas joins into one categorical."""
    half = len(values) // 2
    kind = pa.dictionary(pa.int32(), pa.large_string())
    chunks = [pa.array(part, pa.large_string()).dictionary_encode().cast(kind) for part in (values[:half], values[half:])]
    series = pa.chunked_array(chunks, kind).to_pandas()
    assert isinstance(series.dtype, pd.CategoricalDtype)
    return series


def both(values: list[str]) -> list[pd.Series]:
    return [arrow_text(values), pd.Series(values, dtype=object), repeated_text(values)]


FORMS = pytest.mark.parametrize("column", [0, 1, 2], ids=["arrow", "object", "categorical"])


AMOUNTS = [
    ("12.50", 12.5), ("-3", -3.0), ("  7.25 ", 7.25), ("", None), ("1,234.50", 1234.5), ("£12.00", 12.0),
    ("(45.00)", -45.0), ("45.00-", -45.0), ("1e5", None), ("inf", None), ("nan", None), ("n/a", None),
    ("0012", 12.0), ("12.", 12.0), ("1'234.50", 1234.5), ("GBP 12.50", 12.5), ("12.50 GBP", 12.5), ("-£12.50", -12.5),
    ("US$12", 12.0),
    # written by hand, not amounts: never a number made of their digits (10 x 4.50 read as 104.5)
    ("10 x 4.50", None), ("£45 inc. VAT 20%", None), ("1.5k", None), ("=2*3", None), ("=SUM(1+1)", None),
    ("12.50 + 3.00", None), ("2026-10-05", None),
    # minus signs other than a hyphen, as word processors and some ledgers write them
    ("\u2212120.00", -120.0), ("\u201345.50", -45.5), ("\u00a3\u221212.00", -12.0), ("12.00\u2212", -12.0),
    ("\uff0d7", -7.0), ("12\u22123", None),
]


@pytest.mark.parametrize("text, expected", AMOUNTS)
def test_amounts(text, expected):
    got = parse_amount(text)
    assert (math.isnan(got) if expected is None else got == pytest.approx(expected)), text


@pytest.mark.parametrize("text, expected", [("1.234", 1234.0), ("1.234,50", 1234.5), ("1 234,50", 1234.5), ("12,5", 12.5),
                                            ("1.5", 1.5), ("€1.234,50", 1234.5)])
def test_amounts_where_commas_mark_decimals(text, expected):
    assert parse_amount(text, decimal_comma=True) == pytest.approx(expected)


@pytest.mark.parametrize("cells", [["1e3", "5"], ["inf", "2"], ["NaN", "3"]])
def test_a_column_of_numbers_arrow_would_read_keeps_the_one_value_rules(cells):
    assert math.isnan(parse_amounts(arrow_text(cells)).tolist()[0])


@FORMS
def test_amounts_match_the_one_value_rules(column):
    texts = [t for t, _ in AMOUNTS] * 3
    parsed = parse_amounts(both(texts)[column])
    for text, got in zip(texts, parsed):
        want = parse_amount(text) if text.strip() else math.nan
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want), text


def test_a_column_of_plain_numbers_converts_in_one_step():
    parsed = parse_amounts(arrow_text(["1.5", "", "-2", "1000000.01"]))
    assert parsed.tolist()[0] == 1.5 and math.isnan(parsed.tolist()[1]) and parsed.tolist()[2:] == [-2, 1000000.01]


@given(st.lists(st.one_of(st.decimals(-10**6, 10**6, places=2, allow_nan=False).map(str),
                          st.sampled_from(["", " 3 ", "£4", "(5)", "1,000", "x"])), min_size=2, max_size=30))
def test_amounts_agree_on_any_mix(texts):
    fast, slow = parse_amounts(arrow_text(texts)), parse_amounts(pd.Series(texts, dtype=object))
    assert np.allclose(fast.to_numpy(), slow.to_numpy(), equal_nan=True)
    assert np.allclose(parse_amounts(repeated_text(texts)).to_numpy(), slow.to_numpy(), equal_nan=True)


DATES = [
    ("06/10/2026", True, dt.datetime(2026, 10, 6)), ("06/10/2026", False, dt.datetime(2026, 6, 10)),
    ("6-1-2026", True, dt.datetime(2026, 1, 6)), ("31.12.2026", True, dt.datetime(2026, 12, 31)),
    ("31/02/2026", True, None), ("06/10-2026", True, None), ("2026-10-06", True, dt.datetime(2026, 10, 6)),
    ("06 Oct 2026", True, dt.datetime(2026, 10, 6)), ("06/10/26", True, dt.datetime(2026, 10, 6)), ("", True, None),
    # As Excel writes a date and time to CSV: the day is read, the time left out.
    ("14/10/2026 13:45", True, dt.datetime(2026, 10, 14)), ("10/14/2026 1:45 PM", False, dt.datetime(2026, 10, 14)),
    ("14/10/2026 13:45:09", True, dt.datetime(2026, 10, 14)), ("14/10/2026 noon", True, None),
    # Year first is year, month, day whichever order the file's other dates use.
    ("2026/10/05", True, dt.datetime(2026, 10, 5)), ("2026/10/05", False, dt.datetime(2026, 10, 5)),
    ("2026.10.05", True, dt.datetime(2026, 10, 5)), ("2026/31/10", True, None),
    # A day written as an ordinal.
    ("3rd Oct 2026", True, dt.datetime(2026, 10, 3)), ("October 3rd, 2026", False, dt.datetime(2026, 10, 3)),
    ("Oct 21st 2026", True, dt.datetime(2026, 10, 21)), ("1st of October 2026", True, None),
]


@FORMS
@pytest.mark.parametrize("text, dayfirst, expected", DATES)
def test_dates(text, dayfirst, expected, column):
    got = parse_dates(both([text, text])[column], dayfirst)[0]
    assert (pd.isna(got) and expected is None) or got == pd.Timestamp(expected)


@pytest.mark.parametrize("values, changed", [
    (["Acme", "Bob Ltd", "Café", "Lumière"], False),
    (["Acme ", "Bob"], True),
    (["\u00a0Acme", "Bob"], True),
    (["Acme\u3000", "Bob"], True),
    (["\tAcme", "Bob"], True),
    (["", "Bob", "é"], False),
])
@pytest.mark.parametrize("form", [arrow_text, repeated_text])
def test_stripping_key_fields(values, changed, form):
    series = form(values)
    result = strip_spaces(series)
    assert result.tolist() == [v.strip() for v in values]
    assert (result is not series) == changed  # no copy when nothing is padded


@pytest.mark.parametrize("cell, candidate", [
    ("", True), ("   ", True), ("\u00a0", True), ("Error", True), ("  ERROR ", True), ("Errors", False),
    ("Xero error - Account code '404' has been archived", False), ("x" * 500, False), (" " * 500, True),
])
def test_blank_or_header_like_error_cells(cell, candidate):
    assert _blank_or_header_like(arrow_text([cell, "real error"]), "Error").tolist() == [candidate, False]
    assert _blank_or_header_like(pd.Series([cell, "real error"], dtype=object), "Error").tolist() == [candidate, False]
    assert _blank_or_header_like(repeated_text([cell, "real error"]), "Error").tolist() == [candidate, False]


@pytest.mark.parametrize("dates, dayfirst, note", [
    (["31/10/2026", "01/10/2026"], True, ""),
    (["10/31/2026", "10/01/2026"], False, "dates read month first"),
    (["31/10/2026", "10/31/2026"], True, "dates mix day-first and month-first"),
    (["01/10/2026", "02/10/2026"], True, "every date is ambiguous"),
    # A date that reads neither way is no evidence of the order (it gets the unreadable-dates note).
    (["31/10/2026", "32/13/2026"], True, ""),
    (["10/31/2026", "32/13/2026"], False, "dates read month first"),
    (["10/31/2026", "45/06/2026"], False, "dates read month first"),
    (["01/10/2026", "32/13/2026"], True, "every date is ambiguous"),
])
def test_order_of_day_and_month(dates, dayfirst, note):
    found, said = infer_dayfirst(pd.Series(dates, dtype="str"))
    assert found is dayfirst and said.startswith(note) and bool(said) == bool(note), said


@pytest.mark.parametrize("text, code", [
    ("GBP", "GBP"), ("gbp", "GBP"), ("GBP 12.50", "GBP"), ("12.50 GBP", "GBP"), ("USD 1,000", "USD"),
    ("AU$15.00", "AUD"), ("NZ$ 20", "NZD"), ("US$", "USD"), ("£", "GBP"), ("(£12.50)", "GBP"), ("€", "EUR"),
    ("Euro", "EUR"), ("Sterling", "GBP"), ("Pounds", "GBP"),
    # A bare dollar names no one currency; three letters that are no ISO code are none either.
    ("$1,000.00", ""), ("XYZ", ""), ("12.50 inc VAT", ""), ("12.50", ""),
])
def test_the_currency_a_cell_names(text, code):
    from analyzer.normalise import currency_named

    assert currency_named(text) == code


def test_an_amount_cell_stating_its_currency_gives_the_items_currency():
    from analyzer.normalise import currencies

    found = currencies(pd.Series(["", "", "£", "XYZ", ""], dtype="str"),
                       pd.Series(["GBP 12.50", "12.50 USD", "3.00", "4.00", "$5.00"], dtype="str"), "")
    assert found.tolist() == ["GBP", "USD", "GBP", "", ""]


_CURRENCY_CELLS = st.sampled_from(["", "GBP", "gbp", "£", "Sterling", "US$", "XYZ", "$", "EUR ", "12.50", "USD 3.00",
                                   "3.00 EUR", "£4.00", "AU$15.00", "$5.00", "nan"])


@given(st.lists(st.tuples(_CURRENCY_CELLS, _CURRENCY_CELLS), max_size=30), st.sampled_from(["", "GBP", "NZD"]),
       st.booleans())
def test_each_rows_currency_is_its_own_cell_then_its_amount_then_the_base(cells, base, categorical):
    """The currencies worked out on codes say, row by row, what reading each row's cells says."""
    from analyzer.normalise import currencies, currency_named

    own, totals = (pd.Series([c[i] for c in cells], dtype="category" if categorical else "str") for i in (0, 1))
    found = currencies(own, totals, base)
    assert isinstance(found.dtype, pd.CategoricalDtype) and list(found.cat.categories) == sorted(set(found.tolist()))
    assert found.tolist() == [currency_named(a) or currency_named(b) or base for a, b in cells]
