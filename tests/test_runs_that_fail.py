"""Runs that fail whole: a full disk, an output folder that is a file, a broken history database, a
SIGTERM or SIGKILL in the middle. Each ends in one line and its own exit code, and the output folder
shows the previous complete run (its reports and a history that agrees with them), never a mix."""

from __future__ import annotations

import errno
import json
import os
import hashlib
import io
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analyzer.cli import main

ROOT = Path(__file__).resolve().parent.parent
HEADER = "Item ID,Date,Supplier,Total Amount,Currency,Error\n"
ARCHIVED = "Account code '455' has been archived, or has been deleted."


def _exports(folder: Path, clients: int, items: int, error: str = ARCHIVED) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(clients):
        rows = "".join(f'{n}{i:04d},15/10/2026,Supplier {i},10.00,GBP,"{error}"\n' for i in range(items))
        (folder / f"Client {_letters(n)} Ltd - failed items.csv").write_text(HEADER + rows, encoding="utf-8")
    return folder


def _merged(folder: Path, clients: int, items: int) -> Path:
    """One practice-wide export with a Client column: many clients, read at once."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f'Client {_letters(n)} Ltd,{n}{i:04d},15/10/2026,Supplier {i},10.00,GBP,"{ARCHIVED}"\n'
                   for n in range(clients) for i in range(items))
    (folder / "Practice merged.csv").write_text("Client," + HEADER + rows, encoding="utf-8")
    return folder


def _letters(n: int) -> str:
    """Aaa, Aab, ...: file names whose client part is all letters (digits read as export noise)."""
    return "".join(chr(ord("a") + (n // 26**k) % 26) for k in (2, 1, 0)).capitalize()


def _run(*argv):
    err = io.StringIO()
    code = main([str(a) for a in argv], stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


def _snapshot(folder: Path) -> dict[str, str]:
    """Every report file's content hash (the history database aside)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix in (".html", ".xlsx", ".json")}


@pytest.fixture
def month_one(tmp_path):
    out = tmp_path / "out"
    code, err = _run("report", _exports(tmp_path / "oct", 3, 4), "--out", out, "--period", "October 2026")
    assert code == 0, err
    return out


def test_an_output_folder_that_is_a_file(tmp_path):
    target = tmp_path / "reports"
    target.write_text("not a folder", encoding="utf-8")
    code, err = _run("report", _exports(tmp_path / "in", 1, 2), "--out", target)
    assert code == 5 and "is a file, not a folder" in err and len(err.strip().splitlines()) == 1
    code, err = _run("report", _exports(tmp_path / "in", 1, 2), "--out", target / "sub")
    assert code == 5 and "is a file, not a folder" in err


def test_a_full_disk_publishes_nothing_and_records_nothing(tmp_path, month_one, monkeypatch):
    before = _snapshot(month_one)
    import analyzer.write as write

    def filling(real):
        def full(target, data):
            if target.name.endswith(".xlsx") and "Client Aab" in target.name:
                raise OSError(errno.ENOSPC, "No space left on device", str(target))
            real(target, data)
        return full

    monkeypatch.setattr(write, "write_bytes", filling(write.write_bytes))
    monkeypatch.setattr("analyzer.pipeline.write_bytes", filling(write.write_bytes))  # the overview
    monkeypatch.setattr("analyzer.jobs.write_new", filling(write.write_new))  # the client reports
    code, err = _run("report", _exports(tmp_path / "nov", 3, 5), "--out", month_one, "--period", "November 2026")
    assert code == 5 and "No space left on device" in err and "nothing of this run was published" in err
    assert _snapshot(month_one) == before
    assert not list(month_one.glob(".publish-failures-staging-*"))
    with sqlite3.connect(month_one / "history.sqlite") as db:
        assert [r[0] for r in db.execute("SELECT period FROM runs")] == ["2026-10"]


@pytest.mark.parametrize("damage", [
    lambda db: db.write_bytes(db.read_bytes()[:1024] + b"\xff" * 4096 + db.read_bytes()[5120:]),
    lambda db: sqlite3.connect(db).executescript(
        "ALTER TABLE items ADD COLUMN audit TEXT NOT NULL DEFAULT 'x';"
        "CREATE TRIGGER no_items BEFORE INSERT ON items BEGIN SELECT RAISE(ABORT, 'items are read-only'); END;"),
])
def test_a_broken_history_database_publishes_nothing(tmp_path, month_one, damage):
    before = _snapshot(month_one)
    damage(month_one / "history.sqlite")
    code, err = _run("report", _exports(tmp_path / "nov", 3, 5), "--out", month_one, "--period", "November 2026")
    assert code == 6 and "history" in err and "Traceback" not in err
    assert _snapshot(month_one) == before


def test_a_half_published_run_is_finished_by_the_next_one(tmp_path, month_one):
    """A run killed while moving its reports into place left a journal: the next run in the
    folder finishes the move before anything else."""
    import json

    from analyzer.write_staging import JOURNAL

    staging = month_one / ".publish-failures-staging-test"
    staging.mkdir()
    (staging / "index.html").write_text("<p>the new index</p>", encoding="utf-8")
    (month_one / JOURNAL).write_text(json.dumps({"staging": staging.name, "files": ["index.html"]}), encoding="utf-8")
    from analyzer.write_staging import output_lock

    with output_lock(month_one, 1):
        assert (month_one / "index.html").read_text(encoding="utf-8") == "<p>the new index</p>"
    assert not staging.exists() and not (month_one / JOURNAL).exists()


