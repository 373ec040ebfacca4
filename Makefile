# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
# GPU users: `make demo TORCH=torch` (or any spec, e.g. TORCH="torch==2.13.0+cu126").
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := $(VENV)/assay-constraints.txt
PLUGINS := $(wildcard plugins/*/pyproject.toml)
STAMP := $(VENV)/.assay-installed

.PHONY: demo test test-all setup bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(PLUGINS) Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "$(TORCH)" > $(CONSTRAINTS)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, exactly pinned; the constraints file keeps it pinned for every later install
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) "$(TORCH)"
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) hatchling editables
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) --no-build-isolation -e ".[test]" $(patsubst %/pyproject.toml,-e %,$(PLUGINS))
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/assay demo

test: $(STAMP)
	$(BIN)/python -m pytest -q
	sh .ci/e2e-deps.sh || echo "e2e-deps: could not install PostgreSQL/Chromium; e2e tests will skip"
	$(BIN)/python -m pytest -q -m "slow or e2e" -x

bench: $(STAMP)
	$(BIN)/python bench/sweep_overhead.py

clean:
	rm -rf $(VENV) assay-runs
