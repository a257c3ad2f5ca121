# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DB := tunery-demo.db

.PHONY: demo test lint typecheck pytest clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tunery needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed-examples: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[examples]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,examples]'
	touch $@

# Set up the venv, run the quickstart experiment, then the ESPCN super-resolution showcase
# (bayesianoptimization over learning rate and batch size; about 5-7 minutes on 2 CPU cores),
# and show its best PSNR against bicubic with a picture. A fresh demo database each time.
demo: $(VENV)/.installed-examples
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/tunery run examples/quickstart/experiment.yaml --db $(DEMO_DB)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/tunery best quickstart --db $(DEMO_DB)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/tunery run examples/espcn/experiment.yaml --db $(DEMO_DB)
	$(BIN)/python examples/espcn/show_best.py --db $(DEMO_DB)

# Set up the venv and pass lint, types and the whole test suite.
test: $(VENV)/.installed-dev lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# Two pytest workers (pytest-xdist): most tests wait on subprocesses, so two share the two
# cores well; PYTEST_WORKERS=0 runs them in one process.
PYTEST_WORKERS ?= 2

pytest: $(VENV)/.installed-dev
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q -ra -n $(PYTEST_WORKERS)

clean:
	rm -rf $(VENV) tunery-runs $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
