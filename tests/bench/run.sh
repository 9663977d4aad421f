#!/usr/bin/env bash
# The benchmark command: our addon inside headless Godot against libdatachannel
# (node-datachannel) on the same machine, alternating runs, several repetitions. It prints
# figures and never fails on timing. The clean-loopback suites write
# tests/bench/results/RESULTS.md and chart.png; the lossy suite (both stacks through the same
# udp-impair relay) writes LOSSY.md and lossy_chart.png there.
# The frame suite measures what each call costs the game thread at 60 Hz with every core kept
# busy, and a dedicated server's cost per client with 8, 32 and 128 clients in a second process,
# beside webrtc-native when its Linux build is found (WEBRTC_NATIVE_DIR, by default
# ../shared/anchors/webrtc-native-1.2.1 beside the checkout), and then each stack's server with
# the other's clients; it writes FRAME.md, and a summary of its targets into RESULTS.md.
#   tests/bench/run.sh [REPETITIONS] [all|clean|lossy|bulk|bursty|game|frame]   (default 5 all;
#                                   lossy, bulk, bursty, game and frame use at most 3; bulk,
#                                   bursty and game: the lossy suite's throughput rows, its game
#                                   rows with losses in runs, or its game rows at the targets' loss
#                                   rates (1 and 3 %, and 3 % in runs), alone, reported beside the
#                                   raw results in tests/results/bench)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/tools/host-target.sh"
source "$repo/tests/bench/busy_loops.sh"
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

# record_frame REP SCENARIO STACK: as record, for one frame_cost.gd run; a run that gave no
# figures (a stack whose connections did not open, say) is recorded as failed, with its errors.
record_frame() {
    local output
    output=$(cat)
    record "$1" <<<"$output"
    grep -q '^BENCH ' <<<"$output" && return
    sed -n 's/^ERROR: //p' <<<"$output" | head -n 2 | python3 -c 'import json, sys
print("BENCH " + json.dumps({"metric": "run_failed", "scenario": sys.argv[1], "stack": sys.argv[2],
                             "errors": sys.stdin.read().splitlines()}))' "$2" "$3" | record "$1"
}

# bench STACK REP ARGS...: one single-process run.
bench() {
    local -n program="$1_program"
    local rep=$2
    shift 2
    "${netns[@]}" timeout -k 5 300 "${program[@]}" "$@" 2>&1 | record "$rep"
}

# bench_one_core STACK REP: the single-process core suite held to one CPU (the first this shell
# may use), as on a one-core VM or a container pinned to one CPU; its figures carry "cores":1.
bench_one_core() {
    local -n program="$1_program"
    local cpu
    cpu=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//')
    "${netns[@]}" timeout -k 5 300 taskset -c "$cpu" "${program[@]}" --suite=core 2>&1 \
        | sed 's/^BENCH {/BENCH {"cores":1,/' | record "$2"
}

# bench_pair STACK REP: the two-process run, both processes in the same namespace.
bench_pair() {
    local -n program="$1_program"
    local port=$((40000 + RANDOM % 20000))
    "${netns[@]}" timeout -k 5 300 bash -c \
        '"$@" --role=offer --port='"$port"' >/dev/null 2>&1 & "$@" --role=answer --port='"$port"'; wait' \
        - "${program[@]}" --suite=remote 2>&1 | record "$2"
}

