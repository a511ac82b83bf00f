#!/usr/bin/env bash
# Installs the real consumers the contract tests (tests/contract) run against the
# OpenAPI documents: Redocly CLI and openapi-to-postmanv2 from npm into .tools/ (git-ignored),
# openapi-generator (the PyPI package ships the jar) into .venv-contract. Java 17 comes
# from Debian when missing and we are root. Idempotent: a second run installs nothing.
# Locally, a tool that cannot be installed makes its tests skip with the reason; under
# CI=true they fail instead (tests/contract/tools.py).
set -euo pipefail
cd "$(dirname "$0")/../.."

python="${PYTHON:-python3}"
if ! command -v java >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null || echo "java could not be installed" >&2
fi

if [ ! -x .venv-contract/bin/openapi-generator-cli ] || ! cmp -s requirements-contract.txt .venv-contract/.installed; then
  [ -x .venv-contract/bin/python ] || "$python" -m venv .venv-contract
  .venv-contract/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-contract.txt
  cp requirements-contract.txt .venv-contract/.installed
fi

if command -v npm >/dev/null 2>&1; then
  if ! cmp -s scripts/ci/contract-package.json .tools/package.json || [ ! -d .tools/node_modules ]; then
    mkdir -p .tools
    cp scripts/ci/contract-package.json .tools/package.json
    # --ignore-scripts: nothing these tools need runs at install time.
    (cd .tools && npm install --silent --no-audit --no-fund --ignore-scripts >/dev/null) ||
      echo "npm install of the contract tools failed: their tests will skip (fail under CI=true)" >&2
  fi
else
  echo "npm is not installed: the Redocly and Postman tests will skip (fail under CI=true)" >&2
fi
