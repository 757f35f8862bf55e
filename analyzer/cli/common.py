"""What every command shares: exit codes, the failures the command line turns into one line
and its exit code, and the argument parser's own classes."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from analyzer.catalog import CatalogError
from analyzer.config import ConfigError
from analyzer.errors import (ClusterAddressError, ClusterError, FolderBusy, MissingExtra, NothingForThePeriod, NothingRead,
                             OutputError, StoreBusy, StoreLocationError, TemplateProblem, UnknownClient)
from analyzer.store import StoreError as HistoryError



EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_UNCLASSIFIED, EXIT_BUSY = 0, 1, 2, 3, 4
EXIT_OUTPUT, EXIT_STORE = 5, 6  # the reports could not be written; the history database failed
EXIT_CLUSTER = 7  # the Dask scheduler could not be reached or was lost mid-run
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # Ctrl-C; SIGTERM (128 + the signal)


class Terminated(BaseException):
    """SIGTERM: the run stops as cleanly as on Ctrl-C (workers stopped, nothing half published)."""
EXIT_PIPE = 141  # standard output was closed early (`... | head`): 128 + SIGPIPE, as other tools exit


class UsageError(Exception):
    """Wrong arguments: exit code 2."""


class UnreadableInput(Exception):
    """An input that cannot be read at all: exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every usage error
        raise UsageError(f"{self.prog}: {message} (see --help)")


class _Version(argparse.Action):
    """--version, with the version looked up only when asked for (importlib.metadata is slow to load)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from analyzer import __version__

        sys.stdout.write(f"{parser.prog} {__version__}\n")  # as argparse's own version action: standard output
        parser.exit()


MOST_WORKERS = 64  # each worker is a process holding a share of the month: more only exhausts memory


def _number(text: str, convert, kind: str):
    """An option's value as a number, or argparse's one-line error naming what was typed."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {kind}") from None


def _positive_int(text: str) -> int:
    """A limit: a whole number above 0 (0 or less would refuse, or silently lift, every file)."""
    value = _number(text.replace(",", "").replace("_", ""), int, "whole number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not above 0")
    return value


def _positive_float(text: str) -> float:
    """A size limit in MB, above 0."""
    value = _number(text, float, "number")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a size above 0")
    return value


def _worker_count(text: str) -> int:
    """--workers: 0 (choose) up to MOST_WORKERS."""
    count = _number(text, int, "whole number")
    if not 0 <= count <= MOST_WORKERS:
        raise argparse.ArgumentTypeError(f"{count} is not between 0 (choose for me) and {MOST_WORKERS}")
    return count


_FAILURES = (
    (UsageError, "", EXIT_USAGE),
    (UnreadableInput, "", EXIT_INPUT),
    (NothingRead, "publish-failures: ", EXIT_INPUT),
    (CatalogError, "publish-failures: catalog: ", EXIT_USAGE),
    (ConfigError, "publish-failures: ", EXIT_USAGE),
    (TemplateProblem, "publish-failures: ", EXIT_USAGE),
    (UnknownClient, "publish-failures: ", EXIT_USAGE),
    (NothingForThePeriod, "publish-failures: ", EXIT_USAGE),
    (MissingExtra, "publish-failures: ", EXIT_USAGE),
    (StoreLocationError, "publish-failures: ", EXIT_USAGE),
    (StoreBusy, "publish-failures: ", EXIT_BUSY),
    (HistoryError, "publish-failures: ", EXIT_STORE),
    (OutputError, "publish-failures: ", EXIT_OUTPUT),
    (FolderBusy, "publish-failures: ", EXIT_BUSY),
    (ClusterAddressError, "publish-failures: ", EXIT_USAGE),
    (ClusterError, "publish-failures: ", EXIT_CLUSTER),
)
_KNOWN_FAILURES = tuple(kind for kind, _, _ in _FAILURES)


def _known_failure(exc: BaseException) -> tuple[str, int] | None:
    """A failure the command knows: its one line and exit code."""
    for kind, prefix, code in _FAILURES:
        if isinstance(exc, kind):
            text = f"{prefix}{exc}"
            # every line names the tool, also where the message was written without it (--column ...)
            return (text if text.startswith("publish-failures") else f"publish-failures: {text}"), code
    return None


def _is_terminal(stream: TextIO) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


def _message(given: str, stdin: TextIO | None, stderr: TextIO) -> str:
    """The message to explain: as given, or all of standard input for `-`; never empty."""
    if given == "-":
        if stdin is None:  # no standard input at all (pythonw, some services)
            raise UsageError("publish-failures explain -: there is no standard input; pass the message in quotes")
        if _is_terminal(stdin):
            print("publish-failures: paste the error, then press Ctrl-D (Ctrl-Z then Enter on Windows)", file=stderr)
        raw = getattr(stdin, "buffer", None)
        try:
            given = _text_of(raw.read()) if raw is not None else stdin.read()
        except UnicodeDecodeError:
            raise UnreadableInput("publish-failures explain -: standard input is not UTF-8 text;"
                                  " save or paste it as UTF-8, or pass the message in quotes") from None
        if not given.strip():
            raise UsageError("publish-failures explain -: standard input was empty; pipe or paste the error text")
    elif not given.strip():
        raise UsageError('publish-failures explain: the message is empty; pass the error text in quotes,'
                         ' or - to read it from standard input')
    elif any("\udc80" <= c <= "\udcff" for c in given):  # bytes the terminal's encoding could not read
        given = _text_of(given.encode("utf-8", "surrogateescape"))
    return given


def _text_of(data: bytes) -> str:
    """Pasted or piped text in whatever a Windows or Mac tool saved it as: UTF-8 or UTF-16 (by
    its byte-order mark), else UTF-8, else Windows-1252 (Excel's and Notepad's "ANSI")."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _load_catalog(paths, stderr: TextIO):
    """The built-in catalog with the practice's files; what they replace said once on stderr."""
    from analyzer.catalog import load_catalog

    catalog = load_catalog(tuple(paths))
    for note in catalog.notes:
        print(f"publish-failures: note: {note}", file=stderr)
    return catalog
