"""What an XML part of a workbook holds, watched as it streams past in bounded memory: no
entity declarations, no run of text longer than a cell may be, formula cells with no saved
value, and for a sheet the rectangle its cells span (the Excel reader allocates all of it)."""

from __future__ import annotations

import codecs
import functools
import re
import zipfile

from analyzer.read.common import Limits, ReadError
from analyzer.read.inflate import OUT_CHUNK, inflate, seek_data

ENTITY_ATTACK = "workbook contains XML entity declarations (a known attack: the file may be malicious); refusing it"
_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.I)
# A formula cell whose value was never computed and saved: its formula closes the cell with no
# value (or an empty one) after it.
_UNCACHED_FORMULA = re.compile(rb"(?:</f>|<f\b[^<>]*/>)(?:<v\s*/>|<v></v>)?</c>")

_ROW_R = re.compile(rb'<row r="([0-9]{1,10})"')
_WIDE_COL = re.compile(rb' r="\s*([A-Za-z]{2,})[0-9]')
_BARE_CELL = re.compile(rb'<c(?=[\s/>])(?! r=")')
_PREFIXED_CELL = re.compile(rb':c[\s/>]')
_HIDDEN = re.compile(rb"<!--|<!\[CDATA\[|<\?")  # markup the reader skips, tags inside it included
_FORMULA = re.compile(rb'</?f[\s/>]')  # a formula (or the end of one begun in the chunk before)
_UNIQUE_COUNT = re.compile(rb"""<(?:[A-Za-z_][\w.\-]*:)?sst\b[^>]*?\suniqueCount\s*=\s*["']\s*([0-9]+)""")
_TAG = re.compile(rb"""<(/?)(?:[A-Za-z_][\w.\-]*:)?(row|c)(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>""")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*(?:"([^"]*)"|'([^']*)')""")


