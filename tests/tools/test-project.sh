#!/usr/bin/env bash
# tests/tools/test-project.sh DEST LIBRARY [FILE_NAME]: a copy of the headless test project
# (tests/godot) at DEST whose addon holds LIBRARY alone, under FILE_NAME (by default its own
# name, which must be the one the manifest gives its platform), with the manifest that lists it.
# For running the suite against another build than the one tests/tools/build-addon.sh installs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
project=$1
library=$2
name=${3:-$(basename "$library")}
rm -rf "$project"
cp -r "$repo/tests/godot" "$project"
rm -rf "$project/addons/webrtc_rs" "$project/.godot/imported"
mkdir -p "$project/addons/webrtc_rs/lib"
cp "$library" "$project/addons/webrtc_rs/lib/$name"
"$repo/tools/write-manifest.py" "$repo/webrtc.gdextension" "$project/addons/webrtc_rs" >/dev/null
