"""CSV and other delimited exports: the fast Arrow paths and the careful one."""

from __future__ import annotations

import csv
import itertools
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from analyzer.cells import change_text, distinct_text, is_categorical, is_plain_text
from analyzer.columns import REPEATED_ROLES, role_of
from analyzer.read.pieces import (
    MAX_PIECE_BYTES, Digest, NotUtf8, Ragged, RecordTooLong, TooManyRows, not_utf8, read_pieces, text_columns,
)
from analyzer.read.common import check_columns, _over_size, _scan_file
from analyzer.read.common import Limits, ReadError, Sheet, _FALLBACK, _fallbacks
from analyzer.read.sniff import (_encoding_of, _find_header, _lines_before_record, _sample_records, _sniff_delimiter,
                                 _unique_headers, above_header, repeated_headers)


# ---------------------------------------------------------------------------------------------
# CSV


def _read_csv(path: Path, limits: Limits, head: bytes, size: int, notes: list[str],
              hashed: bool = True) -> tuple[Sheet, Digest]:
    csv.field_size_limit(max(limits.max_cell_chars + 1, 131072))
    encoding = _encoding_of(head)
    _fallbacks.count = 0
    sample = head.decode(encoding, errors=_FALLBACK)
    if "\0" in sample:
        sample = sample.replace("\0", "")
    if len(head) < size:  # the sample ends mid-file: drop its last, perhaps partial, line
        sample = sample[: max(sample.rfind("\n"), 0)] or sample
    delimiter = _sniff_delimiter(sample)
    records = _sample_records(sample, delimiter)
    header_index = _find_header(records)
    header = _unique_headers(records[header_index])
    check_columns(header, limits)
    notes = [*notes, *filter(None, [above_header(records, header_index), repeated_headers(records[header_index], header)])]
    skip_lines = _lines_before_record(sample, delimiter, header_index)
    _fallbacks.count = 0
    digest = None
    try:
        frame, digest, swallowed = _parse_utf8(path, encoding, delimiter, header, skip_lines + 1, limits, hashed)
        if frame is None:  # bytes that are not UTF-8: pandas' parser with the cp1252 fallback
            with warnings.catch_warnings():
                # pandas only warns when a row is longer than the header, and drops the extra cells.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = _parse_fast(path, encoding, delimiter, header, skip_lines + 1, limits)
            swallowed = _swallowed_records(frame, delimiter, len(header))
        if swallowed:
            raise pd.errors.ParserError("a stray quote swallowed the records after it")
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError, csv.Error):
        _fallbacks.count = 0
        frame, careful_notes = _parse_careful(path, encoding, delimiter, header, header_index, limits)
        notes = [*notes, *careful_notes]
    digest = digest or _scan_file(path, limits, hashed)
    recoded = getattr(_fallbacks, "count", 0)
    if recoded:
        notes.append(f"{recoded:,} byte(s) were not UTF-8 and were read as Windows-1252 (accents from another system)")
    if encoding in ("utf-16-le", "utf-16-be"):
        notes.append("read as UTF-16 (no byte-order mark)")
    nuls = digest.nuls if not encoding.startswith("utf-16") else 0
    if nuls:
        frame = _strip_nuls(frame)
        notes.append(f"removed {nuls:,} NUL (zero) byte(s), padding some systems write; nothing else was changed")
    frame = _number_rows(frame, header_index + 1)
    _check_sizes(frame, limits)
    if frame.empty:
        notes.append("has a header but no data rows")
    sheet = Sheet(None, tuple(frame.columns[1:]), header_index + 1, frame, delimiter, encoding, tuple(notes))
    return sheet, digest


