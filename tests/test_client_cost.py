"""What keeps each client's report cheap without changing it.

RowArrays: a client's rows as plain numpy arrays, converted once per batch. The workbook and the
report model read these instead of DataFrames, so each conversion must give what they read from
pandas before: dates without time zone, NaN for a missing amount, "" for missing text. Also: the
built-in templates render outside Jinja's sandbox (a practice's do not), and the cycle collector
pauses while a client renders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from analyzer.render_html import environment
from analyzer.row_arrays import RowArrays, plain


@pytest.mark.parametrize("series, expected", [
    (pd.Series(["a", None, "c"], dtype="category"), ["a", "", "c"]),
    (pd.Series(["a", None], dtype="string"), ["a", ""]),
    (pd.Series(["a", np.nan], dtype=object), ["a", ""]),
    (pd.Series([1.5, np.nan]), [1.5, None]),
    (pd.Series([3, 4], dtype="int64"), [3, 4]),
    (pd.Series([True, False]), [True, False]),
    (pd.Series(pd.to_datetime(["2026-10-01 12:30", None])), [np.datetime64("2026-10-01T12:30", "us"), None]),
    (pd.Series(pd.to_datetime(["2026-10-01 12:30"]).tz_localize("Europe/London")),
     [np.datetime64("2026-10-01T12:30", "us")]),  # the local time as written, without the zone (Excel has none)
])
def test_plain_conversions(series, expected):
    values = plain(series)
    got = [None if (isinstance(v, float) and np.isnan(v)) or (isinstance(v, np.datetime64) and np.isnat(v)) else v
           for v in values]
    assert got == expected
    if series.dtype.kind == "M":
        assert values.dtype == np.dtype("datetime64[us]")


def test_slices_share_rows_and_keep_labels():
    frame = pd.DataFrame({"a": ["x", "y", "z"], "b": [1.0, 2.0, 3.0]}, index=[10, 20, 30])
    rows = RowArrays.of(frame)
    part = rows.slice(1, 3)
    assert part.index.tolist() == [20, 30] and part["a"].tolist() == ["y", "z"] and len(part) == 2
    assert rows.select(["b"]).columns == ["b"] and rows.without(["b"]).columns == ["a"]
    assert "a" in rows and "c" not in rows
    assert RowArrays.of(rows) is rows
    assert RowArrays.of(None).columns == [] and len(RowArrays.of(None)) == 0
    with pytest.raises(ValueError, match="columns named twice"):
        RowArrays.of(pd.DataFrame([[1, 2]], columns=["Note", "Note"]))


@pytest.mark.parametrize("series, expected", [
    (pd.Series([1, None], dtype="Int64"), [1, ""]),
    (pd.Series([True, None, False], dtype="boolean"), ["Yes", "", "No"]),
    (pd.Series([1, 2], dtype="Int64"), [1, 2]),  # no gaps: numbers as they were
])
def test_nullable_columns_with_gaps_are_text(series, expected):
    assert plain(series).tolist() == expected


@given(st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=20), st.integers(0, 20), st.integers(0, 20))
def test_a_slice_of_the_whole_is_the_conversion_of_the_slice(texts, start, stop):
    frame = pd.DataFrame({"t": pd.Series(texts, dtype="category")}, index=np.arange(len(texts)) * 7)
    whole = RowArrays.of(frame).slice(start, stop)
    part = RowArrays.of(frame.iloc[start:stop])
    assert whole.index.tolist() == part.index.tolist() and whole["t"].tolist() == part["t"].tolist()


def test_only_a_practices_templates_are_sandboxed(tmp_path):
    """The built-in templates are the tool's own code; a practice's folder is not."""
    from jinja2.sandbox import SandboxedEnvironment

    assert not isinstance(environment(""), SandboxedEnvironment)
    assert isinstance(environment(str(tmp_path)), SandboxedEnvironment)


def test_the_cycle_collector_is_paused_while_a_client_renders_and_back_after(monkeypatch):
    import gc
    import threading
    from analyzer import render

    seen = []
    monkeypatch.setattr(render, "_render_files", lambda job: seen.append(gc.isenabled()) or ("summary", {}))
    assert gc.isenabled()
    assert render.render_files(None) == ("summary", {}) and seen == [False] and gc.isenabled()

    # Several threads (a cluster worker): on again only when the last is out; one leaving while
    # another renders collects what it left; a render that fails still counts out.
    first_in, second_in = threading.Event(), threading.Event()
    release_first, release_second = threading.Event(), threading.Event()
    collected = []
    monkeypatch.setattr(render.gc, "collect", lambda generation=2: collected.append(generation))

    def slow(job):
        mine = first_in if job == "first" else second_in
        mine.set()
        (release_first if job == "first" else release_second).wait()
        if job == "second":
            raise RuntimeError("a render that fails")
        return "summary", {}

    def second():
        with pytest.raises(RuntimeError):
            render.render_files("second")
    monkeypatch.setattr(render, "_render_files", slow)
    threads = [threading.Thread(target=render.render_files, args=("first",)), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_in.wait()
    second_in.wait()
    assert not gc.isenabled()
    release_first.set()
    threads[0].join()
    assert not gc.isenabled() and collected == [0]  # the second still renders
    release_second.set()
    threads[1].join()
    assert gc.isenabled() and collected == [0]

    # A process that turned it off itself keeps it off.
    gc.disable()
    try:
        monkeypatch.setattr(render, "_render_files", lambda job: ("summary", {}))
        render.render_files(None)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("project, package, ours", [
    (None, True, False),  # site-packages/templates beside an installed package: someone else's
    ('[project]\nname = "other"\n', True, False),
    ('[project]\nname = "analyzer"\n', False, False),
    ('[build-system]\nrequires = []\n[project]\nname = "analyzer"\n', True, True),
])
def test_only_this_projects_checkout_counts_as_the_built_in_templates(tmp_path, project, package, ours):
    """The built-in templates render outside the sandbox, so a `templates` folder that merely sits
    beside the package must not be taken for them."""
    from analyzer.render_html import _our_checkout

    if project is not None:
        (tmp_path / "pyproject.toml").write_text(project, encoding="utf-8")
    if package:
        (tmp_path / "analyzer").mkdir()
    assert _our_checkout(tmp_path) is ours
