"""Which rows are one item: the earlier row of the same client with the same item id."""

from __future__ import annotations

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from analyzer.plan import duplicate_rows

# Ids as exports write them: plain digits, and the ones only text tells apart ("007" is not
# "7", "+7" is not "7"), long ones, and none.
IDS = st.sampled_from(["7", "007", "+7", "-7", "-0", "0", "00", "70", "10", "9", "1000000000000000000", "58717013",
                       "58717013 ", "A-12", "", "١٢"])


@given(st.lists(st.tuples(st.sampled_from(["Acme Ltd", "Bolt & Co"]), IDS), max_size=40), st.booleans())
def test_each_row_points_to_the_first_row_of_its_client_and_item_id(rows, digits_only):
    if digits_only:  # the fast path: every id a number
        rows = [(client, item) for client, item in rows if item.isdigit() and item.isascii() and len(item) < 19]
    fields = pd.DataFrame({"client": pd.Series([c for c, _ in rows], dtype="str"),
                           "item_id": pd.Series([i for _, i in rows], dtype="str")})
    first: dict[tuple[str, str], int] = {}
    expected = []
    for row, key in enumerate(rows):
        if key[1] and key in first:
            expected.append(first[key])
        else:  # the item's first row, or a row with no id (each its own item)
            first.setdefault(key, row)
            expected.append(-1)
    assert duplicate_rows(fields).tolist() == expected
