"""analyzer: turns Dext-to-Xero publish-failure exports into per-client action reports."""

import os

# Arrow's allocator (mimalloc) may back the large column buffers of a big export with 2 MB pages
# instead of 4 KB ones: far fewer page faults and TLB misses, and a million-row CSV reads about
# 1.4 times faster (tests/perf/bench.py). It must be set before Arrow first allocates, so it is
# set here; a value already in the environment wins.
os.environ.setdefault("MIMALLOC_ALLOW_LARGE_OS_PAGES", "1")


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
