# Everything a newcomer needs: `make run` and `make test`. Both set up their own environment.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
BENCH_STAMP := bench/node_modules/.installed
SYSTEM_STAMP := $(VENV)/.system

.PHONY: run test lint typecheck unit bench fuzz soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
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
	$(BIN)/ruff check src tests examples bench fuzz
	$(BIN)/ruff format --check src tests examples bench fuzz

typecheck: $(STAMP)
	$(BIN)/mypy
	MYPYPATH=bench/servers:bench $(BIN)/mypy --explicit-package-bases bench/*.py bench/servers

unit: $(STAMP) $(NODE_STAMP) $(SYSTEM_STAMP)
	$(BIN)/pytest

test: lint typecheck unit

# Needs a quiet machine (see docs/benchmarks.md). Smoke run: make bench BENCH_ARGS=--quick
bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/pip install --quiet 'matplotlib>=3.8'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Coverage-guided fuzzing (atheris): FUZZ_RUNS inputs for each target; crashes land in fuzz/crashes/.
FUZZ_RUNS ?= 1000000
fuzz: $(STAMP)
	$(BIN)/python fuzz/run.py --runs $(FUZZ_RUNS)

# 10,000 connect / CONNECT / disconnect cycles per transport; fails if anything is left behind.
soak: $(STAMP)
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) node_modules bench/node_modules .mypy_cache .pytest_cache .ruff_cache
