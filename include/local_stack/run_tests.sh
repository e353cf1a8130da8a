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
# A whole run spreads the test files over the machine's cores (pytest-xdist; each worker starts its own moto
# and PostgreSQL; groups in tests/conftest.py); a run of chosen tests (arguments) stays in one process.
if [ $# -eq 0 ]; then
  "$BIN/python" -m pytest -n "${AIRLAKE_TEST_WORKERS:-2}" --dist loadgroup
else
  "$BIN/python" -m pytest "$@"
  exit 0
fi

# The guard against tests and DAGs that follow the wall clock instead of their logical date: the
# date-sensitive tests (tests/conftest.py: DATE_SENSITIVE) again with the wall clock moved a month and a year
# ahead (AIRLAKE_CLOCK_SHIFT_DAYS: time-machine in the test process and its Python services), both at once.
echo "== pytest, clock moved 30 and 365 days ahead: date-sensitive tests"
mkdir -p .local/test-logs
pids=()
for days in 30 365; do
  AIRLAKE_CLOCK_SHIFT_DAYS="$days" "$BIN/python" -m pytest -m date_sensitive -q -p no:cacheprovider \
    > ".local/test-logs/clock+${days}d.log" 2>&1 &
  pids+=($!)
done
status=0
for index in 0 1; do
  days=$([ "$index" -eq 0 ] && echo 30 || echo 365)
  if wait "${pids[$index]}"; then result=passed; else result=FAILED; status=1; fi
  echo "-- clock +${days} days: ${result}: $(tail -n 1 ".local/test-logs/clock+${days}d.log")"
  [ "$result" = passed ] || tail -n 60 ".local/test-logs/clock+${days}d.log"
done
exit "$status"
