#!/usr/bin/env bash
# python-venv.sh REQUIREMENTS NAME: a virtualenv under ~/.cache/godot-webrtc-rs/NAME holding
# exactly REQUIREMENTS (rebuilt when that file changes). Prints its python on stdout.
set -euo pipefail
requirements=$1
venv="${XDG_CACHE_HOME:-$HOME/.cache}/godot-webrtc-rs/$2"
stamp="$venv/.requirements"
if ! cmp -s "$requirements" "$stamp"; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$stamp"
fi
echo "$venv/bin/python"
