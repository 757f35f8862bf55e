"""Broken and hostile inputs: every file of the corpus in tests/data/broken, run beside a good file,
gives its expected exit code and one line naming it (never a traceback); the good file is still
classified; every row of a readable file is accounted for; bombs are refused in bounded memory.
Property tests feed random bytes, damaged workbooks and random rows through the same path."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.cli import main
from analyzer.columns import header_key
from analyzer.normalise import assign_roles, normalise_inputs
from analyzer.read import Limits, _unique_headers, discover, read_export

CORPUS = Path(__file__).resolve().parent / "data" / "broken"
EXPECTED = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))["files"]
GOOD_NAME = "Good Ltd - failed items Oct 2026.csv"
GOOD_ROWS = 2
GIB = 1024**3


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


corpus = _load_generator()


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("good") / GOOD_NAME
    path.write_text("Item ID,Error\n1,Invoice # must be unique.\n2,Account code '455' has been archived\n", encoding="utf-8")
    return path


def input_path(name: str, folder: Path) -> Path:
    """The corpus file, or the one this test makes (too big to commit, or not a file at all)."""
    if EXPECTED[name].get("made") != "test":
        return CORPUS / name
    path = folder / name
    if name == "huge-cell.csv":
        path.write_bytes(corpus.huge_cell_csv())
    elif name == "huge-cell.xlsx":
        path.write_bytes(corpus.huge_cell_xlsx())
    elif name == "broken-link.csv":
        path.symlink_to(folder / "moved-away.csv")
    return path


def test_corpus_is_what_the_generator_writes(tmp_path):
    """The committed files are exactly the generator's output, and every one has an expectation."""
    written = corpus.write(tmp_path)
    for path in written:
        assert (CORPUS / path.name).read_bytes() == path.read_bytes(), f"{path.name}: run make_corpus.py"
    made = {p.name for p in written} | {corpus.FOLDER}
    assert made <= set(EXPECTED)
    assert {n for n, spec in EXPECTED.items() if spec.get("made") != "test"} == made
    assert all(p.stat().st_size < 2 * 1024**2 for p in written)  # nothing big in the repository


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_beside_a_good_file(name, tmp_path, good):
    spec = EXPECTED[name]
    path = input_path(name, tmp_path)
    target = tmp_path / "out.csv"
    code, _, err = run("classify", path, good, "-o", target)

    assert code == spec["exit"], err
    assert "Traceback" not in err
    naming = [line for line in _errors(err) if str(path) in line]
    if spec["exit"]:
        assert len(naming) == 1, err
        assert naming[0].startswith(f"publish-failures: {path}: ")
        assert spec["message"] in naming[0]
    else:
        assert naming == [], err

    table = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert (table["source_file"] == str(good)).sum() == GOOD_ROWS  # the good file is still reported
    if "rows" in spec:
        assert (table["source_file"] == str(path)).sum() == spec["rows"]
        source = read_export(path)
        batch = normalise_inputs([source])
        rows_in = sum(len(sheet.rows) for sheet in source.sheets)
        assert len(batch.skipped) == spec["skipped"]
        assert rows_in == len(batch) + len(batch.skipped) == spec["rows"] + spec["skipped"]
        keys = list(zip(batch.fields["sheet"], batch.fields["source_row"])) + [(s.sheet, s.source_row) for s in batch.skipped]
        assert len(keys) == len(set(keys))  # no row reported twice, or both reported and skipped
        if "note" in spec:
            notes = [n for table_info in batch.tables for n in table_info.notes]
            assert any(spec["note"] in n for n in notes), notes


def test_all_failures_in_one_run_each_one_line(tmp_path, good):
    """The whole corpus at once: one line per failed input, the readable ones and the good file
    all reported, and the totals add up."""
    paths = [input_path(n, tmp_path) for n in sorted(EXPECTED)]
    target = tmp_path / "out.csv"
    code, _, err = run("classify", *paths, good, "-o", target)
    assert code == 1 and "Traceback" not in err
    for name, path in zip(sorted(EXPECTED), paths):
        lines = [line for line in _errors(err) if f"{path}: " in line]
        assert len(lines) == (1 if EXPECTED[name]["exit"] else 0), (name, lines)
    table = pd.read_csv(target, dtype=str, keep_default_na=False)
    expected_rows = GOOD_ROWS + sum(spec.get("rows", 0) for spec in EXPECTED.values())
    assert len(table) == expected_rows
    assert f"{expected_rows} data row(s)" in err


