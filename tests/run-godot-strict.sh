#!/usr/bin/env bash
# The headless Godot suite again, against a debug build of the library: there gdext keeps its
# strict safeguards, the checks for Rust code that misuses its types (a `Gd` of a freed object, a
# read-only array written, an index out of bounds). Release builds leave them out
# (`safeguards-release-disengaged` in Cargo.toml) so that a game can call the plugin from any
# thread; this run shows that the plugin's own code never trips them. test_threads is left out
# because the strict checks include gdext's main-thread assertion, which is exactly what that
# scene goes past.
# Prints one "godot-strict: N passed, N failed" line at the end; exits non-zero when anything failed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/tools/host-target.sh"
cd "$repo" || exit 1
results="$repo/tests/results"
project="$results/godot-strict"
logs="$results/godot-strict-logs"

# `--workspace`, as the test command's `cargo test`: the same features, so only this library is
# compiled and linked here (a few seconds), every dependency coming from that build.
if ! cargo build --workspace --lib; then
    echo "godot-strict: 0 passed, 1 failed"
    exit 1
fi
rm -rf "$logs"
if ! "$repo/tests/tools/test-project.sh" "$project" "$host_target/debug/libwebrtc_godot.so" \
    libwebrtc_godot.linux.x86_64.so; then
    echo "godot-strict: 0 passed, 1 failed"
    exit 1
fi

names=()
for script in "$project"/tests/test_*.gd; do
    name=$(basename "$script" .gd)
    [[ $name == test_threads ]] || names+=("$name")
done
mkdir -p "$logs"
GODOT_PROJECT="$project" GODOT_LOGS="$logs" "$repo/tests/run-godot-tests.sh" "${names[@]}" \
    | tee "$logs/summary.txt" | grep -v '^godot: '
read -r passed failed < <(sed -nE 's/^godot: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$logs/summary.txt")
passed=${passed:-0}
failed=${failed:-1}
# The library the scenes loaded is the strict one: gdext names its level when it initializes.
if grep -h "^Initialize godot-rust" "$logs/test_handshake.log" | grep -q "safeguards strict)"; then
    passed=$((passed + 1))
    echo "ok   the scenes ran with gdext's strict safeguards"
else
    failed=$((failed + 1))
    echo "FAIL the library the scenes loaded does not report gdext's strict safeguards"
fi
echo "godot-strict: $passed passed, $failed failed"
((failed == 0))
