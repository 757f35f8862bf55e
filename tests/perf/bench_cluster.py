"""The cluster benchmark (`bench.py --cluster`): one large practice, and many practices of 50,000
rows, run on a LocalCluster of two worker processes versus the local pool of two processes, on
the same machine, in interleaved pairs (median of --repeats).

What it reports, besides the wall times and their ratios:

- the task timings from Dask's task stream: the summed compute time of the read tasks and of the
  render tasks (the work a cluster spreads), and the transfer time the stream records;
- the run's own serial part: the CPU time of the run's process (every thread), which no number
  of machines removes; of it, the run's own share of the render phase (building each client's
  job, writing the returned files) is shown apart;
- from these, Amdahl's estimate of a cluster of N machines of W workers each:
  the run's CPU + task compute / (N * W) (an upper bound: the two overlap in part).

Nothing under analyzer/ is changed: the phases are timed by wrapping analyzer.cluster's methods.
"""

from __future__ import annotations

import io
import shutil
import statistics
import time
from pathlib import Path


def run_cluster(opts, generate_export) -> dict:
    from distributed import LocalCluster

    work = Path(opts.workdir) / "cluster"
    work.mkdir(parents=True, exist_ok=True)
    big = work / f"practice-{opts.rows}.csv"
    if opts.regenerate or not big.exists():
        generate_export(big, opts.rows, opts.clients, opts.distinct, opts.seed)
    many = work / f"practices-{opts.practices}x{opts.practice_rows}"
    configs = many / "configs"
    if opts.regenerate or not configs.exists():
        shutil.rmtree(many, ignore_errors=True)
        configs.mkdir(parents=True)
        for n in range(opts.practices):
            export = many / f"p{n:02d}" / "export.csv"
            export.parent.mkdir()
            generate_export(export, opts.practice_rows, max(5, opts.practice_rows // 1000), min(opts.distinct, 1500),
                            opts.seed + n + 1)
            (configs / f"p{n:02d}.toml").write_text(
                f'inputs = ["{export}"]\noutput = "OUT/p{n:02d}"\npractice = "P{n:02d}"\nperiod = "2026-10"\n',
                encoding="utf-8")
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=50)
    try:
        results = {
            "one practice": _pairs(opts.repeats, lambda where: _one(big, work / "out", where), cluster),
            "many practices": _pairs(opts.repeats, lambda where: _many(configs, work / "out", where), cluster),
        }
    finally:
        cluster.close()
    _print(opts, results)
    return {"cluster": results}


def _pairs(repeats: int, run, cluster) -> dict:
    """Local and cluster runs interleaved, `repeats` pairs; medians, and the last cluster run's phases."""
    local, remote, phases = [], [], {}
    for _ in range(repeats):
        local.append(run(None)["wall"])
        measured = run(cluster.scheduler_address)
        remote.append(measured["wall"])
        phases = measured
    return {"local_s": statistics.median(local), "cluster_s": statistics.median(remote),
            "ratio": statistics.median(remote) / statistics.median(local), "phases": phases}


class _Phases:
    """Times analyzer.cluster.Cluster's read and render phases, the run's own share of the
    render phase (building jobs, writing files), and collects the task stream."""

    def __init__(self):
        from analyzer import cluster as module

        self.module, self.read, self.render, self.own = module, 0.0, 0.0, 0.0

    def __enter__(self):
        module, phases = self.module, self
        self.saved = (module.Cluster.read, module.Cluster.render, module._write)
        read, render, write = self.saved

        def timed_read(cluster, files, limits):
            start = time.perf_counter()
            try:
                return read(cluster, files, limits)
            finally:
                phases.read += time.perf_counter() - start

        def timed_render(cluster, jobs, total, progress):
            def built():
                iterator = iter(jobs)
                while True:
                    start = time.perf_counter()
                    try:
                        job = next(iterator)
                    except StopIteration:
                        return
                    finally:
                        phases.own += time.perf_counter() - start
                    yield job
            start = time.perf_counter()
            try:
                return render(cluster, built(), total, progress)
            finally:
                phases.render += time.perf_counter() - start

        def timed_write(target, data):
            start = time.perf_counter()
            try:
                return write(target, data)
            finally:
                phases.own += time.perf_counter() - start

        module.Cluster.read, module.Cluster.render, module._write = timed_read, timed_render, timed_write
        return self

    def __exit__(self, *exc):
        module = self.module
        module.Cluster.read, module.Cluster.render, module._write = self.saved


