"""Write outputs. With `read`, the only stage that touches files; every final file is written
under a temporary name and renamed, so a killed run never leaves a truncated file behind.
How a run's files are staged and published together is analyzer.write_staging's."""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.catalog import Catalog
from analyzer.errors import OutputError
from analyzer.write_csv import csv_chunks


WRITE_PIECE = 1 << 20


@contextmanager
def atomic_path(target: Path):
    """Yield a temporary path beside `target`; rename it over `target` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        # mkstemp makes the file private (0600); reports on a shared folder must be readable
        # like any other new file there, so apply the usual mode under the user's umask.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)


def write_new(target: Path, data: bytes) -> None:
    """A file no one has yet (a report in the run's own staging folder) is written where it
    goes: the temporary name, mode change and rename of write_bytes cost a tenth of a
    millisecond a file, which a 600-client month pays 1,300 times. Half written, it is removed;
    a file already there is replaced as write_bytes does."""
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = open(target, "xb")
    except FileExistsError:
        write_bytes(target, data)
        return
    try:
        with handle:
            handle.write(data)
    except BaseException:
        Path(target).unlink(missing_ok=True)
        raise


def write_text(target: Path, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


# OWASP's CSV-injection guidance: a cell a spreadsheet would run as a formula (starting with
# = + - @, a tab or a carriage return) is written with a leading apostrophe, which Excel and
# LibreOffice show as text. A plain number (-12.50) is left alone: it cannot run anything.
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?[0-9][0-9,]*(\.[0-9]+)?$"


def defuse_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """The table with every text cell that could run as a formula prefixed by `'` (each
    distinct value tested once for categorical columns)."""
    changed = {}
    for name, column in table.items():
        if column.dtype.kind in "biufcmM":
            continue
        if isinstance(column.dtype, pd.CategoricalDtype):
            categories = column.cat.categories.to_series().astype("str")
            defused = _defuse(categories)
            if not defused.equals(categories):
                changed[name] = column.cat.rename_categories(defused.to_numpy()) if defused.is_unique \
                    else column.astype("str").pipe(_defuse)
            continue
        if not _may_start_a_formula(column):
            continue
        text = column.astype("str")
        defused = _defuse(text)
        if not defused.equals(text):
            changed[name] = defused
    table = table.assign(**changed) if changed else table
    headings = _defuse(pd.Series([str(c) for c in table.columns], dtype="str"))
    return table.set_axis(headings.tolist(), axis=1) if list(headings) != [str(c) for c in table.columns] else table


def _may_start_a_formula(column: pd.Series) -> bool:
    """A quick test, in Arrow where the column is Arrow text: does any cell start like a formula?"""
    try:
        values = pa.array(column.array) if not isinstance(column.array, pd.arrays.ArrowStringArray) \
            else column.array._pa_array
        return bool(pc.any(pc.match_substring_regex(values, _FORMULA_START)).as_py())
    except (pa.ArrowException, TypeError, ValueError):
        return True


def _defuse(text: pd.Series) -> pd.Series:
    risky = text.str.contains(_FORMULA_START, regex=True) & ~text.str.match(_PLAIN_NUMBER)
    return text.where(~risky.to_numpy(dtype=bool), "'" + text) if risky.any() else text


def write_table(table: pd.DataFrame, target: str, stdout: TextIO, raw: bool = False) -> None:
    """CSV, or JSON Lines when the target ends in .jsonl; `-` is standard output (CSV). CSV
    cells that could run as a spreadsheet formula are prefixed with `'` unless `raw`; JSON
    Lines are data for programs and always raw."""
    jsonl = target != "-" and Path(target).suffix.lower() == ".jsonl"
    if not raw and not jsonl:
        table = defuse_formulas(table)
    if target == "-":
        chunks = csv_chunks(table, "\n")
        if chunks is None:
            table.to_csv(stdout, index=False, lineterminator="\n")
        for chunk in chunks or ():
            stdout.write(str(chunk, "utf-8"))
        return
    path = Path(target)
    try:
        _write_table_file(table, path)
    except OSError as exc:
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"{target}: cannot write the classification ({exc.strerror or exc}); nothing was"
                          " written") from None


def _write_table_file(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as temporary:
        if path.suffix.lower() == ".jsonl":
            if table.empty:  # pandas writes one blank line, which is not valid JSON Lines
                temporary.write_bytes(b"")
            else:
                table.to_json(temporary, orient="records", lines=True, force_ascii=False, date_format="iso")
        else:
            _write_csv(table, temporary)


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    """A CSV file Excel opens as UTF-8 (the byte-order mark), lines ending in CRLF."""
    chunks = csv_chunks(table, "\r\n")
    if chunks is None:
        table.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
        return
    with open(path, "wb", buffering=0) as handle:
        handle.write("\ufeff".encode("utf-8"))
        for chunk in chunks:
            # A write of a whole chunk (tens of MB) took the kernel 10x longer than the same bytes in
            # pieces of 1 MB on this kind of virtual machine (fresh large page-cache folios).
            for start in range(0, len(chunk), WRITE_PIECE):
                handle.write(chunk[start:start + WRITE_PIECE])


def write_rules_table(catalog: Catalog, fmt: str, stdout: TextIO) -> None:
    rows = []
    for category in catalog.categories:
        fix = catalog.fixes[category.fix]
        rows.append({
            "id": category.id,
            "title": category.title,
            "seed": category.seed,
            "fix": fix.id,
            "scope": fix.scope,
            "who": fix.who,
            "extracts": list(category.extracts),
            "cause": category.cause,
        })
    if fmt == "json":
        fixes = [
            {"id": f.id, "title": f.title, "who": f.who, "where": f.where, "scope": f.scope,
             "steps": list(f.steps), "warnings": list(f.warnings), "publishable": f.publishable,
             "clears_publishing_data": f.clears_publishing_data, "group_by": f.group_by}
            for f in catalog.fixes.values()
        ]
        json.dump({"categories": rows, "fixes": fixes}, stdout, indent=2, ensure_ascii=False)
        stdout.write("\n")
        return
    widths = {k: max(len(k), *(len(_cell(r[k])) for r in rows)) for k in ("id", "fix", "scope", "who", "title")}
    header = "  ".join(k.upper().ljust(widths[k]) for k in widths)
    stdout.write(header.rstrip() + "\n")
    for row in rows:
        stdout.write("  ".join(_cell(row[k]).ljust(widths[k]) for k in widths).rstrip() + "\n")
    stdout.write(f"\n{len(rows)} categories ({sum(r['seed'] for r in rows)} from the seed article), "
                 f"{len(catalog.fixes)} fixes; unclassified errors go to 'manual-review'.\n")


def _cell(value: object) -> str:
    return str(value)


# ---------------------------------------------------------------------------------------------
# Safe file names for clients

_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
MAX_NAME = 80


def safe_name(name: str, taken: set[str]) -> str:
    """A file name stem from a client name that is safe on every system and unique in `taken`
    (compared without case, as Windows and macOS do). Adds the result to `taken`."""
    stem = unicodedata.normalize("NFC", name)
    stem = "".join(ch for ch in stem if unicodedata.category(ch)[0] != "C")  # controls, bidi marks
    stem = _UNSAFE.sub("-", stem)
    stem = re.sub(r"\.{2,}", ".", stem).strip(" .-") or "client"
    if stem.split(".")[0].casefold() in _RESERVED:
        stem = f"{stem}-client"
    stem = _truncate(stem, MAX_NAME)
    candidate, n = stem, 2
    while candidate.casefold() in taken or candidate.casefold() in {"index", "overview", "manifest"}:
        candidate = f"{_truncate(stem, MAX_NAME - 4)}-{n}"
        n += 1
    taken.add(candidate.casefold())
    return candidate


def _truncate(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8 (file systems count bytes), never half a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore").rstrip(" .-")


def write_json(target: Path, data: object) -> None:
    write_text(target, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
