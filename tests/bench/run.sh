#!/usr/bin/env bash
# The benchmark command: our addon inside headless Godot against libdatachannel
# (node-datachannel) on the same machine, alternating runs, several repetitions. It prints
# figures and never fails on timing. The clean-loopback suites write
# tests/bench/results/RESULTS.md and chart.png; the lossy suite (both stacks through the same
# udp-impair relay) writes LOSSY.md and lossy_chart.png there.
#   tests/bench/run.sh [REPETITIONS] [all|clean|lossy]   (default 5 all; lossy uses at most 3)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/tools/host-target.sh"
cd "$repo"
reps=${1:-5}
suites=${2:-all}
raw="$repo/tests/results/bench"
rm -rf "$raw"
mkdir -p "$raw"

tests/tools/build-addon.sh tests/godot || exit 1
cargo build --release -p udp-impair || exit 1
relay="$host_target/release/udp-impair"
GODOT_BIN=$(tests/tools/provision-godot.sh) || exit 1
tests/interop/setup.sh >/dev/null || exit 1
python=$(tests/tools/python-venv.sh tests/bench/requirements.txt bench-venv) || exit 1

# Everything runs on loopback inside a private network namespace when one can be made.
netns=()
unshare --net true 2>/dev/null && netns=(unshare --net bash -c 'ip link set lo up && exec "$@"' -)

# Each stack's benchmark program, ready for its "--suite=..." arguments.
godot_program=("$GODOT_BIN" --headless --path tests/godot --script res://bench/bench.gd --)
ldc_program=(node tests/bench/ldc_bench.mjs)

# record REP: appends the BENCH lines of its input (tagged with REP) to results.jsonl.
record() {
    sed -n 's/^BENCH //p' | sed "s/^{/{${1:+\"rep\":$1,}/" >>"$raw/results.jsonl"
}

# bench STACK REP ARGS...: one single-process run.
bench() {
    local -n program="$1_program"
    local rep=$2
    shift 2
    "${netns[@]}" timeout -k 5 300 "${program[@]}" "$@" 2>&1 | record "$rep"
}

# bench_pair STACK REP: the two-process run, both processes in the same namespace.
bench_pair() {
    local -n program="$1_program"
    local port=$((40000 + RANDOM % 20000))
    "${netns[@]}" timeout -k 5 300 bash -c \
        '"$@" --role=offer --port='"$port"' >/dev/null 2>&1 & "$@" --role=answer --port='"$port"'; wait' \
        - "${program[@]}" --suite=remote 2>&1 | record "$2"
}

# lossy_runs: every stack through the relay at every loss level and delay, alternating stacks
# within a repetition, each repetition with its own seed (the same for both stacks).
lossy_runs() {
    local lossy_reps=$((reps < 3 ? reps : 3)) rep loss delay stack
    for ((rep = 1; rep <= lossy_reps; rep++)); do
        echo "lossy repetition $rep of $lossy_reps: 16 KiB bulk, then the game pattern" >&2
        for delay in 10 50; do
            for loss in 0 0.005 0.01 0.03 0.1; do
                for stack in godot ldc; do
                    bench "$stack" "$rep" --suite=lossy --pattern=bulk --relay="$relay" \
                        --loss="$loss" --delay="$delay" --seed="$rep" --seconds=10
                done
            done
        done
        # The game pattern at the loss rates of Wi-Fi and mobile links, then 3 % in runs of 2-5
        # (as Wi-Fi drops packets).
        for delay in 10 50; do
            for loss in 0.005 0.01 0.03 0.05 0.03/2-5; do
                local burst=()
                [[ $loss == */* ]] && burst=(--burst="${loss#*/}")
                for stack in godot ldc; do
                    bench "$stack" "$rep" --suite=lossy --pattern=game --relay="$relay" \
                        --loss="${loss%/*}" "${burst[@]}" --delay="$delay" --seed="$rep" --seconds=60
                done
            done
        done
    done
}

clean_runs() {
    for ((rep = 1; rep <= reps; rep++)); do
        echo "repetition $rep of $reps: webrtc-rs in Godot, then libdatachannel; one process, then two" >&2
        bench godot "$rep" --suite=core
        bench ldc "$rep" --suite=core
        bench_pair godot "$rep"
        bench_pair ldc "$rep"
    done
    echo "idle and scale runs" >&2
    bench godot "" --suite=idle
    bench godot "" --suite=scale
    bench godot "" --suite=scale --max-message-size=262144
    bench ldc "" --suite=scale
}

case $suites in
    all | clean | lossy) ;;
    *) echo "usage: tests/bench/run.sh [REPETITIONS] [all|clean|lossy]" >&2; exit 2 ;;
esac
[[ $suites == lossy ]] || clean_runs
[[ $suites == clean ]] || lossy_runs

export GODOT_VERSION=$("$GODOT_BIN" --headless --version 2>/dev/null | tail -n1)
status=0
if [[ $suites != lossy ]]; then
    "$python" tests/bench/report.py "$raw/results.jsonl" tests/bench/results || status=1
fi
if [[ $suites != clean ]]; then
    "$python" tests/bench/lossy_report.py "$raw/results.jsonl" tests/bench/results || status=1
fi
exit $status
