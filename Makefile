# Each target sets up what it needs: a fresh clone runs `make demo` or `make test` directly.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench lint format clean chromium postgresql

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

# pycanon (the anonymity cross-checks' reference) pins exact versions of typer and
# typing_extensions that Flower's pins exclude; it runs with the ones installed.
PYCANON := pycanon==1.3.6
PYCANON_NEEDS := beartype==0.22.2 tabulate==0.8.10 reportlab pyreadstat docutils

$(VENV)/.dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[dev]"
	$(PIP) install --no-deps $(PYCANON)
	$(PIP) install $(PYCANON_NEEDS)
	touch $@ $(VENV)/.core

# What `make demo` runs: the core and the extras of the jobs it shows.
DEMO_EXTRAS := ml

$(VENV)/.demo: pyproject.toml | $(VENV)/bin/python
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[$(DEMO_EXTRAS)]"
	touch $@ $(VENV)/.core

$(VENV)/.bench: pyproject.toml | $(VENV)/bin/python
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[dev,bench]"
	$(PIP) install --no-deps $(PYCANON)
	$(PIP) install $(PYCANON_NEEDS)
	touch $@ $(VENV)/.dev $(VENV)/.core

# The whole story on veil's synthetic patients table (seeded, nobody's real record):
# how identifiable it is, a k-anonymous release, DP statistics charged to a ledger,
# a private model of readmission charged to the same budget and audited by attack.
VEIL := $(VENV)/bin/veil
DEMO := demo
QUASI := -q age,sex,zip -s diagnosis

demo: $(VENV)/.demo
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(PY) -c "from veil.datasets import patients; patients().write_csv('$(DEMO)/patients.csv')"
	@echo "== 1. assess: how identifiable is the table?"
	$(VEIL) assess $(DEMO)/patients.csv $(QUASI) --report $(DEMO)/1-assess.html
	@echo "== 2. anonymize: 5-anonymous and 2-diverse, with the least loss"
	$(VEIL) anonymize $(DEMO)/patients.csv $(QUASI) --identifier record_id --k 5 --l 2 \
		-o $(DEMO)/released.csv --report $(DEMO)/2-anonymize.html
	@echo "== 3. release statistics with differential privacy, charged to a ledger"
	$(VEIL) ledger init patients --epsilon 4 --delta 1e-6 --ledger $(DEMO)/ledger.db
	$(VEIL) dp query $(DEMO)/patients.csv --dataset patients --histogram age --bounds 0,120 \
		--bins 12 --epsilon 0.5 --ledger $(DEMO)/ledger.db --report $(DEMO)/3-dp-histogram.html
	$(VEIL) dp query $(DEMO)/patients.csv --dataset patients --mean length_of_stay \
		--bounds 0,60 --epsilon 0.3 --ledger $(DEMO)/ledger.db
	@echo "== 4. learn: a DP model of readmission (epsilon 3), against no privacy, attacked"
	$(VEIL) train $(DEMO)/patients.csv --target readmitted --drop record_id,zip,birth_date \
		--epsilon 3 --delta 1e-6 --bounds age=0:100,length_of_stay=0:60 --dataset patients \
		--ledger $(DEMO)/ledger.db --audit -o $(DEMO)/model.pt --report $(DEMO)/4-train.html
	$(VEIL) ledger history patients --ledger $(DEMO)/ledger.db --report $(DEMO)/5-ledger.html
	@echo
	@echo "Reports to open, in order: $(DEMO)/1-assess.html, $(DEMO)/2-anonymize.html,"
	@echo "$(DEMO)/3-dp-histogram.html, $(DEMO)/4-train.html and $(DEMO)/5-ledger.html."

# The HTML reports are checked in headless Chromium (tests/report/test_chromium.py);
# CI runs as root on Debian, where this installs it when missing.
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# The data site's tests start a throwaway PostgreSQL cluster with initdb (Debian keeps
# it in /usr/lib/postgresql/*/bin); CI runs as root on Debian, where this installs it.
postgresql:
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq postgresql)

test: $(VENV)/.dev chromium postgresql
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
