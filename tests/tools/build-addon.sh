#!/usr/bin/env bash
# Builds the GDExtension in release mode and assembles addons/webrtc_rs/ (manifest + library).
# Optionally copies the finished addon into Godot projects given as arguments.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

cargo build --release -p webrtc-godot >&2
addon="$repo/addons/webrtc_rs"
mkdir -p "$addon/lib"
cp "$repo/target/release/libwebrtc_godot.so" "$addon/lib/libwebrtc_godot.linux.x86_64.so"
cp "$repo/webrtc.gdextension" "$addon/webrtc_rs.gdextension"

# A headless run loads only the extensions listed in .godot/extension_list.cfg; an editor
# import would write it, this does the same without the import pass.
for project in "$@"; do
    rm -rf "$project/addons/webrtc_rs"
    mkdir -p "$project/addons" "$project/.godot"
    cp -r "$addon" "$project/addons/webrtc_rs"
    echo "res://addons/webrtc_rs/webrtc_rs.gdextension" >"$project/.godot/extension_list.cfg"
done
