# Two entry points: `make demo` and `make test`. Both work from a fresh clone with only Python 3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-dev

.PHONY: demo test test-full install dev lint bench screenshots zoo clean lab figures-quick

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# One pip call per stamp, without byte-compiling every installed file (Python compiles what it
# imports): 31 s instead of 111 s for the dev install on a 2-core machine.
$(VENV)/.installed: $(PY) pyproject.toml constraints.txt
	$(PIP) install -q --no-compile -c constraints.txt torch==2.13.0 -e .
	touch $@

$(STAMP): $(PY) pyproject.toml constraints.txt
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(PIP) install -q --no-compile -c constraints.txt \
		torch==2.13.0 -e ".[dev]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

dev: $(STAMP)

demo: $(VENV)/.installed
	$(VENV)/bin/arithlens demo --out out

# the notebooks in JupyterLab (widgets included)
lab: $(VENV)/.installed
	$(VENV)/bin/jupyter lab notebooks/

# Notebooks run at quick sizes (ARITHLENS_QUICK=1); the Hub is never contacted. The browser test
# needs Debian's chromium (.ci/run installs it); without it that one test is skipped, with the reason.
test: $(STAMP)
	ARITHLENS_QUICK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
		$(PY) -m pytest -q -m "not full" --doctest-modules arithlens tests

# everything `make test` runs, and the tests marked `full` (zoo cards and a figure's claim
# re-measured at full size)
test-full: $(STAMP)
	ARITHLENS_QUICK=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
		$(PY) -m pytest -q --doctest-modules arithlens tests

# ruff, mypy on the package, and the floors contract (no import up the floors, no cycle, hook
# names only in arithlens.models.sites): tests/test_layers.py, which `make test` runs too.
lint: $(STAMP)
	$(VENV)/bin/ruff check arithlens tests benchmarks scripts notebooks
	$(VENV)/bin/ruff format --check arithlens tests benchmarks scripts notebooks
	$(VENV)/bin/mypy arithlens
	$(PY) -m pytest -q -p no:cacheprovider tests/test_layers.py

bench: $(STAMP)
	$(PY) benchmarks/train_speed.py
	$(PY) benchmarks/sweep_speed.py

screenshots: $(STAMP)
	$(PY) scripts/widget_screenshots.py

zoo: $(VENV)/.installed
	$(VENV)/bin/arithlens zoo rebuild

# the committed quick-mode gallery (assets/figures/<name>.json + .png) and its docs rows
figures-quick: $(STAMP)
	rm -rf out/figures-quick
	$(VENV)/bin/arithlens figures --quick --out out/figures-quick
	for d in out/figures-quick/*/; do n=$$(basename $$d); cp $$d$$n.json $$d$$n.png assets/figures/; done
	$(PY) scripts/figure_rows.py --write

clean:
	rm -rf $(VENV) out .pytest_cache
