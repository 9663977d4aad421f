#!/usr/bin/env bash
# Builds the GDExtension for this machine (Linux x86_64, release mode) and assembles
# addons/webrtc_rs/ (manifest + library) for the tests and the demo. Optionally copies the
# finished addon into Godot projects given as arguments. Packages for users: tools/release.sh.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/tools/host-target.sh"
cd "$repo"

cargo build --release -p webrtc-godot >&2
addon="$repo/addons/webrtc_rs"
mkdir -p "$addon/lib"
cp "$host_target/release/libwebrtc_godot.so" "$addon/lib/libwebrtc_godot.linux.x86_64.so"
"$repo/tools/write-manifest.py" "$repo/webrtc.gdextension" "$addon" >/dev/null

# A headless run loads only the extensions listed in .godot/extension_list.cfg; an editor
# import would write it, this does the same without the import pass.
for project in "$@"; do
    rm -rf "$project/addons/webrtc_rs"
    mkdir -p "$project/addons" "$project/.godot"
    cp -r "$addon" "$project/addons/webrtc_rs"
    echo "res://addons/webrtc_rs/webrtc_rs.gdextension" >"$project/.godot/extension_list.cfg"
done