def _children(pid: int) -> set[int]:
    """Every descendant of a process (Linux /proc)."""
    found, queue = set(), [pid]
    while queue:
        parent = queue.pop()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == parent and int(entry.name) not in found:
                    found.add(int(entry.name))
                    queue.append(int(entry.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_a_stopped_run_leaves_the_previous_reports_and_no_workers(tmp_path, month_one, sig, code):
    before = _snapshot(month_one)
    inputs = _merged(tmp_path / "nov", 300, 10)
    process = subprocess.Popen(
        [sys.executable, "-m", "analyzer", "report", str(inputs), "--out", str(month_one), "--period",
         "November 2026", "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        # Ctrl-C as in a terminal: a test suite started in the background (nohup, `&`) passes
        # SIGINT on ignored, and Python then never turns it into KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(month_one.glob(".publish-failures-staging-*/*.xlsx"))) < 4:
        time.sleep(0.02)
    workers = _children(process.pid)
    assert process.poll() is None, "the run ended before it could be stopped: make it bigger"
    assert len(workers) >= 2, workers  # the fork server and its workers
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code
    if sig != signal.SIGKILL:
        assert b"Traceback" not in err and b"nothing of this run was published" in err
    time.sleep(1)
    assert not _alive(workers), "workers outlived the run"
    assert _snapshot(month_one) == before
    if sig != signal.SIGKILL:
        assert not list(month_one.glob(".publish-failures-staging-*"))
    code_next, err_next = _run("report", _exports(tmp_path / "oct", 3, 4), "--out", month_one, "--period",
                               "October 2026")
    assert code_next == 0, err_next
    assert not list(month_one.glob(".publish-failures-staging-*"))  # a killed run's staging is cleared


def test_a_new_report_is_written_in_place_and_never_left_half_written(tmp_path):
    """write_new: a file no one has yet is written where it goes; one already there is replaced
    whole; a write that fails leaves no half file behind."""
    from analyzer.write import write_new

    target = tmp_path / "staging" / "Client.xlsx"
    write_new(target, b"first")
    write_new(target, b"second")
    assert target.read_bytes() == b"second" and [p.name for p in target.parent.iterdir()] == ["Client.xlsx"]

    other = tmp_path / "staging" / "Other.xlsx"
    with pytest.raises(TypeError):  # the write fails after the file was made
        write_new(other, None)
    assert not other.exists()


def test_sigterm_while_the_reports_are_moved_waits_for_the_move(tmp_path, month_one, monkeypatch):
    """Arrow's and the workers' threads take signals too, so masking them in the main thread did
    not hold the move: a SIGTERM mid-move left a folder of two runs."""
    from analyzer import write_staging

    real_move = write_staging._move_all

    def move_then_stopped(out, staging, names):
        os.kill(os.getpid(), signal.SIGTERM)  # arrives in the middle of the move
        real_move(out, staging, names)

    monkeypatch.setattr(write_staging, "_move_all", move_then_stopped)
    code, err = _run("report", _exports(tmp_path / "nov", 4, 2), "--out", month_one, "--period", "November 2026")
    assert code == 143 and "the move was finished first" in err and "nothing of this run was published" not in err
    manifest = json.loads((month_one / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["period"] == "November 2026" and len(manifest["clients"]) == 4
    assert not list(month_one.glob(".publish-failures-*"))


def test_a_folder_where_a_report_goes_stops_the_run_before_anything_is_recorded(tmp_path, month_one):
    (month_one / "Client Aab Ltd.html").unlink()
    (month_one / "Client Aab Ltd.html").mkdir()
    before = _snapshot(month_one)
    code, err = _run("report", _exports(tmp_path / "nov", 3, 2), "--out", month_one, "--period", "November 2026")
    assert code == 5 and "Client Aab Ltd.html: a folder is where this report goes; move or rename it" in err
    assert _snapshot(month_one) == before
    with sqlite3.connect(month_one / "history.sqlite") as db:  # nothing recorded either
        assert [r[0] for r in db.execute("SELECT period FROM runs")] == ["2026-10"]


def test_a_move_left_half_done_in_last_months_folder_is_finished_by_this_months_run(tmp_path):
    """With a folder per month the next run writes elsewhere: it finishes the left move there."""
    from analyzer.write_staging import JOURNAL

    history = tmp_path / "history.sqlite"
    october = tmp_path / "2026-10"
    assert _run("report", _exports(tmp_path / "oct", 2, 2), "--out", october, "--history", history,
                "--period", "October 2026")[0] == 0
    staging = october / ".publish-failures-staging-test"
    staging.mkdir()
    (staging / "index.html").write_text("<p>the stopped run's index</p>", encoding="utf-8")
    (october / JOURNAL).write_text(json.dumps({"staging": staging.name, "files": ["index.html"]}), encoding="utf-8")
    code, err = _run("report", _exports(tmp_path / "nov", 2, 2), "--out", tmp_path / "2026-11", "--history", history,
                     "--period", "November 2026")
    assert code == 0, err
    assert (october / "index.html").read_text(encoding="utf-8") == "<p>the stopped run's index</p>"
    assert f"{october.resolve()}: finished putting in place the reports of a run stopped while moving them" in err