def _parse_utf8(path: Path, encoding: str, delimiter: str, header: tuple[str, ...], skip: int, limits: Limits,
                hashed: bool = True):
    """(frame, digest, swallowed) from Arrow, in pieces on every core when the file can be cut,
    else in one go; (None, None, False) for bytes that are not UTF-8. A ragged row raises
    ParserError, for the careful reader."""
    if encoding not in ("utf-8-sig", "utf-8"):
        return None, None, False
    try:
        parsed = read_pieces(path, header, skip, delimiter, max_bytes=limits.max_file_bytes,
                             max_rows=limits.max_rows, repeated=_repeated(header), hashed=hashed)
    except NotUtf8:
        return None, None, False
    except Ragged:
        raise pd.errors.ParserError("a row has more or fewer cells than the header") from None
    except TooManyRows:
        raise ReadError(f"has more than {limits.max_rows:,} rows; split it or raise --max-rows") from None
    except OverflowError:
        raise _over_size(limits) from None
    except RecordTooLong:
        if len(header) * limits.max_cell_chars * 4 < MAX_PIECE_BYTES:  # UTF-8: 4 bytes a character at most
            raise ReadError(f"one row runs over {MAX_PIECE_BYTES // 1024**2} MB, more than its {len(header)} cells can"
                            f" hold within the {limits.max_cell_chars:,} character cell limit (a stray quote, or a"
                            " huge cell); fix the file or raise --max-cell-chars") from None
        parsed = None
    if parsed is None:
        frame = _parse_arrow(path, encoding, delimiter, header, skip, limits)
        swallowed = frame is not None and _swallowed_records(frame, delimiter, len(header))
        return frame, None, swallowed
    if parsed.table.num_rows > limits.max_rows:
        raise ReadError(f"has more than {limits.max_rows:,} rows; split it or raise --max-rows")
    swallowed = any(_swallowed_cell(cell, delimiter, len(header)) for cells in parsed.broken_cells.values()
                    for cell in cells)
    return parsed.table.to_pandas(), parsed.digest, swallowed


def _repeated(header: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(h for h in header if role_of(h) in REPEATED_ROLES)


def _swallowed_records(frame: pd.DataFrame, delimiter: str, width: int) -> bool:
    """A stray quote makes a parser take the records after it into one cell: such a cell has a
    line break followed by a line holding a whole record's delimiters. (Line breaks alone are
    normal: several errors pasted into one cell.)"""
    for column in frame.columns:
        values = frame[column]
        if is_categorical(values):
            values = distinct_text(values)  # each distinct cell once
        if not is_plain_text(values):
            continue
        broken = values[values.str.contains("\n", regex=False).fillna(False)]
        if any(_swallowed_cell(str(cell), delimiter, width) for cell in broken.unique()):
            return True
    return False


def _swallowed_cell(cell: str, delimiter: str, width: int) -> bool:
    need = max(1, width - 1)
    return any(line.count(delimiter) >= need for line in cell.split("\n")[1:])


def _parse_arrow(path: Path, encoding: str, delimiter: str, header: tuple[str, ...], skip: int,
                 limits: Limits) -> pd.DataFrame | None:
    """Arrow's multithreaded CSV reader, lexing for quotes, for well-formed UTF-8 files that
    cannot be cut in pieces: every cell as text, blank lines kept as empty rows so row numbers
    stay exact. Returns None for bytes that are not UTF-8; raises ParserError for a row with
    more or fewer cells than the header."""
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=list(header), skip_rows=skip, block_size=1 << 24),
            # No invalid-row handler: Arrow would decode a ragged row's text (perhaps not UTF-8)
            # before calling it. A ragged row raises instead, and the careful reader takes over.
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False),
            convert_options=text_columns(header, _repeated(header)),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if not_utf8(exc):
            return None  # bytes that are not UTF-8: the reader with the cp1252 fallback
        raise pd.errors.ParserError("a row has more or fewer cells than the header") from None
    if table.num_rows > limits.max_rows:
        raise ReadError(f"has more than {limits.max_rows:,} rows; split it or raise --max-rows")
    return table.to_pandas()


def _parse_fast(path: Path, encoding: str, delimiter: str, header: tuple[str, ...], skip: int,
                limits: Limits) -> pd.DataFrame:
    """pandas' C parser; raises on a ragged row or an unclosed quote so the careful path can
    account for it. Reads at most one row over the limit, so a huge file fails fast."""
    frame = pd.read_csv(
        path, sep=delimiter, header=None, names=list(header), skiprows=skip, dtype=str,
        keep_default_na=False, na_filter=False, skip_blank_lines=False, encoding=encoding,
        encoding_errors=_FALLBACK, on_bad_lines="error", engine="c", index_col=False,
        quoting=csv.QUOTE_MINIMAL, nrows=limits.max_rows + 1,
    )
    if len(frame) > limits.max_rows:
        raise ReadError(f"has more than {limits.max_rows:,} rows; split it or raise --max-rows")
    return frame


