"""Read exports as they really are: CSV in any of the encodings and delimiters practices produce,
and Excel workbooks with one or many sheets. The only stage, with `write`, that touches files.

Reading yields raw records (every cell as text, or as Excel gave it) with the row number a person
sees when opening the file; deciding what the columns mean is normalisation's job.

Whatever arrives, reading one file never raises: a file that cannot be read becomes an
`InputFile` whose `error` is one line naming the file and what to do. Files are recognised by
their content, not their name. Workbooks are checked before the Excel reader sees them (real
unpacked sizes, compression ratio, XML entity declarations, the rectangle each sheet spans), so a
zip bomb, an entity-expansion ("billion laughs") workbook or a sheet with one cell at XFD1048576 is
refused in bounded memory.
"""

from __future__ import annotations

import codecs
import csv
import glob
import hashlib
import io
import itertools
import re
import stat
import struct
import threading
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from analyzer.cells import change_text, distinct_text, is_categorical, is_plain_text
from analyzer.columns import REPEATED_ROLES, known_header_count, role_of
from analyzer.read_pieces import Digest, NotUtf8, Ragged, TooManyRows, not_utf8, read_pieces, text_columns

EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
DELIMITERS = (",", ";", "\t", "|")
HEADER_SEARCH_ROWS = 30
SNIFF_BYTES = 256 * 1024
_FALLBACK = "analyzer-cp1252-fallback"
_BLOCK = 1 << 20


class ReadError(Exception):
    """An input that cannot be read; the message is one line a person can act on."""


@dataclass(frozen=True)
class Limits:
    """Safety limits; each can be raised in the config or on the command line."""

    max_file_bytes: int = 1024**3  # 1 GiB on disk
    max_unzipped_bytes: int = 2 * 1024**3  # what an xlsx may inflate to
    max_rows: int = 5_000_000
    max_cell_chars: int = 1_000_000
    # How many times one large part of a workbook may inflate. Real sheets inflate 5-50 times;
    # a zip bomb about 1,000 times.
    max_zip_ratio: int = 250
    # Cells in one sheet's rectangle, blanks included: what the Excel reader allocates (about
    # 32 bytes each) whatever the file size, so one cell at XFD1048576 cannot exhaust memory.
    max_cells: int = 50_000_000


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


_fallbacks = threading.local()


def _decode_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 are read as Windows-1252, so a file mixing the two (one client
    pasted into another's export) still reads, accent by accent."""
    _fallbacks.count = getattr(_fallbacks, "count", 0) + 1
    byte = error.object[error.start : error.start + 1]
    try:
        return byte.decode("cp1252"), error.start + 1
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        return byte.decode("latin-1"), error.start + 1


codecs.register_error(_FALLBACK, _decode_fallback)


# ---------------------------------------------------------------------------------------------
# Messages


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
MAX_MESSAGE = 600


def one_line(message: str) -> str:
    """A message that stays one honest line on any terminal: line breaks, control characters and
    bidirectional overrides (in a file name or a header) are shown as escapes, and it is capped."""
    text = _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}" if ord(m.group()) > 0xFF else f"\\x{ord(m.group()):02x}", message)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] if text else "") or type(exc).__name__


# ---------------------------------------------------------------------------------------------
# Finding the inputs


def discover(paths: list[str]) -> Discovery:
    """Expand files, folders (every csv/xlsx/xlsm directly in them) and globs, in the order given."""
    found: dict[Path, None] = {}
    errors: list[InputFile] = []
    for raw in paths:
        try:
            files, error = _expand(raw)
        except (OSError, ValueError) as exc:  # unreadable folder, a NUL or an over-long name
            files, error = [], f"cannot open ({getattr(exc, 'strerror', None) or _reason(exc)}); check the path and permissions"
        if error:
            errors.append(InputFile(raw, error=one_line(f"{raw}: {error}")))
        found.update(dict.fromkeys(files))
    return Discovery(tuple(found), tuple(errors))


def _expand(raw: str) -> tuple[list[Path], str]:
    path = Path(raw)
    if path.is_dir():
        inside = sorted(p for p in path.iterdir() if p.is_file() and _is_export_name(p))
        if not inside:
            return [], "is a folder with no .csv, .xlsx or .xlsm files directly in it; give the export files themselves"
        return inside, ""
    if path.exists():
        return [path], ""
    if path.is_symlink():
        return [], "is a link to a file that no longer exists; give the export file itself"
    if any(ch in raw for ch in "*?["):
        matches = sorted(Path(m) for m in glob.glob(raw, recursive=True) if Path(m).is_file())
        if not matches:
            return [], "no file matches this pattern; check the folder and the pattern"
        return matches, ""
    return [], "no such file or folder; check the path"


