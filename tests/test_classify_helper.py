"""A large batch's messages classified on two processes: the forked helper's share comes back as
this process would have found it; a helper that dies, hangs or is interrupted leaves nothing
behind and its share is done here."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from analyzer.catalog import load_default_catalog
from analyzer.classify import classify_rows, helper
from analyzer.classify.helper import _shares, classify_shared

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the helper is forked on Linux only")

CATALOG = load_default_catalog()


def _children() -> set[int]:
    """This process's child processes, zombies included (not yet waited for)."""
    found = set()
    for task in Path("/proc/self/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


@pytest.fixture
def forking(monkeypatch):
    """The helper allowed whatever threads the test session runs (a cluster test's Dask threads)."""
    monkeypatch.setattr(helper, "_may_fork", lambda: True)


def _cells() -> list[str]:
    """Every example and near-miss of the catalog, unknown wordings, cells of several messages, a
    Xero JSON body, placeholders and a cell past the length classified."""
    cells = [text for category in CATALOG.categories for text in (*category.examples, *category.near_misses)]
    cells += [f"Widget {n} could not be frobnicated for supplier 'Acme {n}'" for n in range(40)]
    cells += [f"{a}\n{b}" for a, b in zip(cells[:60], cells[60:120])]
    cells += ['{"Type":"ValidationException","Elements":[{"ValidationErrors":[{"Message":"Account code \'999\' is not a'
              ' valid code for this document."}]}]}', "n/a", "", "-", "x" * 30_000 + " Invalid tax rate 'ZZZ'"]
    return cells


def test_the_helper_finds_what_one_process_finds(forking, monkeypatch):
    called = []
    with_helper = helper._with_helper
    monkeypatch.setattr(helper, "_with_helper", lambda *a: called.append(1) or with_helper(*a))
    errors = pd.Series(_cells() * 3, dtype="object")
    shared = classify_rows(errors, CATALOG, helper=True)
    alone = classify_rows(errors, CATALOG, helper=False)
    assert called == [1]
    assert shared.cells == alone.cells
    assert shared.findings == alone.findings
    assert (shared.codes == alone.codes).all()
    assert shared.columns(CATALOG.value_names).equals(alone.columns(CATALOG.value_names))


def test_the_helpers_share_is_classified_in_another_process(forking):
    messages = [f"named {n}" for n in range(40)] + [f"unknown {n}" for n in range(6)]
    found = classify_shared(messages, lambda m: (m, os.getpid()), lambda m: m.startswith("unknown"), helper=True)
    assert list(found) == messages  # in the messages' order
    assert all(found[m][0] == m for m in messages)
    elsewhere = {m for m, (_, pid) in found.items() if pid != os.getpid()}
    # 6 costly messages: 42 units of 82, half the work; the helper takes them, and nothing else
    assert elsewhere == {f"unknown {n}" for n in range(6)}


def test_a_helper_that_dies_leaves_its_share_here(forking):
    parent = os.getpid()
    before = _children()

    def classify(message: str) -> str:
        if os.getpid() != parent:
            os._exit(7)
        return message.upper()

    messages = [f"m{n}" for n in range(30)]
    assert classify_shared(messages, classify, lambda m: m >= "m2", helper=True) == {m: m.upper() for m in messages}
    assert _children() <= before


def test_a_helper_far_slower_than_this_process_is_stopped(forking, monkeypatch):
    monkeypatch.setattr(helper, "WAIT_AT_LEAST_S", 0.3)
    parent = os.getpid()
    before = _children()

    def classify(message: str) -> str:
        if os.getpid() != parent:
            time.sleep(60)
        return message.upper()

    started = time.monotonic()
    messages = [f"m{n}" for n in range(30)]
    assert classify_shared(messages, classify, lambda m: m >= "m2", helper=True) == {m: m.upper() for m in messages}
    assert time.monotonic() - started < 20
    assert _children() <= before


def test_an_interrupted_run_stops_its_helper(forking):
    parent = os.getpid()
    before = _children()

    def classify(message: str) -> str:
        if os.getpid() != parent:
            time.sleep(60)
        if message == "m29":
            raise KeyboardInterrupt
        return message

    with pytest.raises(KeyboardInterrupt):
        classify_shared([f"m{n}" for n in range(30)], classify, lambda m: m >= "m2", helper=True)
    assert _children() <= before


@pytest.mark.parametrize("costs, theirs", [
    ([7, 1, 1, 1, 1, 1, 1, 1], {0}),  # the costly one is half the work: the helper's share
    ([7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], {0, 12, 13, 14, 15}),  # then cheap ones from the end
    ([7, 7, 7, 7, 1, 1], {0, 1}),  # costly over two thirds: they are shared too (14 of 30 units)
    ([1, 1, 1, 1], {2, 3}),
])
def test_the_helper_takes_the_costly_messages_up_to_half_the_work(costs, theirs):
    messages = [str(n) for n in range(len(costs))]
    ours, helpers = _shares(messages, costs)
    assert set(helpers) == {str(n) for n in theirs}
    assert sorted(ours + helpers, key=int) == messages


def test_no_helper_for_a_small_batch_one_cpu_or_another_thread(monkeypatch):
    monkeypatch.setattr(helper, "usable_cpus", lambda: 2)
    assert helper._worth_a_helper(helper.MIN_WORK)
    assert not helper._worth_a_helper(helper.MIN_WORK - 1)
    monkeypatch.setattr(helper, "usable_cpus", lambda: 1)
    assert not helper._worth_a_helper(10 * helper.MIN_WORK)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not helper._may_fork()
    finally:
        stop.set()
        other.join()


def test_without_a_helper_nothing_is_forked(monkeypatch):
    monkeypatch.setattr(helper, "_with_helper", lambda *a: pytest.fail("forked"))
    errors = pd.Series(_cells(), dtype="object")
    classify_rows(errors, CATALOG, helper=False)
    monkeypatch.setattr(helper, "_may_fork", lambda: True)
    classify_rows(errors, CATALOG)  # a few hundred messages: not worth a helper


def test_a_helper_ends_with_the_run_however_it_ends(tmp_path):
    """A run killed (SIGKILL) while its helper classifies leaves no helper running."""
    import signal
    import subprocess

    script = tmp_path / "run.py"
    script.write_text(f"""
import os, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from analyzer.classify import helper
helper._may_fork = lambda: True
parent = os.getpid()
def classify(message):
    if os.getpid() != parent:
        print(os.getpid(), flush=True)
        time.sleep(60)
    else:
        time.sleep(0.01)
    return message
helper.classify_shared([f"m{{n}}" for n in range(3000)], classify, lambda m: m >= "m2", helper=True)
""")
    run = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    helper_pid = int(run.stdout.readline())
    run.send_signal(signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 10
    while _alive(helper_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(helper_pid)


def _alive(pid: int) -> bool:
    """Whether the process runs: ended and not yet reaped by whoever adopted it (a zombie) is ended."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("workers, forks", [("1", 0), ("0", 1)])
def test_report_with_one_worker_classifies_in_one_process(forking, monkeypatch, tmp_path, workers, forks):
    """`--workers 1` means one process throughout; by default a batch worth it gets its helper."""
    import io

    from analyzer.cli import main

    monkeypatch.setattr(helper, "MIN_WORK", 0)
    monkeypatch.setattr(helper, "usable_cpus", lambda: 2)
    called = []
    with_helper = helper._with_helper
    monkeypatch.setattr(helper, "_with_helper", lambda *a: called.append(1) or with_helper(*a))
    sample = Path(__file__).resolve().parent.parent / "sample_exports" / "Summit Physio LLC - publishing errors Oct 2026.csv"
    code = main(["report", str(sample), "--out", str(tmp_path), "--workers", workers, "--format", "html",
                 "--period", "2026-10"], stdout=io.StringIO(), stderr=io.StringIO())
    assert code in (0, 3)
    assert len(called) == forks


@pytest.mark.parametrize("message, costly", [
    ("Account code '400' has been archived, or deleted.", False),  # a pattern names it
    ("Widget could not be frobnicated", True),  # the second stage must read it
    ("Account code '400' has been archived, or deleted. (Café Lumière)", True),  # the set's UTF-8 build
])
def test_the_costly_messages_are_those_the_second_stage_or_the_utf8_set_reads(message, costly):
    from analyzer.classify import _costly

    assert _costly(message, CATALOG) is costly
