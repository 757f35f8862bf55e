"""Hostile and unlucky inputs, second round: what is in a folder besides exports, a file reached
twice, the output folder read as an input, encodings and delimiters that fool a sniffer, and
shapes too wide or too long to hold. Each ends in a result or one line naming the file, never a
traceback, a hang or a row counted twice."""

from __future__ import annotations

import codecs
import io
import json
import os
import socket
import time
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.read import read_export

HEADER = "Item ID,Date,Supplier,Total Amount,Currency,Error\r\n"
ROW = "1001,15/10/2026,Café Nord,12.50,GBP,Account code '455' has been archived\r\n"


def _run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _export(path: Path, rows: str = ROW) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


@pytest.fixture
def odd_folder(tmp_path) -> Path:
    folder = tmp_path / "in"
    _export(folder / "Acme Ltd - failed items.csv")
    (folder / "sub.csv").mkdir()
    os.mkfifo(folder / "pipe.csv")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(folder / "sock.csv"))
    (folder / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    (folder / "loop.csv").symlink_to(folder / "loop.csv")
    (folder / ".hidden.csv").write_text(HEADER + ROW, encoding="utf-8")
    (folder / "~$Acme.xlsx").write_bytes(b"lock")
    (folder / "notes.txt").write_text("n", encoding="utf-8")
    return folder


def test_every_entry_of_a_folder_is_read_or_named(odd_folder, tmp_path):
    code, _, err = _run("report", odd_folder, "--out", tmp_path / "out")
    assert code == 1 and "Traceback" not in err
    for name, words in [("sub.csv", "is a folder named like a file"), ("pipe.csv", "not a regular file"),
                        ("sock.csv", "not a regular file"), ("gone.csv", "no longer exists"), ("loop.csv", "link loop")]:
        assert sum(name in line and words in line for line in err.splitlines()) == 1, name
    passed_over = next(line for line in err.splitlines() if "passed over" in line)
    for name in (".hidden.csv", "~$Acme.xlsx", "notes.txt"):
        assert name in passed_over
    assert "(notes.txt is read when named on its own, or saved as .csv, if it is an export)" in passed_over
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"]["rows_read"] == 1 and any("passed over" in m for m in manifest["messages"])


def test_a_file_reached_twice_is_read_once(tmp_path):
    folder = tmp_path / "in"
    _export(folder / "Acme Ltd - failed items.csv")
    (folder / "back").symlink_to(folder)  # a glob through a folder that links to itself
    code, _, err = _run("report", folder, f"{folder}/../in", f"{folder}/**/*.csv", "--out", tmp_path / "out")
    assert code == 0, err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"]["rows_read"] == 1 and len(manifest["inputs"]) == 1
    assert sum("read once" in line for line in err.splitlines()) == 1


def test_two_inputs_with_the_same_name_in_different_folders(tmp_path):
    _export(tmp_path / "a" / "Acme Ltd - failed items.csv")
    _export(tmp_path / "b" / "Acme Ltd - failed items.csv", ROW.replace("1001", "1002"))
    code, _, err = _run("report", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "out")
    assert code == 0, err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"]["rows_read"] == manifest["totals"]["rows_reported"] == 2


def test_the_output_folder_as_the_input_folder(tmp_path):
    folder = tmp_path / "shared"
    _export(folder / "Acme Ltd - failed items.csv")
    for _ in range(2):  # the second run must not read the first run's workbooks
        code, _, err = _run("report", folder, "--out", folder)
        assert code == 0, err
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"]["rows_read"] == 1
    code, _, err = _run("report", folder, "--out", tmp_path / "elsewhere")  # reports left in an input folder
    assert code == 0 and json.loads((tmp_path / "elsewhere" / "manifest.json").read_text())["totals"]["rows_read"] == 1
    assert "a report this tool wrote" in err


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-le", "utf-32-be"])
def test_utf32_is_read_as_text(tmp_path, encoding):
    path = tmp_path / "u.csv"
    bom = {"utf-32-le": codecs.BOM_UTF32_LE, "utf-32-be": codecs.BOM_UTF32_BE}.get(encoding, b"")
    path.write_bytes(bom + (HEADER + ROW).encode(encoding))
    result = read_export(path)
    assert result.ok, result.error
    assert result.sheets[0].header[-1] == "Error" and result.sheets[0].rows["Supplier"].tolist() == ["Café Nord"]


def test_a_quoted_cell_full_of_tabs_does_not_make_tab_the_delimiter(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(HEADER + '1001,15/10/2026,"' + "\t" * 100_000 + '",1.00,GBP,boom\r\n' + ROW, encoding="utf-8")
    started = time.perf_counter()
    result = read_export(path)
    assert time.perf_counter() - started < 10
    assert result.ok, result.error
    assert result.sheets[0].header == ("Item ID", "Date", "Supplier", "Total Amount", "Currency", "Error")
    assert len(result.sheets[0].rows) == 2


def test_a_file_that_changes_while_it_is_read(tmp_path, monkeypatch):
    import analyzer.read as read

    path = _export(tmp_path / "Acme Ltd - failed items.csv", ROW * 50)
    real = read._read_csv

    def being_copied(*args, **kwargs):
        result = real(*args, **kwargs)
        with path.open("r+b") as handle:  # the copy goes on (or is cut short) as the file is read
            handle.truncate(path.stat().st_size // 2)
        return result

    monkeypatch.setattr(read, "_read_csv", being_copied)
    result = read_export(path)
    assert not result.ok and "changed while it was being read" in result.error


def test_one_record_longer_than_its_cells_can_hold(tmp_path, monkeypatch):
    """A quote opened and never closed turns the rest of the file into one cell: refused in one
    line in bounded time and memory (here with the fast reader's record limit made small)."""
    import analyzer.read.delimited as delimited
    import analyzer.read.pieces as pieces

    monkeypatch.setattr(pieces, "MAX_PIECE_BYTES", 1 << 20)
    monkeypatch.setattr(delimited, "MAX_PIECE_BYTES", 1 << 20)
    path = tmp_path / "open-quote.csv"
    path.write_text(HEADER + '1001,15/10/2026,"never closed' + ",x\r\n" * 400_000, encoding="utf-8")
    started = time.perf_counter()
    result = read_export(path, limits=__import__("analyzer.read", fromlist=["Limits"]).Limits(max_cell_chars=10_000))
    assert time.perf_counter() - started < 30
    assert not result.ok and ("one row runs over 1 MB" in result.error or "character limit" in result.error)


def test_too_many_columns_is_one_line(tmp_path):
    path = tmp_path / "wide.csv"
    header = ",".join(f"C{i}" for i in range(5_000)) + ",Error"
    path.write_text(header + "\r\n" + ",".join("x" for _ in range(5_000)) + ",boom\r\n", encoding="utf-8")
    started = time.perf_counter()
    result = read_export(path)
    assert time.perf_counter() - started < 30
    assert not result.ok and "5,001 columns, over the 2,000 column limit" in result.error


def test_a_formula_cell_without_a_saved_value_is_said(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Acme Ltd"
    sheet.append(["Item ID", "Supplier", "Error"])
    sheet.append(["1", "A", '=CONCAT("Account code ","455 has been archived")'])
    sheet.append(["2", "B", "Invoice # must be unique."])
    book.save(tmp_path / "formula.xlsx")
    code, _, err = _run("classify", tmp_path / "formula.xlsx", "-o", tmp_path / "out.csv")
    assert code == 0 and "1 formula cell(s) have no saved value" in err


def test_a_formula_without_a_saved_value_is_said_of_its_own_sheet_only(tmp_path):
    import openpyxl

    from analyzer.read import read_export

    book = openpyxl.Workbook()
    for title, error in (("Alpha Ltd", '=CONCAT("Account code ","455 has been archived")'), ("Beta Ltd", "Invoice # must be unique.")):
        sheet = book.create_sheet(title)
        sheet.append(["Item ID", "Supplier", "Error"])
        sheet.append(["1", "A", error])
    del book["Sheet"]
    book.save(tmp_path / "two.xlsx")
    notes = {s.sheet_name: [n for n in s.notes if "formula" in n] for s in read_export(tmp_path / "two.xlsx").sheets}
    assert len(notes["Alpha Ltd"]) == 1 and notes["Beta Ltd"] == []


def _corpus():
    import importlib.util

    path = Path(__file__).resolve().parent / "data" / "broken" / "make_corpus.py"
    spec = importlib.util.spec_from_file_location("make_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("target, stored", [
    ("./data/s.xml", "xl/./data/s.xml"),
    ("data//s.xml", "xl/data//s.xml"),
    ("data\\\\s.xml", "xl/data\\\\s.xml"),
    ("../s.xml", "xl/../s.xml"),
    ("/xl/data/s.png", "xl/data/s.png"),
])
def test_a_far_cell_sheet_stored_under_any_name_is_refused(tmp_path, target, stored):
    """The reader joins a relationship's target to a part name its own way; every part is
    measured, so a sheet spanning 17 billion cells is refused whatever it is called."""
    corpus = _corpus()
    parts = corpus.workbook_parts({"Sheet1": corpus.far_cell_sheet()})
    moved = [(stored, data) if name == "xl/worksheets/sheet1.xml"
             else (name, data.replace(b'Target="worksheets/sheet1.xml"', f'Target="{target}"'.encode()))
             for name, data in parts]
    path = tmp_path / "crafted.xlsx"
    path.write_bytes(corpus.raw_zip(moved))
    result = read_export(path)
    assert not result.ok and "spans 1,048,576 rows by 16,384 columns" in result.error


def test_a_planted_journal_moves_nothing_in_or_out(tmp_path):
    from analyzer.write_staging import JOURNAL, output_lock

    out = tmp_path / "out"
    out.mkdir()
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "id_rsa").write_text("key", encoding="utf-8")
    (out / "index.html").write_text("old", encoding="utf-8")
    for journal in ({"staging": str(secret), "files": ["id_rsa"]},
                    {"staging": ".publish-failures-staging-x", "files": ["../escape.txt"]}):
        (out / JOURNAL).write_text(json.dumps(journal), encoding="utf-8")
        with output_lock(out, 1):
            pass
    assert (secret / "id_rsa").is_file() and not (out / "id_rsa").exists() and not (tmp_path / "escape.txt").exists()


def test_an_export_named_like_a_report_in_the_output_folder_is_still_read(tmp_path):
    import openpyxl

    folder = tmp_path / "same"
    folder.mkdir()
    book = openpyxl.Workbook()
    book.active.append(["Client", "Item ID", "Error"])
    book.active.append(["Zeta Ltd", "9", "Invoice # must be unique."])
    book.save(folder / "overview.xlsx")  # the practice's own file, whatever its name
    code, _, err = _run("report", folder, "--out", folder)
    assert code == 0, err
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["totals"]["rows_read"] == 1
    kept = list(folder.glob("overview (kept *).xlsx"))
    assert len(kept) == 1 and "kept a copy" in err  # the practice's file is never lost
    assert openpyxl.load_workbook(kept[0]).active["A2"].value == "Zeta Ltd"
