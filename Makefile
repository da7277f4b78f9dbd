# One entry point for people and CI. `make run` = the whole system on embedded defaults;
# `make test` = install from the lock and pass every test.
SHELL := /bin/bash
export UV_COMPILE_BYTECODE := 1
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY := .venv/bin/python

.PHONY: install test lint run clean

$(UV):
	python3 -m pip install --user --quiet uv

install: $(UV)
	$(UV) sync --frozen --all-extras

lint: install
	.venv/bin/ruff check src app dags tests bench streamlit_app.py
	.venv/bin/ruff format --check src app dags tests bench streamlit_app.py
	.venv/bin/mypy

test: lint
	.venv/bin/pytest

run: install
	bash scripts/run_local.sh

clean:
	rm -rf data .airflow .s3
