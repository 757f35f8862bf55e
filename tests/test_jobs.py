"""How many processes render clients by default: one for a small month, else up to one per CPU
the process may use, as the size of the work allows."""

from __future__ import annotations

import pytest

from analyzer.jobs import MAX_WORKERS, default_workers, usable_cpus


@pytest.mark.parametrize("clients, rows, cpus, expected", [
    (600, 60_000, 2, 2),  # enough work for both CPUs
    (600, 60_000, 1, 1),  # one CPU: parallel rendering only adds the workers' start-up
    (7, 1_000_000, 8, 1),  # too few clients to share out
    (1_000, 10_000, 8, 1),  # a small month: the workers' start-up is more than they save
    (1_000, 60_000, 8, 2),  # each further worker needs its share of rows
    (1_000, 1_000_000, 64, MAX_WORKERS),
    (10, 1_000_000, 64, MAX_WORKERS),
])
def test_default_workers(clients, rows, cpus, expected):
    assert default_workers(clients, rows, cpus) == expected


def test_usable_cpus_is_what_the_process_may_use():
    assert 1 <= usable_cpus()
