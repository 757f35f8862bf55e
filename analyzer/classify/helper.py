"""A large batch's distinct messages classified on two processes: this one and a helper forked
from it, which inherits the loaded catalog and the compiled pattern set instead of building
them again, classifies its share and sends the findings back pickled.

Most of a large month's classification is work done once per process and per kind of message:
the pattern set's automaton built by the first searches, the patterns that pull values out
compiled and their automata built, the second stage's speller, phrasebook and key words loaded.
So the shares are split by kind, not by count: the helper takes the messages no pattern names
(each read again by the second stage, about seven times the cost of a message a pattern names),
this process those a pattern names, and either takes some of the other kind when one kind alone
would leave it idle. At a million rows (4,897 distinct cells, 3,961 distinct messages) the
helper took classification from 0.42 s to 0.34 s (medians of five interleaved runs; the helper's
0.11 s of CPU beside the run's).

The helper is an optimisation and nothing depends on it: where it cannot start, fails, or takes
far longer than this process's share did, this process classifies its messages itself, and the
findings are the same.
"""

from __future__ import annotations

import ctypes
import gc
import os
import pickle
import select
import signal
import sys
import threading
import time
import warnings
from typing import Callable, TypeVar

from analyzer.cpus import usable_cpus

Result = TypeVar("Result")

# The work a helper must take for it to pay, in units of one message a pattern names (about 30 µs
# cold): forking a process holding a million rows and sending the findings back cost 15-30 ms.
MIN_WORK = 3_000
COSTLY = 7  # a message no pattern names, read again by the second stage, in those units
# How long the helper may take once this process has done its share, before its share is done here
# instead: as long again, at least this many seconds.
WAIT_AT_LEAST_S = 30.0


def classify_shared(messages: list[str], classify: Callable[[str], Result], costly: Callable[[str], bool],
                    helper: bool | None = None) -> dict[str, Result]:
    """Each message's result of `classify`, a share of them done by a forked helper when that
    pays (`helper` None: decide; False: never; True: whenever a process can be forked).
    `costly`: whether a message is of the kind the helper takes first (about COSTLY times the
    work of another, and work of its own kind to start: see `classify._costly`)."""
    costs = [COSTLY if costly(m) else 1 for m in messages] if helper is not False else []
    if helper is False or not _may_fork() or (helper is None and not _worth_a_helper(sum(costs))):
        return {message: classify(message) for message in messages}
    ours, theirs = _shares(messages, costs)
    found = _with_helper(ours, theirs, classify)
    return {message: found[message] for message in messages}  # in the messages' order


def _worth_a_helper(work: int) -> bool:
    """Enough work, and a second CPU this process may use. Not the load average the render
    workers go by: it lags a minute behind (in the benchmark it counted the stage that had just
    ended), and the helper costs a fork, not a second of start-up, so on a busy machine it loses
    a few milliseconds at most, while on a free one it saves a fifth of the classification."""
    return work >= MIN_WORK and usable_cpus() >= 2


def _may_fork() -> bool:
    """Forking is safe here: on Linux (macOS' system libraries are not safe in a forked child),
    and with no other Python thread running (a Dask client's event loop holds locks a forked
    child would wait on for ever). Arrow's idle worker threads are no matter: the helper runs
    only Python and RE2, and allocates nothing of Arrow's."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


def _shares(messages: list[str], costs: list[int]) -> tuple[list[str], list[str]]:
    """(this process's, the helper's). The helper takes the messages the second stage reads, so
    that its speller and phrasebook are loaded in one process only, and cheap ones from the end
    until it has half the work. Where those messages are most of the work (over two thirds), this
    process takes some of them too, and both load the second stage."""
    total = sum(costs)
    costly = [i for i, cost in enumerate(costs) if cost > 1]
    cheap = [i for i, cost in enumerate(costs) if cost == 1]
    if sum(costs[i] for i in costly) > total * 2 / 3:
        order = costly + cheap  # the helper's half: the costly ones from the start, ours the rest
    else:
        order = costly + cheap[::-1]
    theirs, taken = set(), 0
    for index in order:
        if taken + costs[index] / 2 > total / 2:  # this one would leave the helper more over half than under
            break
        theirs.add(index)
        taken += costs[index]
    return ([m for i, m in enumerate(messages) if i not in theirs],
            [m for i, m in enumerate(messages) if i in theirs])


def _with_helper(ours: list[str], theirs: list[str], classify: Callable[[str], Result]) -> dict[str, Result]:
    read_end, write_end = os.pipe()
    parent = os.getpid()
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns of forking with threads; the only others are Arrow's idle ones (see _may_fork).
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:  # no memory or process left for a helper: all here
        os.close(read_end)
        os.close(write_end)
        return {message: classify(message) for message in [*ours, *theirs]}
    if pid == 0:
        _helper_main(read_end, write_end, theirs, classify, parent)  # never returns
    os.close(write_end)
    done = False
    try:
        started = time.monotonic()
        found = {message: classify(message) for message in ours}
        sent = _receive(read_end, max(WAIT_AT_LEAST_S, time.monotonic() - started))
        done = sent is not None
    finally:
        os.close(read_end)
        if not done:  # interrupted, or the helper too slow: it stops with the run
            _stop(pid)
        os.waitpid(pid, 0)
    results = _unpickled(sent, len(theirs))
    if results is None:  # the helper failed: its share done here
        results = [classify(message) for message in theirs]
    found.update(zip(theirs, results))
    return found


def _helper_main(read_end: int, write_end: int, messages: list[str], classify, parent: int) -> None:
    """The forked helper: classify its share, send it back, and leave at once, running nothing of
    the parent's clean-up (no atexit, no buffers flushed twice). Ctrl-C and SIGTERM stop it
    as they stop any process, without the parent's handlers; so does the run's end, however
    it ends (a SIGKILL included)."""
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _end_with(parent)
        os.close(read_end)
        gc.disable()  # short-lived, and the parent's objects it would walk are the parent's to free
        data = pickle.dumps([classify(message) for message in messages], protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(write_end, view):]
        status = 0
    finally:
        os._exit(status)


def _end_with(parent: int) -> None:
    """Ask Linux to kill this process when the run's ends (PR_SET_PDEATHSIG); a run already gone
    (killed between the fork and this) ends it now."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl: the write to a closed pipe ends it instead
        pass
    if os.getppid() != parent:
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _receive(read_end: int, timeout_s: float) -> bytes | None:
    """Everything the helper sends, or None when it has sent nothing more for `timeout_s`."""
    chunks = []
    while True:
        ready, _, _ = select.select([read_end], [], [], timeout_s)
        if not ready:
            return None
        chunk = os.read(read_end, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _unpickled(sent: bytes | None, expected: int) -> list | None:
    if not sent:
        return None
    try:
        results = pickle.loads(sent)
    except Exception:  # noqa: BLE001 - cut short: the helper died while writing
        return None
    return results if isinstance(results, list) and len(results) == expected else None


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
