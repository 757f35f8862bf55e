"""Write outputs. With `read`, the only stage that touches files; every final file is written
under a temporary name and renamed, so a killed run never leaves a truncated file behind."""

from __future__ import annotations

import datetime as dt
import filecmp
import glob
import json
import os
import re
import shutil
import signal
import tempfile
import threading
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from filelock import FileLock, Timeout

from analyzer.catalog import Catalog
from analyzer.errors import FolderBusy, OutputError, StoppedAfterPublishing
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


def leftover_reports(out: Path, period: str, clients: set[str]) -> dict[str, list[Path]]:
    """When the last run into `out` was of the same period (this run replaces it), the report
    files it wrote (its manifest.json names them) for clients no longer in the practice view (a
    client dropped in by mistake, a client renamed): client -> the files still there. A run of
    another period (an older month run again in a folder shared by every month) leaves them."""
    try:
        previous = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(previous, dict) or previous.get("tool") != "analyzer" or previous.get("period") != period:
        return {}
    found: dict[str, list[Path]] = {}
    for entry in previous.get("clients") or []:
        if not isinstance(entry, dict) or entry.get("name") in clients:
            continue
        names = [f for f in entry.get("files") or [] if isinstance(f, str) and f and Path(f).name == f]
        paths = [out / name for name in names if (out / name).is_file()]
        if paths:
            found[str(entry.get("name"))] = paths
    return found


