# Everything a newcomer needs: `make run` and `make test`. Both set up their own environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
BENCH_STAMP := bench/node_modules/.installed
SYSTEM_STAMP := $(VENV)/.system

.PHONY: run test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The deployment test drives a real nginx, the PostgreSQL adapter tests a real PostgreSQL; as root on
# Debian we install them, elsewhere those tests say how (they fail under CI=true without them).
$(SYSTEM_STAMP): $(STAMP)
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing nginx (Debian package) for the deployment test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  else \
	    echo "nginx is not installed: install it (apt-get install nginx) to run the deployment test"; \
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
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench

typecheck: $(STAMP)
	$(BIN)/mypy
	MYPYPATH=bench/servers $(BIN)/mypy --explicit-package-bases bench/*.py bench/servers

unit: $(STAMP) $(NODE_STAMP) $(SYSTEM_STAMP)
	$(BIN)/pytest

test: lint typecheck unit

# Needs a quiet machine (see docs/benchmarks.md). Smoke run: make bench BENCH_ARGS=--quick
bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/pip install --quiet 'matplotlib>=3.8'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules bench/node_modules .mypy_cache .pytest_cache .ruff_cache
