"""The CSV fast path (analyzer.read.pieces): a file cut in pieces at line breaks outside quotes
must read exactly as one piece would, whatever the cells hold; a cut a stray quote puts in the
wrong place must raise, never give other rows; and every CSV file we know of must read the same
with pieces of a few bytes as with the default size."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analyzer.read.pieces as read_pieces_module
from analyzer.read import read_export
from analyzer.read.pieces import Ragged, read_pieces

ROOT = Path(__file__).resolve().parent.parent
KNOWN_CSV = sorted([*ROOT.glob("sample_exports/*.csv"), *ROOT.glob("tests/data/broken/*.csv"),
                    *ROOT.glob("tests/data/eval/*.csv")])
HEADER = ("Receipt ID", "Supplier", "Note", "Error")
BIG = 1 << 40


def _quoted(cell: str) -> str:
    """RFC 4180 (the csv module leaves a lone carriage return unquoted)."""
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\r\n') else cell


def _write(rows: list[list[str]], path: Path, newline: str = "\n") -> bytes:
    lines = [",".join(_quoted(c) for c in row) for row in [list(HEADER), *rows]]
    data = "".join(line + newline for line in lines).encode("utf-8")
    path.write_bytes(data)
    return data


def _rows(table: pa.Table) -> list[list[str]]:
    return [list(r.values()) for r in table.to_pylist()]


def _read(path: Path, piece_bytes: int, header=HEADER, repeated=()):
    return read_pieces(path, header, 1, ",", max_bytes=BIG, max_rows=10**9,
                       piece_bytes=piece_bytes, repeated=repeated)


# Cells as exports hold them: quotes, delimiters, line breaks of both kinds, accents, JSON.
CELL = st.lists(st.sampled_from([*'ab ,;"\n\r{}:éü£', "\r\n", '""', "Xero error - "]), max_size=12).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(CELL, min_size=4, max_size=4), max_size=25), piece=st.integers(1, 200),
       newline=st.sampled_from(["\n", "\r\n"]), repeated=st.sampled_from([(), ("Supplier", "Note", "Error")]))
def test_pieces_read_exactly_what_was_written(tmp_path: Path, rows, piece, newline, repeated):
    data = _write(rows, tmp_path / "x.csv", newline)
    parsed = _read(tmp_path / "x.csv", piece, repeated=repeated)
    assert {h for h in HEADER if pa.types.is_dictionary(parsed.table[h].type)} == set(repeated)
    assert _rows(parsed.table) == rows
    assert parsed.digest.sha256 == hashlib.sha256(data).hexdigest()
    assert parsed.digest.size == len(data)
    broken = {c for cells in parsed.broken_cells.values() for c in cells}
    assert broken == {c for r in rows for c in r if "\n" in c}


@pytest.mark.parametrize("piece", [1, 7, 40, 1 << 20])
def test_a_wrong_cut_from_a_stray_quote_raises_or_reads_as_arrow_does(tmp_path: Path, piece):
    # Line 2 opens a quote by mistake (parity now odd); line 3's quoted cell really spans lines.
    text = 'Receipt ID,Supplier,Note,Error\n1,Bob "Fix,n,e1\n"multi\nline",Sue,n,e2\n3,Ann,n,e3\n'
    path = tmp_path / "stray.csv"
    path.write_text(text, encoding="utf-8")
    arrow = pa_csv.read_csv(path, parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                            convert_options=pa_csv.ConvertOptions(column_types={h: pa.large_string() for h in HEADER}))
    try:
        parsed = _read(path, piece)
    except Ragged:
        return
    assert parsed is None or _rows(parsed.table) == _rows(arrow)


def test_no_cut_outside_quotes_gives_up_for_the_lexing_reader(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(read_pieces_module, "MAX_PIECE_BYTES", 64)
    rows = [["1", "Bob", "x" * 10, 'an "open quote']] + [[str(n), "Sue", "n", "e"] for n in range(20)]
    path = tmp_path / "x.csv"
    path.write_text("\n".join(",".join(r) for r in [list(HEADER), *rows]) + "\n", encoding="utf-8")
    with pytest.raises(read_pieces_module.RecordTooLong):
        _read(path, 16)


def test_one_column_is_left_to_the_lexing_reader(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text('Error\n"a\nb"\nc\n', encoding="utf-8")
    assert _read(path, 4, header=("Error",)) is None


def test_bare_carriage_returns_still_find_every_broken_cell(tmp_path: Path):
    data = b'Receipt ID,Supplier,Note,Error\r1,Bob,"two\nlines",e\r2,Sue,n,"x\ny"\r'
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    parsed = _read(path, 1 << 20)
    assert parsed.broken_cells == {"Note": ["two\nlines"], "Error": ["x\ny"]}


def test_bytes_that_are_not_utf8_are_refused(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_bytes("Receipt ID,Supplier,Note,Error\n1,Café,n,e\n".encode("cp1252"))
    with pytest.raises(read_pieces_module.NotUtf8):
        _read(path, 8)


@pytest.mark.parametrize("path", KNOWN_CSV, ids=lambda p: p.name)
def test_every_known_csv_reads_the_same_in_tiny_pieces(path: Path, monkeypatch):
    whole = read_export(path)
    monkeypatch.setattr(read_pieces_module, "PIECE_BYTES", 37)
    pieces = read_export(path)
    assert pieces.error == whole.error
    assert pieces.sha256 == whole.sha256
    assert len(pieces.sheets) == len(whole.sheets)
    for a, b in zip(pieces.sheets, whole.sheets):
        assert a.notes == b.notes
        assert a.header == b.header
        assert a.rows.astype(str).values.tolist() == b.rows.astype(str).values.tolist()


@pytest.mark.parametrize("path", [*KNOWN_CSV[:3], *ROOT.glob("sample_exports/*.xlsx")], ids=lambda p: p.name)
def test_unhashed_read_is_the_same_read_without_the_hash(path: Path):
    hashed, unhashed = read_export(path), read_export(path, hashed=False)
    assert hashed.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert unhashed.sha256 == ""
    assert [s.rows.equals(u.rows) for s, u in zip(hashed.sheets, unhashed.sheets)] == [True] * len(hashed.sheets)


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=200), st.sampled_from([1, 3, 64, 1 << 20]))
def test_quotes_are_counted_as_bytes_count_them(data, end, block):
    buffer = bytearray(data)
    end = min(end, len(buffer))
    original = read_pieces_module._COUNT_BLOCK
    read_pieces_module._COUNT_BLOCK = block  # not monkeypatch: hypothesis runs many examples per fixture
    try:
        assert read_pieces_module._quotes(buffer, end) == buffer.count(b'"', 0, end)
    finally:
        read_pieces_module._COUNT_BLOCK = original