class XmlWatch:
    """Checks on one XML part as it streams past, in bounded memory:

    - no DOCTYPE or ENTITY declaration anywhere (the entity-expansion attack);
    - no run of text without markup longer than a cell may be (a value of tens of megabytes, or
      a bomb of spaces, would otherwise be buffered whole by the XML reader);
    - for sheets, the rectangle the cells span: the Excel reader allocates every cell of it, so a
      lone cell at XFD1048576 would ask for 17 billion. Files as Excel and the usual libraries
      write them are measured with a few fast searches; anything else is walked tag by tag.
    """

    def __init__(self, name: str, limits: Limits, size: int) -> None:
        self.name, self.limits, self.size = name, limits, size
        self.strings = name.lower() == "xl/sharedstrings.xml"  # the reader reserves room for its declared count
        self.max_run = max(16 * limits.max_cell_chars, 2 * OUT_CHUNK)
        self.run = 0
        self.tail = b""
        self.back = b""  # the part's last 256 bytes so far, for what a chunk boundary cuts
        self.fed = 0  # bytes fed so far
        self.head = b""  # the part's first bytes, where its XML declaration is
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
        # One buffer, searched from where the last chunk's tail begins to matter: copies of a
        # sheet's chunks cost as much as a search each.
        buffer = self.tail + chunk
        carried = len(self.tail)
        start = max(0, carried - 16)
        back = self.back
        self.back = chunk[-256:] if len(chunk) >= 256 else (back + chunk)[-256:]
        # What straddles the boundary with the last chunk, whatever the tail kept (a walked
        # part keeps 16 bytes of its last chunk, which may have been 3 bytes long).
        edge, cut_at = back[-16:] + chunk[:16], len(back[-16:])
        if len(self.head) < 8:
            self.head = (self.head + chunk)[:8]
        # A sheet's chunk is searched once for a declaration, a comment, CDATA, a processing
        # instruction or a formula (in RE2: one pass for all); only when it holds one is each
        # looked for.
        unusual = _holds(buffer, len(buffer), _RARE_MARKUP)
        if unusual and _DECLARATION.search(buffer, start) or _straddles(_DECLARATION, edge, cut_at):
            raise ReadError(ENTITY_ATTACK)
        if (unusual and self._hidden(buffer, start, self.fed - carried)
                or self._hidden(edge, 0, self.fed - cut_at, before=cut_at)):
            # The reader skips them; the walk that measures the sheet would read tags inside them.
            raise ReadError(f"sheet part {self.name!r} holds XML comments, CDATA or processing instructions, which"
                            " Excel never writes in a sheet; open the workbook in Excel and save it again")
        self.fed += len(chunk)
        if unusual or _FORMULA.search(back):
            # A formula's end (`</f></c>`) may be cut from its start by the chunk boundary: the
            # window reaches back into the last chunk, and a match is counted where it ends.
            window = back + chunk
            self.uncached += sum(1 for m in _UNCACHED_FORMULA.finditer(window) if m.end() > len(back))
        self._runs(chunk)
        if self.strings:
            self._declared_strings(buffer)
        if not self.exact:
            cut = buffer.rfind(b"<")
            if cut < 0:
                self.tail = buffer
                return
            self._measure(buffer, cut)
            self.tail = buffer[cut:]
        else:
            self.tail = chunk[-16:]

    def _hidden(self, text: bytes, start: int, at: int, before: int | None = None) -> bool:
        """Whether text (which begins `at` bytes into the part) holds, from `start` (and beginning
        before `before`), a comment, CDATA or a processing instruction other than the XML
        declaration that opens the part (`<?xml ...?>`, after a byte-order mark at most; as much
        of it as has come so far)."""
        for found in _HIDDEN.finditer(text, start):
            if before is not None and found.start() >= before:
                return False
            where = at + found.start()
            if not (where <= 3 and b"<?xml".startswith(self.head[where:where + 5])):
                return True
        return False

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

    def _measure(self, text: bytes, end: int) -> None:
        """Measure text[:end] (searched in place: a copy of a sheet's chunk costs a search)."""
        # Cells as Excel writes them carry their own position (`<c r="B12"`), so rows need no
        # check; a cell without one, or with a namespace prefix, is walked tag by tag.
        if _BARE_CELL.search(text, 0, end) or _PREFIXED_CELL.search(text, 0, end):
            self.exact = True
            return
        self.cells += text.count(b'<c r="', 0, end)  # every cell, as none is bare
        # The last row tag's number: the greatest where rows come in order, as they do in every
        # file written by a program. Out of order, cells of the greater rows read as below it
        # and send the sheet to the exact walk, so a wrong guess only costs time.
        last = text.rfind(b"<row ", 0, end)
        row = _ROW_R.match(text, last, end) if last >= 0 else None
        if row:
            self.max_row = max(self.max_row, int(row.group(1)))
        wide = _holds(text, end, _WIDE_POSITION)  # a column past Z: rare, and then the widest is found
        for letters in set(_WIDE_COL.findall(text, 0, end) if wide else ()):
            self.max_col = max(self.max_col, _column_number(letters))
        # Every position must lie within the rows the row tags have reached so far (they only grow,
        # so then within the last one's): a cell below them is walked exactly.
        if _holds(text, end, _beyond(self.max_row)):
            self.exact = True

    def finish(self, handle, member: zipfile.ZipInfo) -> None:
        # The reader allocates every cell of the rectangle (about 45 bytes each, as Python values):
        # a rectangle may be at most a few times the cells the part really holds, and never more
        # than the limit, so a sparse sheet cannot make it allocate gigabytes.
        bound = self.fast_bound()
        allowed = min(self.limits.max_cells, max(2_000_000, 4 * self.cells))
        if bound is not None and bound[0] * bound[1] <= allowed:
            rows, columns = bound
        else:
            rows, columns, self.cells = self._walk(handle, member)
            allowed = min(self.limits.max_cells, max(2_000_000, 4 * self.cells))
        if rows * columns > allowed and rows * columns > 4 * self.cells:
            raise ReadError(
                f"sheet part {self.name!r} spans {rows:,} rows by {columns:,} columns ({rows * columns:,} cells, nearly"
                " all empty), more than can be held in memory; in Excel delete the empty rows and columns around the"
                " data (or copy the data to a new workbook) and save it again, or raise --max-cells"
            )
        if rows * columns > allowed:
            raise ReadError(
                f"sheet part {self.name!r} holds {rows * columns:,} cells, over the {self.limits.max_cells:,} cell limit;"
                " split it into smaller exports, save it as .csv, or raise --max-cells if it is genuine"
            )

    def fast_bound(self) -> tuple[int, int] | None:
        """The rows and columns the sheet spans at most, by the fast measure of all it was fed;
        None when its tags must be walked to tell."""
        if not self.exact and self.tail:
            self._measure(self.tail + b"<", len(self.tail) + 1)
            self.tail = b""
        if self.exact:
            return None
        return max(self.max_row, 1), max(self.max_col, 26)  # no cell lies below the last row tag (`_beyond`)

    def _walk(self, handle, member: zipfile.ZipInfo) -> tuple[int, int]:
        """Positions exactly as the Excel reader assigns them: a row's `r`, else the row after the
        last; a cell's `r`, else the column after the last cell. Returns rows and columns spanned
        from A1."""
        row = column = cells = 0
        max_row = max_col = -1
        carry = b""
        seek_data(handle, member)
        for chunk in inflate(handle, member):
            buffer = carry + chunk
            cut = buffer.rfind(b"<")
            text, carry = (buffer[:cut], buffer[cut:]) if cut >= 0 else (b"", buffer)
            for closing, tag, attributes in _TAG.findall(text):
                empty = attributes.endswith(b"/")
                # Every `r` counts, the farthest taken: one quoted inside another attribute's
                # value (`foo=' r="A1" '`) must not hide the real one from the measure.
                positions = [_cell_position(m.group(1) or m.group(2) or b"")
                             for m in _R_ATTR.finditer(attributes)] if not closing else []
                if tag == b"row":
                    if closing:
                        row, column = row + 1, 0
                        continue
                    if positions:
                        row = max(p[0] for p in positions)
                    if empty:
                        row, column = row + 1, 0
                    continue
                if closing:
                    continue
                if positions:
                    cell_row, column = max(p[0] for p in positions), max(p[1] for p in positions)
                else:
                    cell_row = row
                max_row, max_col = max(max_row, cell_row), max(max_col, column)
                column += 1
                cells += 1
        return max_row + 1, max_col + 1, cells


