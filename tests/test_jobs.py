"""How many processes render clients by default: one for a small month, else up to one per CPU
the process may use, as the size of the work allows."""

from __future__ import annotations

import pytest

from analyzer.cpus import idle_cpus, usable_cpus
from analyzer.jobs import MAX_WORKERS, default_workers


@pytest.mark.parametrize("clients, rows, cpus, load, expected", [
    (600, 60_000, 2, 1.0, 2),  # enough work for both CPUs, and nothing else running
    (600, 60_000, 2, 6.5, 1),  # both cores taken by other work: workers would only slow the run
    (600, 60_000, 2, 1.6, 1),
    (600, 60_000, 2, 1.4, 2),
    (600, 60_000, 1, 0.0, 1),  # one CPU: parallel rendering only adds the workers' start-up
    (7, 1_000_000, 8, 0.0, 1),  # too few clients to share out
    (1_000, 10_000, 8, 0.0, 1),  # a small month: the workers' start-up is more than they save
    (1_000, 60_000, 8, 0.0, 2),  # each further worker needs its share of rows
    (1_000, 1_000_000, 64, 3.0, MAX_WORKERS),
    (1_000, 1_000_000, 8, 6.0, 3),
    (10, 1_000_000, 64, 0.0, MAX_WORKERS),
])
def test_default_workers(clients, rows, cpus, load, expected):
    assert default_workers(clients, rows, cpus, load) == expected


def test_idle_cpus_without_a_load_average_is_every_usable_cpu(monkeypatch):
    import os

    def missing():
        raise OSError("no load average")
    monkeypatch.setattr(os, "getloadavg", missing)
    assert idle_cpus(4) == 4


def test_usable_cpus_is_what_the_process_may_use():
    assert 1 <= usable_cpus()


def _jobs(tmp_path, files: dict[str, str]):
    import datetime as dt

    from analyzer.jobs import client_jobs
    from analyzer.pipeline import ReportSettings, analyse

    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    analysis = analyse([str(tmp_path)])
    plan = analysis.plan()
    settings = ReportSettings(out=tmp_path / "out", formats=("html",))
    return {job.plan.name: job for job in client_jobs(analysis, plan, plan.clients, settings, "October 2026",
                                                       dt.datetime(2026, 11, 3))}


def test_each_client_keeps_the_columns_its_own_rows_fill_and_counts_its_own_files(tmp_path):
    merged = ("Client,Supplier,Project,Total,Error\n"
              "Acme Ltd,Bob's Vans,Job 7,12.00,Account code 200 is archived\n"
              "Birch & Co,Ann's Cafe,   ,,Account code 310 is archived\n"
              "Acme Ltd,Cleanco,,5.00,Account code 200 is archived\n")
    own = "Supplier,Customer,Error\nDeli,Mrs Jones,Account code 400 is archived\n"
    jobs = _jobs(tmp_path, {"merged.csv": merged, "Cedar Ltd - failed items.csv": own})
    columns = {name: set(job.items.columns) for name, job in jobs.items()}
    assert "Project" in columns["Acme Ltd"] and "Project" not in columns["Birch & Co"]  # only blanks: dropped
    assert "Amount" in columns["Acme Ltd"] and "Amount" not in columns["Birch & Co"]  # no number: dropped
    assert "Customer" in columns["Cedar Ltd"] and "Customer" not in columns["Acme Ltd"]
    sources = {name: {(s.name, s.rows) for s in job.context.sources} for name, job in jobs.items()}
    assert sources == {"Acme Ltd": {("merged.csv", 2)}, "Birch & Co": {("merged.csv", 1)},
                       "Cedar Ltd": {("Cedar Ltd - failed items.csv", 1)}}
