"""Recognising a file by its content: its kind, encoding, delimiter and header row."""

from __future__ import annotations

import codecs
import csv
import io
import re
import struct
import zipfile
from collections import Counter
from pathlib import Path


from analyzer.columns import known_header_count
from analyzer.read.common import DELIMITERS, EXCEL_SUFFIXES, HEADER_SEARCH_ROWS, UNSUPPORTED_SUFFIXES, ReadError


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
    if suffix in UNSUPPORTED_SUFFIXES:
        raise ReadError(f"{suffix} files are not supported; save it as .xlsx or .csv")
    if _looks_binary(head):
        raise ReadError("does not look like a CSV or Excel file (binary content); export it again as .csv or .xlsx")
    markup = _markup_message(head)
    if markup:
        raise ReadError(markup)
    notes = [f"named {suffix} but holds CSV text; read as CSV"] if suffix in EXCEL_SUFFIXES else []
    return "csv", notes


_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def _is_blank(head: bytes) -> bool:
    """Nothing but a byte-order mark, white space and NUL padding."""
    order = _utf16_order(head)
    if head.startswith(_UTF32_BOMS):
        text = head[: len(head) - len(head) % 4].decode("utf-32", errors="ignore")
    elif order:
        text = head.decode(f"utf-16-{order}", errors="ignore")
    else:
        text = head.removeprefix(codecs.BOM_UTF8).decode("latin-1")
    return not text.replace("\0", "").strip(" \t\r\n\x0b\x0c\x1a\ufeff")


def _markup_message(head: bytes) -> str:
    start = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html", b"<table", b"<head", b"<body")):
        return "is a web page (HTML), not a CSV or Excel export; open it in Excel and save it as .xlsx or .csv"
    if start.startswith(b"<?xml"):
        if b"urn:schemas-microsoft-com:office:spreadsheet" in head:
            return "is an Excel 2003 XML spreadsheet; open it in Excel and save it as .xlsx or .csv"
        return "is an XML file, not a CSV or Excel export; export the failed items again as .csv or .xlsx"
    return ""


def _utf16_order(head: bytes) -> str:
    """"le" or "be" when the bytes are UTF-16 (with or without a byte-order mark), else ""."""
    if head.startswith(_UTF32_BOMS):  # FF FE 00 00 also starts like UTF-16's mark
        return ""
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
    if _utf16_order(head) or head.startswith(_UTF32_BOMS):
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


def _encoding_of(head: bytes) -> str:
    if head.startswith(_UTF32_BOMS):
        return "utf-32"
    order = _utf16_order(head)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if order:
        return f"utf-16-{order}"
    return "utf-8-sig"  # with the cp1252 fallback for any byte that is not UTF-8


_LINE_END = re.compile(r"\r\n|\r|\n")


def _sniff_delimiter(sample: str) -> str:
    """The delimiter that splits the first records most consistently into the most fields: the
    number of records that agree on a width first (one very wide record, a quoted cell of tabs
    split on tabs, must not outweigh many that agree), then that times the width. Records are
    read as a CSV reader
    reads them, quotes and all, so a quoted cell full of tabs or holding a line break cannot make
    another character the delimiter. (Lines end where a CSV reader ends them: at CR or LF, not
    at NEL or a form feed a cell may hold.)"""
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts = []
        try:
            for record in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
                if any(cell.strip() for cell in record):
                    counts.append(len(record))
                if len(counts) > HEADER_SEARCH_ROWS + 20:
                    break
        except csv.Error:
            continue
        if max(counts, default=1) < 2:
            continue
        modal = max(set(counts), key=lambda width: (counts.count(width), width))
        agree = counts.count(modal)
        score = (agree, agree * modal) if modal > 1 else (0, 0)  # splitting nothing consistently is no delimiter
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


def above_header(records: list[list[object]], header_index: int) -> str:
    """A note accounting for the rows above the header row: title lines, or rows as full as
    items (a sheet sorted with its header in it, rows pasted above it), which are not read."""
    filled = [sum(bool(str(c).strip()) for c in r if c is not None) for r in records[:header_index]]
    if not any(filled):
        return ""
    wide = max(2, (sum(bool(str(c).strip()) for c in records[header_index] if c is not None) + 1) // 2)
    items = [i for i, n in enumerate(filled) if n >= wide]
    if items:
        return (f"{len(items)} row(s) above the header row (row {header_index + 1}) look like items and were not read"
                f" (first: row {items[0] + 1}); move the header row to the top, above every item")
    titles = sum(1 for n in filled if n)
    return f"{titles} title row(s) above the header row (row {header_index + 1}) skipped"


_HEADER_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _unique_headers(cells: list[object]) -> tuple[str, ...]:
    """Header names as given (control characters removed), blanks named by position and repeats
    numbered, so no column is lost. `source_row` is the reader's own column: an input column of
    that name (this tool's own output, read back) is numbered like a repeat."""
    names: list[str] = []
    taken: set[str] = {"source_row"}  # a set: a header of many thousand blank cells stays linear
    for position, cell in enumerate(cells, start=1):
        name = header_name(cell)
        name = name or f"Column {position}"
        candidate, n = name, 2
        while candidate in taken:
            candidate, n = f"{name} ({n})", n + 1
        names.append(candidate)
        taken.add(candidate)
    return tuple(names)


def header_name(cell: object) -> str:
    """A header cell as its name: control characters removed, spaces collapsed."""
    return " ".join(_HEADER_JUNK.sub(" ", str(cell)).split()) if cell is not None else ""


def repeated_headers(cells: list[object], header: tuple[str, ...]) -> str:
    """A note naming header names given to more than one column: the first such column is the one
    read for its role (a second `Total` is kept as `Total (2)`, never read as the amount)."""
    given = [header_name(c) for c in cells]
    counts = Counter(name for name in given if name and name != "source_row")
    repeated = [name for name, n in counts.items() if n > 1]
    if not repeated:
        return ""
    def numbered(name: str) -> str:  # Total (2), Total (3): not Total (USD)
        return ", ".join(repr(h) for h in header if re.fullmatch(rf"{re.escape(name)} \(\d+\)", h) and h not in given)

    shown = "; ".join(f"{counts[name]} columns are headed {name!r} (the others kept as {numbered(name)})"
                      for name in repeated[:3])
    more = f"; and {len(repeated) - 3} more names" if len(repeated) > 3 else ""
    return f"{shown}{more}: the first of each is the one read; rename a column if another is meant"


def _lines_before_record(sample: str, delimiter: str, record_index: int) -> int:
    """Physical lines taken by the records above the header (a title cell may hold a newline)."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    for _ in range(record_index):
        next(reader)
    return reader.line_num
