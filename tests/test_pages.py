"""A run's process asks Linux for ordinary memory pages (analyzer.pages): the commands that read
tables set it, the others do not need to, and elsewhere it is a quiet no."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "sample_exports"
LINUX_STATUS = Path("/proc/self/status")


def _thp_line(code: str) -> str:
    """The THP_enabled line of /proc/self/status in a fresh interpreter after `code`."""
    script = f"{code}\nprint(next(l for l in open('/proc/self/status') if l.startswith('THP_enabled')))"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(not LINUX_STATUS.exists() or "THP_enabled" not in LINUX_STATUS.read_text(),
                    reason="the kernel does not show the process's huge-page setting")
def test_process_uses_small_pages_after_asking():
    # Huge pages allowed first (this test process may have asked already, and children inherit it).
    allow = "import ctypes; assert ctypes.CDLL(None).prctl(41, 0, 0, 0, 0) == 0"
    assert _thp_line(allow).split() == ["THP_enabled:", "1"]
    assert _thp_line(f"{allow}\nfrom analyzer.pages import use_small_pages; assert use_small_pages()").split() == \
        ["THP_enabled:", "0"]


def test_not_linux_is_a_quiet_no(monkeypatch):
    from analyzer import pages

    monkeypatch.setattr(pages.sys, "platform", "darwin")
    assert pages.use_small_pages() is False


@pytest.mark.parametrize("command", [
    ["classify", str(SAMPLES), "-o", "{tmp}/out.csv"],
    ["report", str(SAMPLES / "Harbour View Dental Ltd - failed items Oct 2026.csv"), "--out", "{tmp}/reports", "--no-history",
     "--format", "html"],
])
def test_table_commands_ask_for_small_pages(tmp_path, monkeypatch, command):
    asked = []
    monkeypatch.setattr("analyzer.cli.reporting.use_small_pages", lambda: asked.append(True))
    argv = [part.replace("{tmp}", str(tmp_path)) for part in command]
    stderr = io.StringIO()
    assert main(argv, stdout=io.StringIO(), stderr=stderr) == 0, stderr.getvalue()
    assert asked == [True]
