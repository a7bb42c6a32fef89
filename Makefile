# Everything a newcomer needs: `make run` and `make test`. Both set up their own environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
BENCH_STAMP := bench/node_modules/.installed
SYSTEM_STAMP := $(VENV)/.system

# The suite runs on every supported CPython found here: python3.X on PATH, or pyenv's versions.
SUPPORTED := 3.11 3.12 3.13
PYENV_ROOT ?= $(HOME)/.pyenv
find_python = $(firstword $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)) $(shell command -v python$(1) 2>/dev/null))
# The default interpreter's version gets .venv; every other one found gets .venv-3.X.
DEFAULT_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
OTHER_VERSIONS := $(foreach v,$(filter-out $(DEFAULT_VERSION),$(SUPPORTED)),$(if $(call find_python,$(v)),$(v)))

.PHONY: run test test-stress lint typecheck unit unit-all docs dist bench fuzz soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.venv-%/.installed: pyproject.toml
	$(call find_python,$*) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade pip
	.venv-$*/bin/pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The deployment test drives a real nginx, the browser tests Debian's chromium, the PostgreSQL adapter
# tests a real PostgreSQL; as root on Debian we install them, elsewhere those tests say how (they fail
# under CI=true without them).
$(SYSTEM_STAMP): $(STAMP)
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing nginx (Debian package) for the deployment test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  else \
	    echo "nginx is not installed: install it (apt-get install nginx) to run the deployment test"; \
	  fi; \
	fi
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian package) for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is not installed: install it (apt-get install chromium) to run the browser tests"; \
	  fi; \
	fi
	@# The PostgreSQL adapter tests start private servers from the Debian binaries (initdb, postgres).
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing postgresql (Debian package) for the PostgreSQL adapter tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "PostgreSQL is not installed: install it (apt-get install postgresql) for the adapter tests"; \
	  fi; \
	fi
	touch $@

$(BENCH_STAMP): bench/package.json bench/package-lock.json
	npm ci --prefix bench --no-audit --no-fund --loglevel=error
	touch $@

run: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m examples.chat --host 127.0.0.1 --port 3000

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench fuzz mkdocs_hooks.py
	$(BIN)/ruff format --check src tests examples bench fuzz mkdocs_hooks.py

typecheck: $(STAMP)
	$(BIN)/mypy
	MYPYPATH=bench/servers:bench $(BIN)/mypy --explicit-package-bases bench/*.py bench/servers

unit: $(STAMP) $(NODE_STAMP) $(SYSTEM_STAMP)
	@echo "== tests on Python $$($(BIN)/python -c 'import platform; print(platform.python_version())')"
	$(BIN)/pytest

# The documentation site (mkdocs-material + mkdocstrings), warnings as errors; output in build/site.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The wheel and the sdist in dist/, checked by twine.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check dist/*

# The suite on every supported Python found here, side by side: they mostly wait on sockets and
# peers, so all of them take about as long as one (tests/versions.py prints each log, then a summary).
unit-all: $(STAMP) $(foreach v,$(OTHER_VERSIONS),.venv-$(v)/.installed) $(NODE_STAMP) $(SYSTEM_STAMP)
	$(BIN)/python tests/versions.py $(VENV) $(foreach v,$(OTHER_VERSIONS),.venv-$(v))

test: lint typecheck docs unit-all
	@echo "== make test: lint, types, docs and the suite on Python $(DEFAULT_VERSION) $(OTHER_VERSIONS) (supported: $(SUPPORTED))"

# The suite STRESS_RUNS times in a row (default Python) while another process keeps one core busy;
# lists every failure of every run. Narrow it with STRESS_ARGS, e.g. STRESS_ARGS="tests/client".
STRESS_RUNS ?= 5
STRESS_ARGS ?=
test-stress: $(STAMP) $(NODE_STAMP) $(SYSTEM_STAMP)
	$(BIN)/python tests/stress.py --runs $(STRESS_RUNS) -- $(STRESS_ARGS)

# Needs a quiet machine (see docs/benchmarks.md). Smoke run: make bench BENCH_ARGS=--quick
bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/pip install --quiet 'matplotlib>=3.8' 'psycopg[binary]>=3.1'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Coverage-guided fuzzing (atheris): FUZZ_RUNS inputs for each target; crashes land in fuzz/crashes/.
FUZZ_RUNS ?= 1000000
fuzz: $(STAMP)
	$(BIN)/python fuzz/run.py --runs $(FUZZ_RUNS)

# 10,000 connect / CONNECT / disconnect cycles per transport; fails if anything is left behind.
soak: $(STAMP)
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) .venv-3.* node_modules bench/node_modules .mypy_cache .pytest_cache .ruff_cache build dist
