# The two commands of the README: `make demo` runs the bus, `make test` runs every test.
# Both create .venv on first use (needs only python3 >= 3.11 on the PATH).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench chaos clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(BIN)/esb demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Every benchmark in bench/, then bench/REPORT.md and bench/charts/ (docs: bench/report.py).
# BENCH_ARGS=--quick for small sizes (a few minutes); the bench extra brings splink, matplotlib.
BENCH_ARGS ?=
bench: $(STAMP)
	@$(BIN)/python -c 'import matplotlib, splink' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/report.py $(BENCH_ARGS)

# The full chaos run (>= 100k messages, 10 worker kills, 2 RabbitMQ restarts); the short
# one is part of `make test`. Needs RabbitMQ and PostgreSQL (docs/chaos-and-soak.md).
chaos: $(STAMP)
	CHAOS_FULL=1 $(BIN)/python -m pytest -m chaos -q -s tests/chaos

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
