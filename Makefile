# One entry point for people and CI. `make run` = the whole system on embedded defaults;
# `make test` = install from the lock and pass every test; `make test-fast` = the unit tests.
SHELL := /bin/bash
export UV_COMPILE_BYTECODE := 1
# `python3 -m uv` works wherever pip put uv, with or without a PATH entry (pyenv shims, --user).
UV := python3 -m uv

.PHONY: install test test-fast lint run clean bench bench-quality bench-serving bench-pipeline bench-hot-swap

install:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --all-extras

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/mypy bench dags scripts streamlit_app.py

test: lint
	.venv/bin/pytest

# The edit-test loop: unit tests only (no servers of their own, no waits on timeouts, no
# training on the shared data); `make test` (what CI runs) still runs every test.
test-fast:
	.venv/bin/pytest -q -p no:cacheprovider -m "not integration and not e2e and not slow"

run: install
	bash scripts/run_local.sh

# Benchmarks (each rewrites its section of docs/BENCHMARKS.md; serving needs Debian's wrk).
bench-quality: install
	.venv/bin/python -m bench.quality
bench-serving: install
	.venv/bin/python -m bench.serving
bench-pipeline: install
	.venv/bin/python -m bench.pipeline_cost
bench-hot-swap: install
	.venv/bin/python -m bench.hot_swap
bench: bench-quality bench-serving bench-pipeline bench-hot-swap

clean:
	rm -rf data .airflow .s3
