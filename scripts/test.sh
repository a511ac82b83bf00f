#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, type check, then pytest (unit, integration
# against the simulator over loopback, the real server process, and the infra checks).
# Creates .venv if needed. Extra arguments go to pytest, e.g. scripts/test.sh -k auth
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

echo "--- ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "--- mypy --strict function"
.venv/bin/mypy --strict function main.py
echo "--- pytest"
exec .venv/bin/python -m pytest "$@"
