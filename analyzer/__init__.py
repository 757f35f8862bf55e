"""analyzer: turns Dext-to-Xero publish-failure exports into per-client action reports."""

import os

# NumPy asks Linux for transparent huge pages for each array of 4 MB or more, where the system
# leaves them to the program (the "madvise" setting, Ubuntu's and Debian's default); the kernel
# then zeroes and compacts 2 MB pages as a month's arrays are first touched. Reading and planning
# a million rows spent 0.7-2.4 s in the kernel that way against 0.4 s without, 3.4-4.4 s in all
# against 3.0-3.4 s (tests/perf/bench.py's read->plan, interleaved runs). NumPy reads this when
# it is imported, so it holds when analyzer is imported first (the command line, its workers);
# a practice that wants huge pages sets NUMPY_MADVISE_HUGEPAGE=1 itself.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")


def __getattr__(name: str) -> str:
    """`analyzer.__version__`, looked up when first asked for: importlib.metadata costs more than
    the rest of `explain` or `--help` takes (about 30 ms)."""
    if name != "__version__":
        raise AttributeError(f"module 'analyzer' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("analyzer")
    except PackageNotFoundError:  # running from a checkout that was never installed
        found = "0.1.0"
    globals()["__version__"] = found
    return found
