#!/usr/bin/env bash
# What holds the game thread when a call of the frame suite takes milliseconds: runs
# tests/godot/bench/frame_cost.gd with a busy loop per core, as `run.sh N frame` does, while the
# kernel records every scheduler switch (with its kernel stack) and wake-up into its own buffer,
# which nothing reads until the run has ended; then stall_report.py lists each time the game
# thread was off its CPU for over a millisecond outside its frame sleeps, and how. Needs root and
# tracefs (/sys/kernel/tracing). A measuring tool, not a test: it never fails on what it finds.
#   tests/bench/trace_stalls.sh [RUNS] [SCENARIO]   (default 3 state; SCENARIO as frame_cost.gd's)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
source tests/bench/busy_loops.sh
runs=${1:-3}
scenario=${2:-state}
tracefs=/sys/kernel/tracing
out="$repo/tests/results/stall-trace"

if [[ ! -w $tracefs/tracing_on ]]; then
    echo "trace_stalls: $tracefs is not writable here (root and a mounted tracefs are needed)" >&2
    exit 2
fi
tests/tools/build-addon.sh tests/godot || exit 1
GODOT_BIN=$(tests/tools/provision-godot.sh) || exit 1
rm -rf "$out"
mkdir -p "$out"

# The kernel's settings this changes, put back however the script ends.
# buffer_size_kb reads "7 (expanded: 1408)" before a buffer has been allocated: 1408 is the size.
saved_buffer=$(sed -E 's/.*expanded: ([0-9]+).*/\1/' "$tracefs/buffer_size_kb")
restore() {
    echo 0 >"$tracefs/tracing_on"
    echo '!stacktrace' >"$tracefs/events/sched/sched_switch/trigger" 2>/dev/null
    echo 0 >"$tracefs/events/sched/sched_switch/enable"
    echo 0 >"$tracefs/events/sched/sched_wakeup/enable"
    echo >"$tracefs/trace"
    echo "$saved_buffer" >"$tracefs/buffer_size_kb"
}
trap restore EXIT

for ((run = 1; run <= runs; run++)); do
    echo 0 >"$tracefs/tracing_on"
    echo >"$tracefs/trace"
    # Room for a whole run with every switch's stack: nothing may drain it while the run goes on.
    echo 131072 >"$tracefs/buffer_size_kb"
    echo 1 >"$tracefs/events/sched/sched_switch/enable"
    echo 1 >"$tracefs/events/sched/sched_wakeup/enable"
    echo stacktrace >"$tracefs/events/sched/sched_switch/trigger"
    busy_loops_start
    echo 1 >"$tracefs/tracing_on"
    unshare --net --mount tests/hosts/host.sh lan "$GODOT_BIN" --headless --path tests/godot \
        --script res://bench/frame_cost.gd -- --scenario="$scenario" --stack=webrtc-rs \
        >"$out/run-$run.log" 2>&1
    echo 0 >"$tracefs/tracing_on"
    busy_loops_stop
    cp "$tracefs/trace" "$out/run-$run.trace"
    echo '!stacktrace' >"$tracefs/events/sched/sched_switch/trigger"
    echo 0 >"$tracefs/events/sched/sched_switch/enable"
    echo "== run $run of $runs, scenario $scenario"
    python3 tests/bench/stall_report.py "$out/run-$run.log" "$out/run-$run.trace"
done
