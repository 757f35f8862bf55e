"""A run's reports, staged and published together: the output folder's lock (one run at a time),
the staging folder a run writes into, the journal that lets a killed run's publication be finished
by the next one, the pages an earlier run of the same period left for clients no longer shown,
and copies kept of workbooks a run must replace while they are open."""

from __future__ import annotations

import datetime as dt
import filecmp
import glob
import json
import os
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from analyzer.errors import FolderBusy, OutputError, StoppedAfterPublishing
from analyzer.write import write_text


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
