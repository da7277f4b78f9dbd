# One entry point for people and CI. `make run` = the whole system on embedded defaults;
# `make test` = install from the lock and pass every test.
SHELL := /bin/bash
export UV_COMPILE_BYTECODE := 1
# `python3 -m uv` works wherever pip put uv, with or without a PATH entry (pyenv shims, --user).
UV := python3 -m uv

.PHONY: install test lint run clean bench bench-quality bench-serving bench-pipeline bench-hot-swap

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