def _is_export_name(path: Path) -> bool:
    return path.suffix.lower() in EXCEL_SUFFIXES | {".csv"} and not path.name.startswith(("~$", "."))


# ---------------------------------------------------------------------------------------------
# Reading one file


def read_export(path: Path, limits: Limits = Limits(), sheet: str | None = None) -> InputFile:
    """Read one file (of a workbook, only the named sheet when one is named). Never raises for
    bad input: the failure is in `InputFile.error`."""
    name = str(path)
    try:
        return _read(Path(path), name, limits, sheet)
    except ReadError as exc:
        message = f"{name}: {exc}"
    except OSError as exc:
        message = f"{name}: cannot open ({exc.strerror or _reason(exc)}); check the path and permissions"
    except MemoryError:
        message = f"{name}: not enough memory to read it; split the file into smaller exports"
    except RecursionError as exc:
        message = f"{name}: could not read ({_reason(exc)}); open it, save it again as .csv or .xlsx and try again"
    except Exception as exc:  # the safety net: one odd file must never stop the run or print a traceback
        message = (f"{name}: could not read ({type(exc).__name__}: {_reason(exc)}); open it, save it again as"
                   " .csv or .xlsx and try again")
    return InputFile(name, error=one_line(message))


def _read(path: Path, name: str, limits: Limits, only: str | None = None) -> InputFile:
    info = path.stat()
    if stat.S_ISDIR(info.st_mode):
        raise ReadError("is a folder, not a file; give the export files inside it, or the folder to read all of them")
    if not stat.S_ISREG(info.st_mode):
        raise ReadError("is not a regular file (a device, pipe or socket); give the export file itself")
    if info.st_size > limits.max_file_bytes:
        raise ReadError(
            f"file is {info.st_size / 1024**2:,.0f} MB, over the {limits.max_file_bytes / 1024**2:,.0f} MB limit;"
            " split it or raise --max-file-mb"
        )
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    kind, notes = _sniff_kind(path, head)
    if kind == "xlsx":
        digest = _scan_file(path, limits)
        sheets = _read_excel(path, limits, notes, only)
        if not sheets:
            raise ReadError("workbook has no sheet with data; check it is the export of failed items")
        return InputFile(name, digest.sha256, tuple(sheets))
    sheet, digest = _read_csv(path, limits, head, info.st_size, notes)
    return InputFile(name, digest.sha256, (sheet,))


def _scan_file(path: Path, limits: Limits) -> Digest:
    """One pass over the bytes: the hash for the manifest, the NUL bytes some systems pad with,
    and the size actually read (a file may grow after it was measured). The CSV fast path does
    this while it parses; other paths call it."""
    digest = hashlib.sha256()
    size = nuls = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
            if b"\0" in block:
                nuls += block.count(0)
            size += len(block)
            if size > limits.max_file_bytes:
                raise _over_size(limits)
    return Digest(digest.hexdigest(), size, nuls)


def _over_size(limits: Limits) -> ReadError:
    return ReadError(f"file is over the {limits.max_file_bytes / 1024**2:,.0f} MB limit; split it or raise --max-file-mb")


_MAGIC = (
    (b"%PDF-", "is a PDF, not a CSV or Excel export; export the failed items from Dext as .csv or .xlsx"),
    (b"\x89PNG", "is an image, not a CSV or Excel export; export the failed items from Dext as .csv or .xlsx"),
    (b"\xff\xd8\xff", "is an image, not a CSV or Excel export; export the failed items from Dext as .csv or .xlsx"),
    (b"GIF8", "is an image, not a CSV or Excel export; export the failed items from Dext as .csv or .xlsx"),
    (b"\x1f\x8b", "is gzip-compressed; unpack it first and give the .csv or .xlsx inside"),
    (b"7z\xbc\xaf\x27\x1c", "is a 7-Zip archive; unpack it first and give the .csv or .xlsx inside"),
    (b"Rar!", "is a RAR archive; unpack it first and give the .csv or .xlsx inside"),
    (b"{\\rtf", "is a Word (RTF) document, not a CSV; export the failed items again as .csv or .xlsx"),
)
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_UNSUPPORTED_SUFFIXES = {".xls", ".ods", ".numbers", ".xlsb"}


