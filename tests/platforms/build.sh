#!/usr/bin/env bash
# Builds what tests/platforms/run.sh checks, into tests/results/platforms-build/: the release
# zip of tools/release.sh (Linux x86_64, Linux arm64, Windows x86_64) and the core crate's
# tests cross-compiled for Windows. The cross builds take most of the test command's
# CPU time, so tests/run.sh starts this in the background, at low priority, while the suites
# that mostly wait on the network run; run.sh builds it itself when nothing was built before.
# Writes one "NAME STATUS SECONDS" line per build to status.txt, then "done".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out="$repo/tests/results/platforms-build"
rm -rf "$out"
mkdir -p "$out"

step() {
    local name=$1 start=$SECONDS status
    shift
    "$@"
    status=$?
    echo "$name $status $((SECONDS - start))" >>"$out/status.txt"
}
release() { "$repo/tools/release.sh" --out "$out/dist" >"$out/release.out" 2>"$out/release.log"; }
windows_tests() {
    "$repo/tools/cross-build.sh" x86_64-pc-windows-gnu test --no-run -p webrtc-godot-core \
        --message-format=json >"$out/windows-tests.json" 2>"$out/windows-tests-build.log"
}
step release release
step windows-tests windows_tests
echo done >>"$out/status.txt"
