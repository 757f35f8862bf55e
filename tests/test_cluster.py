"""A run on a Dask cluster: a LocalCluster of two worker processes writes the very reports the
local pool writes, byte for byte; a scheduler that cannot be reached or is lost mid-run is one
line, exit 7, and nothing published; many practices run in one call."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import shutil
import socket
import sys
from pathlib import Path

import pytest

from analyzer.catalog import load_catalog
from analyzer.cli import main
from analyzer.errors import ClusterError
from analyzer.pipeline import ReportSettings, analyse, run_report
from analyzer.store import Store

distributed = pytest.importorskip("distributed", reason="the cluster extra is part of the test extra")

SAMPLES = Path(__file__).resolve().parent.parent / "sample_exports"
RUN_DATE = dt.datetime(2026, 11, 3, 7, 0)  # reports carry the run date; manifest.json the run time


@pytest.fixture(scope="module")
def scheduler():
    """A LocalCluster of two worker processes (one thread each), as the issue asks."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=50)
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture
def connected(scheduler):
    from analyzer.cluster import Cluster

    with Cluster.connect(scheduler) as cluster:
        yield cluster


def _run(*argv) -> tuple[int, str]:
    err = io.StringIO()
    code = main([str(a) for a in argv], stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


def _files(folder: Path) -> dict[str, bytes]:
    """Every file a run published (the history database aside), by name."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix != ".sqlite" and not p.name.startswith(".")}


def _practice(folder: Path, clients: int, seed: int = 15) -> Path:
    """A generated practice: one merged export of `clients` clients, a few rows each, with every
    category's example wordings (and some no category knows)."""
    rng = random.Random(seed)
    wordings = [e for c in load_catalog(()).categories for e in c.examples] + [
        "Something odd happened to item 77", "Unexpected gateway reply 0x1F"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "Practice merged Oct 2026.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["Client", "Receipt ID", "Date", "Supplier", "Total", "Currency", "Error"])
        for client in range(clients):
            for row in range(rng.randint(1, 6)):
                out.writerow([f"Client {client:03d} Ltd", 70_000_000 + client * 100 + row,
                              f"{rng.randint(1, 28):02d}/10/2026", f"Supplier {rng.randint(1, 40)}",
                              f"{rng.randint(100, 99_999) / 100:.2f}", "GBP", rng.choice(wordings)])
    return folder


def _report(paths, out: Path, cluster=None, templates: Path | None = None):
    """A report run keeping its history in the output folder (manifest.json names both)."""
    settings = ReportSettings(out=out, history=Store(out / "history.sqlite"), cluster=cluster, templates=templates,
                              practice="Example & Co")
    analysis = analyse([str(p) for p in paths], outputs=out, database=settings.history, cluster=cluster)
    return run_report(analysis, settings, RUN_DATE)


def _both(tmp_path: Path, cluster, *months, templates: Path | None = None):
    """The same runs (each month's inputs in turn) locally and on the cluster, into the same
    folder path (so that manifest.json names the same folders); the local reports are then
    moved to `local`, the cluster's left in `out`. Returns each way's last run."""
    out = tmp_path / "out"
    results = []
    for engine in (None, cluster):
        for inputs in months:
            result = _report(inputs, out, engine, templates)
        results.append(result)
        if engine is None:
            out.rename(tmp_path / "local")
    return results


def _same_reports(local: Path, cluster: Path) -> None:
    ours, theirs = _files(local), _files(cluster)
    assert sorted(ours) == sorted(theirs)
    assert len(ours) > 3
    for name in ours:
        assert ours[name] == theirs[name], f"{name} differs between the local pool and the cluster"


def test_the_samples_on_a_cluster_are_the_local_reports_byte_for_byte(tmp_path, connected):
    inputs = tmp_path / "in"
    shutil.copytree(SAMPLES, inputs)
    (inputs / "Broken export.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")  # a failure, named alike
    local, remote = _both(tmp_path, connected, [inputs])
    _same_reports(tmp_path / "local", tmp_path / "out")
    assert local.analysis.failures == remote.analysis.failures and len(local.analysis.failures) == 1
    assert str(inputs) in local.analysis.failures[0]  # the worker's copy is never named
    assert [i.path for i in local.analysis.inputs] == [i.path for i in remote.analysis.inputs]


def test_a_generated_100_client_practice_on_a_cluster_is_the_local_one_byte_for_byte(tmp_path, connected):
    practice = _practice(tmp_path / "in", 100)
    local, remote = _both(tmp_path, connected, [practice])
    assert len(local.reports) == len(remote.reports) == 100
    _same_reports(tmp_path / "local", tmp_path / "out")


def test_a_second_month_and_a_practices_templates_on_a_cluster(tmp_path, connected):
    """History carried over (new / carried over / cleared) and templates that exist only on the
    run's machine give the same reports too."""
    practice = _practice(tmp_path / "in", 12)
    templates = tmp_path / "branding"
    templates.mkdir()
    brand = (SAMPLES.parent / "templates" / "_brand.html").read_text(encoding="utf-8")
    (templates / "_brand.html").write_text(brand.replace("#1d3b5c", "#0b6e4f"), encoding="utf-8")
    september = _practice(tmp_path / "sep", 12, seed=9)
    _both(tmp_path, connected, [september], [practice], templates=templates)
    _same_reports(tmp_path / "local", tmp_path / "out")
    assert "#0b6e4f" in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")


def test_the_command_line_with_a_scheduler_writes_what_a_local_run_writes(tmp_path, scheduler):
    for name, extra in (("local", ()), ("cluster", ("--scheduler", scheduler))):
        config = tmp_path / f"{name}.toml"
        config.write_text(f'inputs = ["{SAMPLES}"]\noutput = "{tmp_path / name}"\nperiod = "2026-10"\n',
                          encoding="utf-8")
        code, err = _run("run", "--config", config, "--quiet", *extra)
        assert code == 0, err
    local, remote = _files(tmp_path / "local"), _files(tmp_path / "cluster")
    assert sorted(local) == sorted(remote)
    for name in local:
        if name != "manifest.json":  # its run_time is the run's own second
            assert local[name] == remote[name], name


def test_the_config_can_name_the_scheduler(tmp_path, scheduler):
    config = tmp_path / "analyzer.toml"
    config.write_text(f'inputs = ["{SAMPLES}"]\noutput = "{tmp_path / "out"}"\nscheduler = "{scheduler}"\n',
                      encoding="utf-8")
    code, err = _run("run", "--config", config, "--quiet")
    assert code == 0, err
    assert (tmp_path / "out" / "index.html").is_file()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_scheduler_that_cannot_be_reached_is_one_line_and_exit_7(tmp_path, monkeypatch):
    monkeypatch.setattr("analyzer.cluster.CONNECT_TIMEOUT", 2.0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    code, err = _run("report", SAMPLES, "--out", tmp_path / "out", "--scheduler", address)
    assert code == 7, err
    assert len(err.strip().splitlines()) == 1 and address in err and "cannot reach the Dask scheduler" in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.html"))


def test_a_scheduler_lost_mid_run_publishes_nothing(tmp_path):
    from analyzer.cluster import Cluster

    practice = _practice(tmp_path / "in", 30)
    out = tmp_path / "out"
    doomed = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                                      silence_logs=50)
    cluster = Cluster.connect(doomed.scheduler_address, timeout=5)
    try:
        analysis = analyse([str(practice)], outputs=out, cluster=cluster)

        def lose_the_scheduler(done, total):
            if done == 1:
                doomed.close()

        with pytest.raises(ClusterError, match="lost the Dask scheduler or its workers mid-run"):
            run_report(analysis, ReportSettings(out=out, history=Store(tmp_path / "h.sqlite"), cluster=cluster),
                       RUN_DATE, progress=lose_the_scheduler)
    finally:
        cluster.close()
        doomed.close()
    assert not [p for p in out.iterdir() if not p.name.startswith(".")] if out.exists() else True


def test_asking_for_a_cluster_without_dask_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    code, err = _run("report", SAMPLES, "--out", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:8786")
    assert code == 2 and err.strip().count("\n") == 0 and "pip install '.[cluster]'" in err


def test_the_local_run_does_not_import_dask(tmp_path):
    import subprocess

    script = ("import sys; from analyzer.cli import main; "
              f"code = main(['report', {str(SAMPLES)!r}, '--out', {str(tmp_path / 'out')!r}]); "
              "print(code, 'distributed' in sys.modules, 'dask' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert shown.stdout.split() == ["0", "False", "False"], shown.stderr


# -- many practices in one call ---------------------------------------------------------------

def _configs(folder: Path, inputs: Path, names=("north", "south")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.toml").write_text(
            f'inputs = ["{inputs}"]\noutput = "{folder.parent / "reports" / name}"\npractice = "{name.title()}"\n'
            f'period = "2026-10"\n', encoding="utf-8")
    return folder


@pytest.mark.parametrize("on_cluster", [False, True], ids=["in-turn", "on-a-cluster"])
def test_many_practices_in_one_call(tmp_path, scheduler, on_cluster):
    configs = _configs(tmp_path / "practices", SAMPLES)
    (configs / "broken.toml").write_text('inputs = ["x"]\nnot_a_key = 1\n', encoding="utf-8")
    busy = ("--scheduler", scheduler) if on_cluster else ()
    code, err = _run("run", "--config", configs, "--quiet", *busy)
    assert code == 2, err  # the worst of them: the broken config
    assert "broken.toml: not_a_key: unknown key" in err
    for name in ("north", "south"):
        assert (tmp_path / "reports" / name / "index.html").is_file()
        assert (tmp_path / "reports" / name / "history.sqlite").is_file()  # each its own history
        assert f"practice {configs / f'{name}.toml'}" not in err  # --quiet: only what went wrong
    assert f"practice {configs / 'broken.toml'}: configuration or usage error (exit 2)" in err


def test_two_practices_given_one_output_folder_the_second_is_refused(tmp_path):
    configs = _configs(tmp_path / "practices", SAMPLES)
    south = configs / "south.toml"
    south.write_text(south.read_text(encoding="utf-8").replace("reports/south", "reports/north")
                     + f'log_file = "{tmp_path / "south.log"}"\n', encoding="utf-8")
    code, err = _run("run", "--config", configs)
    assert code == 2, err
    assert (f"{south}: output: {(tmp_path / 'reports' / 'north').resolve()} is where {configs / 'north.toml'} writes"
            " its reports too; give each practice its own output folder (this practice was not run)") in err
    assert f"practice {configs / 'north.toml'}: done (exit 0)" in err  # not quiet: a line per practice
    assert f"practice {south}: configuration or usage error (exit 2)" in err
    logged = (tmp_path / "south.log").read_text(encoding="utf-8")  # its owner reads its log
    assert " ERROR " in logged and "is where" in logged and logged.rstrip().endswith("(exit 2)")
    manifest = json.loads((tmp_path / "reports" / "north" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["options"]["practice"] == "North"


def test_repeated_config_options_and_one_practice_failing(tmp_path):
    configs = _configs(tmp_path / "practices", SAMPLES)
    missing = _configs(tmp_path / "other", tmp_path / "nowhere", names=("west",))
    code, err = _run("run", "--config", configs / "north.toml", "--config", missing / "west.toml", "--quiet")
    assert code == 1, err  # west's inputs are missing: reported, north still ran
    assert (tmp_path / "reports" / "north" / "index.html").is_file()
    assert f"practice {missing / 'west.toml'}: done; some inputs could not be read (exit 1)" in err


def test_a_folder_with_no_configs_is_a_usage_error(tmp_path):
    (tmp_path / "empty").mkdir()
    code, err = _run("run", "--config", tmp_path / "empty")
    assert code == 2 and "no practice configs" in err


@pytest.mark.parametrize("address", ["bogus-address", "tcp://", "http://host", "tcp://host:port"])
def test_a_malformed_scheduler_address_is_a_usage_error_said_at_once(tmp_path, address):
    import time

    started = time.monotonic()
    out, err = io.StringIO(), io.StringIO()
    code = main(["report", str(SAMPLES), "--out", str(tmp_path / "out"), "--scheduler", address], stdout=out, stderr=err)
    assert code == 2 and "not a scheduler address" in err.getvalue() and time.monotonic() - started < 5
    assert not (tmp_path / "out" / "index.html").exists()


def test_a_client_dask_closed_is_named_in_words_not_its_internal_error():
    from analyzer.cluster import Cluster

    cluster = Cluster.__new__(Cluster)
    cluster.address = "tcp://127.0.0.1:8786"
    line = cluster._lost(AttributeError("'NoneType' object has no attribute 'scatter'"))
    assert "(the connection was closed)" in line and "NoneType" not in line
