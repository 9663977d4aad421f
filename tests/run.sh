#!/usr/bin/env bash
# The one test command: lint, Rust tests (property tests and impaired-network tests included),
# signaling load test, release builds, Godot provisioning, the headless Godot suite, demo
# lobbies through the signaling server, default settings on ordinary hosts (network namespaces),
# TURN through coturn, the interop suite against Chromium, libdatachannel, aiortc and werift, and
# the other platforms (the release zip for every platform built here, each library checked; the
# core tests under Wine, natively on x86_32 and under qemu; Godot on arm64 under qemu; Android,
# iOS and Windows arm64 compile-checked; an exported game).
# Works on a fresh Debian machine as root with no standard input; downloads are cached outside
# the repository (~/.cache/godot-webrtc-rs, cargo's own cache). Ends with "N passed, N failed",
# after a table of each stage's wall and CPU time.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# Builds and runs happen in a copy of the checkout under the cache folder (tools/mirror.py), so
# that a fresh clone rebuilds only what changed since the last run; the results come here.
cache="${WEBRTC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/godot-webrtc-rs}"
if [[ -z ${WEBRTC_RS_MIRROR:-} ]]; then
    mirror=$(python3 "$repo/tools/mirror.py" "$repo" "$cache/checkout") || exit 1
    mkdir -p "$repo/tests/results"
    rm -rf "$mirror/tests/results"
    ln -s "$repo/tests/results" "$mirror/tests/results"
    WEBRTC_RS_MIRROR=$repo exec "$mirror/tests/run.sh" "$@"
fi
cd "$repo" || exit 1
results="$repo/tests/results"
mkdir -p "$results"
export CARGO_TERM_COLOR=never
# A test run compiles each crate once: incremental caches would only take disk (over 1 GB).
export CARGO_INCREMENTAL=0
run_start=$SECONDS

total_passed=0
total_failed=0
failures=()

# Stage bookkeeping: each section's wall time, and the CPU time of the child processes that ended
# during it (the shell's children's user + system time, read with `times` in this shell itself;
# bash collects a background child when it ends, so its time counts there, not at its `wait`).
stage_rows=()
stage_name=""
source "$repo/tests/tools/times.sh"
# Sets children_cpu to the CPU seconds of the children that have ended so far. `times` must run in
# this shell itself (in a command substitution it would report the subshell's children).
children_cpu() {
    times >"$results/.times"
    children_cpu=$(times_seconds "$results/.times")
}
end_stage() {
    [[ -n $stage_name ]] || return 0
    children_cpu
    stage_rows+=("$((SECONDS - stage_start)) $((children_cpu - stage_cpu)) $stage_name")
    stage_name=""
}
section() {
    end_stage
    printf '\n== %s\n' "$*"
    stage_name=$*
    stage_start=$SECONDS
    children_cpu
    stage_cpu=$children_cpu
}

