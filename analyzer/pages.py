"""The run's memory in ordinary pages, not transparent huge pages (Linux).

numpy asks the kernel for 2 MB pages for every array over 4 MB, and Arrow's allocator (mimalloc)
for its whole arena. A run allocates far more than it keeps (a column's text, taken, joined and
dropped), and each first touch of a huge page has the kernel clear 2 MB: on the 2-core virtual
machines we measure on, that was most of the kernel time of `classify` (0.5 to 3.7 s for 300,000
rows, against 2.0 s of our own work) and read to plan of 1M rows took 4.4-5.1 s instead of
2.6-2.7 s, with the same user time. Ordinary pages cost more page faults and far less clearing.

The setting is the process's own (prctl PR_SET_THP_DISABLE): it holds for memory already mapped,
is inherited by the worker processes (forkserver) and touches nothing else on the machine.
"""

from __future__ import annotations

import sys

PR_SET_THP_DISABLE = 41  # linux/prctl.h, since Linux 3.15


def use_small_pages() -> bool:
    """Ask the kernel for ordinary pages from now on; False where that cannot be asked."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):  # no C library to ask, or one without prctl
        return False
