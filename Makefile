# Airlake's entry points. The README's two commands are `make demo` and `make test`;
# both set everything up on a fresh machine first (virtualenv, pinned packages, system packages).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
BIN := $(VENV)/bin
ENV := source include/local_stack/env.sh &&

.PHONY: demo test setup up down status lint lock bench

demo: setup  ## run the main job end to end on the local stack and print its answers
	$(ENV) $(BIN)/python -m include.local_stack.stack up
	$(ENV) $(BIN)/python -m include.demo.main

test: setup  ## lint and run the whole test suite (what CI runs)
	$(ENV) bash include/local_stack/run_tests.sh

setup:  ## virtualenv + pinned packages + system packages (idempotent)
	bash include/local_stack/setup.sh

up: setup  ## start the local stack (moto, PostgreSQL, Airflow standalone)
	$(ENV) $(BIN)/python -m include.local_stack.stack up

down:  ## stop the local stack (moto keeps its state in memory: the local lake is emptied)
	$(ENV) $(BIN)/python -m include.local_stack.stack down

status:
	$(ENV) $(BIN)/python -m include.local_stack.stack status

lint: setup
	$(ENV) bash include/local_stack/run_tests.sh --lint-only

lock:  ## re-resolve the pins from a clean virtualenv into constraints.txt
	bash include/local_stack/setup.sh --relock

bench: setup  ## benchmarks against anchors (bench/README.md); BENCH_ARGS="--quick" for a 3-minute run
	$(BIN)/python -m bench run $(BENCH_ARGS)
