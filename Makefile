# Kemala — the two commands are `make run` and `make test`; each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
BENCH_DATA ?= ../shared/benchmarks

.PHONY: help install run train serve test test-fast lint format bench mlflow-ui clean

help:  ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## Create .venv and install the project (no-op when pyproject.toml is unchanged)

run: install  ## Main job: ensure champions (train/evaluate/promote/export if missing), then serve the API on 127.0.0.1:8000
	$(BIN)/kemala serve --host $(HOST) --port $(PORT)

train: install  ## Train, evaluate, promote and export topic, urgency and lang models (MLflow under mlflow/)
	$(BIN)/kemala pipeline

serve: install  ## Serve the exported champions without training
	$(BIN)/kemala serve --no-ensure-models --host $(HOST) --port $(PORT)

test: install  ## Lint, then the whole test suite (slow tests included)
	$(BIN)/ruff check training serving tests
	$(BIN)/ruff format --check training serving tests
	$(BIN)/python -m pytest

test-fast: install  ## Tests without the slow ones
	$(BIN)/python -m pytest -m "not slow"

lint: install  ## ruff lint and format check
	$(BIN)/ruff check training serving tests
	$(BIN)/ruff format --check training serving tests

format: install  ## Apply ruff formatting and safe fixes
	$(BIN)/ruff check --fix training serving tests
	$(BIN)/ruff format training serving tests

bench: install  ## Benchmarks: models (corpus + public data), stats on 1M tweets, API load (wrk); bench/results/
	$(BIN)/kemala bench --benchmarks-dir $(BENCH_DATA)
	$(BIN)/kemala bench-stats
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null || echo "wrk unavailable: skipping the API load test"
	@if command -v wrk >/dev/null; then $(BIN)/kemala bench-api; fi

mlflow-ui: install  ## Open the MLflow UI on the embedded store
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db --host $(HOST) --port 5000

clean:  ## Remove the virtualenv and caches (keeps mlflow/ and models/)
	rm -rf $(VENV) .pytest_cache .ruff_cache
