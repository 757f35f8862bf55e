"""Text columns held as categoricals (the reader's repeated columns) must behave as the same text
held cell by cell: the helpers, and whole tables through normalising."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.cells import change_text, passes, used_text, with_text
from analyzer.normalise import Options, normalise_sheet
from analyzer.read import Sheet
from tests.test_normalise import repeated_text


def plain(values: list[str]) -> pd.Series:
    return pd.Series(values, dtype="str")


FORMS = pytest.mark.parametrize("form", [plain, repeated_text], ids=["plain", "categorical"])


@FORMS
@pytest.mark.parametrize("values, stripped", [
    ([" Acme", "Acme", "Bob "], ["Acme", "Acme", "Bob"]),  # two spellings merge into one value
    (["Acme", "Bob"], ["Acme", "Bob"]),
    (["", " ", "x"], ["", "", "x"]),
])
def test_change_text(form, values, stripped):
    series = form(values)
    result = change_text(series, lambda text: text.str.strip())
    assert result.tolist() == stripped
    if stripped == values and form is repeated_text:
        assert result is series  # nothing changed: the column itself, not a copy


def test_change_text_merges_categories():
    result = change_text(repeated_text([" Acme", "Acme", "Bob ", "Acme "]), lambda text: text.str.strip())
    assert sorted(result.cat.categories) == ["Acme", "Bob"]
    assert result.cat.codes.tolist()[:2] == [result.cat.codes.tolist()[1]] * 2


@FORMS
@pytest.mark.parametrize("values, expected", [
    (["Awaiting approval", "Ready", "in approval"], [True, False, True]),
    (["", ""], [False, False]),
])
def test_passes(form, values, expected):
    assert passes(form(values), lambda text: text.str.contains("approv", case=False)).tolist() == expected


@FORMS
def test_with_text(form):
    series = form(["Acme", "", "Bob", ""])
    result = with_text(series, np.array([False, True, False, True]), "From the file name")
    assert result.tolist() == ["Acme", "From the file name", "Bob", "From the file name"]
    assert series.tolist() == ["Acme", "", "Bob", ""]  # the input is left alone


def test_used_text_leaves_out_values_no_row_holds():
    series = repeated_text(["10/31/2026", "01/10/2026", "02/10/2026", "03/10/2026"]).iloc[1:].reset_index(drop=True)
    assert sorted(used_text(series)) == ["01/10/2026", "02/10/2026", "03/10/2026"]


HEADER = ("Client", "Date", "Supplier", "Total", "Currency", "Status", "Error")
CELLS = {
    "Client": ["", "Acme Ltd", " Acme Ltd", "Bob & Co", "Total"],
    "Date": ["", "01/10/2026", "13/10/2026", "10/31/2026", "1 Oct 2026"],
    "Supplier": ["", "Café Rouge", " Café Rouge ", "Wickes"],
    "Total": ["", "12.50", "£4.00", "(3.00)", "1,200.00"],
    "Currency": ["", "GBP", "gbp ", "EUR"],
    "Status": ["", "Ready", "Awaiting approval"],
    "Error": ["", "Error", "Account code '404' has been archived", "Invoice # must be unique", "  "],
}


def sheet_of(rows: list[dict], categorical: bool) -> Sheet:
    columns = {h: [r[h] for r in rows] for h in HEADER}
    frame = pd.DataFrame({"source_row": pd.RangeIndex(2, 2 + len(rows)),
                          **{h: (repeated_text(v) if categorical else plain(v)) for h, v in columns.items()}})
    return Sheet(None, HEADER, 1, frame, ",", "utf-8-sig")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries({h: st.sampled_from(v) for h, v in CELLS.items()}), min_size=2, max_size=25),
       st.booleans())
def test_a_table_normalises_the_same_held_either_way(rows, aliases):
    options = Options(client_aliases={"acme ltd": "Acme Limited"} if aliases else {})
    path = "Oakridge Vets - failed items Oct 2026.csv"
    as_text = normalise_sheet(path, sheet_of(rows, False), options)
    as_categories = normalise_sheet(path, sheet_of(rows, True), options)
    for text, categories in zip(as_text[:2], as_categories[:2]):  # original, typed fields
        assert list(text.columns) == list(categories.columns)
        for column in text.columns:
            left, right = text[column], categories[column]
            if left.dtype.kind in "fMi":
                pd.testing.assert_series_equal(left, right, check_names=False)
            else:
                assert left.astype("str").tolist() == right.astype("str").tolist(), column
    assert as_text[2] == as_categories[2]  # skipped rows and why
    assert as_text[3] == as_categories[3]  # roles and notes
