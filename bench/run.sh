#!/usr/bin/env bash
# The benchmark, in one command: bench/run.sh [--duration 10 --profile --no-report ...]
# Creates bench/.venv, installs the function's and the harness's pinned dependencies,
# installs wrk from Debian when missing (as root), then measures and writes
# docs/BENCHMARKS.md, docs/benchmarks.png and docs/benchmarks.json. About 6 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
[ -x bench/.venv/bin/python ] || "$python" -m venv bench/.venv
bench/.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-bench.txt

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is missing: install it (apt-get install wrk) and run again" >&2
    exit 1
  fi
fi

exec bench/.venv/bin/python -m bench "$@"
