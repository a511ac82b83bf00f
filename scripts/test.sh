#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, type check, security scans, then pytest
# (unit, integration against the simulator over loopback, the real server process,
# and the infra checks) on each Python of the matrix below.
# Creates .venv if needed. Extra arguments go to pytest, e.g. scripts/test.sh -k auth
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
# The docs site's tools (MkDocs, Material for MkDocs), for the mkdocs step below.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-docs.txt

# Infra checks (tests/infra): shellcheck from Debian; checkov in a venv of its own,
# since its pins (packaging<24) clash with pytest's. Locally, a tool that cannot be
# installed makes its tests skip with the reason; under CI=true they fail instead.
if ! command -v shellcheck >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null
  else
    echo "shellcheck is not installed (apt-get install shellcheck): its test will skip" >&2
  fi
fi
# Idempotency tests (tests/idempotency): the Firestore emulator of the Google Cloud CLI
# (its component cloud-firestore-emulator; on Debian the package
# google-cloud-cli-firestore-emulator from Google's apt repository, not Debian's) and
# Java 17+ (Debian's openjdk-17-jre-headless). Without them those tests skip, or fail
# under CI=true.
if ! command -v java >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
sdk_root="$(timeout 30 gcloud info --format='value(installation.sdk_root)' 2>/dev/null || true)"
if [ -z "$sdk_root" ] || [ ! -d "$sdk_root/platform/cloud-firestore-emulator" ]; then
  echo "the Firestore emulator (gcloud component cloud-firestore-emulator) is not installed: tests/idempotency will skip" >&2
fi
if [ ! -x .venv-infra/bin/checkov ]; then
  "$python" -m venv .venv-infra
  .venv-infra/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-infra.txt
fi
export CHECKOV_BIN="$PWD/.venv-infra/bin/checkov"
SHELLCHECK_BIN="$(command -v shellcheck || true)"
export SHELLCHECK_BIN

# The contract tests' consumers (Redocly, openapi-to-postmanv2, openapi-generator): tests/contract.
bash scripts/ci/contract_tools.sh || echo "contract tools not installed: tests/contract skips (fails under CI=true)" >&2

echo "--- ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "--- mypy --strict"
.venv/bin/mypy --strict function main.py cec_sim scripts/check_advisories.py scripts/restore_routes.py scripts/probe_tenant.py
echo "--- mkdocs build --strict (the docs site: a broken link or anchor fails)"
docs_site="$(mktemp -d)"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir "$docs_site"
rm -rf "$docs_site"
echo "--- bandit (medium and high fail)"
.venv/bin/bandit -r function -ll -q
echo "--- dependency advisories (offline snapshot; see docs/SECURITY_SCANS.md)"
# The snapshot lives beside the checkout (../shared), as in CI; a clone elsewhere
# without it skips this step, unless CI=true, where a missing snapshot is an error.
if [ -d "${ADVISORY_DB:-../shared/data/pypa-advisory-db}" ] || [ "${CI:-}" = true ]; then
  .venv/bin/python scripts/check_advisories.py --freeze
  .venv/bin/python scripts/check_advisories.py --freeze --env-path .venv-infra/lib/python3*/site-packages
else
  echo "advisory snapshot not found (../shared/data/pypa-advisory-db or \$ADVISORY_DB): skipped" >&2
fi
echo "--- pytest"
# Python matrix (issue 11): the deployed runtime (python312, infra/) runs the whole
# suite; 3.11 and 3.13 run it without the external-tool tests (Terraform, gcloud,
# checkov, shellcheck: they check infra/, not the Python, and take minutes). Each
# version has its own venv (.venv when it is that version). A missing version is
# skipped with a note, and the first one found runs the whole suite; under CI=true a
# missing version fails the run. PYTHONS="3.12" runs one.
find_python() { # VERSION -> an interpreter of that version, from PATH or pyenv
  local candidate
  for candidate in "python$1" "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")/versions/$1"*/bin/"python$1"; do
    if "$candidate" -c "import sys; sys.exit(sys.version[:${#1}+1] != '$1.')" 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}
status=0 full=true
for version in ${PYTHONS:-3.12 3.11 3.13}; do
  if ! interpreter="$(find_python "$version")"; then
    [ "${CI:-}" = true ] && { echo "Python $version not found (pyenv install $version)" >&2; exit 1; }
    echo "Python $version not found: its run is skipped (CI requires it)" >&2; continue
  fi
  venv=".venv-py$version"
  if .venv/bin/python -c "import sys; sys.exit(sys.version[:${#version}+1] != '$version.')"; then venv=.venv; fi
  # A venv cut short (no pip) is made again.
  "$venv/bin/python" -m pip --version >/dev/null 2>&1 || "$interpreter" -m venv --clear "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  if $full; then marker=(); else marker=(-m "not external_tools"); fi
  echo "--- pytest on Python $version${marker[*]:+ (${marker[*]})}"
  "$venv/bin/python" -m pytest ${marker[@]+"${marker[@]}"} "$@" || status=1
  full=false
done
$full && { echo "none of the matrix's Pythons (${PYTHONS:-3.12 3.11 3.13}) was found" >&2; exit 1; }
exit $status
