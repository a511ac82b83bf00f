#!/usr/bin/env bash
# The main job on the embedded default: the CEC simulator, the fake Secret Manager and
# the function's real server, then real deletion round trips. Creates .venv if needed.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
exec .venv/bin/python scripts/demo.py
