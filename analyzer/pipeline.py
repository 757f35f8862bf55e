"""The library's front door: read -> normalise -> classify (-> plan), without any command line.

The CLI builds these objects, calls one function and turns known failures into one-line errors;
anything else can do the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analyzer.catalog import Catalog, load_catalog
from analyzer.classify import Classified, classify_rows
from analyzer.normalise import Batch, Options, normalise_inputs
from analyzer.plan import Plan, plan_actions
from analyzer.read import InputFile, Limits, discover, read_export

ADDED_COLUMNS = ("source_file", "source_row", "client", "error", "categories", "fixes", "template")


@dataclass
class Analysis:
    inputs: list[InputFile]
    batch: Batch
    classified: Classified
    catalog: Catalog
    failures: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.batch)

    def plan(self) -> Plan:
        return plan_actions(self.batch, self.classified, self.catalog)


def analyse(paths: list[str], options: Options = Options(), limits: Limits = Limits(),
            catalog_files: tuple[Path, ...] = ()) -> Analysis:
    """Read every input that can be read; the rest are named in `failures`."""
    catalog = load_catalog(catalog_files)
    found = discover(paths)
    inputs = list(found.errors) + [read_export(p, limits) for p in found.files]
    batch = normalise_inputs(inputs, options)
    classified = classify_rows(batch.fields["error"], catalog)
    failures = [i.error for i in inputs if not i.ok] + list(batch.failures)
    return Analysis(inputs, batch, classified, catalog, failures)


def classified_table(analysis: Analysis) -> pd.DataFrame:
    """One row per data row, in input order: the input's own columns and the classification."""
    fields = analysis.batch.fields
    values = analysis.catalog.value_names
    result = analysis.classified.columns(values)
    table = pd.DataFrame({
        "source_file": fields["source_file"],
        "sheet": fields["sheet"],
        "source_row": fields["source_row"],
        "client": fields["client"],
    })
    original = analysis.batch.original
    taken = {c.casefold() for c in (*ADDED_COLUMNS, "sheet", *values)}
    for column in original.columns:
        name = f"{column} (input)" if column.casefold() in taken else column
        table[name] = original[column].to_numpy()
    table["error"] = fields["error"].to_numpy()
    for column in ("categories", "fixes", "template", *values):
        table[column] = result[column].to_numpy()
    if not table["sheet"].astype(bool).any():
        table = table.drop(columns="sheet")
    return table
