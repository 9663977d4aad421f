#!/usr/bin/env bash
# The benchmark command: our addon inside headless Godot against libdatachannel
# (node-datachannel) on the same machine, alternating runs, several repetitions. It prints
# figures and never fails on timing. Writes tests/bench/results/RESULTS.md and chart.png.
#   tests/bench/run.sh [REPETITIONS]   (default 5)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
reps=${1:-5}
cache="${XDG_CACHE_HOME:-$HOME/.cache}/godot-webrtc-rs"
raw="$repo/tests/results/bench"
rm -rf "$raw"
mkdir -p "$raw"

tests/tools/build-addon.sh tests/godot || exit 1
GODOT_BIN=$(tests/tools/provision-godot.sh) || exit 1
tests/interop/setup.sh >/dev/null || exit 1
venv="$cache/bench-venv"
if ! cmp -s tests/bench/requirements.txt "$venv/.requirements"; then
    rm -rf "$venv"
    python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check -r tests/bench/requirements.txt || exit 1
    cp tests/bench/requirements.txt "$venv/.requirements"
fi

godot_bench() {
    timeout -k 5 300 "$GODOT_BIN" --headless --path tests/godot --script res://bench/bench.gd -- --suite="$1" 2>&1 |
        grep '^BENCH ' | sed "s/^BENCH //"
}
ldc_bench() {
    timeout -k 5 300 node tests/bench/ldc_bench.mjs --suite="$1" 2>&1 | grep '^BENCH ' | sed "s/^BENCH //"
}

# Everything runs on loopback inside a private network namespace when one can be made.
netns=()
unshare --net true 2>/dev/null && netns=(unshare --net bash -c 'ip link set lo up && exec "$@"' -)

for ((rep = 1; rep <= reps; rep++)); do
    echo "repetition $rep of $reps: webrtc-rs in Godot, then libdatachannel" >&2
    GODOT_BIN=$GODOT_BIN "${netns[@]}" bash -c "$(declare -f godot_bench); godot_bench core" | sed "s/^{/{\"rep\":$rep,/" >>"$raw/results.jsonl"
    "${netns[@]}" bash -c "$(declare -f ldc_bench); ldc_bench core" | sed "s/^{/{\"rep\":$rep,/" >>"$raw/results.jsonl"
done
echo "idle and scale runs" >&2
GODOT_BIN=$GODOT_BIN "${netns[@]}" bash -c "$(declare -f godot_bench); godot_bench idle" >>"$raw/results.jsonl"
GODOT_BIN=$GODOT_BIN "${netns[@]}" bash -c "$(declare -f godot_bench); godot_bench scale" >>"$raw/results.jsonl"
"${netns[@]}" bash -c "$(declare -f ldc_bench); ldc_bench scale" >>"$raw/results.jsonl"

GODOT_VERSION=$("$GODOT_BIN" --headless --version 2>/dev/null | tail -n1) \
    "$venv/bin/python" tests/bench/report.py "$raw/results.jsonl" tests/bench/results