def _sniff_kind(path: Path, head: bytes) -> tuple[str, list[str]]:
    """What the file is by its content, whatever its name says: "xlsx" or "csv", with notes."""
    suffix = path.suffix.lower()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        _check_zip_kind(path)
        notes = [] if suffix in EXCEL_SUFFIXES else [f"named {suffix or 'without an extension'} but is an Excel workbook; read as a workbook"]
        return "xlsx", notes
    if head.startswith(_OLE[:4]):
        raise ReadError(_ole_message(path, head, suffix))
    for magic, message in _MAGIC:
        if head.startswith(magic):
            raise ReadError(message)
    if head and not head.strip(b"\0"):
        raise ReadError("holds only zero bytes (it was not saved completely); export the failed items again")
    if _is_blank(head):
        raise ReadError("file is empty; export the failed items again")
    if suffix in _UNSUPPORTED_SUFFIXES:
        raise ReadError(f"{suffix} files are not supported; save it as .xlsx or .csv")
    if _looks_binary(head):
        raise ReadError("does not look like a CSV or Excel file (binary content); export it again as .csv or .xlsx")
    markup = _markup_message(head)
    if markup:
        raise ReadError(markup)
    notes = [f"named {suffix} but holds CSV text; read as CSV"] if suffix in EXCEL_SUFFIXES else []
    return "csv", notes


def _is_blank(head: bytes) -> bool:
    """Nothing but a byte-order mark, white space and NUL padding."""
    order = _utf16_order(head)
    text = head.decode(f"utf-16-{order}", errors="ignore") if order else head.removeprefix(codecs.BOM_UTF8).decode("latin-1")
    return not text.replace("\0", "").strip(" \t\r\n\x0b\x0c\x1a\ufeff")


