# The two commands of the README: `make demo` runs the bus, `make test` runs every test.
# Both create .venv on first use (needs only python3 >= 3.11 on the PATH).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

.PHONY: demo test lint bench chaos audit lock clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -c requirements.lock
	@rm -f $(VENV)/.installed-*
	@touch $@

demo: $(STAMP)
	$(BIN)/esb demo

# The suite runs in PYTEST_WORKERS processes (pytest-xdist), then the chaos test alone:
# it restarts RabbitMQ, which the other tests must not see.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "not chaos"
	$(BIN)/python -m pytest -m chaos

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Every benchmark in bench/, then bench/REPORT.md and bench/charts/ (docs: bench/report.py).
# BENCH_ARGS=--quick for small sizes (a few minutes); the bench extra brings splink, matplotlib.
BENCH_ARGS ?=
bench: $(STAMP)
	@$(BIN)/python -c 'import matplotlib, splink' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,bench]' -c requirements.lock
	$(BIN)/python bench/report.py $(BENCH_ARGS)

# The full chaos run (>= 100k messages, AMI calls, synchronizer changes, unified views; 10
# kills, 2 RabbitMQ restarts, AMI cuts); the short one is part of `make test`; CHAOS_MESSAGES=N
# scales it. Needs RabbitMQ and PostgreSQL (docs/chaos-and-soak.md).
chaos: $(STAMP)
	CHAOS_FULL=1 $(BIN)/python -m pytest -m chaos -q -s tests/chaos

# The locked dependencies against known vulnerabilities; says plainly what it could not audit.
audit: $(STAMP)
	$(BIN)/python .ci/audit

# Re-pin requirements.lock to what .venv holds (after changing pyproject.toml).
lock: $(STAMP)
	@$(BIN)/python -c 'import matplotlib, splink' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	{ echo "# Exact versions CI and \`make\` install (pip -c), and what .ci/audit checks."; \
	  echo "# Refresh: make lock (after changing pyproject.toml)."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^telecom-esb'; } > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
