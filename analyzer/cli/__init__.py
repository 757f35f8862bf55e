"""The `publish-failures` command: thin wrappers that build the library's objects, call one
function, and turn known failures into one-line errors with documented exit codes.

Only what parsing the command line and `explain` need is imported here; each command imports
the rest (pandas, numpy, the readers and renderers) when it runs, so a bookkeeper pasting one
error, or asking for `--help`, does not wait half a second for a table library
(tests/test_cli_startup.py keeps it so).

The package's modules name their jobs: `parser` (the grammar), `reporting` (classify, report,
run), `state` (history, clients, teach), `explaining` (explain, rules) and `common` (exit codes,
one-line failures)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import TextIO

from analyzer.cli.common import (EXIT_INTERRUPTED, EXIT_PIPE, EXIT_TERMINATED, _KNOWN_FAILURES, HistoryError,
                                 Terminated, UsageError, UnreadableInput, _known_failure)
from analyzer.cli.parser import build_parser
from analyzer.errors import StoppedAfterPublishing, StoreBusy

__all__ = ["main", "build_parser", "UsageError", "UnreadableInput"]


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None,
         stdin: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = _Forgiving(stderr or sys.stderr)
    args = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:  # --help or --version, printed to sys.stdout: flush it here, where a closed pipe is caught
            if sys.stdout is not None:
                sys.stdout.flush()
            raise
        args.stdin = stdin if stdin is not None else sys.stdin
        with _terminate_cleanly():
            code = args.handler(args, stdout, stderr)
        stdout.flush()  # a closed pipe shows here, not as "Exception ignored" at interpreter exit
        return code
    except BrokenPipeError:
        _discard_stdout(stdout)
        return EXIT_PIPE
    except _KNOWN_FAILURES as exc:
        line, code = _known_failure(exc)
        print(f"{line}{_undone(exc, args)}", file=stderr)
        return code
    except KeyboardInterrupt:
        print("publish-failures: interrupted; nothing of this run was published", file=stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("publish-failures: stopped (SIGTERM); nothing of this run was published", file=stderr)
        return EXIT_TERMINATED
    except StoppedAfterPublishing as stop:
        name = "SIGTERM" if stop.signum == signal.SIGTERM else "interrupted"
        print(f"publish-failures: stopped ({name}) as its reports were being put in place: the move was finished"
              " first, so this run's reports are complete and recorded", file=stderr)
        return EXIT_TERMINATED if stop.signum == signal.SIGTERM else EXIT_INTERRUPTED


def _undone(exc: Exception, args) -> str:
    """What a failure of the practice's database left undone, in the command's own words (a run:
    nothing recorded or published; teach: nothing taught; history: nothing to add)."""
    if not isinstance(exc, (HistoryError, StoreBusy)) or args is None:
        return ""
    undone = args.consequence(args) if hasattr(args, "consequence") else ""
    return f"; {undone}" if undone else ""


class _Forgiving:
    """Standard error that a closed reader cannot fail (`run ... 2>&1 >/dev/null | true`): the
    messages are lost, the run's work and exit code are not (it exited 141 after a good run)."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except (BrokenPipeError, ValueError):  # ValueError: the stream was closed
            self._gone()
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            self._gone()

    def _gone(self) -> None:
        """The real standard error pointed at the null device, so that the interpreter's last
        flush at exit has nowhere to fail either (it would make the exit code 120)."""
        if sys.__stderr__ is not None and self.stream is sys.__stderr__:
            _to_null_device(sys.__stderr__)

    def __getattr__(self, name):  # isatty, fileno, encoding...: the stream's own
        return getattr(self.stream, name)


@contextlib.contextmanager
def _terminate_cleanly():
    """While a command runs in the main thread, SIGTERM unwinds it like Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Terminated()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# Failures the command knows: each is one line (this prefix, then the message) and an exit code.

def _discard_stdout(stdout: TextIO) -> None:
    """After the reader of standard output went away (`| head`), point the process's standard
    output at the null device, so the interpreter's last flush at exit has nowhere to fail.
    Only for the real standard output: a stream passed in by a caller is the caller's."""
    real = sys.__stdout__
    if real is None or (stdout is not real and sys.stdout is not real):
        return
    _to_null_device(real)


def _to_null_device(stream: TextIO) -> None:
    """Point one of the process's own standard streams at the null device."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
