# Two entry points: `make demo` and `make test`. Both work from a fresh clone with only Python 3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-dev

.PHONY: demo test install dev lint bench zoo clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: $(PY) pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e .
	touch $@

$(STAMP): $(VENV)/.installed
	$(PIP) install -q -c constraints.txt -e ".[dev]"
	touch $@

install: $(VENV)/.installed

dev: $(STAMP)

demo: $(VENV)/.installed
	$(VENV)/bin/arithlens demo --out out

test: $(STAMP)
	$(PY) -m pytest -q --doctest-modules arithlens tests

lint: $(STAMP)
	$(VENV)/bin/ruff check arithlens tests benchmarks
	$(VENV)/bin/ruff format --check arithlens tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/train_speed.py

zoo: $(VENV)/.installed
	$(VENV)/bin/arithlens zoo rebuild

clean:
	rm -rf $(VENV) out .pytest_cache
