# Each target sets up what it needs: a fresh clone runs `make demo` or `make test` directly.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench lint format clean chromium

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Stamps record which extras are installed; they are redone when pyproject.toml changes.
$(VENV)/.core: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -e .
	touch $@

# torch is pinned to the CPU build before anything that depends on it (opacus) is
# installed: an unpinned torch would pull a multi-GB CUDA build.
TORCH := torch==2.13.0

$(VENV)/.dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[dev]"
	touch $@ $(VENV)/.core

$(VENV)/.bench: pyproject.toml | $(VENV)/bin/python
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[dev,bench]"
	touch $@ $(VENV)/.dev $(VENV)/.core

demo: $(VENV)/.core
	$(VENV)/bin/veil assess --example --report demo-report.html

# The HTML reports are checked in headless Chromium (tests/report/test_chromium.py);
# CI runs as root on Debian, where this installs it when missing.
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

test: $(VENV)/.dev chromium
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(PY) -m pytest -q

bench: $(VENV)/.bench
	$(PY) benchmarks/run.py

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests benchmarks

format: $(VENV)/.dev
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis
