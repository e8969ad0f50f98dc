# ThreatStream developer commands. `make demo` runs the pipeline on local defaults,
# `make test` runs the test suite; both set everything up on first use.

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
EMULATOR := dev/cosmos-emulator

.PHONY: setup demo airflow test lint format lock clean

setup: $(VENV)/.synced $(EMULATOR)/node_modules/.installed

$(VENV)/.synced: requirements-lock.txt requirements-bootstrap.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-bootstrap.txt
	$(VENV)/bin/uv pip sync --quiet --python $(PY) --require-hashes requirements-lock.txt
	touch $@

$(EMULATOR)/node_modules/.installed: $(EMULATOR)/package-lock.json
	npm ci --prefix $(EMULATOR) --no-audit --no-fund --loglevel=error
	touch $@

demo: setup
	PYTHONPATH=plugins:dev $(PY) -m threatstream_dev.demo

airflow: setup
	PYTHONPATH=plugins:dev $(PY) -m threatstream_dev.stack $(ARGS)

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lock: $(VENV)/.synced
	$(VENV)/bin/uv pip compile requirements-dev.in -p 3.11 --generate-hashes -o requirements-lock.txt
	$(VENV)/bin/uv pip compile requirements-bootstrap.in -p 3.11 --generate-hashes -o requirements-bootstrap.txt

clean:
	rm -rf $(VENV) $(EMULATOR)/node_modules .demo .airflow .pytest_cache .mypy_cache .ruff_cache