def _markup_message(head: bytes) -> str:
    start = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table", b"<head", b"<body")):
        return "is a web page (HTML), not a CSV; open it in Excel and save it as .xlsx or .csv"
    if start.startswith(b"<?xml"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in head:
            return "is an Excel 2003 XML spreadsheet; open it in Excel and save it as .xlsx or .csv"
        return "is an XML file, not a CSV or Excel export; export the failed items again as .csv or .xlsx"
    return ""


def _utf16_order(head: bytes) -> str:
    """"le" or "be" when the bytes are UTF-16 (with or without a byte-order mark), else ""."""
    if head.startswith(codecs.BOM_UTF16_LE):
        return "le"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "be"
    sample = head[: 8192 - 8192 % 2]
    if len(sample) < 4:
        return ""
    half = len(sample) // 2
    even, odd = sample[0::2].count(0) / half, sample[1::2].count(0) / half
    if odd > 0.3 and even < 0.05:
        return "le"
    if even > 0.3 and odd < 0.05:
        return "be"
    return ""


def _looks_binary(head: bytes) -> bool:
    if _utf16_order(head):
        return False
    sample = head[:8192]
    control = sum(b < 9 or 13 < b < 32 for b in sample) - sample.count(0)  # NULs are padding, stripped later
    if control <= max(8, len(sample) // 100):
        return False
    # Control characters pasted into otherwise valid UTF-8 text are still text; binary data is
    # also never valid UTF-8 for long (the sample may end mid-character).
    try:
        sample.replace(b"\0", b"").decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(sample) - 4 - sample.count(0) or control > len(sample) // 4
    return control > len(sample) // 4


def _check_zip_kind(path: Path) -> None:
    """A zip is read only when it is an Excel workbook; anything else gets a message saying what it is."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = {n.lower() for n in archive.namelist()}
            mimetype = archive.read("mimetype")[:100] if "mimetype" in archive.namelist() else b""
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, KeyError, NotImplementedError):
        raise ReadError("workbook is truncated or corrupt; open it in Excel and save it again") from None
    if "xl/workbook.xml" in names:
        return
    if "xl/workbook.bin" in names:
        raise ReadError("is an Excel binary workbook (.xlsb); open it in Excel and save it as .xlsx")
    if b"opendocument.spreadsheet" in mimetype:
        raise ReadError("is an OpenDocument spreadsheet (.ods); open it and save it as .xlsx or .csv")
    if "word/document.xml" in names:
        raise ReadError("is a Word document, not an export; export the failed items again as .csv or .xlsx")
    raise ReadError("is a zip archive but not an Excel workbook; unpack it and give the .csv or .xlsx inside")


# ---------------------------------------------------------------------------------------------
# Office 97-2003 (OLE2) files: an encrypted .xlsx, an old .xls, or something else


def _ole_message(path: Path, head: bytes, suffix: str) -> str:
    try:
        with path.open("rb") as handle:
            names = _ole_stream_names(handle)
    except (OSError, struct.error, ValueError):
        names = set()
    if not names:  # a directory we cannot walk: look for the names in the first bytes
        names = {n for n in ("EncryptionInfo", "EncryptedPackage", "Workbook", "Book", "WordDocument")
                 if n.encode("utf-16-le") in head}
    if names & {"EncryptionInfo", "EncryptedPackage"} or (not names and suffix in EXCEL_SUFFIXES):
        return ("workbook is password-protected; open it in Excel, remove the password (File > Info >"
                " Protect Workbook > Encrypt with Password, clear it) and save it again")
    if "WordDocument" in names:
        return "is a Word 97-2003 document, not an export; export the failed items again as .csv or .xlsx"
    if names & {"Workbook", "Book"} or suffix == ".xls" or not names:
        return "is an old Excel 97-2003 workbook; open it in Excel and save it as .xlsx or .csv"
    return "is an Office 97-2003 file that holds no workbook; export the failed items again as .csv or .xlsx"


_FREE_SECTORS = 0xFFFFFFFA  # sector numbers from here up are markers (end of chain, free, ...)


def _ole_stream_names(handle) -> set[str]:
    """The stream and storage names of an OLE2 compound file, from its directory (bounded work)."""
    header = handle.read(512)
    if len(header) < 512 or not header.startswith(_OLE):
        return set()
    shift = struct.unpack_from("<H", header, 30)[0]
    if shift not in (9, 12):
        return set()
    size = 1 << shift
    per_sector = size // 4
    first_dir, first_difat, difat_count = struct.unpack_from("<I", header, 48)[0], *struct.unpack_from("<II", header, 68)
    fat_sectors = [s for s in struct.unpack_from("<109I", header, 76) if s < _FREE_SECTORS]
    sector, seen = first_difat, 0
    while sector < _FREE_SECTORS and seen < min(difat_count, 1024):
        handle.seek((sector + 1) * size)
        entries = struct.unpack(f"<{per_sector}I", handle.read(size))
        fat_sectors.extend(s for s in entries[:-1] if s < _FREE_SECTORS)
        sector, seen = entries[-1], seen + 1

    def next_sector(current: int) -> int:
        index, offset = divmod(current, per_sector)
        if index >= len(fat_sectors):
            return 0xFFFFFFFE
        handle.seek((fat_sectors[index] + 1) * size + offset * 4)
        data = handle.read(4)
        return struct.unpack("<I", data)[0] if len(data) == 4 else 0xFFFFFFFE

    names: set[str] = set()
    sector, visited = first_dir, set()
    while sector < _FREE_SECTORS and sector not in visited and len(visited) < 4096:
        visited.add(sector)
        handle.seek((sector + 1) * size)
        data = handle.read(size)
        for offset in range(0, len(data) - 127, 128):
            entry = data[offset : offset + 128]
            length = struct.unpack_from("<H", entry, 64)[0]
            if entry[66] in (1, 2, 5) and 2 <= length <= 64:
                names.add(entry[: length - 2].decode("utf-16-le", errors="replace"))
        sector = next_sector(sector)
    return names


# ---------------------------------------------------------------------------------------------
# CSV


def _read_csv(path: Path, limits: Limits, head: bytes, size: int, notes: list[str]) -> tuple[Sheet, Digest]:
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
    skip_lines = _lines_before_record(sample, delimiter, header_index)
    _fallbacks.count = 0
    digest = None
    try:
        frame, digest, swallowed = _parse_utf8(path, encoding, delimiter, header, skip_lines + 1, limits)
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
    digest = digest or _scan_file(path, limits)
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


def _parse_utf8(path: Path, encoding: str, delimiter: str, header: tuple[str, ...], skip: int, limits: Limits):
    """(frame, digest, swallowed) from Arrow, in pieces on every core when the file can be cut,
    else in one go; (None, None, False) for bytes that are not UTF-8. A ragged row raises
    ParserError, for the careful reader."""
    if encoding not in ("utf-8-sig", "utf-8"):
        return None, None, False
    free_text = tuple(h for h in header if role_of(h) in ("error", "note", "description"))
    try:
        parsed = read_pieces(path, header, skip, delimiter, max_bytes=limits.max_file_bytes,
                             max_rows=limits.max_rows, check_first=free_text, repeated=_repeated(header))
    except NotUtf8:
        return None, None, False
    except Ragged:
        raise pd.errors.ParserError("a row has more or fewer cells than the header") from None
    except TooManyRows:
        raise ReadError(f"has more than {limits.max_rows:,} rows; split it or raise --max-rows") from None
    except OverflowError:
        raise _over_size(limits) from None
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


def _encoding_of(head: bytes) -> str:
    order = _utf16_order(head)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if order:
        return f"utf-16-{order}"
    return "utf-8-sig"  # with the cp1252 fallback for any byte that is not UTF-8


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


_LINE_END = re.compile(r"\r\n|\r|\n")


def _sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines into the most, and most consistent, fields."""
    # Lines as a CSV reader ends them: str.splitlines() would also break at characters such as
    # NEL (\x85) or a form feed that a cell may hold.
    every = _LINE_END.split(sample)
    lines = [line for line in every[:HEADER_SEARCH_ROWS + 20] if line.strip()][:-1] or every[:1]
    best, best_score = ",", 0.0
    for delimiter in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
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
    try:
        for record in reader:
            records.append(record)
            if len(records) >= HEADER_SEARCH_ROWS:
                break
    except csv.Error:  # a field over the csv module's size limit: the header is above it
        pass
    return records


def _find_header(records: list[list[object]]) -> int:
    """The header is the row naming the most known columns (the first such row); failing that,
    the first row as wide as the table (title rows above a header are narrower). A row of more
    than one cell naming even one known column (say only `Error`) beats a wider data row."""
    scores = [known_header_count(r) if sum(bool(str(c).strip()) for c in r) > 1 else 0 for r in records]
    if scores and max(scores) >= 1:
        return scores.index(max(scores))
    widths = [sum(bool(str(c).strip()) for c in r) for r in records]
    widest = max(widths, default=0)
    if widest == 0:
        raise ReadError("holds no rows; export the failed items again")
    return widths.index(widest)


_HEADER_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _unique_headers(cells: list[object]) -> tuple[str, ...]:
    """Header names as given (control characters removed), blanks named by position and repeats
    numbered, so no column is lost. `source_row` is the reader's own column: an input column of
    that name (this tool's own output, read back) is numbered like a repeat."""
    names: list[str] = []
    for position, cell in enumerate(cells, start=1):
        name = " ".join(_HEADER_JUNK.sub(" ", str(cell)).split()) if cell is not None else ""
        name = name or f"Column {position}"
        candidate, n = name, 2
        while candidate in names or candidate == "source_row":
            candidate, n = f"{name} ({n})", n + 1
        names.append(candidate)
    return tuple(names)


def _lines_before_record(sample: str, delimiter: str, record_index: int) -> int:
    """Physical lines taken by the records above the header (a title cell may hold a newline)."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    for _ in range(record_index):
        next(reader)
    return reader.line_num


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
    ragged = 0
    unclosed: list[int] = []
    with path.open(encoding=encoding, errors=_FALLBACK, newline="") as handle:
        lines = handle.readlines()
    try:
        for index, record in enumerate(_careful_records(lines, delimiter, width, unclosed)):
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
        where = f"line {unclosed[-1] if unclosed else '?'}"
        if "field larger than field limit" in str(exc):
            raise ReadError(f"a cell is over the {limits.max_cell_chars:,} character limit; fix the cell or raise"
                            " --max-cell-chars") from None
        raise ReadError(f"{where}: {exc}; re-save the file as CSV") from None
    del lines
    frame = pd.DataFrame(rows, columns=[*header, "(extra cells)"], dtype="str")
    if not frame["(extra cells)"].str.len().any():
        frame = frame.drop(columns="(extra cells)")
    notes = []
    if ragged:
        notes.append(f"{ragged} row(s) had more or fewer cells than the header; read with care")
    if unclosed:
        shown = ", ".join(str(n) for n in unclosed[:10]) + (", …" if len(unclosed) > 10 else "")
        notes.append(f"a stray quote (\") on line(s) {shown} would have swallowed the lines after it; each such line"
                     " was read as written")
    return frame, tuple(notes)


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
    text, or for a column of Excel values the longest text (4 bytes a character at most)."""
    if is_categorical(values):
        values = distinct_text(values)
    if values.dtype == object:
        return 4 * max((len(v) for v in values.to_numpy() if type(v) is str), default=0)
    try:
        longest = pc.max(pc.binary_length(pa.array(values.array))).as_py()
    except (pa.ArrowException, TypeError):
        return 1 << 62  # measure characters the slow way
    return longest or 0


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


# ---------------------------------------------------------------------------------------------
# Excel


def _read_excel(path: Path, limits: Limits, notes: list[str], only: str | None = None) -> tuple[Sheet, ...]:
    _check_workbook_archive(path, limits)
    from python_calamine import CalamineWorkbook  # imported here: CSV-only runs never pay for it

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        try:
            sheets = []
            for name in workbook.sheet_names:
                if only is not None and name.casefold() != only.casefold():
                    continue
                grid = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
                sheet = _read_sheet(name, grid, limits, tuple(notes))
                if sheet is not None:
                    sheets.append(sheet)
            return tuple(sheets)
        finally:
            workbook.close()
    except (ReadError, MemoryError):
        raise
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # calamine reports damage with many types, panics included
        if type(exc).__name__ == "PasswordError":
            raise ReadError("workbook is password-protected; open it in Excel, remove the password and save it again") from None
        raise ReadError(f"workbook is damaged or not a real .xlsx ({_reason(exc)}); open it in Excel and save it again") from None


_STRUCTURE = ("[content_types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "_rels/.rels")
_MAX_STRUCTURE_BYTES = 16 * 1024**2
_MAX_PARTS = 10_000
_RATIO_FROM_BYTES = 16 * 1024**2  # parts smaller than this may inflate as they like
_SHEET_FOLDERS = ("xl/worksheets/", "xl/dialogsheets/", "xl/chartsheets/", "xl/macrosheets/")
_ENTITY_ATTACK = "workbook contains XML entity declarations (a known attack: the file may be malicious); refusing it"


def _check_workbook_archive(path: Path, limits: Limits) -> None:
    """Refuse zip bombs, entity tricks and sheets too big to hold before calamine parses anything.

    Sizes are measured, not trusted: every part is inflated once, in bounded chunks, and stops
    the moment it grows past what its header declared or past the limits."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_declared(members, limits)
            by_name = {m.filename.lower(): m for m in members}
            if "xl/workbook.xml" not in by_name:
                raise ReadError("is a zip archive but not an Excel workbook; unpack it and give the .csv or .xlsx inside")
            for name in _STRUCTURE:
                if name in by_name:
                    _parse_structure(archive, by_name[name])
        with path.open("rb") as handle:
            total = 0
            for member in members:
                total += _verify_member(handle, member, limits, total)
    except zipfile.BadZipFile:
        raise ReadError("workbook is truncated or corrupt; open it in Excel and save it again") from None
    except (zipfile.LargeZipFile, EOFError, zlib.error, struct.error, ValueError, OverflowError, NotImplementedError):
        raise ReadError("workbook is truncated or corrupt; open it in Excel and save it again") from None


def _check_declared(members: list[zipfile.ZipInfo], limits: Limits) -> None:
    if len(members) > _MAX_PARTS:
        raise ReadError(f"workbook has {len(members):,} parts, far more than any export; refusing it (it may be malicious)")
    total = sum(m.file_size for m in members)
    if total > limits.max_unzipped_bytes:
        raise ReadError(
            f"workbook would unpack to {total / 1024**2:,.0f} MB, over the"
            f" {limits.max_unzipped_bytes / 1024**2:,.0f} MB limit; refusing it (raise --max-unzipped-mb if it is genuine)"
        )
    for member in members:
        if member.flag_bits & 0x1:
            raise ReadError("workbook's zip is password-protected; open it in Excel and save it again without a password")
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ReadError("workbook is compressed in a way Excel never uses; open it in Excel and save it again")
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _RATIO_FROM_BYTES and ratio > limits.max_zip_ratio:
            raise ReadError(
                f"workbook part {member.filename!r} would inflate {ratio:,.0f} times ({member.compress_size / 1024**2:,.1f} MB"
                f" to {member.file_size / 1024**2:,.0f} MB): a zip bomb, not an export; refusing it"
            )


def _parse_structure(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """The workbook's small structural parts go through defusedxml, which refuses DTDs and entities."""
    import defusedxml
    import defusedxml.ElementTree as SafeET

    if member.file_size > _MAX_STRUCTURE_BYTES:
        raise ReadError(f"workbook part {member.filename!r} is {member.file_size / 1024**2:,.0f} MB, far more than"
                        " Excel writes; open it in Excel and save it again")
    data = archive.read(member)  # zipfile stops at the declared size, which was just bounded
    try:
        SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException:
        raise ReadError(_ENTITY_ATTACK) from None
    except SafeET.ParseError as exc:
        raise ReadError(f"workbook is damaged ({member.filename}: {_reason(exc)}); open it in Excel and save it again") from None


_LOCAL_HEADER = struct.Struct("<4s22xHH")
_OUT_CHUNK = 4 * 1024**2
_IN_CHUNK = 256 * 1024
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)


def _verify_member(handle, member: zipfile.ZipInfo, limits: Limits, unpacked_before: int) -> int:
    """Inflate one part in bounded chunks: its real size (never over the declared one or the
    limits), its CRC, and for XML parts the checks that keep the Excel reader's memory bounded."""
    handle.seek(member.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile
    handle.seek(member.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
    name = member.filename.lower()
    sheet = name.startswith(_SHEET_FOLDERS)  # whatever its extension: the reader parses it as XML
    xml = sheet or (name.endswith((".xml", ".rels", ".vml")) and (name.startswith("xl/") or name in _STRUCTURE))
    watch = _XmlWatch(member.filename, limits, sheet, member.file_size) if xml else None
    size = crc = 0
    for chunk in _inflate(handle, member):
        size += len(chunk)
        if size > member.file_size:
            raise ReadError(f"workbook part {member.filename!r} is larger than its zip header says (damaged, or built"
                            " to attack); refusing it")
        if unpacked_before + size > limits.max_unzipped_bytes:
            raise ReadError(f"workbook unpacks to more than {limits.max_unzipped_bytes / 1024**2:,.0f} MB; refusing it"
                            " (raise --max-unzipped-mb if it is genuine)")
        crc = zlib.crc32(chunk, crc)
        if watch:
            watch.feed(chunk)
    if size != member.file_size or crc != member.CRC:
        raise ReadError("workbook is truncated or corrupt; open it in Excel and save it again")
    if watch:
        watch.finish(handle, member)
    return size


def _inflate(handle, member: zipfile.ZipInfo, offset: int | None = None):
    """The part's bytes, at most _OUT_CHUNK at a time, however well they compress."""
    if offset is not None:
        handle.seek(offset)
    left = member.compress_size
    if member.compress_type == zipfile.ZIP_STORED:
        while left:
            data = handle.read(min(left, _OUT_CHUNK))
            if not data:
                raise EOFError
            left -= len(data)
            yield data
        return
    inflater = zlib.decompressobj(-15)
    pending = b""
    while not inflater.eof:
        if not pending:
            if not left:  # all input read: what zlib still holds, else the stream was cut short
                out = inflater.decompress(b"", _OUT_CHUNK)
                if not out:
                    raise EOFError
                yield out
                continue
            pending = handle.read(min(left, _IN_CHUNK))
            if not pending:
                raise EOFError
            left -= len(pending)
        out = inflater.decompress(pending, _OUT_CHUNK)
        pending = inflater.unconsumed_tail
        if out:
            yield out


_ROW_R = re.compile(rb'<row r="([0-9]{1,10})"')
_WIDE_COL = re.compile(rb' r="([A-Za-z]{2,})[0-9]')
_BARE_CELL = re.compile(rb'<c(?=[\s/>])(?! r=")')
_PREFIXED_CELL = re.compile(rb':c[\s/>]')
_UNIQUE_COUNT = re.compile(rb"""<(?:[A-Za-z_][\w.\-]*:)?sst\b[^>]*?\suniqueCount\s*=\s*["']\s*([0-9]+)""")
_TAG = re.compile(rb"""<(/?)(?:[A-Za-z_][\w.\-]*:)?(row|c)(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*(?:"([^"]*)"|'([^']*)')""")


class _XmlWatch:
    """Checks on one XML part as it streams past, in bounded memory:

    - no DOCTYPE or ENTITY declaration anywhere (the entity-expansion attack);
    - no run of text without markup longer than a cell may be (a value of tens of megabytes, or
      a bomb of spaces, would otherwise be buffered whole by the XML reader);
    - for sheets, the rectangle the cells span: the Excel reader allocates every cell of it, so a
      lone cell at XFD1048576 would ask for 17 billion. Files as Excel and the usual libraries
      write them are measured with a few fast searches; anything else is walked tag by tag.
    """

    def __init__(self, name: str, limits: Limits, sheet: bool, size: int) -> None:
        self.name, self.limits, self.sheet, self.size = name, limits, sheet, size
        self.strings = name.lower() == "xl/sharedstrings.xml"  # the reader reserves room for its declared count
        self.max_run = max(16 * limits.max_cell_chars, 2 * _OUT_CHUNK)
        self.run = 0
        self.tail = b""
        self.first = True
        self.max_row = 0
        self.max_col = 0
        self.exact = False  # set when the fast measure is not enough: walk the tags afterwards

    def feed(self, chunk: bytes) -> None:
        if self.first:
            self.first = False
            if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or chunk[:2] in (b"<\0", b"\0<"):
                raise ReadError(f"workbook part {self.name!r} is stored as UTF-16, which Excel never writes; open it in"
                                " Excel and save it again")
        window = self.tail[-16:] + chunk
        if _DECLARATION.search(window):
            raise ReadError(_ENTITY_ATTACK)
        self._runs(chunk)
        if self.strings:
            self._declared_strings(window)
        if self.sheet and not self.exact:
            buffer = self.tail + chunk
            cut = buffer.rfind(b"<")
            if cut < 0:
                self.tail = buffer
                return
            self._measure(buffer[:cut])
            self.tail = buffer[cut:]
        else:
            self.tail = chunk[-16:]

    def _declared_strings(self, window: bytes) -> None:
        match = _UNIQUE_COUNT.search(window)
        if match is None:
            return
        self.strings = False
        declared = match.group(1)
        if len(declared) > 12 or int(declared) > self.size // 5 + 1:  # each string takes 5 bytes at least
            raise ReadError(f"workbook part {self.name!r} declares {int(declared):,} strings but has room for far fewer"
                            " (damaged, or built to exhaust memory); refusing it")

    def _runs(self, chunk: bytes) -> None:
        first = chunk.find(b"<")
        if first < 0:
            self.run += len(chunk)
        else:
            self.run += first
            if self.run > self.max_run:
                self._too_long()
            self.run = len(chunk) - chunk.rfind(b"<") - 1
        if self.run > self.max_run:
            self._too_long()

    def _too_long(self) -> None:
        raise ReadError(
            f"workbook part {self.name!r} holds a value of more than {self.max_run / 1e6:,.0f} MB (over the"
            f" {self.limits.max_cell_chars:,} character cell limit, or a zip bomb); refusing it"
            " (raise --max-cell-chars if it is genuine)"
        )

    def _measure(self, text: bytes) -> None:
        # Cells as Excel writes them carry their own position (`<c r="B12"`), so rows need no
        # check; a cell without one, or with a namespace prefix, is walked tag by tag.
        if _BARE_CELL.search(text) or _PREFIXED_CELL.search(text):
            self.exact = True
            return
        rows = _ROW_R.findall(text)
        if rows:
            self.max_row = max(self.max_row, max(map(int, rows)))
        for letters in set(_WIDE_COL.findall(text)):
            self.max_col = max(self.max_col, _column_number(letters))
        digits = len(str(max(self.max_row, 1)))
        if re.search(rb' r="[A-Za-z]*[0-9]{%d}' % (digits + 1), text):
            self.exact = True  # a cell below every row tag: measure exactly

    def finish(self, handle, member: zipfile.ZipInfo) -> None:
        if not self.sheet:
            return
        allowed = min(self.limits.max_cells, max(2_000_000, self.size // 4))
        if not self.exact:
            self._measure(self.tail + b"<")
            rows = 10 ** len(str(max(self.max_row, 1))) - 1  # no cell's row has more digits than the last row's
            columns = max(self.max_col, 26)
            if self.exact or rows * columns > allowed:
                self.exact = True
        if self.exact:
            rows, columns = self._walk(handle, member)
        if rows * columns > allowed:
            raise ReadError(
                f"sheet part {self.name!r} spans {rows:,} rows by {columns:,} columns ({rows * columns:,} cells, nearly"
                " all empty), more than can be held in memory; in Excel delete the empty rows and columns around the"
                " data (or copy the data to a new workbook) and save it again"
            )

    def _walk(self, handle, member: zipfile.ZipInfo) -> tuple[int, int]:
        """Positions exactly as the Excel reader assigns them: a row's `r`, else the row after the
        last; a cell's `r`, else the column after the last cell. Returns rows and columns spanned
        from A1."""
        row = column = 0
        max_row = max_col = -1
        carry = b""
        start = member.header_offset
        handle.seek(start)
        _, name_length, extra_length = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
        for chunk in _inflate(handle, member, start + _LOCAL_HEADER.size + name_length + extra_length):
            buffer = carry + chunk
            cut = buffer.rfind(b"<")
            text, carry = (buffer[:cut], buffer[cut:]) if cut >= 0 else (b"", buffer)
            for closing, tag, attributes in _TAG.findall(text):
                empty = attributes.endswith(b"/")
                reference = _R_ATTR.search(attributes)
                ref = (reference.group(1) or reference.group(2) or b"") if reference and not closing else b""
                if tag == b"row":
                    if closing:
                        row, column = row + 1, 0
                        continue
                    if ref:
                        row = _cell_position(ref)[0]
                    if empty:
                        row, column = row + 1, 0
                    continue
                if closing:
                    continue
                if ref:
                    cell_row, column = _cell_position(ref)
                else:
                    cell_row = row
                max_row, max_col = max(max_row, cell_row), max(max_col, column)
                column += 1
        return max_row + 1, max_col + 1


def _column_number(letters: bytes) -> int:
    if len(letters) > 6:
        return 10**9
    number = 0
    for letter in letters.upper():
        number = number * 26 + (letter - 64)
    return number


def _cell_position(reference: bytes) -> tuple[int, int]:
    """(row, column), 0-based, of `B12` or of a row number `12`; huge for nonsense."""
    match = re.fullmatch(rb"\s*([A-Za-z]*)([0-9]+)\s*", reference)
    if not match:
        return 0, 0
    letters, digits = match.groups()
    row = int(digits) - 1 if len(digits) <= 10 else 10**10
    return max(row, 0), max(_column_number(letters) - 1, 0) if letters else 0


def _read_sheet(name: str, grid: list[list[object]], limits: Limits, notes: tuple[str, ...] = ()) -> Sheet | None:
    while grid and not any(_filled(c) for c in grid[-1]):
        grid.pop()
    if not grid:
        return None
    if len(grid) > limits.max_rows:
        raise ReadError(f"sheet {name!r} has {len(grid):,} rows, over the {limits.max_rows:,} limit; split it or raise --max-rows")
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
    if frame.empty:
        notes = (*notes, "has a header but no data rows")
    return Sheet(name, header, header_index + 1, frame, notes=notes)


def _filled(cell: object) -> bool:
    return cell is not None and str(cell).strip() != ""


def _text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)