def _errors(stderr: str) -> list[str]:
    """Stderr lines other than notes (what was repaired while reading a readable file)."""
    return [line for line in stderr.splitlines() if not line.startswith("publish-failures: note: ")]


def test_the_real_command_prints_no_traceback(tmp_path, good):
    """The console command in its own process, where nothing catches what the interpreter itself
    prints (an "Exception ignored" from a library callback, a warning): one line per failure."""
    paths = [input_path(n, tmp_path) for n in sorted(EXPECTED)]
    done = subprocess.run([sys.executable, "-m", "analyzer", "classify", *map(str, paths), str(good),
                           "-o", str(tmp_path / "out.csv")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr and "Warning" not in done.stderr
    assert all(line.startswith("publish-failures: ") for line in done.stderr.splitlines()), done.stderr
    lines = _errors(done.stderr)
    assert len(lines) == sum(1 for spec in EXPECTED.values() if spec["exit"]) + 1  # and the summary


def test_manifest_lists_each_failure(tmp_path, good):
    """`report` names every failed input in manifest.json, with its message."""
    names = ["empty.csv", "encrypted.xlsx", "zip-bomb.xlsx", "billion-laughs.xlsx", "unbalanced-quote.csv",
             "no-error-column.csv"]
    paths = [input_path(n, tmp_path) for n in names]
    out = tmp_path / "reports"
    code, _, err = run("report", *paths, good, "--out", out, "--format", "html")
    assert code == 1 and "Traceback" not in err
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    inputs = {entry["path"]: entry for entry in manifest["inputs"]}
    for name, path in zip(names, paths):
        entry = inputs[str(path)]
        if EXPECTED[name]["exit"]:
            assert entry["status"] == "failed" and EXPECTED[name]["message"] in entry["message"], entry
        else:
            assert entry["status"] == "ok" and entry["rows"] == EXPECTED[name]["rows"], entry
    assert inputs[str(good)]["status"] == "ok"


def test_folder_and_missing_path_given_together(tmp_path, good):
    folder = CORPUS / corpus.FOLDER
    code, out, err = run("classify", folder, tmp_path / "nope.csv", good)
    assert code == 1 and len(pd.read_csv(io.StringIO(out))) == GOOD_ROWS
    assert len([line for line in err.splitlines() if line.startswith("publish-failures: ") and ": " in line]) >= 2


def test_unreadable_file(tmp_path, good, monkeypatch):
    """The operating system refuses to open the file (simulated, so that it also holds for root,
    who may read anything, as in CI)."""
    path = tmp_path / "locked.csv"
    path.write_text("Item ID,Error\n1,x\n", encoding="utf-8")
    real_open = Path.open

    def refuse(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    code, _, err = run("classify", path, good)
    assert code == 1 and f"{path}: cannot open (Permission denied); check the path and permissions" in err


def test_special_files_are_not_opened(tmp_path):
    """A pipe named like an export would block a reader forever; it is refused at once."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    result = read_export(fifo)
    assert "is not a regular file" in result.error


def test_odd_paths_give_one_line():
    found = discover(["bad\0name.csv", "x" * 5000 + ".csv", "a/\n/b.csv"])
    assert len(found.errors) == 3 and not found.files
    assert all("\n" not in e.error for e in found.errors)


def test_a_file_name_cannot_break_the_line(tmp_path):
    path = tmp_path / "evil\nname\u202e.csv"
    path.write_bytes(b"")
    result = read_export(path)
    assert "\n" not in result.error and "\u202e" not in result.error
    assert "evil\\x0aname\\u202e.csv: file is empty" in result.error


def test_limits_can_be_lowered(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("Item ID,Error\n" + "".join(f"{i},boom\n" for i in range(50)), encoding="utf-8")
    assert "more than 10 rows" in read_export(path, Limits(max_rows=10)).error
    assert "over the 0 MB limit" in read_export(path, Limits(max_file_bytes=100)).error
    book = tmp_path / "b.xlsx"
    book.write_bytes(corpus.good_workbook())
    assert "unpack to" in read_export(book, Limits(max_unzipped_bytes=1000)).error
    code, _, err = run("classify", path, "--max-rows", "10")
    assert code == 1 and "raise --max-rows" in err


# ---------------------------------------------------------------------------------------------
# Bombs in bounded memory, each in its own process


_READER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from analyzer.read import read_export, Limits\n"
    "print(read_export(Path(sys.argv[1]), eval(sys.argv[2])).error)\n"
)
# The reader runs as the only child of a small wrapper, so the wrapper's RUSAGE_CHILDREN is the
# reader's own peak, whatever else this test session has started.
_WRAPPER = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run([sys.executable, '-c', sys.argv[1], *sys.argv[2:]], capture_output=True, text=True)\n"
    "sys.stdout.write(done.stdout.strip() + '\\n' + done.stderr.strip().replace('\\n', ' | ') + '\\n')\n"
    "print(done.returncode)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _peak_in_child(path: Path, limits: str = "Limits()") -> tuple[str, int]:
    """The reader's message for `path`, and the peak memory of the process that read it."""
    done = subprocess.run([sys.executable, "-c", _WRAPPER, _READER, str(path), limits],
                          capture_output=True, text=True, timeout=600)
    error, stderr, returncode, peak_kib = done.stdout.rstrip("\n").rsplit("\n", 3)
    assert returncode == "0", stderr
    return error, int(peak_kib) * 1024  # ru_maxrss is in KiB on Linux


BOMBS = ["zip-bomb.xlsx", "lying-zip-bomb.xlsx", "billion-laughs.xlsx", "billion-laughs-workbook.xlsx",
         "far-cell.xlsx", "bare-cells-far.xlsx", "huge-string-count.xlsx", "huge-cell.csv", "huge-cell.xlsx"]


@pytest.mark.parametrize("name", BOMBS)
def test_bombs_are_refused_under_1_gb(name, tmp_path):
    error, peak = _peak_in_child(input_path(name, tmp_path))
    assert EXPECTED[name]["message"] in error
    assert peak < GIB, f"{name}: peak {peak / 1024**2:.0f} MB"


def test_zip_bomb_without_the_ratio_check_is_still_bounded():
    """With the ratio check turned off the gigabyte is inflated, in chunks, and refused as a value
    no cell may hold: memory stays flat."""
    error, peak = _peak_in_child(CORPUS / "zip-bomb.xlsx", "Limits(max_zip_ratio=10**9)")
    assert "holds a value of more than 16 MB" in error
    assert peak < 512 * 1024**2, f"peak {peak / 1024**2:.0f} MB"


# ---------------------------------------------------------------------------------------------
# Workbook checks in detail


def _book(tmp_path: Path, data: bytes, name: str = "b.xlsx") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _sheet(body: str) -> bytes:
    xml = f'{corpus.PROLOG}<worksheet {corpus.NS}><sheetData>{body}</sheetData></worksheet>'
    return corpus.raw_zip(corpus.workbook_parts({"Sheet1": xml}))


@pytest.mark.parametrize(
    "body",
    [
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Error</t></is></c></row>'
        '<row r="2"><c r="A999999" t="inlineStr"><is><t>x</t></is></c><c r="ZZZ2"><v>1</v></c></row>',
        # a cell row with more digits than any row tag
        '<row r="1"><c r="A1" t="inlineStr"><is><t>Error</t></is></c><c r="B12345678"><v>1</v></c></row>',
        # positions in a namespace prefix, attributes in another order, single quotes
        '<x:row r="1" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<x:c t='inlineStr' r='XFD1'><x:is><x:t>Error</x:t></x:is></x:c></x:row><row spans='1:1' r='1048576'/>"
        '<row><c r="A1048576"><v>1</v></c></row>',
        # rows without numbers, cells without positions
        "<row><c><v>1</v></c></row>" * 3 + "<row>" + "<c><v>1</v></c>" * 16384 + "</row>"
        '<row r="1048576"><c><v>2</v></c></row>',
    ],
)
def test_far_cells_in_any_spelling_are_refused(tmp_path, body):
    result = read_export(_book(tmp_path, _sheet(body)))
    assert "more than can be held in memory" in result.error, result.error


_A1 = '<row r="1"><c r="A1" t="inlineStr"><is><t>Error</t></is></c></row>'


@pytest.mark.parametrize("body, says", [
    # A comment hides a row tag from the measure; the reader skips it and puts the cell far down.
    (_A1 + '<row r="1"><c r="XFD1"><v>1</v></c></row><row r="1048576"><!--<row r="1">--><c><v>2</v></c></row>',
     "comments, CDATA or processing instructions"),
    (_A1 + '<row r="2"><c r="A2"><![CDATA[x]]></c></row>', "comments, CDATA or processing instructions"),
    # A position quoted inside another attribute's value must not stand for the real one.
    (_A1 + '<row r="1048576"><c foo=\' r="A1" \' r="XFD1048576"><v>1</v></c></row>', "more than can be held in memory"),
])
def test_far_cells_behind_markup_tricks_are_refused(tmp_path, body, says):
    """Found by a reviewer: both far-cell tricks passed the guard (the reader would have asked for
    17 billion cells)."""
    result = read_export(_book(tmp_path, _sheet(body)))
    assert says in result.error, result.error


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_a_declaration_cut_into_tiny_chunks_is_found(size):
    """A part walked tag by tag keeps 16 bytes of its last chunk; chunks of a few bytes (a deflate
    stream padded with empty blocks) once cut a declaration where no search saw it whole."""
    from analyzer.read.common import ReadError
    from analyzer.read.sheet_xml import XmlWatch as _XmlWatch

    xml = (f'{corpus.PROLOG}<!DOCTYPE worksheet [<!ENTITY a "b">]><worksheet {corpus.NS}><sheetData>'
           '<row><c><v>1</v></c></row></sheetData></worksheet>').encode()
    watch = _XmlWatch("xl/worksheets/sheet1.xml", Limits(), len(xml))
    with pytest.raises(ReadError, match="entity declarations"):
        for start in range(0, len(xml), size):
            watch.feed(xml[start:start + size])


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_the_xml_declaration_opening_a_part_is_no_hidden_markup(size):
    from analyzer.read.sheet_xml import XmlWatch as _XmlWatch

    xml = corpus.sheet_xml([["Error"], ["boom"]]).encode()
    watch = _XmlWatch("xl/worksheets/sheet1.xml", Limits(), len(xml))
    for start in range(0, len(xml), size):
        watch.feed(xml[start:start + size])
    assert watch.fast_bound() is not None


def test_a_long_sheet_is_measured_without_walking_its_tags(tmp_path, monkeypatch):
    """10,001 rows once read as 99,999 (rows were bounded by their number of digits), which sent
    every such export to the tag-by-tag walk: a 100,000-row workbook took 9.8 s instead of 3.3."""
    import analyzer.read.sheet_xml as sheet_xml

    def no_walk(*_):
        raise AssertionError("walked")

    monkeypatch.setattr(sheet_xml.XmlWatch, "_walk", no_walk)
    rows = [["Error"]] + [["boom"]] * 10_000
    result = read_export(_book(tmp_path, corpus.raw_zip(corpus.workbook_parts({"Data": corpus.sheet_xml(rows)}))))
    assert result.ok, result.error
    assert len(result.sheets[0].rows) == 10_000


def test_parts_inflated_ahead_in_a_thread_read_as_inflated_in_line(monkeypatch):
    """Every workbook of the corpus reads the same with each part inflated ahead in a thread (as
    big parts are) as inline, and no thread outlives a read, a refused one included."""
    import threading

    import analyzer.read.inflate as inflate

    books = sorted(CORPUS.glob("*.xlsx"))

    def read_all(ahead_from: int) -> list[tuple[str, str]]:
        monkeypatch.setattr(inflate, "AHEAD_FROM", ahead_from)
        found = []
        for path in books:
            found.append((path.name, read_export(path).error))
            assert not [t for t in threading.enumerate() if t.name == "inflate-ahead"], path.name
        return found

    assert read_all(-1) == read_all(1 << 60)
    assert any(error for _, error in read_all(-1))  # refused ones were among them


def test_formulas_without_a_saved_value_are_counted_once_wherever_the_chunks_are_cut():
    from analyzer.read.sheet_xml import XmlWatch as _XmlWatch

    cells = ('<c r="A{0}"><f>SUM(B1:B2)</f></c>', '<c r="A{0}"><f>1+1</f><v>2</v></c>',
             '<c r="A{0}"><f t="shared" si="0"/><v></v></c>', '<c r="A{0}"><v>1</v></c>')
    body = "".join(f'<row r="{r}">{cells[r % 4].format(r)}</row>' for r in range(1, 13))
    xml = f'{corpus.PROLOG}<worksheet {corpus.NS}><sheetData>{body}</sheetData></worksheet>'.encode()
    for size in range(1, 120):
        watch = _XmlWatch("xl/worksheets/sheet1.xml", Limits(), len(xml))
        for start in range(0, len(xml), size):
            watch.feed(xml[start:start + size])
        assert watch.uncached == 6, size  # rows 2, 4, 6, 8, 10, 12: SUM and the shared one, no value


_ROWS = st.lists(st.tuples(st.integers(1, 3000),  # a row tag's number, in any order
                           st.lists(st.tuples(st.integers(1, 800), st.integers(1, 3000)), max_size=3)),  # cells
                 min_size=1, max_size=25)


@settings(max_examples=300, deadline=None)
@given(rows=_ROWS, chunk=st.integers(5, 300), leading=st.booleans())
def test_the_fast_measure_never_reads_a_cell_as_nearer_than_it_is(rows, chunk, leading):
    """Whatever the positions and however the part is cut into chunks, the fast measure either
    spans every cell or asks for the exact walk."""
    from analyzer.read.sheet_xml import XmlWatch as _XmlWatch

    def position(column: int, row: int) -> str:
        return f"{corpus._column(column)}{'0' if leading else ''}{row}"

    body = "".join(f'<row r="{r}">' + "".join(f'<c r="{position(c, cr)}"><v>1</v></c>' for c, cr in cells) + "</row>"
                   for r, cells in rows)
    xml = f'{corpus.PROLOG}<worksheet {corpus.NS}><sheetData>{body}</sheetData></worksheet>'.encode()
    watch = _XmlWatch("xl/worksheets/sheet1.xml", Limits(), len(xml))
    for start in range(0, len(xml), chunk):
        watch.feed(xml[start:start + chunk])
    bound = watch.fast_bound()
    cells = [cell for _, row_cells in rows for cell in row_cells]
    if bound is not None and cells:
        assert max(row for _, row in cells) <= bound[0]
        assert max(column for column, _ in cells) <= bound[1]


def test_wide_real_sheet_is_read(tmp_path):
    """Sixty columns and a few thousand rows is a real export, not a bomb."""
    rows = [[f"Col {c}" for c in range(59)] + ["Error"]] + [[str(r * c) for c in range(59)] + ["boom"] for r in range(3000)]
    result = read_export(_book(tmp_path, corpus.raw_zip(corpus.workbook_parts({"Data": corpus.sheet_xml(rows)}))))
    assert result.ok, result.error
    assert len(result.sheets[0].rows) == 3000


def test_sheet_checks_see_across_chunk_boundaries(tmp_path, monkeypatch):
    """Tags split between two inflated chunks are still measured."""
    import analyzer.read.inflate as inflate

    monkeypatch.setattr(inflate, "OUT_CHUNK", 64)
    body = '<row r="1"><c r="A1" t="inlineStr"><is><t>Error</t></is></c></row>' * 50
    assert read_export(_book(tmp_path, _sheet(body + '<row r="60"><c r="XFD1048576"><v>1</v></c></row>'))).error
    good = read_export(_book(tmp_path, corpus.good_workbook(), "g.xlsx"))
    assert good.ok, good.error


@pytest.mark.parametrize("method", [0, 8])
def test_stored_and_deflated_workbooks_read_the_same(tmp_path, method):
    data = corpus.raw_zip(corpus.workbook_parts({"Failed items": corpus.sheet_xml(corpus.good_rows())}), method=method)
    result = read_export(_book(tmp_path, data))
    assert result.ok, result.error
    assert result.sheets[0].rows["Error"].tolist()[0] == "Account code '455' has been archived"


def test_utf16_workbook_part_is_refused(tmp_path):
    parts = corpus.workbook_parts({"Sheet1": corpus.sheet_xml(corpus.good_rows())})
    parts = [(n, c.decode().encode("utf-16") if n.endswith("sheet1.xml") else c) for n, c in parts]
    assert "stored as UTF-16" in read_export(_book(tmp_path, corpus.raw_zip(parts))).error


def test_odd_compression_and_zip_encryption_are_refused(tmp_path):
    data = bytearray(corpus.good_workbook())
    central = data.index(b"PK\x01\x02")
    data[central + 10 : central + 12] = (12).to_bytes(2, "little")  # bzip2 in the central directory
    assert "compressed in a way Excel never uses" in read_export(_book(tmp_path, bytes(data))).error
    data = bytearray(corpus.good_workbook())
    data[central + 8 : central + 10] = (1).to_bytes(2, "little")  # the "encrypted" flag
    assert "zip is password-protected" in read_export(_book(tmp_path, bytes(data), "e.xlsx")).error


def test_other_office_files(tmp_path):
    word = corpus.compound_file({"WordDocument": b"\0" * 4096})
    assert "Word 97-2003 document" in read_export(_book(tmp_path, word, "w.csv")).error
    xlsb = corpus.raw_zip([("[Content_Types].xml", b"<Types/>"), ("xl/workbook.bin", b"\0")])
    assert ".xlsb" in read_export(_book(tmp_path, xlsb, "b.xlsx")).error
    ods = corpus.raw_zip([("mimetype", b"application/vnd.oasis.opendocument.spreadsheet")], method=0)
    assert "OpenDocument" in read_export(_book(tmp_path, ods, "o.xlsx")).error


# ---------------------------------------------------------------------------------------------
# Property tests

ONE_LINE = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
THROUGH_CLI = settings(ONE_LINE, max_examples=40)  # each example is a whole classify run


def _never_raises(path: Path) -> None:
    result = read_export(path)
    batch = normalise_inputs([result])
    if not result.ok:
        assert result.error.startswith(f"{path}: ") and "\n" not in result.error and "Traceback" not in result.error
        return
    for failure in batch.failures:
        assert "\n" not in failure
    if not batch.failures:
        rows_in = sum(len(sheet.rows) for sheet in result.sheets)
        assert rows_in == len(batch) + len(batch.skipped)


@ONE_LINE
@given(data=st.binary(max_size=4096), suffix=st.sampled_from([".csv", ".xlsx", ".txt", ".xls"]))
def test_random_bytes_give_a_result_or_one_line(tmp_path, data, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    _never_raises(path)


@ONE_LINE
@given(data=st.lists(st.sampled_from([b"a", b",", b";", b"\t", b'"', b"\n", b"\r", b"\0", b"\xe9", b"\xc3\xa9",
                                      b"Error", b"Item ID", b"Total", b" ", b"\xff\xfe"]), max_size=300))
def test_random_text_shaped_bytes(tmp_path, data):
    path = tmp_path / "random.csv"
    path.write_bytes(b"".join(data))
    _never_raises(path)


_GOOD_BOOKS = {method: corpus.raw_zip(corpus.workbook_parts({"Failed items": corpus.sheet_xml(corpus.good_rows())}),
                                      method=method) for method in (0, 8)}


@ONE_LINE
@given(method=st.sampled_from([0, 8]), cut=st.integers(0, 4000),
       flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(1, 255)), max_size=6))
def test_damaged_workbooks_give_a_result_or_one_line(tmp_path, method, cut, flips):
    data = bytearray(_GOOD_BOOKS[method])
    for offset, mask in flips:
        if offset < len(data):
            data[offset] ^= mask
    if cut:
        data = data[: max(len(data) - cut, 0)]
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(bytes(data))
    _never_raises(path)


_CELL = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@THROUGH_CLI
@given(rows=st.lists(st.tuples(_CELL, _CELL, _CELL), max_size=40))
def test_random_rows_are_neither_dropped_nor_duplicated(tmp_path, rows):
    """Every row written is classified once, in order, or skipped once with a reason."""
    path = tmp_path / "Random Ltd.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Item ID", "Supplier", "Error", "Note"])
        for number, (supplier, error, note) in enumerate(rows):
            writer.writerow([f"id-{number}", supplier, error, note])
    target = tmp_path / "out.jsonl"
    code, _, err = run("classify", path, "-o", target)
    assert code == 0, err
    # (an empty result is written as one blank line: skip blank lines, see the report)
    records = [json.loads(line) for line in target.read_text(encoding="utf-8").split("\n") if line.strip()]
    source = read_export(path)
    batch = normalise_inputs([source])
    assert len(records) == len(batch) and len(records) + len(batch.skipped) == len(rows)
    ids = [r["Item ID"] for r in records]
    assert ids == sorted(set(ids), key=lambda i: int(i.split("-")[1]))  # once each, in input order
    for record in records:
        number = int(record["Item ID"].split("-")[1])
        supplier, error, note = rows[number]
        clean = (lambda s: s.replace("\0", ""))
        assert record["Supplier"] == clean(supplier) and record["Note"] == clean(note)
        assert record["error"] == clean(error)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_header_key_is_idempotent(text):
    assert header_key(header_key(text)) == header_key(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["Error", "Note", "Note (2)", "", " "])),
                max_size=12))
