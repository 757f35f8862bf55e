"""The Arrow CSV writer writes exactly the bytes pandas' `to_csv` writes, for every kind of
column the classified table holds and for the values that need care; tables it cannot promise
that for are left to pandas."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.write import defuse_formulas, write_table
from analyzer.write_csv import CHUNK_ROWS, csv_chunks

TRICKY = ["plain", "", 'say "hi"', "a,b", "line\nbreak", "cr\ronly", "crlf\r\nend", " lead", "trail ",
          "Lumière ✓ 日本", "=SUM(A1)", "+44 20", "-12.50", "@user", "\tTab", "'quoted", '"', ",", "\n",
          "1e5", "nan", "None", "  ", "x" * 300]


def _pandas(table: pd.DataFrame, end: str) -> bytes:
    return table.to_csv(index=False, lineterminator=end).encode("utf-8")


def _arrow(table: pd.DataFrame, end: str) -> bytes:
    chunks = csv_chunks(table, end)
    assert chunks is not None, "the Arrow writer refused a table it should write"
    return b"".join(chunks)


def _table(values: list) -> pd.DataFrame:
    n = len(values)
    text = pd.Series(values, dtype="str")
    return pd.DataFrame({
        "arrow text": text,
        "python text": pd.Series(values, dtype=pd.StringDtype("python")),
        "categorical": pd.Categorical(values),
        "category, \"quoted\"\nheading": pd.Categorical(values[::-1]),
        "with missing": text.where(np.arange(n) % 3 != 1),
        "missing categories": pd.Categorical(values).remove_categories([values[0]]) if n else pd.Categorical([]),
        "row": np.arange(n, dtype=np.int64) - 5,
        "confidence": np.linspace(0, 1, n, dtype=np.float32) if n else np.zeros(0, np.float32),
        "float64": np.where(np.arange(n) % 4 == 0, np.nan, np.arange(n) / 7.0),
        "big floats": np.array([1e16, 1e-05, -0.0, np.inf, 123456789.125] * n, dtype=np.float64)[:n],
        "flag": np.arange(n) % 2 == 0,
        "objects": pd.Series([None, 1.5, "t,x", 7, pd.NA, float("nan"), True, np.float64(0.1)] * n, dtype=object)[:n],
        "nullable int": pd.array([None if i % 5 == 0 else i for i in range(n)], dtype="Int64"),
        "numeric categories": pd.Categorical(np.arange(n) % 3 + 0.5),
    })


@pytest.mark.parametrize("end", ["\n", "\r\n"])
@pytest.mark.parametrize("values", [TRICKY, TRICKY[:1], [], ["only\r"] * 3, ['"'] * 2])
def test_same_bytes_as_pandas(values, end):
    table = _table(values)
    assert _arrow(table, end) == _pandas(table, end)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                        max_size=12), max_size=20))
def test_same_bytes_as_pandas_for_any_text(values):
    table = _table(values)
    for end in ("\n", "\r\n"):
        assert _arrow(table, end) == _pandas(table, end)


def test_many_chunks_are_one_text():
    n = CHUNK_ROWS * 2 + 17
    rows = np.arange(n)
    table = pd.DataFrame({"text": pd.Series(np.array(TRICKY, dtype=object)[rows % len(TRICKY)], dtype="str"),
                          "code": pd.Categorical.from_codes(rows % 4, ["a", "b,c", "d\ne", "=f"])})
    assert _arrow(table, "\r\n") == _pandas(table, "\r\n")


def test_defused_table_too():
    table = defuse_formulas(_table(TRICKY))
    assert _arrow(table, "\n") == _pandas(table, "\n")


@pytest.mark.parametrize("table", [
    pd.DataFrame({"one column": ["", "a"]}),  # the csv module quotes an empty lone cell
    pd.DataFrame({"when": pd.to_datetime(["2026-10-01", None]), "x": ["a", "b"]}),  # pandas' own date text
    pd.DataFrame({"nul": ["a\0b"], "x": ["c"]}, dtype="str"),
    pd.DataFrame([[1, 2]], columns=["same", "same"]),
])
def test_tables_left_to_pandas(table):
    assert csv_chunks(table, "\n") is None


def test_write_table_file_and_stdout_match_pandas(tmp_path):
    table = _table(TRICKY)
    target = tmp_path / "out.csv"
    write_table(table, str(target), io.StringIO(), raw=True)
    assert target.read_bytes() == table.to_csv(index=False, encoding="utf-8-sig", lineterminator="\r\n").encode("utf-8-sig")
    out = io.StringIO()
    write_table(table, "-", out, raw=False)
    assert out.getvalue() == defuse_formulas(table).to_csv(index=False, lineterminator="\n")


@pytest.mark.parametrize("piece", [1, 7, 1 << 20])
def test_file_written_in_pieces_is_the_same_file(tmp_path, monkeypatch, piece):
    """The writer hands the kernel at most WRITE_PIECE bytes at a time (whole chunks were slow);
    pieces that split a character or a line still make the same file."""
    monkeypatch.setattr("analyzer.write.WRITE_PIECE", piece)
    table = _table(TRICKY * 3)
    target = tmp_path / "out.csv"
    write_table(table, str(target), io.StringIO(), raw=True)
    assert target.read_bytes() == table.to_csv(index=False, encoding="utf-8-sig", lineterminator="\r\n").encode("utf-8-sig")
