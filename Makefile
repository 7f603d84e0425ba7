# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Tests run on every core (pytest-xdist); PYTEST_ARGS=-n0 runs them in one process.
PYTEST_ARGS ?= -n auto

.PHONY: run test lint format bench clean translations

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "make: Python 3.11 or newer is required" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall when the packaging metadata changes.
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	PORT=$(PORT) $(BIN)/python -m service

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Extract every translatable message into the template, merge it into each language's
# catalog (new messages arrive empty: translate them), compile the .mo files the service
# loads. The compiled catalogs are committed, so running the service needs no build step.
LOCALES_DIR := service/i18n/locales
translations: $(VENV)/.installed-test
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output \
		--project contact-mailer --copyright-holder "contact-mailer" \
		-o $(LOCALES_DIR)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALES_DIR)/messages.pot -d $(LOCALES_DIR) -D messages \
		--no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date
	$(BIN)/pybabel compile -d $(LOCALES_DIR) -D messages --statistics

# Every benchmark in turn; each exits non-zero when it misses a target, and so does make.
bench: $(VENV)/.installed-test
	@status=0; for script in bench/[!_]*.py; do \
		name=$$(basename $$script .py); echo "== bench.$$name"; \
		$(BIN)/python -m bench.$$name || status=1; \
	done; exit $$status

clean:
	rm -rf $(VENV) var build dist *.egg-info .pytest_cache .ruff_cache
