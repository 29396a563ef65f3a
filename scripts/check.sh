#!/usr/bin/env bash
# The whole test suite: lint, types, the layering contract, then every test (unit, integration, end to end, browser).
# Called by scripts/bootstrap.sh test after set-up; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p artifacts
echo "== ruff"
"$BIN/ruff" check .
echo "== mypy"
"$BIN/mypy"
echo "== import contracts (pyproject.toml [tool.importlinter])"
"$BIN/lint-imports"
echo "== pytest"
# A base temp dir of this run's own: pytest rotates /tmp/pytest-of-$USER, so another pytest session on
# the same machine would otherwise delete this run's embedded PostgreSQL from under it.
basetemp=$(mktemp -d /tmp/hallwatch-pytest-XXXXXX)
set +e
# Two workers (HALLWATCH_TEST_WORKERS), each with its own embedded PostgreSQL, a test file at a time: much of
# the suite waits on streams, browsers and servers, so two share 2 cores well. --durations: every log shows the
# slowest tests and fixture set-ups (the suite must stay within CI's time).
"$BIN/python" -m pytest --basetemp="$basetemp" --numprocesses="${HALLWATCH_TEST_WORKERS:-2}" --dist=loadfile \
  --durations=40 --durations-min=1 "$@"
status=$?
set -e
[ "$status" -eq 0 ] && rm -rf "$basetemp"
if [ "$status" -eq 5 ]; then
  echo "check: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