def test_header_names_are_made_once(cells):
    once = _unique_headers(cells)
    assert _unique_headers(list(once)) == once
    assert len(once) == len(cells) and len(set(once)) == len(once)


@THROUGH_CLI
@given(rows=st.lists(st.tuples(_CELL, st.sampled_from(["12.50", "(3.00)", "1,234.50", "", "£9"]),
                               st.sampled_from(["31/10/2026", "2026-10-30", "", "10/31/2026"]), _CELL), min_size=1,
                     max_size=20),
       client_header=st.sampled_from(["Client", "Company name", None]))
def test_reading_the_output_back_keeps_the_fields(tmp_path, rows, client_header):
    """Normalising twice changes nothing: the classify output, read back as an input, gives the
    same role for every column the first reading found, and the same typed values."""
    path = tmp_path / "Acme Ltd - failed items.csv"
    header = ["Receipt ID", "Supplier", "Total", "Date", "Error"] + ([client_header] if client_header else [])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for number, (supplier, total, date, error) in enumerate(rows):
            writer.writerow([f"r{number}", supplier, total, date, error or "boom"] + (["Beta Ltd"] if client_header else []))
    target = tmp_path / "out.csv"
    code, _, err = run("classify", path, "-o", target, "--raw")
    assert code == 0, err
    first = normalise_inputs([read_export(path)])
    second = normalise_inputs([read_export(target)])
    assert len(second) == len(first)
    for role in first.tables[0].roles:
        if role in ("base_currency", "amount_base", "tax_base"):
            continue
        assert role in second.tables[0].roles, (role, second.tables[0].roles)
    columns = ["client", "error", "item_id", "supplier", "amount", "date", "currency"]
    # Text may come back held another way (categorical or plain): the values must match.
    as_values = {c: "str" for c in columns if c not in ("amount", "date")}
    pd.testing.assert_frame_equal(first.fields[columns].astype(as_values), second.fields[columns].astype(as_values),
                                  check_dtype=False)
    assert assign_roles(tuple(second.original.columns), {})["error"] == "error"
