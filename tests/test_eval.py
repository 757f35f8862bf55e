"""The held-out evaluation: error cells and exports the catalog was never written against
(tests/data/eval, labelled independently). Issue 2's bar: at least 95% of cells classified
exactly right, never one of the other errors put into one of the seed's 19, every row once."""

import csv
import io
from pathlib import Path

import pandas as pd

from analyzer.catalog import load_default_catalog
from analyzer.classify import classify_cell
from analyzer.cli import main

EVAL = Path(__file__).resolve().parent / "data" / "eval"
CATALOG = load_default_catalog()
SEED = {c.id for c in CATALOG.categories if c.seed}


def _cells():
    with (EVAL / "cells.csv").open(encoding="utf-8", newline="") as handle:
        return [(row["cell"], row["expected"].split("+")) for row in csv.DictReader(handle)]


def _predict(cell: str) -> list[str]:
    return list(dict.fromkeys(f.category for f in classify_cell(cell, CATALOG)))


def test_at_least_95_percent_of_cells_exactly_right():
    cells = _cells()
    wrong = [(cell, expected, _predict(cell)) for cell, expected in cells if _predict(cell) != expected]
    accuracy = 1 - len(wrong) / len(cells)
    report = "\n".join(f"{expected} got {got}: {cell[:120]!r}" for cell, expected, got in wrong)
    assert accuracy >= 0.95, f"accuracy {accuracy:.1%} on {len(cells)} cells; wrong:\n{report}"


def test_no_other_error_is_put_into_a_seed_category():
    false_seed = [
        (cell, expected, got) for cell, expected in _cells()
        for got in [_predict(cell)] if (set(got) & SEED) - set(expected)
    ]
    assert false_seed == []


def test_unseen_exports_every_row_once_and_classified(tmp_path):
    target = tmp_path / "out.csv"
    files = sorted(str(p) for p in EVAL.iterdir() if p.suffix in (".csv", ".xlsx") and p.name not in ("cells.csv", "expected_rows.csv"))
    code = main(["classify", *files, "-o", str(target)], stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 0
    table = pd.read_csv(target, dtype=str, keep_default_na=False)
    keys = list(zip(table["source_file"].map(lambda p: Path(p).name), table.get("sheet", ""), table["source_row"].astype(int)))
    assert len(keys) == len(set(keys))
    expected = pd.read_csv(EVAL / "expected_rows.csv", dtype=str, keep_default_na=False)
    got = {(Path(f).name, int(r)): c for f, r, c in zip(table["source_file"], table["source_row"], table["categories"])}
    right = sum(got.get((Path(f).name, int(r))) == e for f, r, e in zip(expected["file"], expected["source_row"], expected["expected"]))
    assert len(table) >= len(expected)
    assert right / len(expected) >= 0.95, f"{right}/{len(expected)} rows right"
