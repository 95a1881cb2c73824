# The two commands of the README: `make run` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint clean screenshot bench

run: $(STAMP)
	$(BIN)/wsserver

test: $(STAMP)
	$(BIN)/ruff check wsserver tests
	$(BIN)/mypy wsserver
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check wsserver tests
	$(BIN)/mypy wsserver

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The benchmark: wsserver beside the Node peer and the ceiling (needs node and npm); see docs/performance.md.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run.py $(WORKLOADS) --workers 2 --cluster 2

screenshot: $(STAMP)
	$(BIN)/python -m tests.screenshot docs/screenshot.png