def _straddles(pattern: re.Pattern, edge: bytes, cut_at: int) -> bool:
    """Whether a match in `edge` begins before `cut_at` (the boundary between two chunks) and so
    was cut by it; a match after the boundary is the chunk's own, found with the chunk."""
    return any(found.start() < cut_at for found in pattern.finditer(edge))


def _holds(text: bytes, end: int, pattern: str) -> bool:
    """Whether text[:end] matches an RE2 pattern anywhere. Arrow's RE2 makes one pass whatever
    the alternatives; Python's `re` tries them at each of a sheet's millions of positions (the
    rows check alone took 0.33 s of a 100,000-row export's 3.3 s, 0.07 s in RE2)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    offsets = pa.py_buffer(np.array([0, end], dtype=np.int32))
    one_value = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(text)])
    return bool(pc.match_substring_regex(one_value, pattern)[0].as_py())


_SPACE = r"[ \t\n\r\f\v]"  # Python's \s for bytes (RE2's leaves out \v)
# _DECLARATION, _HIDDEN or _FORMULA, and _WIDE_COL, in RE2 (which reads a binary value byte by byte).
_RARE_MARKUP = rf"<!(?i:doctype|entity)|<!--|<!\[CDATA\[|<\?|</?f[/>]|</?f{_SPACE}"
_WIDE_POSITION = rf' r="{_SPACE}*[A-Za-z]{{2,}}[0-9]'


@functools.lru_cache(maxsize=64)
def _beyond(row: int) -> str:
    """The RE2 pattern of a position whose row number is greater than `row`: more digits once
    leading zeros are dropped, or as many and greater at the first digit that differs. Rows
    were bounded by their number of digits before (100,001 rows read as 999,999), which sent a
    real 100,000-row export to the slow exact walk (9.8 s instead of 3.3 s)."""
    digits = str(row)
    greater = [digits[:i] + f"[{int(d) + 1}-9]" + "[0-9]" * (len(digits) - i - 1)
               for i, d in enumerate(digits) if d != "9"]
    longer = f"[1-9][0-9]{{{len(digits)},}}"
    return rf' r="{_SPACE}*[A-Za-z]*0*(?:{"|".join([longer, *greater])}){_SPACE}*"'


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
