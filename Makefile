# Corridor: `make demo` installs and serves the demo; `make test` installs and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps test lint audit demo bench clean messages

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

lint: install
	$(BIN)/ruff check corridor tests benchmarks
	$(BIN)/mypy

# Known vulnerabilities in the installed dependencies (PyPI's advisory data). Where that
# service cannot be reached, pip-audit lists each package as "could not be audited".
audit: install
	$(BIN)/pip-audit --skip-editable --progress-spinner off

# The suite in worker processes, one test file to a worker (a file's tests share their
# world: the route table's, a live server). The schema fuzzing runs among them, one test
# per operation as alone (it ran apart, after the rest, while the other worker idled).
# Files are handed out longest first (tests/support/durations.py), not by their number of
# tests: the long files of few tests no longer end the run on one core.
# PYTHONDONTWRITEBYTECODE emptied: where the environment sets it (CI images often do),
# every server, node and CLI process a test starts would compile Corridor's modules
# again; with it empty the first one writes the bytecode and the others read it.
test: install system-deps lint audit
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder

demo: install
	$(BIN)/corridor demo --db sqlite:///corridor-demo.db --serve

# The registration benchmark (docs/performance.md); a quick run:
#   make bench BENCH_ARGS="--households 60 --clients 2"
BENCH_ARGS ?=
bench: install
	$(BIN)/python benchmarks/bench_registration.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) corridor-demo.db* .pytest_cache .mypy_cache .ruff_cache

# The web interface's messages: extract them, merge them into every catalogue, compile.
messages: install
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project Corridor \
	  --version 0.1.0 --copyright-holder "Corridor contributors" \
	  -o corridor/web/locale/messages.pot .
	$(BIN)/pybabel update -i corridor/web/locale/messages.pot -d corridor/web/locale \
	  -D messages --no-fuzzy-matching
	$(BIN)/pybabel compile -d corridor/web/locale -D messages --statistics