def _task_totals(stream: list[dict]) -> dict:
    totals: dict[str, float] = {}
    for task in stream:
        kind = task["key"].split("-")[0]
        for part in task.get("startstops", ()):
            name = f"{kind} {part['action']}"
            totals[name] = totals.get(name, 0.0) + part["stop"] - part["start"]
    return totals


def _timed_cli(argv: list[str], address: str | None) -> dict:
    from analyzer.cli import main

    phases = _Phases()
    with phases:
        start, cpu = time.perf_counter(), time.process_time()
        err = io.StringIO()
        if address:
            from distributed import Client

            with Client(address, set_as_default=False) as observer:
                observer.get_task_stream()  # the scheduler records tasks from here
                before = time.time()
                code = main([*argv, "--scheduler", address], stdout=io.StringIO(), stderr=err)
                stream = [t for t in observer.get_task_stream(start=before)]
        else:
            code, stream = main(argv, stdout=io.StringIO(), stderr=err), []
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if code not in (0, 1, 3):
        raise RuntimeError(f"{argv}: exit {code}: {err.getvalue()[-500:]}")
    return {"wall": wall, "run_cpu": cpu, "read": phases.read, "render": phases.render, "own_in_render": phases.own,
            "tasks": _task_totals(stream)}


def _one(export: Path, out: Path, address: str | None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    return _timed_cli(["report", str(export), "--out", str(out), "--period", "2026-10", "--no-history",
                       *(["--workers", "2"] if not address else [])], address)


def _many(configs: Path, out: Path, address: str | None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    folder = out.parent / "configs-run"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for config in sorted(configs.glob("*.toml")):  # each practice's reports under this run's `out`
        (folder / config.name).write_text(config.read_text(encoding="utf-8").replace("OUT/", f"{out}/"),
                                          encoding="utf-8")
    return _timed_cli(["run", "--config", str(folder), "--quiet", "--no-history"], address)


def _estimate(phases: dict, workers_per_machine: int = 2) -> list[tuple[int, float]]:
    """Amdahl: the run's own CPU time (its process, every thread: discovering, normalising,
    classifying, planning, building jobs, sending and receiving, writing, publishing) stays
    serial; the tasks' compute time divides among N * W workers."""
    parallel = sum(v for k, v in phases["tasks"].items() if k.endswith("compute"))
    return [(n, phases["run_cpu"] + parallel / (n * workers_per_machine)) for n in (1, 2, 4, 8, 16)]


def _print(opts, results: dict) -> None:
    print(f"\nCluster benchmark: LocalCluster of 2 worker processes vs the local pool of 2, on "
          f"{opts.rows:,} rows in one practice and {opts.practices} practices of {opts.practice_rows:,} rows"
          f" (median of {opts.repeats})")
    for name, r in results.items():
        p = r["phases"]
        tasks = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(p["tasks"].items()))
        print(f"  {name:<15} local {r['local_s']:7.1f}s   cluster {r['cluster_s']:7.1f}s   cluster/local {r['ratio']:.2f}")
        print(f"  {'':<15} cluster phases: read {p['read']:.1f}s, render {p['render']:.1f}s (the run's own share"
              f" {p['own_in_render']:.1f}s); the run's own CPU (serial) {p['run_cpu']:.1f}s of {p['wall']:.1f}s wall")
        print(f"  {'':<15} task stream: {tasks}")
        print(f"  {'':<15} N machines x 2 workers (Amdahl): "
              + ", ".join(f"{n}: {t:.1f}s" for n, t in _estimate(p)))
