"""Read exports as they really are: CSV in any of the encodings and delimiters practices produce,
and Excel workbooks with one or many sheets. The only stage, with `write`, that touches files.

Reading yields raw records (every cell as text, or as Excel gave it) with the row number a person
sees when opening the file; deciding what the columns mean is normalisation's job.
"""

from __future__ import annotations

import codecs
import csv
import glob
import hashlib
import io
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analyzer.columns import known_header_count

EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_ROWS = 30
SNIFF_BYTES = 256 * 1024
_FALLBACK = "analyzer-cp1252-fallback"


class ReadError(Exception):
    """An input that cannot be read; the message is one line a person can act on."""


@dataclass(frozen=True)
class Limits:
    """Safety limits; each can be raised in the config or on the command line."""

    max_file_bytes: int = 1024**3  # 1 GiB on disk
    max_unzipped_bytes: int = 2 * 1024**3  # what an xlsx may inflate to
    max_rows: int = 5_000_000
    max_cell_chars: int = 1_000_000


@dataclass(frozen=True)
class Sheet:
    """One table of raw records. `rows` holds text (CSV) or Excel values, one column per header,
    plus `source_row`, the line or row number of each record as a person sees it."""

    sheet_name: str | None
    header: tuple[str, ...]
    header_row: int
    rows: pd.DataFrame
    delimiter: str = ""
    encoding: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class InputFile:
    path: str
    sha256: str = ""
    sheets: tuple[Sheet, ...] = ()
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class Discovery:
    files: tuple[Path, ...]
    errors: tuple[InputFile, ...] = field(default=())


