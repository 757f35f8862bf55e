"""Finding the inputs: files, folders and globs, in the order given.

Nothing in a folder is passed over without a word: an entry named like an export that cannot be
read as a file (a link to nothing, a link loop, a named pipe, a socket, a folder named `x.csv`)
is a failure naming it; anything else left out (hidden files, Excel's `~$` lock files, other
kinds of file, the reports this tool wrote there) is a note. A file reached twice (by two paths,
or a glob through a folder that links to itself) is read once, and said.
"""

from __future__ import annotations

import glob
import json
import os
import stat
import zipfile
from pathlib import Path

from analyzer.read.common import EXCEL_SUFFIXES, UNSUPPORTED_SUFFIXES, Discovery, InputFile, _reason, one_line

EXPORT_SUFFIXES = EXCEL_SUFFIXES | {".csv"}
# An old .xls in a folder is an export that cannot be read, and says so: passed over, its client
# would look as if it had sent nothing.
_TRIED_SUFFIXES = EXPORT_SUFFIXES | UNSUPPORTED_SUFFIXES


def discover(paths: list[str], outputs: Path | None = None) -> Discovery:
    """Expand files, folders (every csv/xlsx/xlsm directly in them) and globs, in the order
    given. `outputs`: the folder the run writes its reports to; the reports found there are not
    inputs."""
    found: dict[tuple[int, int], list[Path]] = {}
    errors: list[InputFile] = []
    notes: list[str] = []
    ours = _reports_in(outputs)
    for raw in paths:
        try:
            files, error = _expand(raw, errors, notes, ours)
        except (OSError, ValueError) as exc:  # unreadable folder, a NUL or an over-long name
            files, error = [], f"cannot open ({getattr(exc, 'strerror', None) or _reason(exc)}); check the path and permissions"
        if error:
            errors.append(InputFile(raw, error=one_line(f"{raw}: {error}")))
        for path in files:
            try:
                info = path.stat()
            except OSError as exc:
                errors.append(InputFile(str(path), error=one_line(f"{path}: cannot open ({exc.strerror})")))
                continue
            if written_by_us(path):
                notes.append(one_line(f"{path}: a report this tool wrote, not an export; not read"))
                continue
            paths_of = found.setdefault((info.st_dev, info.st_ino), [])
            if path not in paths_of:
                paths_of.append(path)
    for first, *again in found.values():
        if again:
            notes.append(one_line(f"{first}: reached {len(again) + 1} times (also as {again[0]}"
                                  f"{f' and {len(again) - 1} more' if len(again) > 1 else ''}); read once"))
    return Discovery(tuple(paths[0] for paths in found.values()), _once(errors), tuple(dict.fromkeys(notes)))


def _once(errors: list[InputFile]) -> tuple[InputFile, ...]:
    """One failure per entry, however many paths led to it."""
    seen: set[Path] = set()
    kept = []
    for error in errors:
        where = _resolved(Path(error.path)) if Path(error.path).is_absolute() or os.path.lexists(error.path) else None
        if where is not None and where in seen:
            continue
        if where is not None:
            seen.add(where)
        kept.append(error)
    return tuple(kept)


def _expand(raw: str, errors: list[InputFile], notes: list[str], ours: set[Path]) -> tuple[list[Path], str]:
    path = Path(raw)
    if path.is_dir():
        inside = _folder(path, errors, notes, ours)
        if not inside and not any(e.path.startswith(str(path)) for e in errors):
            return [], "is a folder with no .csv, .xlsx or .xlsm files directly in it; give the export files themselves"
        return inside, ""
    if path.exists():
        return ([path], "") if not _is_special(path) else ([], _special_message(path))
    if path.is_symlink():
        return [], "is a link to a file that no longer exists; give the export file itself"
    if any(ch in raw for ch in "*?["):
        matches = sorted(Path(m) for m in glob.glob(raw, recursive=True) if Path(m).is_file())
        matches = [m for m in matches if _resolved(m) not in ours]
        if not matches:
            return [], "no file matches this pattern; check the folder and the pattern"
        return matches, ""
    return [], "no such file or folder; check the path"


