# Two commands on a fresh machine:
#   make repro   set up .venv, make the synthetic CT pool if data/ct holds none, dvc repro
#   make test    set up .venv (and Debian's Chromium for the browser test) and run the tests
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

.PHONY: setup browser data repro ablations lint test test-fast bench demo clean-venv

$(VENV)/.installed: pyproject.toml requirements.lock
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

# Debian's Chromium, for the demo's browser test (Playwright drives it; the test downloads nothing).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# The embedded default: synthetic series, only when data/ct holds no CT yet.
# They are byte-identical for a seed, so data.dvc stays as committed.
data: setup
	radrotator synth-ct data/ct --if-empty
	dvc add data --quiet

# PROFILE=paper (profiles/paper.yaml): the same pipeline as a DVC experiment with that profile's overrides.
PROFILE ?=
repro: data
ifeq ($(PROFILE),)
	dvc repro
else
	radrotator profile $(PROFILE) --run
endif

ablations: repro
	dvc repro ablations/dvc.yaml

lint: setup
	$(VENV)/bin/ruff check .

test: setup browser lint
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow"

bench: setup
	$(PY) benchmarks/ct_pool.py

demo: setup
	radrotator demo

clean-venv:
	rm -rf $(VENV)
