"""analyzer: turns Dext-to-Xero publish-failure exports into per-client action reports."""

import os
from importlib.metadata import PackageNotFoundError, version

# Arrow's allocator (mimalloc) may back the large column buffers of a big export with 2 MB pages
# instead of 4 KB ones: far fewer page faults and TLB misses, and a million-row CSV reads about
# 1.4 times faster (tests/perf/bench.py). It must be set before Arrow first allocates, so it is
# set here; a value already in the environment wins.
os.environ.setdefault("MIMALLOC_ALLOW_LARGE_OS_PAGES", "1")

try:
    __version__ = version("analyzer")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.1.0"
