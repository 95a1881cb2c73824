# The two commands of the README: `make run` and `make test`. Each sets itself up.
# Python packages come from the locks in locks/ (exact versions with hashes; `make lock` refreshes
# them on purpose): pip resolves nothing at install time, so a clone next month installs what
# passed today. The package itself is installed without build isolation, its build backend
# (hatchling) being in the locks too.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
STAMP   := $(VENV)/.installed
BENCH   := $(VENV)/.installed-bench
PIP     := $(BIN)/python -m pip install --quiet --no-input
LOCKED  := $(PIP) --require-hashes --no-deps --only-binary :all: -r
SELF    := $(PIP) --no-deps --no-build-isolation -e .
# The lock's own tool, pinned; used only by `make lock`.
UV_VERSION := 0.13.9

.PHONY: run test test-fast lint clean screenshot icons bench lock irctest

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

# The IRC door held to the IRC conformance suite (docs/protocol.md "IRC"): make irctest IRCTEST=path/to/irctest
# irctest runs in an environment of its own (its requirements.txt) and starts this checkout's wsserver for
# each test through tests/irctest_controller.py. Not part of `make test`.
IRCTEST_FILES := connection_registration cap messages echo_message message_tags labeled_responses pingpong \
	quit utf8 join part names kick topic who whois list isupport lusers chathistory read_marker redact sasl \
	account_tag extended_join multi_prefix bot_mode time info help away away_notify monitor
IRCTEST_VENV := $(VENV)/irctest
irctest: $(RUNTIME)
	@test -n "$(IRCTEST)" || { echo "usage: make irctest IRCTEST=path/to/irctest (a checkout of github.com/progval/irctest)"; exit 2; }
	test -x $(IRCTEST_VENV)/bin/pytest || { $(PYTHON) -m venv $(IRCTEST_VENV) && \
		$(IRCTEST_VENV)/bin/python -m pip install --quiet -r $(IRCTEST)/requirements.txt; }
	cd $(IRCTEST) && PATH=$(CURDIR)/$(BIN):$$PATH PYTHONPATH=$(CURDIR)/tests:. $(CURDIR)/$(IRCTEST_VENV)/bin/pytest \
		-p no:cacheprovider --controller irctest_controller -m 'not Ergo and not deprecated and not strict' \
		-q -rfE $(foreach f,$(IRCTEST_FILES),irctest/server_tests/$(f).py)

lint: $(STAMP)
	$(BIN)/ruff check wsserver tests bench
	$(BIN)/mypy wsserver

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): pyproject.toml locks/run.txt $(VENV)/bin/python
	$(LOCKED) locks/run.txt
	$(SELF)
	touch $@

$(STAMP): pyproject.toml locks/test.txt $(VENV)/bin/python
	$(LOCKED) locks/test.txt
	$(SELF)
	touch $@ $(RUNTIME)

$(BENCH): pyproject.toml locks/bench.txt $(STAMP)
	$(LOCKED) locks/bench.txt
	touch $@

# Refresh the locks from pyproject.toml's ranges (and locks/build.in): a deliberate step, whose
# diff is reviewed and committed with the test run that passed on it. See docs/operations.md.
UV := $(VENV)/uv/bin/uv
COMPILE := $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--index-url https://pypi.org/simple pyproject.toml locks/build.in
lock: $(VENV)/bin/python
	$(PYTHON) -m venv $(VENV)/uv
	$(VENV)/uv/bin/python -m pip install --quiet uv==$(UV_VERSION)
	$(COMPILE) --upgrade -o locks/run.txt
	$(COMPILE) --upgrade --extra test -o locks/test.txt
	$(COMPILE) --upgrade --extra test --extra bench -o locks/bench.txt

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The benchmark: wsserver beside the Node peer and the ceiling (needs node and npm); see docs/performance.md.
bench: $(BENCH)
	$(BIN)/python bench/run.py $(WORKLOADS) --workers 2 --cluster 2

screenshot: $(STAMP)
	$(BIN)/python -m tests.screenshot docs/screenshot.png

# The app icons of the manifest, drawn from web/favicon.svg (committed; rerun after changing it).
icons: $(STAMP)
	$(BIN)/python -m tests.icons
