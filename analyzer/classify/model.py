"""What classification gives the later stages: each distinct cell's findings, and the per-row
output columns made from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from analyzer.catalog import MANUAL_REVIEW, UNCLASSIFIED

if TYPE_CHECKING:  # numpy and pandas load with the first table, not for one pasted message (`explain`)
    import numpy as np
    import pandas as pd


NO_ERROR_TEXT = "(no error text in the export)"


@dataclass(frozen=True)
class Finding:
    """One error found in a cell: its category, the fix, and the values pulled out of it."""

    category: str
    fix: str
    values: tuple[tuple[str, str], ...] = ()
    template: str = ""
    match: str = "pattern"  # how it was decided: pattern, similar (the phrasebook), taught, none
    confidence: float = 1.0  # 0-1: a pattern or a taught template is certain
    suggestion: str = ""  # for an unclassified message: the category it looks most like
    cue: str = ""  # for a match by key words: the catalog's cue that fitted
    read_as: str = ""  # a pattern's match after reading typing slips: what was read ("read 'acount' as 'account'")
    not_consulted: str = ""  # for an unclassified message: why the catalog was not looked in (another ledger's)

    def value(self, name: str) -> str:
        return dict(self.values).get(name, "")


@dataclass(frozen=True)
class Classified:
    """Findings per distinct cell, and for each row the index of its cell."""

    codes: np.ndarray
    cells: tuple[str, ...]
    findings: tuple[tuple[Finding, ...], ...]

    def columns(self, value_names: tuple[str, ...]) -> pd.DataFrame:
        """Per-row output columns: categories, fixes, template and one column per value.
        Categorical: each row holds its cell's code, each distinct text is stored once."""
        import numpy as np
        import pandas as pd

        blanks = ("",) * len(value_names)
        per_cell = list(zip(*(_cell_columns(f, value_names, blanks) for f in self.findings))) if self.findings \
            else [()] * (5 + len(value_names))
        # the fixed columns by position: a value's name never stands for one of them
        categories, fixes, template, match, confidence, *values = per_cell
        texts = {"categories": categories, "fixes": fixes, "template": template, "match": match}
        texts.update(zip(value_names, values))
        table = pd.DataFrame({k: _per_row(v, self.codes) for k, v in texts.items()}, copy=False)
        table["confidence"] = np.asarray(confidence or [0.0], dtype=np.float32)[self.codes] if len(self.codes) \
            else np.zeros(0, dtype=np.float32)
        return table


def _cell_columns(findings: tuple[Finding, ...], value_names: tuple[str, ...], blanks: tuple[str, ...]) -> tuple:
    """One cell's categories, fixes, template, match, confidence and values (in `value_names`'
    order; `blanks` is a blank for each): the weakest finding says how sure the cell is; a value
    found twice is listed once."""
    if len(findings) == 1 and len({name for name, _ in findings[0].values}) == len(findings[0].values):
        only = findings[0]  # most cells: one finding, nothing to join
        return (only.category, only.fix, only.template, only.match, only.confidence,
                *(map(dict(only.values).get, value_names, blanks) if only.values else blanks))
    weakest = min(findings, key=lambda f: f.confidence, default=None)
    values: dict[str, dict[str, None]] = {}
    for finding in findings:
        for name, value in finding.values:
            values.setdefault(name, {})[value] = None
    return (_join(f.category for f in findings), _join(f.fix for f in findings),
            " | ".join(f.template for f in findings if f.template),
            weakest.match if weakest else "none", weakest.confidence if weakest else 0.0,
            *(", ".join(values.get(name, ())) for name in value_names))


def _per_row(per_cell: list[str], codes: np.ndarray) -> pd.Categorical:
    """Map per-cell texts to rows without copying a string per row. The distinct texts are found
    with a dict (a few thousand cells: faster than sorting objects) and kept sorted, as the
    category order is the order a sort of the column gives."""
    import numpy as np
    import pandas as pd

    texts = sorted(set(per_cell))
    number = {text: index for index, text in enumerate(texts)}
    # Narrowed before the take: a million one- or two-byte codes, not int64 ones copied again.
    narrow = np.int8 if len(texts) < 2**7 else np.int16 if len(texts) < 2**15 else np.int32
    if len(texts) == 1:  # a value no finding has: every row the same, no take
        positions = np.zeros(len(codes), dtype=narrow)
    else:
        positions = np.fromiter(map(number.__getitem__, per_cell), dtype=narrow, count=len(per_cell))[codes]
    return pd.Categorical.from_codes(positions, categories=pd.Index(texts, dtype="str"), validate=False)


@dataclass(frozen=True)
class SecondStage:
    """What decides a message no pattern claims: the practice's taught templates (template ->
    category id, from the state store), then the catalog's key words, then the phrasebook's
    similarity."""

    taught: dict[str, str] = field(default_factory=dict)
    similarity: bool = True


def unclassified(template: str, not_consulted: str = "") -> Finding:
    """An unrecognised message: nothing decided it (match none), nothing vouches for it;
    `not_consulted` says why the catalog was not looked in, when it was not."""
    return Finding(UNCLASSIFIED, MANUAL_REVIEW, (), template, "none", 0.0, not_consulted=not_consulted)


def _join(items, separator: str = "+") -> str:
    return separator.join(dict.fromkeys(i for i in items if i))
