"""Finding the inputs: files, folders and globs, in the order given."""

from __future__ import annotations

import glob
from pathlib import Path


from analyzer.read.common import Discovery, EXCEL_SUFFIXES, InputFile, _reason, one_line


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
