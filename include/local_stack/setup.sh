#!/usr/bin/env bash
# Set up a fresh clone: system packages (PostgreSQL 15), the virtualenv, and our pinned packages.
# Idempotent and quick when nothing changed. `--relock` re-resolves constraints.txt from scratch.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.airlake-installed"

need_apt=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15)
# The browser test (tests/ui) drives Debian's Chromium: Playwright must never download a browser of its own.
need_chromium=0
[ -x /usr/bin/chromium ] || need_chromium=1
if [ ${#need_apt[@]} -gt 0 ] || [ "$need_chromium" -eq 1 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    if [ ${#need_apt[@]} -gt 0 ]; then
      echo "setup: installing system packages: ${need_apt[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    fi
    if [ "$need_chromium" -eq 1 ]; then
      echo "setup: installing system packages: chromium"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    fi
  elif [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: missing system packages: ${need_apt[*]} (install them with sudo apt-get install)" >&2
    exit 1
  fi
  if [ "$need_chromium" -eq 1 ] && [ ! -x /usr/bin/chromium ]; then
    echo "setup: /usr/bin/chromium is missing, the browser test will be skipped" \
      "(install it with sudo apt-get install --no-install-recommends chromium)" >&2
  fi
fi

if [ "${1:-}" = "--relock" ]; then
  rm -rf "$VENV.lock"
  "$PYTHON" -m venv "$VENV.lock"
  "$VENV.lock/bin/pip" install -q -r requirements-dev.txt
  {
    echo "# Full pin set (our own constraints file): produced by 'make lock' from a clean install of"
    echo "# requirements.txt + requirements-local.txt + requirements-dev.txt on Python 3.11."
    echo "# Install with: pip install -r requirements-dev.txt -c constraints.txt (the image: -r requirements.txt)"
    "$VENV.lock/bin/pip" freeze --exclude-editable | sort -f
  } > constraints.txt
  rm -rf "$VENV.lock"
  echo "setup: constraints.txt re-resolved; run 'make setup' to install it"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# requirements-dev.txt includes requirements-local.txt (moto server), which includes requirements.txt.
if [ ! -f "$STAMP" ] || [ requirements.txt -nt "$STAMP" ] || [ requirements-local.txt -nt "$STAMP" ] \
   || [ requirements-dev.txt -nt "$STAMP" ] || [ constraints.txt -nt "$STAMP" ]; then
  echo "setup: installing pinned packages (constraints.txt)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/pip" install -q -r requirements-dev.txt -c constraints.txt
  "$VENV/bin/pip" check
  touch "$STAMP"
fi
echo "setup: ready ($("$VENV/bin/python" -c 'import airflow; print("Airflow", airflow.__version__)'))"
