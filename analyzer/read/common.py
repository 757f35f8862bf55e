"""What every part of reading shares: the limits, the records read, and one-line messages."""

from __future__ import annotations

import codecs
import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analyzer.read.pieces import Digest


EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
# Spreadsheets this tool cannot read: named as failed inputs (save as .xlsx or .csv), never passed over.
UNSUPPORTED_SUFFIXES = {".xls", ".ods", ".numbers", ".xlsb"}
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
    # 45 bytes each as Python values, measured) whatever the file size, so one cell at
    # XFD1048576 cannot exhaust memory, and a run reading a full sheet stays under 1 GB.
    max_cells: int = 16_000_000
    # Columns in one table: real exports have a few dozen; tens of thousands is a broken or
    # hostile file that would only cost time.
    max_columns: int = 2_000


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
    notes: tuple[str, ...] = field(default=())  # entries passed over, files reached twice


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


def _scan_file(path: Path, limits: Limits, hashed: bool = True) -> Digest:
    """One pass over the bytes: the hash for the manifest (unless not `hashed`: then ""), the NUL
    bytes some systems pad with, and the size actually read (a file may grow after it was
    measured). The CSV fast path does this while it parses; other paths call it."""
    digest = hashlib.sha256() if hashed else None
    size = nuls = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            if digest is not None:
                digest.update(block)
            if b"\0" in block:
                nuls += block.count(0)
            size += len(block)
            if size > limits.max_file_bytes:
                raise _over_size(limits)
    return Digest(digest.hexdigest() if digest is not None else "", size, nuls)


def _over_size(limits: Limits) -> ReadError:
    return ReadError(f"file is over the {limits.max_file_bytes / 1024**2:,.0f} MB limit; split it or raise --max-file-mb")


def check_columns(header: tuple[str, ...], limits: Limits, where: str = "") -> None:
    if len(header) > limits.max_columns:
        raise ReadError(f"{where}has {len(header):,} columns, over the {limits.max_columns:,} column limit (an export has"
                        " a few dozen); check the file, or raise --max-columns if it is genuine")
