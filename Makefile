# The user's commands. `make demo` and `make test` work on a machine with only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.figkit-installed
# The suite runs the monolith's tests twice: on SQLite (embedded default) and on PostgreSQL.
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/figkit
PYTEST_ARGS ?=

# FAST=1 gives the 60-second version of the demo.
FAST ?=

.PHONY: venv demo up shop test test-sqlite test-postgres lint format clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "figkit needs Python 3.11 or newer: run make PYTHON=python3.11 ...")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# The whole migration in one command: analyse, start the stack, traffic, backfill, shadow, canary,
# flip, saga, chaos, stop; a table per phase, and var/demo/summary.{md,json} and phases.png.
demo: venv
	$(VENV)/bin/figkit workshop demo $(if $(FAST),--fast)

# The same stack, left running for exploring (docs/workshop.md); Ctrl-C stops it all.
up: venv
	$(VENV)/bin/figkit workshop up

# The shop alone on :8100, migrated and seeded, with a Celery worker.
shop: venv
	$(PY) -m legacy_monolith.demo

# Both legs, in two lanes side by side (tests/lanes.py says which tests go where and why).
test: venv
	TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(PY) tests/lanes.py $(PYTEST_ARGS)

test-sqlite: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# Skips with the reason when no server is reachable; fails under CI=true.
test-postgres: venv
	DATABASE_URL=$(TEST_POSTGRES_URL) $(PY) -m pytest tests/legacy_monolith $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check analyzer strangler_proxy
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format analyzer strangler_proxy tests bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info
