#!/usr/bin/env bash
# The benchmark command: our addon inside headless Godot against libdatachannel
# (node-datachannel) on the same machine, alternating runs, several repetitions. It prints
# figures and never fails on timing. Writes tests/bench/results/RESULTS.md and chart.png.
#   tests/bench/run.sh [REPETITIONS]   (default 5)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
reps=${1:-5}
raw="$repo/tests/results/bench"
rm -rf "$raw"
mkdir -p "$raw"

tests/tools/build-addon.sh tests/godot || exit 1
GODOT_BIN=$(tests/tools/provision-godot.sh) || exit 1
tests/interop/setup.sh >/dev/null || exit 1
python=$(tests/tools/python-venv.sh tests/bench/requirements.txt bench-venv) || exit 1

# Everything runs on loopback inside a private network namespace when one can be made.
netns=()
unshare --net true 2>/dev/null && netns=(unshare --net bash -c 'ip link set lo up && exec "$@"' -)

# bench STACK SUITE [REP]: one run; appends its figures (tagged with REP) to results.jsonl.
bench() {
    local command
    case $1 in
        godot) command=("$GODOT_BIN" --headless --path tests/godot --script res://bench/bench.gd --) ;;
        ldc) command=(node tests/bench/ldc_bench.mjs) ;;
    esac
    "${netns[@]}" timeout -k 5 300 "${command[@]}" --suite="$2" 2>&1 | sed -n 's/^BENCH //p' |
        sed "s/^{/{${3:+\"rep\":$3,}/" >>"$raw/results.jsonl"
}

for ((rep = 1; rep <= reps; rep++)); do
    echo "repetition $rep of $reps: webrtc-rs in Godot, then libdatachannel" >&2
    bench godot core "$rep"
    bench ldc core "$rep"
done
echo "idle and scale runs" >&2
bench godot idle
bench godot scale
bench ldc scale

GODOT_VERSION=$("$GODOT_BIN" --headless --version 2>/dev/null | tail -n1) \
    "$python" tests/bench/report.py "$raw/results.jsonl" tests/bench/results