# Adds the "test result: ... N passed; M failed" lines of a cargo log to the totals.
count_cargo() {
    local p f
    while read -r p f; do
        total_passed=$((total_passed + p))
        total_failed=$((total_failed + f))
    done < <(sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$1")
}

# run_suite TITLE NAME SCRIPT: runs a suite script that ends with "NAME: N passed, N failed"
# and adds its counts; a suite that dies before that line counts as one failure.
run_suite() {
    section "$1"
    GODOT_BIN="$GODOT_BIN" "$3" | tee "$results/$2.log"
    [[ ${PIPESTATUS[0]} -eq 0 ]] || failures+=("$2")
    local p f
    read -r p f < <(sed -nE "s/^$2: ([0-9]+) passed, ([0-9]+) failed.*\$/\\1 \\2/p" "$results/$2.log")
    total_passed=$((total_passed + ${p:-0}))
    total_failed=$((total_failed + ${f:-1}))
}

# The caches a complete run leaves (the sid root with its cross compilers, each platform's build
# folder, the host's) take about 30 GB of disk (PROFILES.md, "Disk"). A disk that fills part-way
# fails whatever writes next with "No space left on device", so a shortfall is said first, with
# room to grow.
caches_gb=32
# disk_figures: sets caches_kib (what the caches hold now) and free_kib (what the disk has left).
disk_figures() {
    mkdir -p "$cache"
    caches_kib=$(du -skx "$cache" | cut -f1)
    free_kib=$(df -Pk "$cache" | awk 'NR == 2 { print $4 }')
}
gb() { awk -v k="$1" 'BEGIN { printf "%.1f GB", k / 1048576 }'; }

section "host packages and crates"
disk_figures
echo "caches: $(gb "$caches_kib") in $cache; the disk has $(gb "$free_kib") free"
if ((free_kib + caches_kib < caches_gb * 1048576)); then
    echo "WARNING: the caches need about $caches_gb GB with room to grow; this disk can give them" \
        "$(gb $((free_kib + caches_kib))): expect \"No space left on device\""
fi
# Everything the host needs, in one apt run: the sid root's bootstrapper, promtool (the
# signaling server's /metrics test), Redis (its shared-lobby tests), coturn (TURN suite),
# openssl (demo over wss://) and Chromium (interop).
tools/host-packages.sh debootstrap:debootstrap promtool:prometheus redis-server:redis-server \
    turnserver:coturn openssl:openssl /usr/bin/chromium:chromium 2>&1 | tee "$results/host-packages.log" \
    || echo "cannot install the host's packages; see $results/host-packages.log"
# Every crate for every platform, before the cross builds start sharing cargo's cache.
cargo fetch --locked

# The cross builds take most of the CPU time this command needs: they start now, at the lowest
# priority, so they use whatever the host's own builds and the suites leave idle.
section "start in the background, at low priority: every platform's build, its tests, the checks"
nice -n 19 tests/platforms/build.sh >"$results/platforms-build.log" 2>&1 &
platforms_pid=$!
echo "started (log: $results/platforms-build.log, steps: $results/platforms-build/status.txt)"

section "format and lint"
if cargo fmt --all -- --check && cargo clippy --workspace --all-targets -- -D warnings; then
    total_passed=$((total_passed + 1))
else
    total_failed=$((total_failed + 1)); failures+=("fmt/clippy")
fi

section "cargo test"
cargo test --workspace --no-fail-fast -- --show-output 2>&1 | tee "$results/cargo-test.log"
[[ ${PIPESTATUS[0]} -eq 0 ]] || failures+=("cargo test")
count_cargo "$results/cargo-test.log"

# The 8 MiB transfer through a lossy path takes minutes of mostly waiting on SCTP timers: it
# runs in the background while the other suites run, and is collected before the summary.
section "start in the background: 8 MiB through 10% loss, 20±10 ms jitter, 1% reorder"
# `--workspace`, as in `cargo test` above, so that the features and therefore the build are the
# same ones: a single package's features differ (cargo unifies them over the packages it builds),
# and a cold run would compile webrtc-rs and the signaling server's dependencies again.
lossy_bin=$(cargo test --workspace --test impaired --no-run --message-format=json 2>/dev/null \
    | sed -nE 's/.*"executable":"([^"]+)".*/\1/p' | tail -n1)
if [[ -x "$lossy_bin" ]]; then
    "$lossy_bin" --ignored --nocapture >"$results/lossy-transfer.log" 2>&1 &
    lossy_pid=$!
    echo "started (log: $results/lossy-transfer.log)"
else
    echo "cannot build the impaired-path test binary"
    lossy_pid=""
fi

section "signaling server load: 1,000 clients"
# Two sockets per client in one process; the default limit of 1024 descriptors is too low.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo test --workspace --test server -- --ignored --nocapture 2>&1 | tee "$results/signaling-load.log" | grep -vE "^ts="
[[ ${PIPESTATUS[0]} -eq 0 ]] || failures+=("signaling load")
count_cargo "$results/signaling-load.log"

section "the lobby behaviour suite again, with the lobbies kept in Redis"
# tests/server.rs runs above against the in-process directory; here every one of its servers
# keeps its lobbies in a redis-server of this run's own (a unix socket, a database per server),
# so the Redis scripts are held to the same cases as the Rust rules.
source tests/tools/redis.sh
start_redis "$results/lobby-rules-redis.sock" "$results/lobby-rules-redis.log" --databases 64
SIGNALING_TEST_REDIS="$REDIS_URL" cargo test --workspace --test server 2>&1 \
    | tee "$results/lobby-rules-redis-tests.log" | grep -E "^test |^test result:"
[[ ${PIPESTATUS[0]} -eq 0 ]] || failures+=("lobby rules on Redis")
count_cargo "$results/lobby-rules-redis-tests.log"
kill "$REDIS_PID" 2>/dev/null
wait "$REDIS_PID" 2>/dev/null

section "patched webrtc-rs crates (third_party/webrtc-rs): pristine + patch series, their own test suites"
tests/tools/test-patched-crates.sh 2>&1 | tee "$results/patched-crates.log" | grep -E "^(ok|FAIL|==) |^test result:"
[[ ${PIPESTATUS[0]} -eq 0 ]] || failures+=("patched crates")
count_cargo "$results/patched-crates.log"
total_passed=$((total_passed + $(grep -c "^ok " "$results/patched-crates.log")))
total_failed=$((total_failed + $(grep -c "^FAIL " "$results/patched-crates.log")))

section "build the addon, the signaling server, the impairment relay and the release check"
if ! tests/tools/build-addon.sh tests/godot demo_project \
    || ! cargo build --release -p webrtc-signaling -p udp-impair -p release-check; then
    failures+=("release build")
    total_failed=$((total_failed + 1))
fi

section "provision Godot"
if GODOT_BIN=$(tests/tools/provision-godot.sh); then
    echo "using $GODOT_BIN ($("$GODOT_BIN" --headless --version 2>/dev/null | tail -n1))"
    run_suite "headless Godot suite" godot tests/run-godot-tests.sh
    run_suite "the Godot suite again with a debug build: gdext's strict safeguards" \
        godot-strict tests/run-godot-strict.sh
    run_suite "editor help pages against what the addon registers (doctool)" docs tests/docs/run.sh
    run_suite "demo lobbies through the signaling server" demo tests/run-demo-tests.sh
    run_suite "default settings on ordinary hosts: offline, LAN card, dead or slow resolver" \
        hosts tests/hosts/run.sh
    run_suite "TURN relay through coturn between network namespaces" turn tests/turn/run.sh
    run_suite "interop: Chromium, libdatachannel, aiortc, werift (matrix: tests/results/interop/MATRIX.md)" \
        interop tests/interop/run.sh
    PLATFORMS_BUILD_PID=$platforms_pid run_suite \
        "core tests under Wine, natively on x86_32 and under qemu, as each platform's build ends" \
        platform-tests tests/platforms/core-tests.sh
    section "wait for the background builds"
    wait "$platforms_pid"
    PLATFORMS_BUILT=1 run_suite \
        "other platforms: the release zip and its checks, Wine, arm64 Godot, an exported game" \
        platforms tests/platforms/run.sh
else
    wait "$platforms_pid"
    failures+=("godot provisioning")
    total_failed=$((total_failed + 1))
fi

section "8 MiB through a lossy path (started in the background)"
if [[ -n "$lossy_pid" ]] && wait "$lossy_pid"; then
    :
else
    failures+=("lossy transfer")
fi
grep -E "^test |FIGURE|panicked|timed out" "$results/lossy-transfer.log"
count_cargo "$results/lossy-transfer.log"
grep -q "^test result:" "$results/lossy-transfer.log" || total_failed=$((total_failed + 1))

section "figures measured by the fault, security, bad-input and ordinary-host tests"
disk_figures
echo "- caches after the run: $(gb "$caches_kib") in $cache, $(gb "$free_kib") left free on the disk"
grep -h "^FIGURE" "$results/cargo-test.log" "$results/lossy-transfer.log" 2>/dev/null | sed 's/^FIGURE /- /'
grep -hE "^(silent path|[0-9]+ cycles in)" "$results"/godot/test_impaired_path.log "$results"/godot/test_lifecycle_stress.log 2>/dev/null | sed 's/^/- /'
grep -hE "^FIGURE" "$results/platform-tests.log" "$results/platforms.log" 2>/dev/null | sed -E 's/^FIGURE /- /'
for log in "$results"/hosts/*.log; do
    [[ -f $log ]] && grep -h "^FIGURE" "$log" | sed "s/^FIGURE /- $(basename "$log" .log): /"
done
end_stage

printf '\n== time per stage (wall, and CPU of what the stage ran)\n'
fmt() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }
for row in "${stage_rows[@]}"; do
    read -r wall cpu name <<<"$row"
    printf '%8s %8s  %s\n' "$(fmt "$wall")" "$(fmt "$cpu")" "$name"
done
echo "background builds (nice 19, both lanes at once; tests/platforms/build.sh):"
while read -r name status wall cpu; do
    [[ $name == "done" ]] && continue
    printf '%8s %8s  %s%s\n' "$(fmt "$wall")" "$(fmt "$cpu")" "$name" "$([[ $status == 0 ]] || echo " (failed)")"
done <"$results/platforms-build/status.txt"
children_cpu
printf '%8s %8s  total (the CPU column counts the background builds once, in the stage during which they ended)\n' \
    "$(fmt $((SECONDS - run_start)))" "$(fmt "$children_cpu")"

section "summary"
[[ ${#failures[@]} -eq 0 ]] || echo "failed stages: ${failures[*]}"
echo "$total_passed passed, $total_failed failed"
[[ ${#failures[@]} -eq 0 && $total_failed -eq 0 ]]