def leftover_plan(out: Path, leftovers: dict[str, list[Path]],
                  written: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    """What to do with the replaced run's reports of clients no longer in the practice view,
    client -> (pages to remove, workbooks to keep): their pages go (the index no longer links
    them, and an out-of-date page meant for a client must not be sent); a workbook stays, as it
    may hold a bookkeeper's work. A file this run writes is neither, whatever the case of its
    name (a client renamed from ACME LTD to Acme Ltd is one file on Windows and macOS). Worked
    out before publishing: the pages are removed as the reports are put in place (see
    `Staging.publish`), under the same journal, so a run killed in between cannot leave them."""
    plan = {}
    for client, paths in sorted(leftovers.items()):
        theirs = [path for path in paths if not _is_written(path, out, written)]
        pages = [path.name for path in theirs if _is_page(path.name)]
        workbooks = [path.name for path in theirs if not _is_page(path.name)]
        if pages or workbooks:
            plan[client] = (pages, workbooks)
    return plan


def leftover_lines(out: Path, plan: dict[str, tuple[list[str], list[str]]], not_removed: dict[str, str]) -> list[str]:
    """One line per client of `leftover_plan` saying what was done."""
    lines = []
    for client, (pages, workbooks) in plan.items():
        removed = [name for name in pages if name not in not_removed]
        kept = [f"{name} (could not be removed: {not_removed[name]})" for name in pages if name in not_removed]
        kept += workbooks
        done = [f"its pages were removed ({', '.join(removed)})"] if removed else []
        if kept:
            done.append(f"kept: {', '.join(kept)} (a workbook may hold a bookkeeper's work): move or delete")
        lines.append(f"{out}: {client} is no longer in these reports (the run that reported it was replaced, or the"
                     f" client renamed); {'; '.join(done)}")
    return lines


def _is_page(name: str) -> bool:
    return name.lower().endswith(".html")


def _remove_pages(out: Path, names: list[str]) -> dict[str, str]:
    """Remove these pages of the output folder (plain names of .html files only); the ones that
    could not be removed, with why."""
    failed = {}
    for name in names:
        if _plain(name) and _is_page(name):
            try:
                (out / name).unlink(missing_ok=True)
            except OSError as exc:
                failed[name] = exc.strerror or str(exc)
    return failed


def _is_written(path: Path, out: Path, written: list[str]) -> bool:
    same_name = [out / name for name in written if name.casefold() == path.name.casefold()]
    return any(name.name == path.name or (name.exists() and path.exists() and os.path.samefile(name, path))
               for name in same_name)


@contextmanager
def output_lock(folder: Path, timeout: float):
    """One run at a time per output folder; a second one waits up to `timeout` seconds. The
    operating system releases the lock when a run dies, so a killed run never blocks the next.
    Holding the lock, the run first finishes or clears what a killed run left (see `Staging`)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(13, "Permission denied", str(folder))
    except FileExistsError:
        raise OutputError(f"{folder}: is a file, not a folder; choose another output folder (--out, or output in the config)") from None
    except NotADirectoryError:
        raise OutputError(f"{folder}: a part of this path is a file, not a folder; choose another output folder (--out, or output in the config)") from None
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write the reports here ({exc.strerror}); choose another output folder (--out, or output in the config)"
                          " or check its permissions") from None
    lock = FileLock(str(folder / LOCK))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise FolderBusy(
            f"{folder}: another publish-failures run is writing here; waited {timeout:g}s."
            " Try again when it has finished, or choose another output folder (--out, or output in the config)"
        ) from None
    try:
        recover(folder)
        yield
    finally:
        lock.release()


# ---------------------------------------------------------------------------------------------
# Staging: a run's reports appear together or not at all

STAGING_PREFIX = ".publish-failures-staging-"
LOCK = ".publish-failures.lock"  # one run at a time per output folder
JOURNAL = ".publish-failures-publishing.json"


class Staging:
    """A run writes every report into a hidden folder beside the final ones; only when all are
    written (and the run history recorded) are they moved into place, with a journal so that a
    run killed while moving is finished by the next run. The folder so always shows the previous
    complete run or the new complete run: a run killed while rendering leaves last month's
    reports untouched."""

    def __init__(self, out: Path):
        self.out = out
        self.folder = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
        self.not_removed: dict[str, str] = {}

    def discard(self) -> None:
        """Remove the staging folder, unless a publish began: then the journal needs it, and the
        next run finishes the move."""
        if not (self.out / JOURNAL).is_file():
            shutil.rmtree(self.folder, ignore_errors=True)

    def publish(self, names: list[str], remove: list[str] | tuple[str, ...] = ()) -> list[str]:
        """Move the staged files into place and remove the pages `remove` names (a replaced
        run's, see `leftover_plan`), as one step as far as a reader of the folder or a signal
        can tell (SIGINT and SIGTERM wait until it is done; after a kill the journal has the
        next run finish it). A workbook in the way that this tool did not write (a practice's
        own file that happens to share a report's name) is copied aside first; returns a line
        for each such copy. The pages that could not be removed are in `not_removed`."""
        from analyzer.read.discover import written_by_us

        kept = []
        for name in names:
            target = self.out / name
            if target.suffix.lower() == ".xlsx" and target.is_file() and not written_by_us(target) \
                    and not _already_kept(target):
                copy = keep_copy(target, dt.datetime.now())
                kept.append(f"{target}: not a report this tool wrote, and a report of that name replaces it;"
                            f" kept a copy as {copy.name}")
        with _signals_deferred() as caught:
            try:
                write_text(self.out / JOURNAL, json.dumps({"staging": self.folder.name, "files": names,
                                                           "remove": list(remove)}))
                _move_all(self.out, self.folder, names)
                self.not_removed = _remove_pages(self.out, list(remove))
                (self.out / JOURNAL).unlink()
                shutil.rmtree(self.folder, ignore_errors=True)
            except OSError as exc:
                raise OutputError(f"{exc.filename or self.out}: cannot put the new reports in place ({exc.strerror});"
                                  " the next run in this folder finishes the job") from None
        if caught:
            raise StoppedAfterPublishing(caught[0])
        return kept

    def check_targets(self, names: list[str]) -> None:
        """Before anything is recorded: each report's place in the output folder can take it (a
        folder of that name cannot be replaced by a file, and would stop the move half done)."""
        for name in names:
            target = self.out / name
            if target.is_dir() and not target.is_symlink():
                raise OutputError(f"{target}: a folder is where this report goes; move or rename it and run again"
                                  " (nothing of this run was recorded or published)")


@contextmanager
def _signals_deferred():
    """Ctrl-C and SIGTERM wait until the block is done, then the caught ones are listed. Python
    runs signal handlers in the main thread whichever thread the signal reached, so a handler
    that only notes the signal holds it off; masking the signal in the main thread alone does
    not (Arrow's and the workers' threads still take it)."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def note(signum, frame):
        caught.append(signum)
    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def finish_left_publication(folder: Path) -> bool:
    """Finish moving the reports of a run stopped mid-move in another output folder (the last
    run's, when each month has its own): unless a run is writing there now. Whether it did."""
    if not (folder / JOURNAL).is_file():
        return False
    lock = FileLock(str(folder / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    try:
        recover(folder)
        return True
    finally:
        lock.release()


def keep_copy(path: Path, now: dt.datetime) -> Path:
    """Copy a workbook aside as `Name (kept 2026-11-30 0715).xlsx` (never over another copy)."""
    stamp = now.strftime("%Y-%m-%d %H%M")
    target = path.with_name(f"{path.stem} (kept {stamp}){path.suffix}")
    number = 2
    while target.exists():
        target = path.with_name(f"{path.stem} (kept {stamp} {number}){path.suffix}")
        number += 1
    shutil.copy2(path, target)
    return target


def _already_kept(target: Path) -> bool:
    """Whether a copy of the file as it is now was already kept aside (by the run reading the
    workbook's tracking back)."""
    return any(filecmp.cmp(target, copy, shallow=False)
               for copy in target.parent.glob(f"{glob.escape(target.stem)} (kept *){target.suffix}"))


def _move_all(out: Path, staging: Path, names: list[str]) -> None:
    for name in names:
        source = staging / name
        if source.exists():
            os.replace(source, out / name)


def _plain(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and "\0" not in name


def recover(out: Path) -> None:
    """Finish a publication a killed run left half done (the journal names its files), and
    remove the staging folders of runs killed before publishing."""
    journal = out / JOURNAL
    if journal.is_file():
        try:
            record = json.loads(journal.read_text(encoding="utf-8"))
            staging, names = str(record["staging"]), [str(n) for n in record["files"]]
            # Only a staging folder of ours, directly inside the output folder, and plain file
            # names: a planted journal cannot move files in from, or out to, anywhere else.
            if _plain(staging) and staging.startswith(STAGING_PREFIX) and all(_plain(n) for n in names):
                _move_all(out, out / staging, names)
                # and the replaced run's pages it was removing (only plain .html names: a planted
                # journal cannot have a workbook deleted, nor a page it names as this run's)
                remove = [str(n) for n in record.get("remove") or []] if isinstance(record.get("remove"), list) else []
                _remove_pages(out, [n for n in remove if not _is_written(out / n, out, names)])
        except (ValueError, KeyError, TypeError, OSError):
            pass  # a damaged journal: the staged files are left for the clean-up below
        journal.unlink(missing_ok=True)
    for leftover in out.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(leftover, ignore_errors=True)
