#!/bin/sh
# Entry point of the image: every file in $HALLWATCH_SECRETS_DIR (default /run/secrets/hallwatch) becomes
# an environment variable named after the file (HALLWATCH_DATABASE_URL, CAM_PASSWORD, ...), so DSNs and
# camera passwords reach hallwatch from mounted secrets without ever being written into a manifest.
set -eu
dir=${HALLWATCH_SECRETS_DIR:-/run/secrets/hallwatch}
if [ -d "$dir" ]; then
  for file in "$dir"/*; do
    [ -f "$file" ] || continue
    name=$(basename "$file")
    case "$name" in
      *[!A-Za-z0-9_]* | [0-9]*) echo "secrets-env: skipping $name (not a variable name)" >&2; continue ;;
    esac
    value=$(cat "$file")
    export "$name=$value"
  done
fi
exec hallwatch "$@"
