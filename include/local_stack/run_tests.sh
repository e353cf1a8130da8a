#!/usr/bin/env bash
# The whole test command: lint (ruff with Airflow's AIR rules, sqlfluff) then pytest.
# pytest's exit code 5 ("no tests collected") is a failure like any other non-zero code.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin

PY_DIRS=()
for dir in dags plugins tests include bench; do [ -d "$dir" ] && PY_DIRS+=("$dir"); done
echo "== ruff"
"$BIN/ruff" check "${PY_DIRS[@]}"
"$BIN/ruff" format --check "${PY_DIRS[@]}"
echo "== sqlfluff"
"$BIN/sqlfluff" lint sql
[ "${1:-}" = "--lint-only" ] && exit 0

echo "== pytest"
"$BIN/python" -m pytest "$@"
