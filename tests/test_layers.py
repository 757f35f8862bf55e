"""One-way data flow: read -> normalise -> classify -> plan -> render -> write. A stage's modules
import only their own stage, earlier stages and shared helpers, never a later stage (imports for
type checking alone included: they are the same dependency written down)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "analyzer"
# Each stage's modules, by the dotted name's start; in the order data flows through them.
STAGES = (
    ("read", ("analyzer.read",)),
    ("normalise", ("analyzer.normalise",)),
    ("classify", ("analyzer.classify", "analyzer.similar", "analyzer.spelling", "analyzer.keywords")),
    ("plan", ("analyzer.plan",)),
    ("render", ("analyzer.render", "analyzer.report_model", "analyzer.overview", "analyzer.row_arrays")),
    ("write", ("analyzer.write",)),
)


def stage_of(module: str) -> int | None:
    for position, (_, prefixes) in enumerate(STAGES):
        if any(module == p or module.startswith(p + ".") or module.startswith(p + "_") for p in prefixes):
            return position
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("analyzer.")}


STAGE_MODULES = sorted(p for p in PACKAGE.rglob("*.py") if stage_of(module_name(p)) is not None)


def test_every_stage_has_modules():
    assert {STAGES[stage_of(module_name(p))][0] for p in STAGE_MODULES} == {name for name, _ in STAGES}


@pytest.mark.parametrize("path", STAGE_MODULES, ids=lambda p: module_name(p))
def test_a_stage_imports_no_later_stage(path: Path):
    own = stage_of(module_name(path))
    later = sorted(m for m in imported(path) if (stage_of(m) or 0) > own)
    assert not later, f"{module_name(path)} ({STAGES[own][0]}) imports a later stage: {later}"


@pytest.mark.parametrize("module, stage", [
    ("analyzer.read.pieces", "read"), ("analyzer.normalise.dates", "normalise"), ("analyzer.similar", "classify"),
    ("analyzer.render_xlsx.client", "render"), ("analyzer.render_html", "render"), ("analyzer.write_csv", "write"),
])
def test_stages_are_told_by_module_name(module, stage):
    assert STAGES[stage_of(module)][0] == stage
    assert stage_of("analyzer.tracking") is None and stage_of("analyzer.pipeline") is None
