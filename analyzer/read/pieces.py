"""The fast path for reading a CSV: well-formed UTF-8 text parsed by Arrow in pieces on every
core, while the same pass over the bytes hashes them and counts NUL padding.

Arrow's own multithreaded reader must lex every byte for quotes before it can split a file whose
cells hold line breaks (`newlines_in_values`), which about doubles its cost, and Dext's error
cells often do hold line breaks. Here the file is cut at line breaks outside quotes, found by the
parity of the quote characters before them (exact for RFC 4180 quoting, where a quote inside a
quoted cell is doubled), and each piece is parsed as one block, with no lexing pass.

A cut made in the wrong place by a stray quote cannot pass silently: for a table of two or more
columns it leaves a row with too few cells on one side or the other, which raises like any ragged
row, and the reader's careful path takes over. Used by `analyzer.read` only.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

PIECE_BYTES = 4 << 20
# A piece may grow while no line break outside quotes is found (a stray quote flips the parity
# until the next one); past this the file goes to Arrow's lexing reader instead.
MAX_PIECE_BYTES = 64 << 20


class NotUtf8(Exception):
    """Bytes that are not UTF-8: the reader with the Windows-1252 fallback takes the file."""


class Ragged(Exception):
    """A row with more or fewer cells than the header (or a cut a stray quote made wrong)."""


class TooManyRows(Exception):
    pass


@dataclass(frozen=True)
class Digest:
    """What one pass over the bytes learnt: the manifest's hash, the size read, NUL bytes."""

    sha256: str
    size: int
    nuls: int


@dataclass(frozen=True)
class Parsed:
    table: pa.Table
    digest: Digest
    # Distinct cells holding a line break, per column, that a stray-quote check must look at.
    broken_cells: dict[str, list[str]]


def read_pieces(path: Path, header: tuple[str, ...], skip: int, delimiter: str, *, max_bytes: int,
                max_rows: int, workers: int | None = None,
                piece_bytes: int | None = None, repeated: tuple[str, ...] = (), hashed: bool = True) -> Parsed | None:
    """The whole file as an Arrow table of text columns, or None when it cannot be cut safely
    (one column, or no line break outside quotes within `MAX_PIECE_BYTES`). The `repeated`
    columns come dictionary-encoded (see `text_columns`). Raises NotUtf8, Ragged, TooManyRows,
    or OverflowError when the file grows past `max_bytes` while read. Not `hashed`: no sha256
    (the digest's is "")."""
    if len(header) < 2:
        return None
    workers = workers or min(os.cpu_count() or 1, 4)
    piece_bytes = piece_bytes or PIECE_BYTES
    digest = hashlib.sha256() if hashed else None
    size = nuls = 0
    options = text_columns(header, repeated)
    pending: deque[Future] = deque()
    results: list[tuple[pa.Table, dict[str, list[str]]]] = []
    rows = 0
    with path.open("rb") as handle, ThreadPoolExecutor(workers) as pool:
        carry = b""
        first = True
        while True:
            # One buffer per piece, filled in place: the carried partial line, then new bytes.
            buffer = bytearray(len(carry) + piece_bytes)
            buffer[: len(carry)] = carry
            got = handle.readinto(memoryview(buffer)[len(carry):])
            end = len(carry) + got
            size += got
            if size > max_bytes:
                raise OverflowError(size)
            block = memoryview(buffer)[len(carry) : end]
            if digest is not None:
                digest.update(block)
            if buffer.find(0, len(carry), end) >= 0:
                nuls += buffer.count(0, len(carry), end)
            cut = _cut(buffer, end) if got else end
            if got and cut <= 0:
                if end > MAX_PIECE_BYTES:
                    raise RecordTooLong()
                carry = bytes(buffer[:end])
                continue
            piece, carry = memoryview(buffer)[:cut], bytes(buffer[cut:end])
            if cut:
                pending.append(pool.submit(_parse, piece, header, skip if first else 0, delimiter, options))
                first = False
            while len(pending) > 2 * workers or (pending and not got):
                results.append(pending.popleft().result())
                rows += results[-1][0].num_rows
            if not got:
                break
            if rows > max_rows:
                raise TooManyRows()
    tables = [t for t, _ in results] or [_empty(header, options)]
    broken: dict[str, set[str]] = {}
    for _, cells in results:
        for column, values in cells.items():
            broken.setdefault(column, set()).update(values)
    return Parsed(pa.concat_tables(tables), Digest(digest.hexdigest() if digest is not None else "", size, nuls),
                  {c: sorted(v) for c, v in broken.items()})


class RecordTooLong(Exception):
    """No line break outside quotes within MAX_PIECE_BYTES: one record longer than that."""


