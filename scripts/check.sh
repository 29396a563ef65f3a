#!/usr/bin/env bash
# The whole test suite: lint, types, then every test (unit, integration, end to end, browser).
# Called by scripts/bootstrap.sh test after set-up; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p artifacts
echo "== ruff"
"$BIN/ruff" check .
echo "== mypy"
"$BIN/mypy"
echo "== pytest"
set +e
"$BIN/python" -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "check: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
