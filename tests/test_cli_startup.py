"""A bookkeeper pasting one error, or asking for help, must not wait for the table libraries:
`explain`, `--help` and `--version` run in a fresh interpreter without importing pandas, numpy,
pyarrow or openpyxl (each command that reads tables imports them itself)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "numpy", "pyarrow", "openpyxl", "xlsxwriter", "jinja2", "python_calamine")

PROBE = """
import contextlib, io, json, sys
from analyzer.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:], stdout=out, stderr=io.StringIO())
    except SystemExit as exit:
        code = exit.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(%r)))
print(json.dumps({"code": code, "heavy": heavy, "out": out.getvalue()}))
"""


def _run(*argv: str, cwd: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE % json.dumps(HEAVY), *argv], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("argv", [
    ("explain", "Account code 200 is archived"),
    ("explain", "--json", "Something nobody has ever seen went wrong (ref 88123)"),
    ("--help",),
    ("explain", "--help"),
    ("report", "--help"),
    ("--version",),
])
def test_light_commands_import_no_table_library(argv, tmp_path):
    result = _run(*argv, cwd=tmp_path)
    assert result["code"] == 0
    assert result["out"].strip()  # it did its job
    assert result["heavy"] == [], f"{' '.join(argv)} imported {result['heavy']}"


def test_explain_with_a_practice_database_still_imports_no_table_library(tmp_path):
    from analyzer.catalog import load_catalog
    import datetime as dt

    from analyzer import taught

    db = tmp_path / "reports" / "history.sqlite"
    db.parent.mkdir()
    taught.teach(db, "Widget 77 is wobbly", "account_archived", load_catalog(()), dt.datetime(2026, 11, 1), "test")
    result = _run("explain", "Widget 12 is wobbly", cwd=tmp_path)
    assert "taught" in result["out"]
    assert result["heavy"] == []
