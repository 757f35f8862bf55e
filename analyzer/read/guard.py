"""Checks a workbook passes before the Excel reader sees it: real unpacked sizes, compression
ratio, XML entity declarations, and the rectangle each sheet spans. Every part is inflated once
(analyzer.read.inflate) and its XML watched as it streams past (analyzer.read.sheet_xml)."""

from __future__ import annotations

import contextlib
import posixpath
import struct
import zipfile
import zlib
from pathlib import Path

from analyzer.read.common import Limits, ReadError, _reason
from analyzer.read.inflate import part_chunks
from analyzer.read.sheet_xml import ENTITY_ATTACK, XmlWatch


UNSAVED_FORMULAS = "formula cell(s) have no saved value"  # the words of the note a sheet gets for them
_STRUCTURE = ("[content_types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "_rels/.rels")
_MAX_STRUCTURE_BYTES = 16 * 1024**2
_MAX_PARTS = 10_000
_RATIO_FROM_BYTES = 16 * 1024**2  # parts smaller than this may inflate as they like
_SHEET_FOLDERS = ("xl/worksheets/", "xl/dialogsheets/", "xl/chartsheets/", "xl/macrosheets/")


def _check_workbook_archive(path: Path, limits: Limits) -> dict[str, list[str]]:
    """Refuse zip bombs, entity tricks and sheets too big to hold before calamine parses anything;
    return notes per sheet name ("": the whole workbook's).

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
            total = 0
            uncached: dict[str, int] = {}  # per sheet name
            for member in members:
                part = member.filename.lower()
                size, formulas = _verify_member(handle, member, limits, total)
                total += size
                if formulas:
                    uncached[sheets.get(part, "")] = uncached.get(sheets.get(part, ""), 0) + formulas
        return {sheet: [f"{count:,} {UNSAVED_FORMULAS} (the workbook was made by a program and never opened and saved"
                        " in Excel), so their text is missing; open it in Excel, save it, and run again"]
                for sheet, count in uncached.items()}
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
        raise ReadError(ENTITY_ATTACK) from None
    except SafeET.ParseError as exc:
        raise ReadError(f"workbook is damaged ({member.filename}: {_reason(exc)}); open it in Excel and save it again") from None


def _sheet_parts(archive: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo]) -> dict[str, str]:
    """The parts the Excel reader will parse as sheets, wherever they are stored, with the sheet
    name workbook.xml gives each ("" for a part only a relationship calls a sheet): the targets
    of the relationships that workbook.xml's sheets name, and any part a relationship calls a
    sheet. A sheet stored at the zip's root or in `xl/data/` is still a sheet, so the sheet
    checks look at exactly the parts the reader will."""
    import defusedxml.ElementTree as SafeET

    rels = by_name.get("xl/_rels/workbook.xml.rels")
    if rels is None:
        return {}

    def parse(member):
        return SafeET.fromstring(archive.read(member), forbid_dtd=True, forbid_entities=True, forbid_external=True)

    named = {value: element.get("name", "") for element in parse(by_name["xl/workbook.xml"]).iter()
             if element.tag.endswith("sheet")
             for key, value in element.attrib.items() if key.endswith("}id") or key == "id"}
    parts: dict[str, str] = {}
    for element in parse(rels).iter():
        target, kind = element.get("Target"), element.get("Type", "")
        if not target or element.get("TargetMode", "").lower() == "external":
            continue
        if element.get("Id") in named or kind.lower().endswith("sheet"):
            target = target.replace("\\", "/")
            joined = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
            part = posixpath.normpath(joined).lower()
            parts[part] = parts.get(part) or named.get(element.get("Id"), "")
    return parts


def _verify_member(handle, member: zipfile.ZipInfo, limits: Limits, unpacked_before: int) -> tuple[int, int]:
    """Inflate one part in bounded chunks: its real size (never over the declared one or the
    limits), its CRC, and for XML parts the checks that keep the Excel reader's memory bounded."""
    # Every part is watched as a sheet, whatever its name, folder or extension: the reader parses
    # whatever part the relationships name as a sheet, joining paths its own way (`./`, `//`,
    # `\\`, `..`), so the measure cannot depend on working out which parts those are.
    watch = XmlWatch(member.filename, limits, member.file_size)
    size = crc = 0
    chunks = part_chunks(handle, member)
    with contextlib.closing(chunks):  # closed at once if a check refuses the part: the thread ends first
        for chunk in chunks:
            size += len(chunk)
            if size > member.file_size:
                raise ReadError(f"workbook part {member.filename!r} is larger than its zip header says (damaged, or built"
                                " to attack); refusing it")
            if unpacked_before + size > limits.max_unzipped_bytes:
                raise ReadError(f"workbook unpacks to more than {limits.max_unzipped_bytes / 1024**2:,.0f} MB; refusing it"
                                " (raise --max-unzipped-mb if it is genuine)")
            crc = zlib.crc32(chunk, crc)
            watch.feed(chunk)
    if size != member.file_size or crc != member.CRC:
        raise ReadError("workbook is truncated or corrupt; open it in Excel and save it again")
    watch.finish(handle, member)
    return size, watch.uncached
