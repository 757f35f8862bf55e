# Every target sets itself up: a local virtual environment with the package; the test targets add
# the test tools (pytest, hypothesis, playwright) only when they need them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: report test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

## report: the month-end job on sample_exports/ into reports/ (installs the runtime dependencies only)
report: $(STAMP)
	$(BIN)/publish-failures report sample_exports --out reports --period 2026-10

## test: the whole test suite
test: $(TEST_STAMP)
	$(BIN)/python -m pytest

## bench: the scale benchmark (slow; not part of the test suite)
bench: $(STAMP)
	$(BIN)/python tests/perf/bench.py

clean:
	rm -rf $(VENV) build dist *.egg-info reports/*.html reports/*.xlsx reports/*.json
