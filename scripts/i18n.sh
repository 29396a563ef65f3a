#!/usr/bin/env bash
# Extracts every marked text and merges it into each language's catalogue: new texts arrive
# untranslated (tests/monitor/test_i18n.py fails until they are translated), texts no longer used go.
set -euo pipefail
cd "$(dirname "$0")/.."
BABEL=.venv/bin/pybabel
POT=$(mktemp --suffix=.pot)
trap 'rm -f "$POT"' EXIT
"$BABEL" extract -F monitor/locale/babel.cfg -k N_ -k t -k both --no-location --sort-output --project hallwatch \
  -o "$POT" monitor core storage
for locale in zh_CN; do
  if [ -f "monitor/locale/$locale/LC_MESSAGES/messages.po" ]; then
    "$BABEL" update -i "$POT" -d monitor/locale -D messages -l "$locale" --no-fuzzy-matching --ignore-obsolete
  else
    "$BABEL" init -i "$POT" -d monitor/locale -D messages -l "$locale"
  fi
done
