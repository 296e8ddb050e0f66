# Driftline — one target per task. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 (the Lambda runtime) where present — pyenv's 3.12.1 included — else python3 (3.11+).
PYTHON ?= $(shell PYENV_VERSION=3.12.1 python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

help:
	@echo "make demo        run the end-to-end demo on the embedded local cloud (installs what it needs)"
	@echo "make test        run every test (installs what it needs)"
	@echo "make lint        ruff + mypy"
	@echo "make bench       benchmarks (profiling throughput vs a floor, peak memory, the evaluator's merge, handler import times)"
	@echo "make bench-detect drift thresholds: false alarms per column-window at n = 100..1M and power, auto vs fixed/NannyML/Evidently rules"
	@echo "make bench-peers the same drift job with Evidently, whylogs and NannyML (each in its own venv under bench/.peers/)"
	@echo "make load        2,000 files / 10M rows through the local cloud: files/s, evaluator time, DynamoDB items and bytes;"
	@echo "                 then the scale-out steps: 5 GB Parquet, 2 GB CSV in parts, a 20,000-file window, 1,000 models,"
	@echo "                 a backfill of 5,000 files twice (LOAD_SCALE_ARGS='--only bigparquet', '--quick': small sizes)"
	@echo "make load-labels delayed labels through the local cloud: 1M predictions / 200 files, 100k labels / 10 files (LABELS_LOAD_ARGS=--full: the issue's 10M / 1M)"
	@echo "make build       sam build + the unzipped size of each function with its layers"
	@echo "make lint-infra  cfn-lint, sam validate --lint and checkov on template.yaml"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check shared functions tests bench infra
	$(BIN)/ruff format --check shared functions tests bench infra
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/driftline demo --out driftline-report.html

bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.evaluator
	$(BIN)/python -m bench.coldstart

bench-peers: $(STAMP)
	$(BIN)/python -m bench.peers

bench-detect: $(STAMP)
	$(BIN)/python -m bench.detect
	$(BIN)/python -m bench.early
	$(BIN)/python -m bench.detect_real

load: $(STAMP)
	$(BIN)/python -m bench.load
	nice -n 10 $(BIN)/python -m bench.load_scale $(LOAD_SCALE_ARGS)

load-labels: $(STAMP)
	$(BIN)/python -m bench.labels_load $(LABELS_LOAD_ARGS)

build:
	bash infra/build.sh

lint-infra: $(STAMP)
	bash infra/lint.sh

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache bench/data

.PHONY: help install test lint demo bench bench-peers bench-detect load load-labels build lint-infra clean
