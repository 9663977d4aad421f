#!/usr/bin/env bash
# The one test command: lint, Rust tests (property tests and impaired-network tests included),
# signaling load test, release builds, Godot provisioning, the headless Godot suite, demo
# lobbies through the signaling server, default settings on ordinary hosts (network namespaces),
# TURN through coturn, the interop suite against Chromium, libdatachannel, aiortc and werift, and
# the other platforms (release zip; Windows under Wine, Linux arm64 under qemu; an exported game).
# Works on a fresh Debian machine as root with no standard input; downloads are cached outside
# the repository (~/.cache/godot-webrtc-rs, cargo's own cache). Ends with "N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
results="$repo/tests/results"
mkdir -p "$results"
export CARGO_TERM_COLOR=never
# A test run compiles each crate once: incremental caches would only take disk (over 1 GB).
export CARGO_INCREMENTAL=0

section() { printf '\n== %s\n' "$*"; }
total_passed=0
total_failed=0
failures=()

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

section "format and lint"
if cargo fmt --all -- --check && cargo clippy --workspace --all-targets -- -D warnings; then
    total_passed=$((total_passed + 1))
else
    total_failed=$((total_failed + 1)); failures+=("fmt/clippy")
fi

section "cargo test"
# The signaling server's /metrics test checks its output with promtool (Debian's prometheus);
# its shared-lobby tests start a Redis (Debian's redis-server) of their own.
for needed in "promtool prometheus" "redis-server redis-server"; do
    read -r command package <<<"$needed"
    command -v "$command" >/dev/null && continue
    install_package() {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package"
    }
    { install_package || { apt-get update -qq && install_package; }; } >"$results/$package-apt.log" 2>&1 \
        || echo "cannot install $package ($command); see $results/$package-apt.log"
done
cargo test --workspace --no-fail-fast -- --show-output 2>&1 | tee "$results/cargo-test.log"
[[ ${PIPESTATUS[0]} -eq 0 ]] || failures+=("cargo test")
count_cargo "$results/cargo-test.log"

# The 8 MiB transfer through a lossy path takes minutes of mostly waiting on SCTP timers: it
# runs in the background while the other suites run, and is collected before the summary.
section "start in the background: 8 MiB through 10% loss, 20±10 ms jitter, 1% reorder"
lossy_bin=$(cargo test -p webrtc-godot-core --test impaired --no-run --message-format=json 2>/dev/null \
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
cargo test -p webrtc-signaling --test server -- --ignored --nocapture 2>&1 | tee "$results/signaling-load.log" | grep -vE "^ts="
[[ ${PIPESTATUS[0]} -eq 0 ]] || failures+=("signaling load")
count_cargo "$results/signaling-load.log"

section "patched webrtc-rs crates (third_party/webrtc-rs): marked changes, their own test suites"
tests/tools/test-patched-crates.sh 2>&1 | tee "$results/patched-crates.log" | grep -E "^(ok|FAIL|==) |^test result:"
[[ ${PIPESTATUS[0]} -eq 0 ]] || failures+=("patched crates")
count_cargo "$results/patched-crates.log"
total_passed=$((total_passed + $(grep -c "^ok " "$results/patched-crates.log")))
total_failed=$((total_failed + $(grep -c "^FAIL " "$results/patched-crates.log")))

section "build the addon, the signaling server and the impairment relay"
if ! tests/tools/build-addon.sh tests/godot demo_project || ! cargo build --release -p webrtc-signaling -p udp-impair; then
    failures+=("release build")
    total_failed=$((total_failed + 1))
fi

section "start in the background, at low priority: release builds for all platforms, Windows tests"
nice -n 19 tests/platforms/build.sh >"$results/platforms-build.log" 2>&1 &
platforms_pid=$!
echo "started (log: $results/platforms-build.log)"

section "provision Godot"
if GODOT_BIN=$(tests/tools/provision-godot.sh); then
    echo "using $GODOT_BIN ($("$GODOT_BIN" --headless --version 2>/dev/null | tail -n1))"
    run_suite "headless Godot suite" godot tests/run-godot-tests.sh
    run_suite "editor help pages against what the addon registers (doctool)" docs tests/docs/run.sh
    run_suite "demo lobbies through the signaling server" demo tests/run-demo-tests.sh
    run_suite "default settings on ordinary hosts: offline, LAN card, dead or slow resolver" \
        hosts tests/hosts/run.sh
    run_suite "TURN relay through coturn between network namespaces" turn tests/turn/run.sh
    run_suite "interop: Chromium, libdatachannel, aiortc, werift (matrix: tests/interop/MATRIX.md)" \
        interop tests/interop/run.sh
    wait "$platforms_pid"
    PLATFORMS_BUILT=1 run_suite \
        "other platforms: the release zip, Windows under Wine, Linux arm64 under qemu, an exported game" \
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
grep -h "^FIGURE" "$results/cargo-test.log" "$results/lossy-transfer.log" 2>/dev/null | sed 's/^FIGURE /- /'
grep -hE "^(silent path|[0-9]+ cycles in)" "$results"/godot/test_impaired_path.log "$results"/godot/test_lifecycle_stress.log 2>/dev/null | sed 's/^/- /'
grep -hE "^FIGURE|MB stripped" "$results/platforms.log" 2>/dev/null | sed -E 's/^(FIGURE|  ok  ) /- /'
for log in "$results"/hosts/*.log; do
    [[ -f $log ]] && grep -h "^FIGURE" "$log" | sed "s/^FIGURE /- $(basename "$log" .log): /"
done

section "summary"
[[ ${#failures[@]} -eq 0 ]] || echo "failed stages: ${failures[*]}"
echo "$total_passed passed, $total_failed failed"
[[ ${#failures[@]} -eq 0 && $total_failed -eq 0 ]]
