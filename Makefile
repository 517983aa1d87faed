# Two commands for a reader: `make compare` and `make test`. Each creates .venv on first use
# (with plain python3 and pip) and reinstalls when pyproject.toml or constraints.txt change.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DOCS_INSTALLED := $(VENV)/.installed-docs

.PHONY: compare test lint docs docs-build bench lock clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "Python 3.11+ is needed; name one with: make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "venv failed: on Debian/Ubuntu install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"

# Everything: the stages' dependencies (the project itself ships no module) and the dev group.
$(INSTALLED): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --constraint constraints.txt . --group dev
	touch $(INSTALLED) $(DOCS_INSTALLED)

# Only what the docs site needs (mkdocs and its theme): reading the docs installs no test tools.
$(DOCS_INSTALLED): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --group docs
	touch $(DOCS_INSTALLED)

compare: $(INSTALLED)  ## serve each stage in turn and print one timing table
	$(BIN)/python -m bench.compare

bench: $(INSTALLED)  ## every stage side by side, then stage 5's rolling deploy; writes docs/bench/ and docs/step5/deploys.*
	$(BIN)/python -m bench
	$(BIN)/python -m bench.deploys --write

test: $(INSTALLED)  ## the whole test suite against real servers
	$(BIN)/python -m pytest

# The Chinese edition is a config of its own (mkdocs.zh.yml, docs/zh/), built into site/zh/: one
# `mkdocs serve` serves one config, so `make docs` builds both and serves the folder. To edit a
# page with live reload: mkdocs serve (English) or mkdocs serve -f mkdocs.zh.yml (Chinese).
docs: docs-build  ## build both editions, serve them on http://127.0.0.1:8001, Chinese at /zh/ (8000 is for the stages)
	@echo "Serving http://127.0.0.1:8001/ and http://127.0.0.1:8001/zh/ (Ctrl+C stops)"
	$(BIN)/python -m http.server 8001 --bind 127.0.0.1 --directory site

docs-build: $(DOCS_INSTALLED)  ## build the docs into site/ and site/zh/, failing on any warning
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --config-file mkdocs.zh.yml

lint: $(INSTALLED)  ## ruff, mypy (strict on the stages and the harness), the import contracts: see pyproject.toml
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

lock: $(INSTALLED)  ## refresh constraints.txt from what is installed
	$(BIN)/python -m pip freeze --exclude-editable --exclude fastapi-background-work > constraints.txt

clean:
	rm -rf $(VENV) site .pytest_cache
