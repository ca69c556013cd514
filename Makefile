# shoptrack: `make run` serves on SQLite, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: setup run test test-fast lint typecheck browser bench bench-reports bench-quick bench-quick-deps demo clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip==25.3
	$(BIN)/pip install -q -c requirements.lock -e '.[server,dev]'
	touch $(STAMP)

setup: $(STAMP)

## run: set up, apply the schema to ./data/shoptrack.db and serve on http://127.0.0.1:8080
run: setup
	$(BIN)/shoptrack serve --host $(HOST) --port $(PORT)

## browser: Debian's Chromium for the browser tests (installed when missing)
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# pytest processes for the suite (pytest-xdist); "auto" is one per core.
TEST_WORKERS ?= auto

## test: set up and run the whole suite (SQLite, and PostgreSQL from SHOPTRACK_TEST_POSTGRES_URL): in one process per core, then the fault tests (tests/faults: timing, signals, a stopped database) alone, so no other test's load skews them
test: setup browser
	$(BIN)/ruff check shoptrack tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --ignore=tests/faults
	$(BIN)/python -m pytest tests/faults

## test-fast: the inner loop: ruff, mypy, then pytest without the browser and fault tests (tests/faults), a tenth of the hypothesis examples (profile "fast")
test-fast: setup
	$(BIN)/ruff check shoptrack tests
	$(BIN)/mypy
	SHOPTRACK_FAST=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not browser" --ignore=tests/faults $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check shoptrack tests

typecheck:
	$(BIN)/mypy

demo: setup
	$(BIN)/shoptrack demo

## bench: the benchmark of docs/performance.md: ingest and reads (about 4 minutes), then the reports section at 1 M and 10 M events (about 30 minutes on a quiet machine, 2 hours on a busy one; BENCH_ARGS=--no-reports skips it). Installs wrk, and nginx-light for the HTTP ceiling, when missing
bench: setup
	@command -v wrk >/dev/null 2>&1 && { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## bench-reports: only the reports and dashboard section of the benchmark (1 M and 10 M events on SQLite and PostgreSQL, about 30 minutes quiet, 2 hours busy; BENCH_ARGS="--report-events 1000000" for less)
bench-reports: setup
	$(BIN)/python bench/run.py --only reports $(BENCH_ARGS)

## bench-quick: a smoke run of the benchmark (3 s a measurement, reads at 100 k events)
bench-quick: bench-quick-deps
	$(BIN)/python bench/run.py --quick
bench-quick-deps: setup
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
