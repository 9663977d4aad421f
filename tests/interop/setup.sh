#!/usr/bin/env bash
# Installs the interop suite's peers, cached outside the repository:
#   Chromium from Debian (apt), node-datachannel + playwright-core + ws from npm (npm's cache,
#   node_modules here), aiortc from PyPI (a virtualenv under ~/.cache/godot-webrtc-rs).
# Prints the virtualenv's python on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../tools/host-packages.sh" /usr/bin/chromium:chromium
if ! (cd "$here" && npm ls --silent >/dev/null 2>&1); then
    (cd "$here" && npm ci --no-audit --no-fund) >&2
fi
"$here/../tools/python-venv.sh" "$here/requirements.txt" interop-venv
