"""Write the corpus of broken and hostile inputs next to this file, byte for byte the same on every
run (no clocks, fixed seeds, zips written by hand).

    python tests/data/broken/make_corpus.py

`expected.toml` says what each file must give. Files too big to commit (a cell of tens of
megabytes) are made by the tests at run time with the functions here; the zip bomb is committed
because it inflates 1 GiB from about 1 MB.
"""

from __future__ import annotations

import random
import struct
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = "Receipt ID,Date,Supplier,Total,Currency,Error"
ROWS = [
    "1001,31/10/2026,Café Nord,12.50,GBP,Account code '455' has been archived",
    "1002,30/10/2026,Harbour Supplies,80.00,GBP,The document date is before the lock date",
    "1003,29/10/2026,Acme Paper,5.00,GBP,Invoice # must be unique.",
]


def text_csv(rows: list[str] = ROWS, header: str = HEADER, newline: str = "\r\n") -> str:
    return newline.join([header, *rows]) + newline


# ---------------------------------------------------------------------------------------------
# Zips and workbooks, written by hand so every byte is fixed


def raw_zip(entries: list[tuple[str, bytes]], *, method: int = 8, declared: dict[str, tuple[int, int]] | None = None,
            precompressed: dict[str, tuple[bytes, int, int]] | None = None) -> bytes:
    """A zip of `entries` (name, content). `precompressed[name] = (deflate data, crc, size)` stores
    data as given; `declared[name] = (crc, size)` writes those in the headers instead of the truth."""
    out, central = bytearray(), bytearray()
    for name, content in entries:
        encoded = name.encode()
        if precompressed and name in precompressed:
            data, crc, size = precompressed[name]
            kind = 8
        else:
            crc, size = zlib.crc32(content), len(content)
            kind = method
            if kind == 8:
                packer = zlib.compressobj(9, zlib.DEFLATED, -15)
                data = packer.compress(content) + packer.flush()
            else:
                data = content
        if declared and name in declared:
            crc, size = declared[name]
        offset = len(out)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, kind, 0, 0x21, crc, len(data), size, len(encoded), 0)
        out += encoded + data
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, kind, 0, 0x21, crc, len(data), size,
                               len(encoded), 0, 0, 0, 0, 0, offset)
        central += encoded
    start = len(out)
    out += central
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), start, 0)
    return bytes(out)


NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PROLOG = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sheet_xml(rows: list[list[str]]) -> str:
    """Inline-string cells with their positions, as XlsxWriter writes them."""
    body = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(
            f'<c r="{_column(c)}{r}" t="inlineStr"><is><t xml:space="preserve">{_escape(v)}</t></is></c>'
            for c, v in enumerate(row, start=1)
        )
        body.append(f'<row r="{r}">{cells}</row>')
    return f'{PROLOG}<worksheet {NS}><sheetData>{"".join(body)}</sheetData></worksheet>'


