#!/usr/bin/env bash
# Re-fetch the vendored chart library (uPlot) from npm at a pinned version, check its sha256 and copy the
# browser build and its licence into monitor/static/vendor/uplot/. The copies are committed: the app never
# downloads anything at run time. Run from the repository root; needs npm and network access.
set -euo pipefail

VERSION=1.6.32
TARBALL_SHA256=4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d
JS_SHA256=19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f
CSS_SHA256=df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04
DEST=monitor/static/vendor/uplot

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@${VERSION}" >/dev/null)
echo "${TARBALL_SHA256}  ${work}/uplot-${VERSION}.tgz" | sha256sum --check --quiet
tar -xzf "${work}/uplot-${VERSION}.tgz" -C "$work"
echo "${JS_SHA256}  ${work}/package/dist/uPlot.iife.min.js" | sha256sum --check --quiet
echo "${CSS_SHA256}  ${work}/package/dist/uPlot.min.css" | sha256sum --check --quiet
mkdir -p "$DEST"
cp "${work}/package/dist/uPlot.iife.min.js" "${work}/package/dist/uPlot.min.css" "${work}/package/LICENSE" "$DEST/"
echo "${VERSION}" > "$DEST/VERSION"
echo "uPlot ${VERSION} vendored into ${DEST}"