# lossy_runs [GAME_LOSSES...]: every stack through the relay at every loss level and delay,
# alternating stacks within a repetition, each repetition with its own seed (the same for both
# stacks). `lossy_runs bulk`: only the throughput rows (the bulk suite); `lossy_runs
# GAME_LOSSES...`: only the game pattern at those (the bursty suite).
lossy_runs() {
    local lossy_reps=$((reps < 3 ? reps : 3)) rep loss delay stack
    # The game pattern at the loss rates of Wi-Fi and mobile links, then 3 % in runs of 2-5 (as
    # Wi-Fi drops packets).
    local game_losses=(0.005 0.01 0.03 0.05 0.03/2-5) bulk=1
    if [[ ${1:-} == bulk ]]; then
        game_losses=()
    elif (($#)); then
        game_losses=("$@")
        bulk=0
    fi
    for ((rep = 1; rep <= lossy_reps; rep++)); do
        echo "lossy repetition $rep of $lossy_reps" >&2
        if ((bulk)); then
            for delay in 10 50; do
                for loss in 0 0.005 0.01 0.03 0.1; do
                    for stack in godot ldc; do
                        bench "$stack" "$rep" --suite=lossy --pattern=bulk --relay="$relay" \
                            --loss="$loss" --delay="$delay" --seed="$rep" --seconds=10
                    done
                done
            done
        fi
        for delay in 10 50; do
            for loss in ${game_losses[@]+"${game_losses[@]}"}; do
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

# The Godot projects the frame suite runs in, by stack: ours, and webrtc-native's (a copy of the
# test project's scripts with that addon instead) when its build is there.
declare -A projects=(["webrtc-rs (this addon)"]=tests/godot)
native_project() {
    local native_dir=${WEBRTC_NATIVE_DIR:-$repo/../shared/anchors/webrtc-native-1.2.1}
    local dir="$raw/webrtc-native-project"
    if [[ ! -f $native_dir/webrtc_native.gdextension ]]; then
        echo "frame: no webrtc-native build at $native_dir; this addon only" >&2
        return
    fi
    mkdir -p "$dir/addons" "$dir/.godot"
    cp -r tests/godot/lib tests/godot/bench tests/godot/project.godot "$dir/"
    cp -r "$native_dir" "$dir/addons/webrtc_native"
    echo 'res://addons/webrtc_native/webrtc_native.gdextension' >"$dir/.godot/extension_list.cfg"
    projects["webrtc-native 1.2.1"]=$dir
}

# on_lan COMMAND...: runs COMMAND on a stand-in machine with a LAN card (tests/hosts/host.sh):
# libjuice, inside webrtc-native, gathers no loopback candidates.
on_lan() {
    timeout -k 5 300 unshare --net --mount tests/hosts/host.sh lan "$@"
}

# frame_runs: tests/godot/bench/frame_cost.gd in each stack's project, every scenario, with a
# busy loop per core at normal priority (a game that renders); then the dedicated server
# (server_bench.gd) with 8, 32 and 128 clients, on an otherwise idle machine.
frame_runs() {
    local frame_reps=$((reps < 3 ? reps : 3)) rep scenario label clients
    native_project
    for ((rep = 1; rep <= frame_reps; rep++)); do
        echo "frame repetition $rep of $frame_reps: ${!projects[*]}" >&2
        busy_loops_start
        for scenario in state bulk mesh get_packet; do
            for label in "${!projects[@]}"; do
                on_lan "$GODOT_BIN" --headless --path "${projects[$label]}" \
                    --script res://bench/frame_cost.gd -- --scenario="$scenario" --stack="$label" \
                    2>&1 | record_frame "$rep" "$scenario" "$label"
            done
        done
        busy_loops_stop
        for clients in 8 32 128; do
            for label in "${!projects[@]}"; do
                server_run "${projects[$label]}" "${projects[$label]}" "$clients" "$label" | record "$rep"
            done
        done
        # Which process a state's latency is spent in: each stack's server with the other's
        # clients (the same-stack pairs are the runs above). frame_report.py's mixed_table finds
        # them by this label.
        if ((${#projects[@]} == 2)); then
            for label in "${!projects[@]}"; do
                for other in "${!projects[@]}"; do
                    [[ $other == "$label" ]] && continue
                    server_run "${projects[$label]}" "${projects[$other]}" 32 \
                        "server $label, clients $other" | record "$rep"
                done
            done
        fi
    done
}

# server_run SERVER_PROJECT CLIENTS_PROJECT CLIENTS LABEL: one server_bench.gd run, the server
# process in one project (stack) and the clients process in another, on a stand-in LAN.
server_run() {
    on_lan bash -c 'port=$((40000 + RANDOM % 20000)) godot=$1 clients=$4 label=$5
        run() { "$godot" --headless --path "$1" --script res://bench/server_bench.gd -- \
            --clients="$clients" --seconds=20 --stack="$label" --role="$2" --port=$port; }
        run "$2" server & run "$3" clients; wait' - "$GODOT_BIN" "$@" 2>&1
}

clean_runs() {
    for ((rep = 1; rep <= reps; rep++)); do
        echo "repetition $rep of $reps: webrtc-rs in Godot, then libdatachannel; one process, then two, then one process on one core" >&2
        bench godot "$rep" --suite=core
        bench ldc "$rep" --suite=core
        bench_pair godot "$rep"
        bench_pair ldc "$rep"
        bench_one_core godot "$rep"
        bench_one_core ldc "$rep"
    done
    echo "idle and scale runs" >&2
    bench godot "" --suite=idle
    bench godot "" --suite=scale
    bench godot "" --suite=scale --max-message-size=262144
    bench ldc "" --suite=scale
}

case $suites in
    all | clean | lossy | bulk | bursty | game | frame) ;;
    *) echo "usage: tests/bench/run.sh [REPETITIONS] [all|clean|lossy|bulk|bursty|game|frame]" >&2; exit 2 ;;
esac
[[ $suites == all || $suites == clean ]] && clean_runs
[[ $suites == all || $suites == lossy ]] && lossy_runs
[[ $suites == bulk ]] && lossy_runs bulk
[[ $suites == bursty ]] && lossy_runs 0.03/2-5
[[ $suites == game ]] && lossy_runs 0.01 0.03 0.03/2-5
[[ $suites == all || $suites == frame ]] && frame_runs

export GODOT_VERSION=$("$GODOT_BIN" --headless --version 2>/dev/null | tail -n1)
status=0
if [[ $suites == all || $suites == clean ]]; then
    "$python" tests/bench/report.py "$raw/results.jsonl" tests/bench/results || status=1
fi
if [[ $suites == all || $suites == lossy ]]; then
    "$python" tests/bench/lossy_report.py "$raw/results.jsonl" tests/bench/results || status=1
fi
if [[ $suites == bulk || $suites == bursty || $suites == game ]]; then
    # Only the throughput or some of the game rows: their tables go beside the raw results, for
    # LOSSY.md by hand.
    "$python" tests/bench/lossy_report.py "$raw/results.jsonl" "$raw" || status=1
fi
if [[ $suites == all || $suites == frame ]]; then
    "$python" tests/bench/frame_report.py "$raw/results.jsonl" tests/bench/results || status=1
fi
exit $status
