"""How many CPUs a run may use: for the processes that render clients (`jobs`) and the helper
that classifies beside the run (`classify.helper`)."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's or `taskset`'s limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def idle_cpus(cpus: int, load: float | None = None) -> int:
    """Of the usable CPUs, those other work is not already keeping busy: the load average over
    the last minute, less this run's own process. On a shared machine whose cores are taken,
    workers beside the run only add their start-up and the jobs' pickling: a 60,000-row month
    took 1.3 times as long with two workers as with one at a load of 6 on two cores."""
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows: no load average
            return cpus
    return max(1, min(cpus, int(cpus - max(0.0, load - 1.0) + 0.5)))
