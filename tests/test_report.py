"""The report command end to end: golden files for the sample exports, every input row in exactly
one client's Items sheet, and each report loaded in a real browser."""

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.pipeline import ReportSettings, analyse, run_report
from xlsx_dump import dump_workbook

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
RUN_DATE = dt.datetime(2026, 11, 3, 9, 30)


@pytest.fixture(scope="module")
def sample_reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    cwd = os.getcwd()
    os.chdir(ROOT)  # relative input paths, as a person would type them, keep the goldens portable
    try:
        analysis = analyse(["sample_exports"])
        run = run_report(analysis, ReportSettings(out=out, practice="Example & Co"), RUN_DATE)
    finally:
        os.chdir(cwd)
    return out, run


def _renderings(out: Path) -> dict[str, str]:
    files = {}
    for path in sorted(out.iterdir()):
        if path.suffix == ".html":
            files[path.name] = path.read_text(encoding="utf-8")
        elif path.suffix == ".xlsx":
            files[path.stem + ".xlsx.txt"] = dump_workbook(path)
        elif path.name == "manifest.json":
            manifest = json.loads(path.read_text(encoding="utf-8"))
            manifest["version"] = "<version>"
            files[path.name] = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    return files


def test_golden_files(sample_reports, update_golden):
    out, _ = sample_reports
    files = _renderings(out)
    if update_golden:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        GOLDEN.mkdir()
        for name, text in files.items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
    expected = {p.name: p.read_text(encoding="utf-8") for p in GOLDEN.iterdir()}
    assert sorted(files) == sorted(expected), "reports written differ from tests/golden (run pytest --update-golden)"
    changed = [name for name in files if files[name] != expected[name]]
    assert changed == [], f"differs from tests/golden: {changed}; review, then run pytest --update-golden"


def test_every_input_row_in_exactly_one_items_sheet(sample_reports):
    out, run = sample_reports
    assert _items_rows(out, run) == _input_rows(run)


def _items_rows(out: Path, run) -> list:
    seen = []
    for report in run.reports:
        sheet = openpyxl.load_workbook(out / report.xlsx_file, read_only=True)["Items"]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows)
        file_at, row_at = header.index("Source file"), header.index("Source row")
        seen.extend((r[file_at], int(r[row_at])) for r in rows)
    return sorted(seen)


def _input_rows(run) -> list:
    fields = run.analysis.batch.fields
    names = fields["source_file"].map(lambda p: Path(p).name)
    return sorted(zip(names, fields["source_row"].astype(int)))


def test_manifest_rows_add_up(sample_reports):
    out, _ = sample_reports
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert sum(c["rows"] for c in manifest["clients"]) == sum(i["rows"] for i in manifest["inputs"]) == 205
    assert all(c["files"] for c in manifest["clients"])


CLIENTS = st.sampled_from(["Acme Ltd", "acme ltd", "../../etc", "CON", "Zoë 🦊 Café", "=cmd|' /C calc'!A0", "<b>x</b>", ""])
ERRORS = st.sampled_from([
    "Account code '455' has been archived, or has been deleted.", "Invoice # must be unique.", "",
    "Something new 123", "=HYPERLINK(\"http://x\")", "Spend money transactions cannot be updated",
])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(CLIENTS, ERRORS, st.text(max_size=12)), min_size=1, max_size=25))
def test_any_rows_land_in_exactly_one_client(tmp_path, rows):
    folder = tmp_path / f"case{abs(hash(tuple(rows))) % 10**8}"
    folder.mkdir()
    source = folder / "Fallback Client - failed items.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        import csv

        writer = csv.writer(handle)
        writer.writerow(["Client", "Item ID", "Supplier", "Error"])
        for number, (client, error, supplier) in enumerate(rows):
            writer.writerow([client, f"{number}", supplier.replace("\x00", ""), error])
    analysis = analyse([str(source)])
    run = run_report(analysis, ReportSettings(out=folder / "out", formats=("xlsx",)), RUN_DATE)
    items = _items_rows(folder / "out", run)
    assert items == _input_rows(run)
    assert len(items) == len(analysis.batch) + 0 and len(analysis.batch) + len(analysis.batch.skipped) == len(rows)


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
def test_reports_load_in_a_browser_with_no_outside_requests_or_errors(sample_reports):
    if not _chromium():
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium (.ci/run installs Debian's chromium package)")
        pytest.skip("Chromium is not installed here; CI installs it")
    from playwright.sync_api import sync_playwright

    out, _ = sample_reports
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        for page_file in sorted(out.glob("*.html")):
            page = browser.new_page(java_script_enabled=False)
            page.on("request", lambda r, f=page_file: r.url.startswith("file://") or problems.append((f.name, r.url)))
            page.on("console", lambda m, f=page_file: m.type in ("error", "warning") and problems.append((f.name, m.text)))
            page.on("pageerror", lambda e, f=page_file: problems.append((f.name, str(e))))
            page.goto(page_file.as_uri())
            assert page.locator("h1").count() == 1
            page.close()
        browser.close()
    assert problems == []
