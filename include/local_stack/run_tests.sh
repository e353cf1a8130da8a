#!/usr/bin/env bash
# The whole test command: lint (ruff with Airflow's AIR rules, sqlfluff) then pytest.
# pytest's exit code 5 ("no tests collected") is a failure like any other non-zero code.
# A whole run (no arguments) then repeats the date-sensitive tests with the clock moved ahead (faketime).
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

# The guard against tests and DAGs that follow the wall clock instead of their logical date: the
# date-sensitive tests (tests/conftest.py: DATE_SENSITIVE) again, with the clock of the whole process tree
# (pytest, moto, PostgreSQL) moved a month and a year ahead by libfaketime. Only on a whole run.
if [ $# -eq 0 ]; then
  for days in 30 365; do
    echo "== pytest, clock moved ${days} days ahead: date-sensitive tests"
    faketime -f "+${days}d" "$BIN/python" -m pytest -m date_sensitive -q -p no:cacheprovider
  done
fi
