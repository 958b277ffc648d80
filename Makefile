# Two entry points: `make demo` (install, then run the demo on the built-in simulator) and `make test`
# (install, then lint, type-check and run the whole suite on SQLite and PostgreSQL). Both create .venv
# and install into it when needed, so a fresh machine with Python 3.11 and pip is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/survey-bot demo

lint: $(STAMP)
	$(BIN)/ruff check survey_bot tests bench migrations
	$(BIN)/mypy

test: $(STAMP)
	bash .ci/ensure-services
	$(MAKE) --no-print-directory lint
	$(BIN)/pytest -n 2 --durations=15

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