def _column(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def workbook_parts(sheets: dict[str, str], *, shared_strings: str | None = None, workbook_xml: str | None = None
                   ) -> list[tuple[str, bytes]]:
    """The parts of a minimal real .xlsx: `sheets` maps sheet names to worksheet XML."""
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    if shared_strings is not None:
        overrides += ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                      'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
    content_types = (
        f'{PROLOG}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{overrides}</Types>"
    )
    root_rels = (
        f'{PROLOG}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    sheet_tags = "".join(f'<sheet name="{_escape(n)}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(sheets, 1))
    workbook = workbook_xml or f'{PROLOG}<workbook {NS} xmlns:r="{REL_NS}"><sheets>{sheet_tags}</sheets></workbook>'
    relations = "".join(
        f'<Relationship Id="rId{i}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    if shared_strings is not None:
        relations += f'<Relationship Id="rId{len(sheets) + 1}" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
    workbook_rels = (f'{PROLOG}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                     f"{relations}</Relationships>")
    parts = [
        ("[Content_Types].xml", content_types.encode()),
        ("_rels/.rels", root_rels.encode()),
        ("xl/workbook.xml", workbook.encode()),
        ("xl/_rels/workbook.xml.rels", workbook_rels.encode()),
    ]
    parts += [(f"xl/worksheets/sheet{i}.xml", xml.encode()) for i, xml in enumerate(sheets.values(), 1)]
    if shared_strings is not None:
        parts.append(("xl/sharedStrings.xml", shared_strings.encode()))
    return parts


def good_rows() -> list[list[str]]:
    return [HEADER.split(",")] + [row.split(",") for row in ROWS]


def good_workbook() -> bytes:
    return raw_zip(workbook_parts({"Failed items": sheet_xml(good_rows())}))


def zip_bomb(inflated: int = 1024**3) -> bytes:
    """A real-looking workbook whose sheet inflates to `inflated` bytes of spaces (about 1,000 to 1).

    Deflate segments ended by a full flush stand alone, so one compressed run of spaces is
    repeated instead of compressing a gigabyte."""
    prefix = f'{PROLOG}<worksheet {NS}><sheetData>'.encode()
    suffix = b"</sheetData></worksheet>"
    run = 16 * 1024**2
    count = max(1, (inflated - len(prefix) - len(suffix)) // run)
    spaces = b" " * run

    def segment(data: bytes, final: bool = False) -> bytes:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        return packer.compress(data) + packer.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)

    data = segment(prefix) + segment(spaces) * count + segment(suffix, final=True)
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(spaces, crc)
    crc = zlib.crc32(suffix, crc)
    size = len(prefix) + run * count + len(suffix)
    parts = workbook_parts({"Sheet1": ""})
    return raw_zip(parts, precompressed={"xl/worksheets/sheet1.xml": (data, crc, size)})


def lying_zip_bomb(actual: int = 8 * 1024**2, declared: int = 4096) -> bytes:
    """Headers that claim the sheet is 4 KB (with the CRC of those 4 KB) while it inflates to 8 MB:
    a reader that trusts the header, or stops where it says, is fooled."""
    xml = (f'{PROLOG}<worksheet {NS}><sheetData>'.encode() + b" " * actual + b"</sheetData></worksheet>")
    parts = workbook_parts({"Sheet1": ""})
    parts = [(n, xml if n == "xl/worksheets/sheet1.xml" else c) for n, c in parts]
    return raw_zip(parts, declared={"xl/worksheets/sheet1.xml": (zlib.crc32(xml[:declared]), declared)})


LAUGHS = "".join(f'<!ENTITY lol{i} "{"&lol%d;" % (i - 1) * 10}">' for i in range(1, 10))
DOCTYPE = f'<!DOCTYPE lolz [<!ENTITY lol0 "lol">{LAUGHS}]>'


def billion_laughs() -> bytes:
    """Shared strings whose one string expands to 10^9 "lol"s through nested entities."""
    strings = f'{PROLOG}{DOCTYPE}<sst {NS} count="2" uniqueCount="2"><si><t>Error</t></si><si><t>&lol9;</t></si></sst>'
    sheet = (f'{PROLOG}<worksheet {NS}><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
             '<row r="2"><c r="A2" t="s"><v>1</v></c></row></sheetData></worksheet>')
    return raw_zip(workbook_parts({"Sheet1": sheet}, shared_strings=strings))


def billion_laughs_in_workbook() -> bytes:
    """The same attack in xl/workbook.xml, which is parsed with defusedxml."""
    workbook = (f'{PROLOG}{DOCTYPE}<workbook {NS} xmlns:r="{REL_NS}"><sheets>'
                '<sheet name="&lol9;" sheetId="1" r:id="rId1"/></sheets></workbook>')
    return raw_zip(workbook_parts({"Sheet1": sheet_xml(good_rows())}, workbook_xml=workbook))


def far_cell() -> bytes:
    """Two cells, A1 and XFD1048576: a 2 KB file whose rectangle is 17 billion cells."""
    sheet = (f'{PROLOG}<worksheet {NS}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Error</t></is></c></row>'
             '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>')
    return raw_zip(workbook_parts({"Sheet1": sheet}))


def relocated_far_cell(folder: str) -> bytes:
    """The far-cell sheet stored outside xl/worksheets/ (in `folder`, "" for the zip's root): the
    workbook's relationships point there, and the Excel reader follows them anywhere."""
    parts = workbook_parts({"Sheet1": far_cell_sheet()})
    moved = f"{folder}sheet1.xml"
    target = f"/{moved}"
    return raw_zip([
        (moved, data) if name == "xl/worksheets/sheet1.xml"
        else (name, data.replace(b'Target="worksheets/sheet1.xml"', f'Target="{target}"'.encode())) for name, data in parts
    ])


def far_cell_sheet() -> str:
    return (f'{PROLOG}<worksheet {NS}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Error</t></is></c></row>'
            '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>')


def formula_without_value() -> bytes:
    """A workbook a program wrote with a formula in the error column and no saved value (as
    openpyxl does): the reader sees an empty cell."""
    sheet = (f'{PROLOG}<worksheet {NS}><sheetData>'
             '<row r="1"><c r="A1" t="inlineStr"><is><t>Item ID</t></is></c><c r="B1" t="inlineStr"><is><t>Error</t></is></c></row>'
             '<row r="2"><c r="A2" t="inlineStr"><is><t>1001</t></is></c><c r="B2"><f>CONCAT("Account ","archived")</f><v></v></c></row>'
             '<row r="3"><c r="A3" t="inlineStr"><is><t>1002</t></is></c><c r="B3" t="inlineStr"><is><t>Invoice # must be unique.</t></is></c></row>'
             '</sheetData></worksheet>')
    return raw_zip(workbook_parts({"Acme Ltd": sheet}))


def bare_cells() -> bytes:
    """The same trick without positions: the last row is numbered, its 16,384 cells are not, so
    each takes the next column."""
    cells = '<c t="inlineStr"><is><t>x</t></is></c>' * 16384
    sheet = (f'{PROLOG}<worksheet {NS}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Error</t></is></c></row>'
             f'<row r="1048576">{cells}</row></sheetData></worksheet>')
    return raw_zip(workbook_parts({"Sheet1": sheet}))


def huge_string_count() -> bytes:
    """Shared strings declaring 10^14 strings: the reader would reserve memory for all of them."""
    strings = f'{PROLOG}<sst {NS} count="1" uniqueCount="99999999999999"><si><t>Error</t></si></sst>'
    sheet = f'{PROLOG}<worksheet {NS}><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>'
    return raw_zip(workbook_parts({"Sheet1": sheet}, shared_strings=strings))


def corrupt_member() -> bytes:
    """A complete zip whose sheet's compressed bytes were damaged (the CRC no longer matches)."""
    data = bytearray(good_workbook())
    start = data.index(b"xl/worksheets/sheet1.xml") + len("xl/worksheets/sheet1.xml")
    for offset in range(start + 20, start + 60, 3):
        data[offset] ^= 0x5A
    return bytes(data)


def huge_cell_csv(chars: int = 30 * 1024**2) -> bytes:
    """A cell of tens of megabytes (made at test time; too big to commit)."""
    return (text_csv(ROWS[:1]) + f'1004,28/10/2026,Big Cell Ltd,1.00,GBP,"{"x" * chars}"\r\n' + ROWS[2] + "\r\n").encode()


def huge_cell_xlsx(chars: int = 30 * 1024**2) -> bytes:
    """The same in a workbook; hex digits, so it compresses like text (about 2 to 1), not like a bomb."""
    text = random.Random(30).randbytes(chars // 2).hex()
    rows = good_rows() + [["1004", "28/10/2026", "Big Cell Ltd", "1.00", "GBP", text]]
    return raw_zip(workbook_parts({"Failed items": sheet_xml(rows)}))


# ---------------------------------------------------------------------------------------------
# OLE2 compound files: an encrypted .xlsx and an old .xls


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A version 3 compound file (512-byte sectors). Every stream is padded to 4 KB or more so it
    lives in ordinary sectors; the directory is a right-leaning chain in name order."""
    size, end, free, fat_marker, none = 512, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    names = sorted(streams, key=lambda n: (len(n), n.upper()))
    blobs = [streams[n] + b"\0" * (-len(streams[n]) % size) for n in names]
    entries = 1 + len(names)
    dir_sectors = -(-entries * 128 // size)
    fat = [fat_marker] + [i + 2 if i < dir_sectors else end for i in range(1, dir_sectors + 1)]
    starts = []
    for blob in blobs:
        first, count = len(fat), len(blob) // size
        starts.append(first)
        fat += [first + i + 1 for i in range(count - 1)] + [end]
    if len(fat) > size // 4:
        raise ValueError("streams too big for one FAT sector")
    fat += [free] * (size // 4 - len(fat))

    def entry(name: str, kind: int, child: int, right: int, start: int, length: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return struct.pack("<64sHBBIII16sIQQIQ", encoded.ljust(64, b"\0"), len(encoded), kind, 1, none, right, child,
                           b"\0" * 16, 0, 0, 0, start, length)

    directory = entry("Root Entry", 5, 1 if names else none, none, end, 0)
    for index, (name, start) in enumerate(zip(names, starts), start=1):
        right = index + 1 if index < len(names) else none
        directory += entry(name, 2, none, right, start, len(streams[name]))
    directory += b"\0" * (dir_sectors * size - len(directory))
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\0" * 16, 0x3E, 3, 0xFFFE,
                         9, 6, b"\0" * 6, 0, 1, 1, 0, 4096, end, 0, end, 0)
    header += struct.pack("<109I", 0, *([free] * 108))
    return header + struct.pack(f"<{size // 4}I", *fat) + directory + b"".join(blobs)


def encrypted_workbook() -> bytes:
    """What Excel writes for a workbook saved with a password: EncryptionInfo (agile, 4.4) and
    EncryptedPackage streams in a compound file, not a zip."""
    descriptor = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
        '<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption" '
        'xmlns:p="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
        '<keyData saltSize="16" blockSize="16" keyBits="256" hashSize="64" cipherAlgorithm="AES" '
        'cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512" saltValue="AAAAAAAAAAAAAAAAAAAAAA=="/>'
        '<keyEncryptors><keyEncryptor uri="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
        '<p:encryptedKey spinCount="100000" saltSize="16" blockSize="16" keyBits="256" hashSize="64" '
        'cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512" '
        'saltValue="AAAAAAAAAAAAAAAAAAAAAA=="/></keyEncryptor></keyEncryptors></encryption>'
    ).encode()
    info = struct.pack("<HHI", 4, 4, 0x40) + descriptor
    info += b" " * (4096 - len(info))
    noise = random.Random(7).randbytes(8192)
    package = struct.pack("<Q", 6144) + noise
    return compound_file({"EncryptionInfo": info, "EncryptedPackage": package})


def old_excel() -> bytes:
    """An Excel 97-2003 workbook: a BIFF8 Workbook stream (BOF record first) in a compound file."""
    bof = struct.pack("<HHHHHHII", 0x0809, 16, 0x0600, 0x0005, 0x0DBB, 0x07CC, 0x000100C1, 0x00000406)
    return compound_file({"Workbook": bof + b"\0" * (4096 - len(bof))})


# ---------------------------------------------------------------------------------------------
# The corpus


def corpus() -> dict[str, bytes]:
    garbage = random.Random(20261031).randbytes(4096)
    latin = "1002,30/10/2026,Crème Brûlée Ltd,80.00,EUR,Tax rate 'Exempt' is not valid\r\n".encode("cp1252")
    return {
        "empty.csv": b"",
        "blank-lines-only.csv": b"\r\n  \r\n\t\r\n",
        "header-only.csv": (HEADER + "\r\n").encode(),
        "binary-garbage.csv": garbage,
        "pdf-named.csv": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "html-export.csv": b"<!DOCTYPE html>\n<html><body><table><tr><td>Error</td></tr></table></body></html>\n",
        "csv-named.xlsx": text_csv().encode(),
        "xlsx-named.csv": good_workbook(),
        "truncated.xlsx": good_workbook()[:700],
        "corrupt-member.xlsx": corrupt_member(),
        "not-a-workbook.xlsx": raw_zip([("notes.txt", b"not a workbook")]),
        "encrypted.xlsx": encrypted_workbook(),
        "old-excel.xls": old_excel(),
        "nul-bytes.csv": text_csv([ROWS[0], ROWS[1].replace("Harbour", "Har\0bour\0\0"), ROWS[2]]).encode(),
        "nul-padded-tail.csv": text_csv().encode() + b"\0" * 4096,
        "unbalanced-quote.csv": text_csv([
            ROWS[0],
            '1002,30/10/2026,"Harbour Supplies,80.00,GBP,The document date is before the lock date',
            ROWS[2],
            "1004,28/10/2026,Blue Finch,9.99,GBP,Contact name is missing",
            "1005,27/10/2026,Oakridge Vets,42.00,GBP,Item code 'X1' is not valid",
        ]).encode(),
        "stray-quote-closed-later.csv": text_csv([
            ROWS[0],
            '1002,30/10/2026,"Harbour Supplies,80.00,GBP,The document date is before the lock date',
            ROWS[2],
            '1004,28/10/2026,Blue" Finch,9.99,GBP,Contact name is missing',
            '1005,27/10/2026,Oakridge Vets,42.00,GBP,"Item code \'X1\' is not valid,\nsee line 2"',
        ]).encode(),
        "ragged-rows.csv": text_csv([
            ROWS[0] + ",an extra cell,and another",
            "1002,30/10/2026,Harbour Supplies",
            ROWS[2],
            "1004,28/10/2026,Blue Finch,9.99,GBP,Contact name is missing,",
        ]).encode(),
        "duplicate-headers.csv": b"Receipt ID,Note,Note,Error,Error\r\n1,a,b,Account code '455' has been archived,x\r\n"
                                 b"2,c,d,Invoice # must be unique.,y\r\n",
        "no-error-column.csv": b"Receipt ID,Date,Supplier,Total\r\n1001,31/10/2026,Cafe Nord,12.50\r\n",
        "mixed-encodings.csv": text_csv([ROWS[0]]).encode("utf-8") + latin + (ROWS[2] + "\r\n").encode("utf-8"),
        "ragged-mixed-encodings.csv": text_csv([ROWS[0]]).encode() + latin.replace(b"\r\n", b",an extra cell\r\n")
                                      + (ROWS[2] + "\r\n").encode(),
        "utf16-no-bom.csv": text_csv().encode("utf-16-le"),
        "utf16-tab-excel-unicode-text.csv": text_csv().replace(",", "\t").encode("utf-16"),
        "totals-and-blank-rows.csv": (
            "Dext - failed items\r\nExported 3 Nov 2026\r\n\r\n" + text_csv(ROWS[:2] + [",,,,,", ROWS[2]])
            + "Total,,,97.50,,\r\n"
        ).encode(),
        "zip-bomb.xlsx": zip_bomb(),
        "lying-zip-bomb.xlsx": lying_zip_bomb(),
        "billion-laughs.xlsx": billion_laughs(),
        "billion-laughs-workbook.xlsx": billion_laughs_in_workbook(),
        "utf32-bom.csv": text_csv().encode("utf-32"),
        "tabs-in-a-quoted-cell.csv": text_csv([ROWS[0], '1002,30/10/2026,"' + "\t" * 100_000 + '",80.00,GBP,boom', ROWS[2]]).encode(),
        "login-page-saved-as.csv": b"Your session has expired. Please log in again.\r\n",
        "too-many-columns.csv": (",".join(f"C{i}" for i in range(2_500)) + ",Error\r\n"
                                 + ",".join("x" for _ in range(2_500)) + ",boom\r\n").encode(),
        "formula-without-value.xlsx": formula_without_value(),
        "far-cell.xlsx": far_cell(),
        "far-cell-in-xl-data.xlsx": relocated_far_cell("xl/data/"),
        "far-cell-at-zip-root.xlsx": relocated_far_cell(""),
        "bare-cells-far.xlsx": bare_cells(),
        "huge-string-count.xlsx": huge_string_count(),
    }


FOLDER = "folder-named-like-a-file.csv"


def write(target: Path = HERE) -> list[Path]:
    written = []
    for name, data in corpus().items():
        path = target / name
        path.write_bytes(data)
        written.append(path)
    folder = target / FOLDER
    folder.mkdir(exist_ok=True)
    (folder / "README.txt").write_text("A folder whose name ends in .csv: given as an input it must be refused"
                                       " with one line, not crash.\n", encoding="utf-8")
    return written


if __name__ == "__main__":
    for written in write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(f"{written.stat().st_size:>10,}  {written.name}")
