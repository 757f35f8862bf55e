"""Checks a workbook passes before the Excel reader sees it: real unpacked sizes, compression
ratio, XML entity declarations, and the rectangle each sheet spans."""

from __future__ import annotations

import codecs
import posixpath
import re
import struct
import zipfile
import zlib
from pathlib import Path


from analyzer.read.common import Limits, ReadError, _reason


_STRUCTURE = ("[content_types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "_rels/.rels")
_MAX_STRUCTURE_BYTES = 16 * 1024**2
_MAX_PARTS = 10_000
_RATIO_FROM_BYTES = 16 * 1024**2  # parts smaller than this may inflate as they like
_SHEET_FOLDERS = ("xl/worksheets/", "xl/dialogsheets/", "xl/chartsheets/", "xl/macrosheets/")
_ENTITY_ATTACK = "workbook contains XML entity declarations (a known attack: the file may be malicious); refusing it"


def _check_workbook_archive(path: Path, limits: Limits) -> list[str]:
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
            sheets = _sheet_parts(archive, by_name)
        with path.open("rb") as handle:
            total = uncached = 0
            for member in members:
                size, formulas = _verify_member(handle, member, limits, total, member.filename.lower() in sheets)
                total, uncached = total + size, uncached + formulas
        if uncached:
            return [f"{uncached:,} formula cell(s) have no saved value (the workbook was made by a program and never"
                    " opened and saved in Excel), so their text is missing; open it in Excel, save it, and run again"]
        return []
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
# A formula cell whose value was never computed and saved: its formula closes the cell with no
# value (or an empty one) after it.
_UNCACHED_FORMULA = re.compile(rb"(?:</f>|<f\b[^<>]*/>)(?:<v\s*/>|<v></v>)?</c>")


def _sheet_parts(archive: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo]) -> set[str]:
    """The parts the Excel reader will parse as sheets, wherever they are stored: the targets of
    the relationships that workbook.xml's sheets name, and any part a relationship calls a
    sheet. A sheet stored at the zip's root or in `xl/data/` is still a sheet, so the sheet
    checks look at exactly the parts the reader will."""
    import defusedxml.ElementTree as SafeET

    rels = by_name.get("xl/_rels/workbook.xml.rels")
    if rels is None:
        return set()

    def parse(member):
        return SafeET.fromstring(archive.read(member), forbid_dtd=True, forbid_entities=True, forbid_external=True)

    named = {value for element in parse(by_name["xl/workbook.xml"]).iter() if element.tag.endswith("sheet")
             for key, value in element.attrib.items() if key.endswith("}id") or key == "id"}
    parts = set()
    for element in parse(rels).iter():
        target, kind = element.get("Target"), element.get("Type", "")
        if not target or element.get("TargetMode", "").lower() == "external":
            continue
        if element.get("Id") in named or kind.lower().endswith("sheet"):
            target = target.replace("\\", "/")
            joined = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
            parts.add(posixpath.normpath(joined).lower())
    return parts


def _verify_member(handle, member: zipfile.ZipInfo, limits: Limits, unpacked_before: int,
                   referenced: bool = False) -> tuple[int, int]:
    """Inflate one part in bounded chunks: its real size (never over the declared one or the
    limits), its CRC, and for XML parts the checks that keep the Excel reader's memory bounded."""
    handle.seek(member.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile
    handle.seek(member.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
    name = member.filename.lower()
    # Every part, whatever its name, folder or extension: the reader parses whatever part the
    # relationships name as a sheet, joining paths its own way (`./`, `//`, `\\`, `..`), so
    # the measure cannot depend on working out which parts those are.
    sheet = True
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
    return size, watch.uncached if watch else 0


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
        self.cells = 0  # cells the part holds: a rectangle far larger than them is the far-cell trick
        self.uncached = 0  # formula cells with no saved value: the reader sees them empty
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
        if self.sheet and b"<f" in window:  # counted where the match ends in this chunk, so once
            carried = len(window) - len(chunk)
            self.uncached += sum(1 for m in _UNCACHED_FORMULA.finditer(window) if m.end() > carried)
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
        self.cells += text.count(b"<c ") + text.count(b"<c>") + text.count(b"<c/")
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
        # The reader allocates every cell of the rectangle (about 45 bytes each, as Python values):
        # a rectangle may be at most a few times the cells the part really holds, and never more
        # than the limit, so a sparse sheet cannot make it allocate gigabytes.
        allowed = min(self.limits.max_cells, max(2_000_000, 4 * self.cells))
        if not self.exact:
            self._measure(self.tail + b"<")
            rows = 10 ** len(str(max(self.max_row, 1))) - 1  # no cell's row has more digits than the last row's
            columns = max(self.max_col, 26)
            if self.exact or rows * columns > allowed:
                self.exact = True
        if self.exact:
            rows, columns, self.cells = self._walk(handle, member)
            allowed = min(self.limits.max_cells, max(2_000_000, 4 * self.cells))
        if rows * columns > allowed and rows * columns > 4 * self.cells:
            raise ReadError(
                f"sheet part {self.name!r} spans {rows:,} rows by {columns:,} columns ({rows * columns:,} cells, nearly"
                " all empty), more than can be held in memory; in Excel delete the empty rows and columns around the"
                " data (or copy the data to a new workbook) and save it again"
            )
        if rows * columns > allowed:
            raise ReadError(
                f"sheet part {self.name!r} holds {rows * columns:,} cells, over the {self.limits.max_cells:,} cell limit;"
                " split it into smaller exports, save it as .csv, or raise --max-cells if it is genuine"
            )

    def _walk(self, handle, member: zipfile.ZipInfo) -> tuple[int, int]:
        """Positions exactly as the Excel reader assigns them: a row's `r`, else the row after the
        last; a cell's `r`, else the column after the last cell. Returns rows and columns spanned
        from A1."""
        row = column = cells = 0
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
                cells += 1
        return max_row + 1, max_col + 1, cells


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