def _parse_careful(path, encoding, delimiter, header, header_index, limits):
    """Row by row: short rows are padded, long rows keep their extra cells in one column, and a
    quote that is never closed swallows nothing: its line is read as written."""
    csv.field_size_limit(max(limits.max_cell_chars + 1, 131072))
    width = len(header)
    rows: list[list[str]] = []
    ragged = short = filled = first_short = 0
    ragged_rows: list[int] = []  # the first few, by record number (the line, unless a cell spans lines)
    unclosed: list[int] = []
    physical = _count_lines(path)
    if physical > MAX_CAREFUL_LINES or path.stat().st_size > MAX_CAREFUL_BYTES:
        raise ReadError(f"has {physical:,} lines and rows that do not line up (a stray quote or ragged rows), too much"
                        " to read line by line in bounded memory; open it in Excel and save it again as CSV")
    with path.open(encoding=encoding, errors=_FALLBACK, newline="") as handle:
        lines = handle.readlines()
    try:
        for index, record in enumerate(_careful_records(lines, delimiter, width, unclosed)):
            if index <= header_index:
                continue
            written = any(c.strip() for c in record)
            filled += written
            if len(record) != width and written:
                ragged += 1
                if len(record) * 2 < width:  # a line of text: a writer dropping empty trailing cells leaves more
                    short += 1
                    first_short = first_short or index + 1
                if len(ragged_rows) < 5:
                    ragged_rows.append(index + 1)
            extra = record[width:]
            record = (record + [""] * width)[:width]
            rows.append(record + [delimiter.join(extra)])
            if len(rows) > limits.max_rows:
                raise ReadError(f"has more than {limits.max_rows:,} rows; split it or raise --max-rows")
    except csv.Error as exc:
        where = f"line {unclosed[-1] if unclosed else '?'}"
        if "field larger than field limit" in str(exc):
            raise ReadError(f"a cell is over the {limits.max_cell_chars:,} character limit; fix the cell or raise"
                            " --max-cell-chars") from None
        raise ReadError(f"{where}: {exc}; re-save the file as CSV") from None
    del lines
    if short >= MIN_SHORT_ROWS and short * 2 > filled:
        raise ReadError(f"{short:,} of its {filled:,} rows have under half the header's cells (row {first_short}): it is"
                        " no table of failed items (a text file saved as .csv?); export the failed items from Dext again")
    frame = pd.DataFrame(rows, columns=[*header, "(extra cells)"], dtype="str")
    if not frame["(extra cells)"].str.len().any():
        frame = frame.drop(columns="(extra cells)")
    notes = []
    if ragged:
        shown = ", ".join(map(str, ragged_rows)) + (", …" if ragged > len(ragged_rows) else "")
        notes.append(f"{ragged} row(s) had more or fewer cells than the header ({'row' if ragged == 1 else 'rows'}"
                     f" {shown}): a comma in a cell"
                     " without quotes shifts the cells after it, so those rows' error and amount may be another"
                     " column's; check them, and quote such cells in the export")
    if unclosed:
        shown = ", ".join(str(n) for n in unclosed[:10]) + (", …" if len(unclosed) > 10 else "")
        notes.append(f"a stray quote (\") on line(s) {shown} would have swallowed the lines after it; each such line"
                     " was read as written")
    return frame, tuple(notes)


# A file most of whose rows stop well short of the header (under half its cells) is text, not a
# table: an export with commas in cells without quotes has rows too long, and one re-saved by a
# writer that drops empty trailing cells stops after its last filled cell (the error, at least).
MIN_SHORT_ROWS = 5

# The careful reader holds the file as lines (about 60 bytes each beyond their text): past this
# many it would need gigabytes, so such a file is refused in one line instead.
MAX_CAREFUL_LINES = 2_000_000
MAX_CAREFUL_BYTES = 96 * 1024**2  # and its cells as Python strings: about 10 times the file


