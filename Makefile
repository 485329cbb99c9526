# Liaison — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: install demo test test-sqlite test-postgres lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Run Liaison with demo data, every integration connected to the built-in sandbox.
demo: install
	$(BIN)/liaison up --demo

## Run the whole test suite: on SQLite, then the `postgres` tests again on PostgreSQL.
test: install
	$(BIN)/pytest $(PYTEST_ARGS)
	LIAISON_TEST_DB=postgres $(BIN)/pytest -m postgres $(PYTEST_ARGS)

test-sqlite: install
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install
	LIAISON_TEST_DB=postgres $(BIN)/pytest -m postgres $(PYTEST_ARGS)

## Lint: the rules in pyproject.toml ([tool.ruff.lint]); CI runs it before the tests.
lint: install
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) var .pytest_cache