def _decode_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 are read as Windows-1252, so a file mixing the two (one client
    pasted into another's export) still reads, accent by accent."""
    byte = error.object[error.start : error.start + 1]
    try:
        return byte.decode("cp1252"), error.start + 1
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        return byte.decode("latin-1"), error.start + 1


codecs.register_error(_FALLBACK, _decode_fallback)


def discover(paths: list[str]) -> Discovery:
    """Expand files, folders (every csv/xlsx/xlsm directly in them) and globs, in the order given."""
    found: dict[Path, None] = {}
    errors: list[InputFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and _is_export_name(p))
            if not inside:
                errors.append(InputFile(raw, error=f"{raw}: folder has no .csv, .xlsx or .xlsm files"))
            found.update(dict.fromkeys(inside))
        elif path.exists():
            found[path] = None
        elif any(ch in raw for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(raw, recursive=True) if Path(m).is_file())
            if not matches:
                errors.append(InputFile(raw, error=f"{raw}: no file matches this pattern"))
            found.update(dict.fromkeys(matches))
        else:
            errors.append(InputFile(raw, error=f"{raw}: no such file or folder; check the path"))
    return Discovery(tuple(found), tuple(errors))


def _is_export_name(path: Path) -> bool:
    return path.suffix.lower() in EXCEL_SUFFIXES | {".csv"} and not path.name.startswith(("~$", "."))


def read_export(path: Path, limits: Limits = Limits()) -> InputFile:
    """Read one file. Never raises for bad input: the failure is in `InputFile.error`."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise ReadError(
                f"file is {size / 1024**2:.0f} MB, over the {limits.max_file_bytes / 1024**2:.0f} MB limit;"
                " split it or raise --max-file-mb"
            )
        digest = _sha256(path)
        kind = _sniff_kind(path)
        sheets = _read_excel(path, limits) if kind == "xlsx" else (_read_csv(path, limits),)
        if not sheets:
            raise ReadError("workbook has no sheet with data")
        return InputFile(name, digest, tuple(sheets))
    except ReadError as exc:
        return InputFile(name, error=f"{name}: {exc}")
    except OSError as exc:
        return InputFile(name, error=f"{name}: cannot open ({exc.strerror or exc}); check the path and permissions")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sniff_kind(path: Path) -> str:
    """What the file is by its content, whatever its name says."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    suffix = path.suffix.lower()
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        if "EncryptionInfo".encode("utf-16-le") in head or suffix in EXCEL_SUFFIXES:
            raise ReadError("workbook is password-protected; open it in Excel, remove the password"
                            " (File > Info > Protect Workbook) and save it again")
        raise ReadError("is an old Excel 97-2003 workbook; open it in Excel and save it as .xlsx or .csv")
    if not head.strip():
        raise ReadError("file is empty; export the failed items again")
    if suffix in {".xls", ".ods", ".numbers", ".xlsb"}:
        raise ReadError(f"{suffix} files are not supported; save it as .xlsx or .csv")
    if _looks_binary(head):
        raise ReadError("does not look like a CSV or Excel file (binary content); export it again as .csv or .xlsx")
    return "csv"


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    control = sum(b < 9 or 13 < b < 32 for b in head[:8192])
    return control > max(8, len(head[:8192]) // 100)


# ---------------------------------------------------------------------------------------------
# CSV


def _read_csv(path: Path, limits: Limits) -> Sheet:
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    encoding = _encoding_of(head)
    sample = head.decode(encoding, errors=_FALLBACK)
    delimiter = _sniff_delimiter(sample)
    records = _sample_records(sample, delimiter)
    header_index = _find_header(records)
    header = _unique_headers(records[header_index])
    skip_lines = _lines_before_record(sample, delimiter, header_index)
    try:
        with warnings.catch_warnings():
            # pandas only warns when a row is longer than the header, and drops the extra cells.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = _parse_fast(path, encoding, delimiter, header, skip_lines + 1)
        notes: tuple[str, ...] = ()
    except (pd.errors.ParserError, pd.errors.ParserWarning, ValueError):
        frame, notes = _parse_careful(path, encoding, delimiter, header, header_index, limits)
    frame = _number_rows(frame, header_index + 1)
    _check_sizes(frame, limits)
    return Sheet(None, tuple(frame.columns[1:]), header_index + 1, frame, delimiter, encoding, notes)


def _encoding_of(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8-sig"  # with the cp1252 fallback for any byte that is not UTF-8


def _sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines into the most, and most consistent, fields."""
    lines = [line for line in sample.splitlines()[:HEADER_SEARCH_ROWS + 20] if line.strip()][:-1] or sample.splitlines()[:1]
    best, best_score = ",", 0.0
    for delimiter in DELIMITERS:
        counts = [len(r) for r in csv.reader(lines, delimiter=delimiter)]
        widest = max(counts, default=1)
        if widest < 2:
            continue
        modal = max(set(counts), key=counts.count)
        score = counts.count(modal) * modal if modal > 1 else 0.5 * widest
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _sample_records(sample: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    records = []
    for record in reader:
        records.append(record)
        if len(records) >= HEADER_SEARCH_ROWS:
            break
    return records


def _find_header(records: list[list[object]]) -> int:
    """The header is the first row naming two or more known columns; failing that, the first
    row as wide as the table (title rows above a header are narrower)."""
    scores = [known_header_count(r) for r in records]
    if scores and max(scores) >= 2:
        return scores.index(max(scores))
    widths = [sum(bool(str(c).strip()) for c in r) for r in records]
    widest = max(widths, default=0)
    if widest == 0:
        raise ReadError("holds no rows; export the failed items again")
    return widths.index(widest)


def _unique_headers(cells: list[object]) -> tuple[str, ...]:
    """Header names as given, blanks named by position and repeats numbered, so no column is lost."""
    names: list[str] = []
    for position, cell in enumerate(cells, start=1):
        name = " ".join(str(cell).split()) if cell is not None else ""
        name = name or f"Column {position}"
        candidate, n = name, 2
        while candidate in names:
            candidate, n = f"{name} ({n})", n + 1
        names.append(candidate)
    return tuple(names)


def _lines_before_record(sample: str, delimiter: str, record_index: int) -> int:
    """Physical lines taken by the records above the header (a title cell may hold a newline)."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    for _ in range(record_index):
        next(reader)
    return reader.line_num


def _parse_fast(path: Path, encoding: str, delimiter: str, header: tuple[str, ...], skip: int) -> pd.DataFrame:
    """pandas' C parser; raises on a ragged row so the careful path can account for it."""
    return pd.read_csv(
        path, sep=delimiter, header=None, names=list(header), skiprows=skip, dtype=str,
        keep_default_na=False, na_filter=False, skip_blank_lines=False, encoding=encoding,
        encoding_errors=_FALLBACK, on_bad_lines="error", engine="c", index_col=False,
        quoting=csv.QUOTE_MINIMAL,
    )


def _parse_careful(path, encoding, delimiter, header, header_index, limits):
    """Row by row: short rows are padded, long rows keep their extra cells in one column."""
    csv.field_size_limit(max(limits.max_cell_chars + 1, 131072))
    width = len(header)
    rows: list[list[str]] = []
    ragged = 0
    with path.open(encoding=encoding, errors=_FALLBACK, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=False)
        try:
            for index, record in enumerate(reader):
                if index <= header_index:
                    continue
                if len(record) != width and any(c.strip() for c in record):
                    ragged += 1
                extra = record[width:]
                record = (record + [""] * width)[:width]
                rows.append(record + [delimiter.join(extra)])
                if len(rows) > limits.max_rows:
                    raise ReadError(f"has more than {limits.max_rows:,} rows; split it or raise --max-rows")
        except csv.Error as exc:
            raise ReadError(f"line {reader.line_num}: {exc}; re-save the file as CSV") from None
    frame = pd.DataFrame(rows, columns=[*header, "(extra cells)"], dtype="str")
    if not frame["(extra cells)"].str.len().any():
        frame = frame.drop(columns="(extra cells)")
    note = f"{ragged} row(s) had more or fewer cells than the header; read with care" if ragged else ""
    return frame, (note,) if note else ()


def _number_rows(frame: pd.DataFrame, header_row: int) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame.insert(0, "source_row", pd.RangeIndex(header_row + 1, header_row + 1 + len(frame)))
    return frame


def _check_sizes(frame: pd.DataFrame, limits: Limits) -> None:
    if len(frame) > limits.max_rows:
        raise ReadError(f"has {len(frame):,} rows, over the {limits.max_rows:,} limit; split it or raise --max-rows")
    for column in frame.columns[1:]:
        values = frame[column]
        if values.dtype == object or str(values.dtype).startswith(("str", "string")):
            lengths = values.astype("str").str.len()
            if len(lengths) and lengths.max() > limits.max_cell_chars:
                at = int(lengths.idxmax())
                raise ReadError(
                    f"row {frame['source_row'].iat[at]}, column {column!r}: a cell of {lengths.max():,} characters,"
                    f" over the {limits.max_cell_chars:,} limit; fix the cell or raise --max-cell-chars"
                )


# ---------------------------------------------------------------------------------------------
# Excel


def _read_excel(path: Path, limits: Limits) -> tuple[Sheet, ...]:
    _check_workbook_archive(path, limits)
    from python_calamine import CalamineWorkbook  # imported here: CSV-only runs never pay for it

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheets = []
        for name in workbook.sheet_names:
            sheet = _read_sheet(name, workbook.get_sheet_by_name(name).to_python(skip_empty_area=False), limits)
            if sheet is not None:
                sheets.append(sheet)
        return tuple(sheets)
    except ReadError:
        raise
    except Exception as exc:  # calamine reports corrupt workbooks with many exception types
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ReadError(f"workbook is damaged or not a real .xlsx ({reason}); open it in Excel and save it again") from None


def _check_workbook_archive(path: Path, limits: Limits) -> None:
    """Refuse zip bombs and XML with entity declarations before any XML is parsed."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            total = sum(m.file_size for m in members)
            if total > limits.max_unzipped_bytes:
                raise ReadError(
                    f"workbook would unpack to {total / 1024**2:,.0f} MB, over the"
                    f" {limits.max_unzipped_bytes / 1024**2:,.0f} MB limit; refusing it (raise --max-unzipped-mb if it is genuine)"
                )
            if not any(m.filename == "xl/workbook.xml" for m in members):
                raise ReadError("is a zip archive but not an Excel workbook; export it again as .xlsx or .csv")
            for member in members:
                if member.filename.endswith((".xml", ".rels")):
                    with archive.open(member) as handle:
                        if _declares_entities(handle.read(4096)):
                            raise ReadError("workbook contains XML entity declarations (a known attack); refusing it")
    except zipfile.BadZipFile:
        raise ReadError("workbook is truncated or corrupt; open it in Excel and save it again") from None


def _declares_entities(prolog: bytes) -> bool:
    return re.search(rb"<!(?:DOCTYPE|ENTITY)", prolog, re.I) is not None


def _read_sheet(name: str, grid: list[list[object]], limits: Limits) -> Sheet | None:
    while grid and not any(_filled(c) for c in grid[-1]):
        grid.pop()
    if not grid:
        return None
    if len(grid) > limits.max_rows:
        raise ReadError(f"sheet {name!r} has {len(grid):,} rows, over the {limits.max_rows:,} limit")
    header_index = _find_header([[_text(c) for c in r] for r in grid[:HEADER_SEARCH_ROWS]])
    header = _unique_headers([_text(c) for c in grid[header_index]])
    frame = pd.DataFrame(grid[header_index + 1 :], columns=list(header), dtype=object)
    # Columns with neither a name nor a value are the sheet's empty margin, not data.
    unnamed = [h for h, cell in zip(header, grid[header_index]) if not _filled(cell)]
    empty = [h for h in unnamed if not frame[h].map(_filled).any()]
    frame = frame.drop(columns=empty)
    header = tuple(h for h in header if h not in empty)
    frame = _number_rows(frame, header_index + 1)
    _check_sizes(frame, limits)
    return Sheet(name, header, header_index + 1, frame)


def _filled(cell: object) -> bool:
    return cell is not None and str(cell).strip() != ""


def _text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)
