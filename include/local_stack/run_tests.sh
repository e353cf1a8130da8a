#!/usr/bin/env bash
# The whole test command: lint (ruff with Airflow's AIR rules, sqlfluff) then pytest.
# pytest's exit code 5 ("no tests collected") is a failure like any other non-zero code.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin

echo "== ruff"
"$BIN/ruff" check dags plugins tests include bench
"$BIN/ruff" format --check dags plugins tests include bench
echo "== sqlfluff"
"$BIN/sqlfluff" lint sql
[ "${1:-}" = "--lint-only" ] && exit 0

echo "== pytest"
"$BIN/python" -m pytest "$@"
