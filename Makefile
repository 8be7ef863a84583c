# docgap: `make run` scans the example notes and prints the CDI worklist; `make test` runs
# ruff and the whole test suite. Both need only python3 (3.10-3.12, with venv) and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Two stamps: `make run` installs only what the analysis needs (no test tools, no 450 MB
# pyspark); `make test` adds the dev and spark extras on top of the same .venv.
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
# Folders ruff checks (benchmarks/ only where it exists).
LINT_PATHS := $(wildcard src tests benchmarks)

.PHONY: install install-dev run test lint bench spark-bench model clean ensure-chromium ensure-postgres java

install: $(STAMP_RUN)

install-dev: $(STAMP_TEST)

# The venv itself (pip upgraded once), shared by both installs.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# Re-installs only when the dependencies or their pins change.
$(STAMP_RUN): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -c constraints.txt -e .
	touch $(STAMP_RUN)

$(STAMP_TEST): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -c constraints.txt -e ".[dev,spark]"
	touch $(STAMP_RUN) $(STAMP_TEST)

run: install
	$(BIN)/docgap scan examples/notes --out build/examples.jsonl
	$(BIN)/docgap worklist build/examples.jsonl
	$(BIN)/docgap report build/examples.jsonl --texts examples/notes --html build/examples.html

# mypy checks src/docgap ([tool.mypy] in pyproject.toml); pytest measures coverage and fails
# under the floor in [tool.coverage.report] fail_under (in-process code only: see there).
test: install-dev ensure-chromium ensure-postgres java
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/python -m pytest --cov=docgap --cov-report=term

# Spark needs a Java runtime, 17 or newer (Spark 4). On Debian/Ubuntu as root (CI, a fresh
# machine) it is installed; elsewhere the message says what to install.
java:
	@if ! command -v java >/dev/null 2>&1 && [ -z "$$JAVA_HOME" ]; then \
		if [ -f /etc/debian_version ] && [ "$$(id -u)" = 0 ]; then \
			echo "installing a Java runtime for Spark (default-jre-headless)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null; \
		else \
			echo "Spark needs Java 17+: install a JRE (Debian/Ubuntu: sudo apt-get install" \
				"default-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME" >&2; \
			exit 1; \
		fi; \
	fi
	@java -version 2>&1 | head -1

# Retrain the shipped review model: needed whenever lexicons/ change (the model records the
# lexicon hash it was trained with and is refused, with a warning, under other rules).
model: install
	$(BIN)/python corpus/build_training.py
	$(BIN)/docgap train corpus/training.jsonl --out models/review --card models/README.md

spark-bench: install-dev java
	$(BIN)/python benchmarks/spark_bench.py

# Debian's headless Chromium for tests/test_html_browser.py (Playwright's own browser
# download does not work offline). In CI a missing browser is an error, elsewhere a warning.
ensure-chromium:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing Debian's chromium for the browser tests"; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && exit 0; \
	fi; \
	if [ -n "$$CI" ]; then echo "error: the browser tests need chromium" >&2; exit 1; fi; \
	echo "warning: no chromium: tests/test_html_browser.py will be skipped" >&2

# Debian's PostgreSQL server for tests/store (pytest-postgresql starts a throwaway one from
# /usr/lib/postgresql/*/bin/pg_ctl; the cluster Debian creates is not used). In CI a missing
# server is an error, elsewhere a warning (the PostgreSQL half of tests/store is skipped).
ensure-postgres:
	@if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing Debian's postgresql for the store tests"; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null && exit 0; \
	fi; \
	if [ -n "$$CI" ]; then echo "error: tests/store needs postgresql" >&2; exit 1; fi; \
	echo "warning: no postgresql: the PostgreSQL half of tests/store will be skipped" >&2

lint: install-dev
	$(BIN)/ruff check $(LINT_PATHS)

bench: install-dev
	@if [ -f benchmarks/bench.py ]; then \
		$(BIN)/python benchmarks/bench.py; \
	else \
		echo "no benchmarks/bench.py"; \
	fi

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .mypy_cache .hypothesis htmlcov .coverage
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
