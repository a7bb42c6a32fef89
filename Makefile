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

.PHONY: run test test-stress lint typecheck unit unit-other bench clean

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

# The deployment test drives a real nginx; as root on Debian we install it, elsewhere that test says
# how (it fails under CI=true without nginx).
$(SYSTEM_STAMP): $(STAMP)
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing nginx (Debian package) for the deployment test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  else \
	    echo "nginx is not installed: install it (apt-get install nginx) to run the deployment test"; \
	  fi; \
	fi
	touch $@

$(BENCH_STAMP): bench/package.json bench/package-lock.json
	npm ci --prefix bench --no-audit --no-fund --loglevel=error
	touch $@

run: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m examples.chat --host 127.0.0.1 --port 3000

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench

typecheck: $(STAMP)
	$(BIN)/mypy
	MYPYPATH=bench/servers $(BIN)/mypy --explicit-package-bases bench/*.py bench/servers

unit: $(STAMP) $(NODE_STAMP) $(SYSTEM_STAMP)
	@echo "== tests on Python $$($(BIN)/python -c 'import platform; print(platform.python_version())')"
	$(BIN)/pytest

# The same suite on every other supported Python installed here, one after the other.
unit-other: $(foreach v,$(OTHER_VERSIONS),.venv-$(v)/.installed) $(NODE_STAMP) $(SYSTEM_STAMP)
	@for v in $(OTHER_VERSIONS); do \
	  echo "== tests on Python $$(.venv-$$v/bin/python -c 'import platform; print(platform.python_version())')"; \
	  .venv-$$v/bin/pytest -q || exit 1; \
	done

test: lint typecheck unit unit-other
	@echo "== passed on Python $(DEFAULT_VERSION) $(OTHER_VERSIONS) (supported: $(SUPPORTED))"

# The suite STRESS_RUNS times in a row (default Python) while another process keeps one core busy;
# lists every failure of every run. Narrow it with STRESS_ARGS, e.g. STRESS_ARGS="tests/client".
STRESS_RUNS ?= 5
STRESS_ARGS ?=
test-stress: $(STAMP) $(NODE_STAMP) $(SYSTEM_STAMP)
	$(BIN)/python tests/stress.py --runs $(STRESS_RUNS) -- $(STRESS_ARGS)

# Needs a quiet machine (see docs/benchmarks.md). Smoke run: make bench BENCH_ARGS=--quick
bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/pip install --quiet 'matplotlib>=3.8'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-3.* node_modules bench/node_modules .mypy_cache .pytest_cache .ruff_cache
