# The two commands of the README: `make run` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
STAMP   := $(VENV)/.installed

.PHONY: run test test-fast lint clean screenshot bench

# The server alone: only its runtime dependencies are installed.
run: $(RUNTIME)
	$(BIN)/wsserver

# Everything: lint, types, and every test (browser, Redis, NGINX and benchmark tests included).
test: $(STAMP)
	$(BIN)/ruff check wsserver tests bench
	$(BIN)/mypy wsserver
	$(BIN)/python -m pytest

# The fast part: no browser, no Redis, no NGINX, no benchmark (about a minute).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not browser and not redis and not nginx and not bench"

lint: $(STAMP)
	$(BIN)/ruff check wsserver tests bench
	$(BIN)/mypy wsserver

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(RUNTIME)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The benchmark: wsserver beside the Node peer and the ceiling (needs node and npm); see docs/performance.md.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/run.py $(WORKLOADS) --workers 2 --cluster 2

screenshot: $(STAMP)
	$(BIN)/python -m tests.screenshot docs/screenshot.png