def _count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
    return lines


def _careful_records(lines: list[str], delimiter: str, width: int, unclosed: list[int]):
    """Records of the physical `lines`. A stray quote would swallow the lines after it into one
    cell (to the end of the file, or to the next stray quote); instead the line holding it is read
    on its own (its line number goes to `unclosed`) and reading goes on from the next line."""
    start, total = 0, len(lines)
    while start < total:
        reader = csv.reader(itertools.islice(lines, start, None), delimiter=delimiter, strict=False)
        first = start
        for record in reader:
            end = start + reader.line_num
            if end - first > 1 and _stray_quote(lines[first:end], delimiter, end >= total):
                unclosed.append(first + 1)
                yield _single_line(lines[first], delimiter, width)
                start = first + 1
                break
            yield record
            first = end
        else:
            return


def _stray_quote(lines: list[str], delimiter: str, at_end: bool) -> bool:
    """A record over several lines whose quote was opened by mistake: still open at the end of the
    file, or closed by another stray quote with text after it (`...Blue" Finch,...`). A real
    quoted cell closes with its quote right before a delimiter or the end of the line."""
    try:
        for _ in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return at_end or "unexpected end of data" not in str(exc)
    return False


def _single_line(line: str, delimiter: str, width: int) -> list[str]:
    """One line with a stray quote: split as written (the quote kept as a character), unless
    reading its other quotes gives a row closer to the header's width."""
    line = line.rstrip("\r\n")
    literal = line.split(delimiter)
    quoted = next(csv.reader([line], delimiter=delimiter, strict=False), [])
    return literal if abs(len(literal) - width) <= abs(len(quoted) - width) else quoted


def _number_rows(frame: pd.DataFrame, header_row: int) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame.insert(0, "source_row", pd.RangeIndex(header_row + 1, header_row + 1 + len(frame)))
    return frame


def _most_bytes(values: pd.Series) -> int:
    """An upper bound of the longest cell: UTF-8 bytes from Arrow's offsets without touching the
    text, or for a column of Excel values mixing text with numbers or dates the longest text (4
    bytes a character at most)."""
    if is_categorical(values):
        values = distinct_text(values)
    try:
        if values.dtype == object:  # Excel values: text and gaps (most columns) in Arrow, not a Python step a cell
            text = pa.array(values.to_numpy(), type=pa.string(), from_pandas=True)
        else:
            text = pa.array(values.array)
    except (pa.ArrowException, TypeError, UnicodeError):  # UnicodeError: a lone surrogate, not UTF-8
        if values.dtype == object:  # numbers or dates among the text
            return 4 * max((len(v) for v in values.to_numpy() if type(v) is str), default=0)
        return 1 << 62  # measure characters the slow way
    try:
        return pc.max(pc.binary_length(text)).as_py() or 0
    except (pa.ArrowException, TypeError):
        return 1 << 62


def _check_sizes(frame: pd.DataFrame, limits: Limits) -> None:
    if len(frame) > limits.max_rows:
        raise ReadError(f"has {len(frame):,} rows, over the {limits.max_rows:,} limit; split it or raise --max-rows")
    for column in frame.columns[1:]:
        values = frame[column]
        if is_plain_text(values) or is_categorical(values):
            if _most_bytes(values) <= limits.max_cell_chars:
                continue  # no cell has more bytes, so none has more characters
            lengths = values.astype("str").str.len()
            if len(lengths) and lengths.max() > limits.max_cell_chars:
                at = int(lengths.idxmax())
                raise ReadError(
                    f"row {frame['source_row'].iat[at]}, column {column!r}: a cell of {lengths.max():,} characters,"
                    f" over the {limits.max_cell_chars:,} limit; fix the cell or raise --max-cell-chars"
                )


def _strip_nuls(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        values = frame[column]
        if is_categorical(values):
            frame[column] = change_text(values, lambda text: text.str.replace("\0", "", regex=False))
        elif is_plain_text(values):
            values = values.astype("str")
            if values.str.contains("\0", regex=False).any():
                frame[column] = values.str.replace("\0", "", regex=False)
    return frame
