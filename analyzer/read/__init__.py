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

import stat
from pathlib import Path

from analyzer.read.common import (
    EXCEL_SUFFIXES, SNIFF_BYTES, Discovery, InputFile, Limits, ReadError, Sheet, _reason, _scan_file, one_line,
)
from analyzer.read.delimited import _read_csv
from analyzer.read.discover import discover
from analyzer.read.excel import _read_excel
from analyzer.read.sniff import _sniff_kind, _unique_headers

__all__ = ["EXCEL_SUFFIXES", "Discovery", "InputFile", "Limits", "ReadError", "Sheet", "_unique_headers",
           "discover", "one_line", "read_export"]


def read_export(path: Path, limits: Limits = Limits(), sheet: str | None = None, hashed: bool = True) -> InputFile:
    """Read one file (of a workbook, only the named sheet when one is named). Never raises for
    bad input: the failure is in `InputFile.error`. `hashed`: work out the file's sha256 (for
    the report's manifest; `classify` has no use for it and saves the time)."""
    name = str(path)
    try:
        return _read(Path(path), name, limits, sheet, hashed)
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


def _read(path: Path, name: str, limits: Limits, only: str | None = None, hashed: bool = True) -> InputFile:
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
        digest = _scan_file(path, limits, hashed)
        sheets = _read_excel(path, limits, notes, only)
        if not sheets:
            raise ReadError("workbook has no sheet with data; check it is the export of failed items")
        result = InputFile(name, digest.sha256, tuple(sheets))
    else:
        sheet, digest = _read_csv(path, limits, head, info.st_size, notes, hashed)
        result = InputFile(name, digest.sha256, (sheet,))
    _unchanged(path, info, digest.size)
    return result


def _unchanged(path: Path, before, read: int) -> None:
    """A file being copied or saved while it is read gives half its rows and a cut last cell:
    refuse it unless it is the same size, and was last written at the same time, after reading
    as before, and every byte was read."""
    after = path.stat()
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or read != after.st_size:
        raise ReadError("changed while it was being read (it may still be being copied or saved); run again"
                        " when it is complete")
