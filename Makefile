# Two commands for a reader: `make compare` and `make test`. Each creates .venv on first use
# (with plain python3 and pip) and reinstalls when pyproject.toml or constraints.txt change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: compare test lint docs docs-build bench lock clean

$(INSTALLED): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "Python 3.11+ is needed; name one with: make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "venv failed: on Debian/Ubuntu install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable . --group dev
	touch $(INSTALLED)

compare: $(INSTALLED)  ## serve each stage in turn and print one timing table
	$(BIN)/python -m bench.compare

bench: $(INSTALLED)  ## every stage side by side (a few minutes); writes docs/bench/results.md
	$(BIN)/python -m bench

test: $(INSTALLED)  ## the whole test suite against real servers
	$(BIN)/python -m pytest

docs: $(INSTALLED)  ## serve the docs site on http://127.0.0.1:8001 (8000 is for the stages)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

docs-build: $(INSTALLED)  ## build the docs into site/, failing on any warning
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lock: $(INSTALLED)  ## refresh constraints.txt from what is installed
	$(BIN)/python -m pip freeze --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) site .pytest_cache