def _folder(folder: Path, errors: list[InputFile], notes: list[str], ours: set[Path]) -> list[Path]:
    """The exports directly in a folder; every other entry is named in a failure or a note."""
    inside, passed_over = [], []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if name.startswith("~$"):
            passed_over.append(f"{name} (Excel's lock file)")
        elif name.startswith("."):
            passed_over.append(f"{name} (hidden)")
        elif entry.suffix.lower() not in _TRIED_SUFFIXES:
            passed_over.append(name)
        elif _resolved(entry) in ours or written_by_us(entry):
            passed_over.append(f"{name} (a report this tool wrote)")
        else:
            problem = _entry_problem(entry)
            if problem:
                errors.append(InputFile(str(entry), error=one_line(f"{entry}: {problem}")))
            else:
                inside.append(entry)
    if passed_over:
        shown = ", ".join(passed_over[:8]) + (f" and {len(passed_over) - 8} more" if len(passed_over) > 8 else "")
        count = "1 entry that is not an export" if len(passed_over) == 1 else f"{len(passed_over)} entries that are not exports"
        tables = [name for name in passed_over if Path(name).suffix.lower() in (".txt", ".tsv")]
        hint = (f" ({tables[0]} is read when named on its own, or saved as .csv, if it is an export)"
                if tables else "")
        notes.append(one_line(f"{folder}: passed over {count}: {shown}{hint}"))
    return inside


def _entry_problem(entry: Path) -> str:
    """Why an entry named like an export cannot be read as one, or ""."""
    try:
        info = entry.stat()
    except FileNotFoundError:
        return "is a link to a file that no longer exists; give the export file itself"
    except OSError as exc:
        if exc.errno == 40:  # ELOOP
            return "is a link that leads back to itself (a link loop); give the export file itself"
        return f"cannot open ({exc.strerror}); check the path and permissions"
    if stat.S_ISDIR(info.st_mode):
        return "is a folder named like a file; give the export files inside it, or the folder itself"
    if not stat.S_ISREG(info.st_mode):
        return _special_message(entry)
    return ""


def _is_special(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _special_message(path: Path) -> str:
    return "is not a regular file (a named pipe, socket or device); give the export file itself"


OVERVIEW_WORKBOOK = "overview.xlsx"  # the practice's workbook across clients, in the output folder


def _reports_in(outputs: Path | None) -> set[Path]:
    """The reports this tool wrote in the output folder (from its manifest), and the copies of
    workbooks it kept aside: never inputs, even when the output folder is the input folder."""
    if outputs is None or not outputs.is_dir():
        return set()
    ours = {p for p in outputs.glob("* (kept *).xlsx")} | {outputs / OVERVIEW_WORKBOOK}
    try:
        manifest = json.loads((outputs / "manifest.json").read_text(encoding="utf-8"))
        ours |= {outputs / name for client in manifest.get("clients", []) for name in client.get("files", [])}
    except (OSError, ValueError, AttributeError, TypeError):
        pass
    # By their author property only: a practice's own export named overview.xlsx (or a kept
    # copy of one) is an input.
    return {_resolved(p) for p in ours if p.suffix.lower() not in EXCEL_SUFFIXES or written_by_us(p)}


def written_by_us(path: Path) -> bool:
    """A workbook this tool wrote (its author property says so): a report, never an input, even
    when an output folder is read as an input folder."""
    if path.suffix.lower() not in EXCEL_SUFFIXES:
        return False
    return b"<dc:creator>analyzer " in _document_part(path, "docProps/core.xml", 64 * 1024)


def custom_properties(path: Path) -> dict[str, str]:
    """A workbook's custom document properties (name -> text; {} when it has none or cannot be
    read). Excel and LibreOffice keep them when a person saves the workbook."""
    data = _document_part(path, "docProps/custom.xml", 256 * 1024)
    if not data:
        return {}
    import defusedxml.ElementTree as SafeET  # refuses DTDs and entities

    try:
        root = SafeET.fromstring(data)
    except Exception:  # noqa: BLE001 - malformed or hostile XML: no properties to read
        return {}
    return {str(node.get("name")): "".join(node.itertext()).strip() for node in root if node.get("name")}


def _document_part(path: Path, name: str, largest: int) -> bytes:
    """One small part of a workbook's zip (b"" when it is missing, larger than `largest`, or the
    file is no zip)."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(name)
            return archive.read(info) if info.file_size <= largest else b""
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, RuntimeError, NotImplementedError, EOFError):
        return b""


def _resolved(path: Path) -> Path:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        return path
