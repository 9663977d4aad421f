#!/usr/bin/env bash
# Installs the interop suite's peers, cached outside the repository:
#   Chromium from Debian (apt), node-datachannel + playwright-core + ws from npm (npm's cache,
#   node_modules here), aiortc from PyPI (a virtualenv under ~/.cache/godot-webrtc-rs).
# Prints the virtualenv's python on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/godot-webrtc-rs"
venv="$cache/interop-venv"

if [[ ! -x /usr/bin/chromium ]]; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q chromium; } >&2
fi
if ! (cd "$here" && npm ls --silent >/dev/null 2>&1); then
    (cd "$here" && npm ci --no-audit --no-fund) >&2
fi
stamp="$venv/.requirements"
if ! cmp -s "$here/requirements.txt" "$stamp"; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt" >&2
    cp "$here/requirements.txt" "$stamp"
fi
echo "$venv/bin/python"
