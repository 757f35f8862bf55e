"""The package works installed from a wheel into a fresh virtual environment, not only from a
checkout: catalog and templates must ship inside it."""

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_exports" / "Summit Physio LLC - publishing errors Oct 2026.csv"


@pytest.mark.slow
def test_wheel_installs_and_runs(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(ROOT)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = dist.glob("analyzer-*.whl")
    with zipfile.ZipFile(wheel) as packed:  # the data files runs read, the ready-made phrasebook among them
        assert {"analyzer/catalog.toml", "analyzer/phrasebook.toml", "analyzer/phrasebook-index.json"} <= set(packed.namelist())
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    out = tmp_path / "reports"
    workdir = tmp_path / "elsewhere"  # not the checkout: nothing may be found by relative path
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run(
        [str(env_dir / "bin" / "publish-failures"), "report", str(SAMPLE), "--out", str(out)],
        capture_output=True, text=True, cwd=workdir, env=env,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert {p.name for p in out.iterdir()} >= {"Summit Physio LLC.html", "Summit Physio LLC.xlsx", "index.html",
                                               "overview.xlsx", "manifest.json"}
    explain = subprocess.run([str(python), "-m", "analyzer", "explain", "Invoice # must be unique."],
                             capture_output=True, text=True, cwd=workdir, env=env)
    assert explain.returncode == 0 and "invoice_number_not_unique" in explain.stdout