def _cut(buffer: bytearray, end: int) -> int:
    """Just past the last line break before `end` with an even number of quotes before it, or 0.
    Counted with bytes' own search and, going back, a few megabytes of array work at a time:
    walking back line by line would take a Python step per line (minutes for a quoted cell over
    millions of lines), and one array over the whole buffer would take gigabytes."""
    last = buffer.rfind(b"\n", 0, end)
    if last < 0:
        return 0
    parity = _quotes(buffer, last) % 2  # of the quotes before `hi` below
    if parity == 0:
        return last + 1
    view = np.frombuffer(buffer, dtype=np.uint8, count=last)
    hi = last
    while hi > 0:
        lo = max(0, hi - _BACK_CHUNK)
        chunk = view[lo:hi]
        breaks = np.flatnonzero(chunk == ord("\n")) + lo
        quotes = np.flatnonzero(chunk == ord('"')) + lo
        if len(breaks):
            after = len(quotes) - np.searchsorted(quotes, breaks)  # quotes from each break up to `hi`
            even = breaks[(parity - after) % 2 == 0]
            if len(even):
                return int(even[-1]) + 1
        parity = (parity - len(quotes)) % 2
        hi = lo
    return 0


_BACK_CHUNK = 4 << 20


def _quotes(buffer: bytearray, end: int) -> int:
    """The quote characters in buffer[:end], counted a megabyte at a time with NumPy's vector
    compare (bytes.count goes byte by byte: 0.25 s of the main thread for 370 MB, this 0.07 s)."""
    view = np.frombuffer(buffer, dtype=np.uint8, count=end)
    return sum(int(np.count_nonzero(view[at : at + _COUNT_BLOCK] == _QUOTE)) for at in range(0, end, _COUNT_BLOCK))


_COUNT_BLOCK = 1 << 20
_QUOTE = ord('"')


def _parse(piece: memoryview, header: tuple[str, ...], skip: int, delimiter: str,
           options: pa_csv.ConvertOptions) -> tuple[pa.Table, dict[str, list[str]]]:
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(pa.py_buffer(piece)),
            read_options=pa_csv.ReadOptions(column_names=list(header), skip_rows=skip,
                                            block_size=len(piece) + 1, use_threads=False),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=False, ignore_empty_lines=False),
            convert_options=options,
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if not_utf8(exc):
            raise NotUtf8() from None
        if "empty csv" in str(exc).lower():
            return _empty(header, options), {}
        raise Ragged() from None
    return table, _broken_cells(table)


REPEATED_TEXT = pa.dictionary(pa.int32(), pa.large_string())


def text_columns(header: tuple[str, ...], repeated: tuple[str, ...] = ()) -> pa_csv.ConvertOptions:
    """Every cell as the text written, empty cells as "" (never null). large_string: pandas
    takes such columns without copying them. The `repeated` columns (clients, errors, tax
    codes: a few thousand values over a million rows) are dictionary-encoded as they are
    parsed, so their text is held once per distinct value and pandas gets a categorical."""
    types = {h: REPEATED_TEXT if h in repeated else pa.large_string() for h in header}
    return pa_csv.ConvertOptions(column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False,
                                 null_values=[])


def not_utf8(exc: Exception) -> bool:
    """Whether Arrow refused the bytes for not being UTF-8 (rather than a ragged row)."""
    return isinstance(exc, UnicodeDecodeError) or "utf8" in str(exc).lower()


def _broken_cells(table: pa.Table) -> dict[str, list[str]]:
    """Distinct cells holding a line break, per column. Every column is searched: a search
    reads each plain column's bytes once and each repeated column's distinct values once (8 ms
    for 40 MB of the benchmark's export), where counting the piece's line breaks first, to stop
    once the cells held them all, read every byte of the piece twice (55 ms)."""
    cells = {}
    for column in table.column_names:
        rows = _rows_with_newline(table[column])
        if len(rows):
            cells[column] = pc.unique(table[column].take(pa.array(rows))).to_pylist()
    return cells


def _rows_with_newline(values: pa.ChunkedArray) -> np.ndarray:
    """Rows whose cell holds a line feed: a byte search of the column's data buffer, several
    times faster than searching cell by cell."""
    rows, base = [], 0
    for chunk in values.chunks:
        buffers = text_bytes(chunk)
        if buffers is not None:
            starts, text = buffers
            at = np.flatnonzero(text == 10)
            rows.append(np.unique(np.searchsorted(starts, at, side="right") - 1) + base)
        elif len(chunk) and pa.types.is_dictionary(chunk.type):  # search each distinct value once
            per_value = pc.count_substring(chunk.dictionary, "\n").to_numpy(zero_copy_only=False)
            rows.append(np.flatnonzero(per_value[chunk.indices.to_numpy(zero_copy_only=False)]) + base)
        elif len(chunk):
            rows.append(np.flatnonzero(pc.count_substring(chunk, "\n").to_numpy(zero_copy_only=False)) + base)
        base += len(chunk)
    return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)


def text_bytes(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """A large_string array's cell offsets (one more than cells) and its bytes, as numpy views
    without copying; None for other arrays (other types, nulls, a slice)."""
    if chunk.type != pa.large_string() or chunk.offset or chunk.null_count:
        return None
    _, offsets, data = chunk.buffers()
    starts = np.frombuffer(offsets, dtype=np.int64, count=len(chunk) + 1)
    text = np.frombuffer(data, dtype=np.uint8, count=int(starts[-1])) if data is not None else np.zeros(0, np.uint8)
    return starts, text


def _empty(header: tuple[str, ...], options: pa_csv.ConvertOptions) -> pa.Table:
    return pa.table({h: pa.array([], options.column_types[h]) for h in header})
