"""Many practices in one call: `run --config A.toml --config B.toml` or `run --config practices/`
(every *.toml in the folder). Each practice's run is the ordinary one: its own config, lock,
history and outputs; they run in turn, or a few at once when a cluster is given (the work of
each then goes to the cluster's workers). One practice's broken config or failed run is
reported in one line and does not stop the others; the call ends with a line per practice and
exits with the worst (highest) of their exit codes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, TextIO

from analyzer.config import ConfigError

CONCURRENT_PRACTICES = 4  # practices in flight at once on a cluster: each keeps its batch in this process

UNEXPECTED = -1  # a practice stopped by an error no one foresaw: its summary line says so
_OUTCOMES = {0: "done", 1: "done; some inputs could not be read", 2: "configuration or usage error",
             3: "unrecognised errors", 4: "busy: another run holds its folder or database",
             5: "the reports could not be written", 6: "the history database failed",
             7: "the cluster was lost or unreachable"}


def config_paths(given: list[Path]) -> list[Path]:
    """The config files named, a folder standing for every *.toml directly in it (in name
    order); each file once."""
    paths: list[Path] = []
    for item in given:
        if item.is_dir():
            found = sorted(p for p in item.glob("*.toml") if p.is_file())
            if not found:
                raise ConfigError(f"{item}: no practice configs (*.toml) in this folder")
            paths.extend(found)
        else:
            paths.append(item)
    return list(dict.fromkeys(paths))


def run_practices(paths: list[Path], run_one: Callable[[Path], int],
                  known: Callable[[BaseException], tuple[str, int] | None], stderr: TextIO,
                  concurrent: bool = False, quiet: bool = False) -> int:
    """Run every practice; return the worst exit code. `run_one(path)` runs one practice and
    returns its exit code; `known(exc)` turns a failure the command knows into its one line and
    exit code (None for anything else, which is raised again once every practice has run, so a
    bug still shows its traceback). `quiet`: no line for a practice that was done without trouble."""
    unexpected: list[BaseException] = []

    def one(path: Path) -> int:
        try:
            return run_one(path)
        except Exception as exc:
            outcome = known(exc)
            if outcome is None:
                unexpected.append(exc)
                print(f"publish-failures: {path}: stopped by an unexpected error ({type(exc).__name__}: {exc})",
                      file=stderr)
                return UNEXPECTED
            line, code = outcome
            print(line, file=stderr)
            return code

    if concurrent and len(paths) > 1:
        with ThreadPoolExecutor(max_workers=min(len(paths), CONCURRENT_PRACTICES),
                                thread_name_prefix="practice") as pool:
            codes = list(pool.map(one, paths))
    else:
        codes = [one(path) for path in paths]
    for path, code in zip(paths, codes):
        if code == UNEXPECTED:
            print(f"publish-failures: practice {path}: failed: stopped by an unexpected error", file=stderr)
        elif code or not quiet:  # --quiet: only what went wrong
            print(f"publish-failures: practice {path}: {_OUTCOMES.get(code, 'failed')} (exit {code})", file=stderr)
    if unexpected:
        raise unexpected[0]
    return max(codes, default=0)
