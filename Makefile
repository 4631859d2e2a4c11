# Two commands on a fresh machine:
#   make repro   set up .venv, make the synthetic CT pool if data/ct holds none, dvc repro
#   make test    set up .venv and run the tests
# And, after make repro: make ablations (the no-RHS and Cycle-GAN ablations, ablations/dvc.yaml).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export DVC_SITE_CACHE_DIR := $(CURDIR)/.dvc/tmp/site_cache
export GX_ANALYTICS_ENABLED := false

.PHONY: setup data repro ablations test test-fast bench clean-venv

$(VENV)/.installed: pyproject.toml requirements.lock
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

# The embedded default: synthetic series, only when data/ct holds no CT yet.
# They are byte-identical for a seed, so data.dvc stays as committed.
data: setup
	radrotator synth-ct data/ct --if-empty
	dvc add data --quiet

repro: data
	dvc repro

ablations: repro
	dvc repro ablations/dvc.yaml

test: setup
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow"

bench: setup
	$(PY) benchmarks/ct_pool.py

clean-venv:
	rm -rf $(VENV)
