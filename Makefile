# ThreatStream developer commands. `make demo` runs the pipeline on local defaults,
# `make test` runs the test suite; both set everything up on first use.

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
EMULATOR := dev/cosmos-emulator
AZURITE := dev/azurite

.PHONY: setup chromium demo airflow test test-fast test-compat audit lint format lock lock-compat mwaa-bundle mwaa-constraints clean reliability bench

setup: $(VENV)/.synced $(EMULATOR)/node_modules/.installed $(AZURITE)/node_modules/.installed chromium

# The browser test (tests/integration) drives Debian's chromium with Playwright, which cannot
# download its own browsers here: installed with apt when missing and apt is usable (root: CI,
# containers); otherwise a notice, and the test skips (fails under CI=true).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; \
	  else echo "setup: chromium is missing; the browser test needs it: sudo apt-get install -y chromium" >&2; fi

# The project itself goes in editable, with no dependencies (they are the hashed lock's), for the
# `threatstream` console script; `uv pip sync` removes it, so every sync re-adds it. The build's
# plugins/threatstream.egg-info goes: on sys.path with the plugins folder it would look installed.
$(VENV)/.synced: requirements-lock.txt requirements-bootstrap.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-bootstrap.txt
	$(VENV)/bin/uv pip sync --quiet --python $(PY) --require-hashes requirements-lock.txt
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	rm -rf plugins/threatstream.egg-info
	touch $@

$(EMULATOR)/node_modules/.installed: $(EMULATOR)/package-lock.json
	npm ci --prefix $(EMULATOR) --no-audit --no-fund --loglevel=error
	touch $@

$(AZURITE)/node_modules/.installed: $(AZURITE)/package-lock.json
	npm ci --prefix $(AZURITE) --no-audit --no-fund --loglevel=error
	touch $@

demo: setup  ## ARGS=--keep leaves the local servers up to look values up
	PYTHONPATH=plugins:dev $(PY) -m threatstream_dev.demo $(ARGS)

airflow: setup
	PYTHONPATH=plugins:dev $(PY) -m threatstream_dev.stack $(ARGS)

test: setup
	$(PY) -m pytest

# The edit loop: unit tests of the pure layers, parsers and DAG integrity; no local servers,
# no DAG runs (under a minute). `make test` runs everything CI runs.
FAST_SKIP := tests/faults tests/deploy tests/integration tests/emulator tests/replay tests/bench tests/provider
test-fast: setup
	$(PY) -m pytest -q -m "not dagrun and not emulator and not replay and not integration and not bench" \
	  $(foreach dir,$(FAST_SKIP),--ignore=$(dir))

# The package on every Airflow version the platforms run (dev/compat/requirements-compat-*.txt):
# one virtualenv per version (Python 3.12, as on MWAA and Astro Runtime), the `compat` tests.
test-compat: setup
	dev/compat/test-compat $(COMPAT_VERSIONS)

# What Amazon MWAA reads from S3, in build/mwaa (docs/deployment.md). MWAA_STORAGE_BASE (required):
# the s3:// base of the batches. MWAA_AIRFLOW_VERSION: an Airflow 3 MWAA offers (3.0.6, 3.2.1, 3.3.1).
MWAA_AIRFLOW_VERSION ?= 3.3.1
MWAA_STORAGE_BASE ?=
mwaa-bundle: $(VENV)/.synced
	$(PY) deploy/mwaa/build_bundle.py --airflow $(MWAA_AIRFLOW_VERSION) --storage-base '$(MWAA_STORAGE_BASE)'

mwaa-constraints: $(VENV)/.synced
	$(PY) deploy/mwaa/build_bundle.py --airflow $(MWAA_AIRFLOW_VERSION) --check-version
	cd deploy/mwaa && ../../$(VENV)/bin/uv pip compile constraints-$(MWAA_AIRFLOW_VERSION).in -p 3.12 \
	  --no-header --no-annotate --quiet -o constraints-$(MWAA_AIRFLOW_VERSION).txt

# Known vulnerabilities in the locked dependencies (pip-audit); skipped with a notice offline.
audit: $(VENV)/.synced
	PYTHONPATH=dev $(PY) -m threatstream_dev.dependency_audit requirements-lock.txt

reliability: setup  ## run the fault-injection suite and render docs/reliability.md
	$(PY) -m pytest tests/faults -q
	PYTHONPATH=plugins:dev $(PY) -m threatstream_dev.reliability

bench: setup  ## benchmark against the original design's baselines; writes docs/benchmarks.md
	PYTHONPATH=plugins:dev $(PY) -m threatstream_dev.bench $(BENCH_ARGS)

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

lock-compat: $(VENV)/.synced
	for in in dev/compat/requirements-compat-*.in; do \
	  $(VENV)/bin/uv pip compile $$in -p 3.12 --generate-hashes --quiet -o $${in%.in}.txt || exit 1; done

clean:
	rm -rf build .compat .airflow $(VENV) $(EMULATOR)/node_modules $(AZURITE)/node_modules .demo .pytest_cache .mypy_cache .ruff_cache
