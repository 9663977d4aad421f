#!/usr/bin/env bash
# Default settings on ordinary hosts: the headless Godot scenes in tests/godot/hosts/, each in a
# fresh network and mount namespace set up by host.sh as an offline machine, a machine with a
# LAN card (with or without a default route), or one whose resolver is dead or slow. Nothing in
# them binds to loopback on purpose or turns mDNS off: they use what a new user gets.
# Needs GODOT_BIN and the addon built into tests/godot. Ends with "hosts: N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/tests/hosts"
: "${GODOT_BIN:?set GODOT_BIN to a Godot 4 binary}"
logs="$repo/tests/results/hosts"
rm -rf "$logs"
mkdir -p "$logs"
passed=0
failed=0

# count PATTERN LOG: how many lines of LOG match PATTERN.
count() { grep -cE "$1" "$2" || true; }

# run_case NAME KIND SCENE EXPECT_ERRORS EXPECT_WARNINGS [SCENE ARGS...]
# EXPECT_*: an extended regex that every ERROR (WARNING) line must match, and how many there
# must be, as "REGEX=N"; "-" means none at all.
run_case() {
    local name=$1 kind=$2 scene=$3 errors=$4 warnings=$5
    shift 5
    local log="$logs/$name.log" why=()
    timeout -k 5 120 unshare --net --mount --propagation private \
        "$here/host.sh" "$kind" "$GODOT_BIN" --headless --path "$repo/tests/godot" \
        --script "res://hosts/$scene.gd" -- "$@" >"$log" 2>&1
    local code=$?
    [[ $code -eq 0 ]] || why+=("exit $code")
    grep -q "^RESULT PASS" "$log" || why+=("no RESULT PASS")
    "$repo/tests/tools/godot-log-problems.sh" "$log" >/dev/null \
        && why+=("script error, leak or crash")
    local kind_of pattern expected total matching
    for kind_of in ERROR WARNING; do
        pattern=$errors
        [[ $kind_of == WARNING ]] && pattern=$warnings
        total=$(count "^$kind_of:" "$log")
        if [[ $pattern == - ]]; then
            [[ $total -eq 0 ]] || why+=("$total unexpected $kind_of lines")
        else
            expected=${pattern##*=}
            matching=$(count "^$kind_of:.*(${pattern%=*})" "$log")
            [[ $total -eq $matching && $total -eq $expected ]] \
                || why+=("$total $kind_of lines, $matching of them expected, $expected wanted")
        fi
    done
    if [[ ${#why[@]} -eq 0 ]]; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name (${why[*]}); log: $log"
        grep -E "FAIL|ERROR|WARNING|timed out" "$log" | head -n 12 | sed 's/^/     /'
    fi
    grep -E "^FIGURE" "$log" | sed 's/^FIGURE /     /'
}

# run_quit_case NAME KIND SCENE LIMIT: like run_case (no ERROR or WARNING lines allowed), and the
# process must exit within LIMIT seconds of printing "quitting": a lookup that held a thread made
# it wait 5 s for the runtime to shut down.
run_quit_case() {
    local name=$1 kind=$2 scene=$3 limit=$4 log="$logs/$1.log" why=()
    unshare --net --mount --propagation private "$here/host.sh" "$kind" timeout -k 5 60 \
        "$GODOT_BIN" --headless --path "$repo/tests/godot" --script "res://hosts/$scene.gd" >"$log" 2>&1 &
    local pid=$! quit_at="" code
    while kill -0 "$pid" 2>/dev/null && [[ -z $quit_at ]]; do
        grep -q "^quitting" "$log" && quit_at=$(date +%s%3N)
        [[ -n $quit_at ]] || sleep 0.01
    done
    wait "$pid"
    code=$?
    local exit_ms=-1
    [[ -n $quit_at ]] && exit_ms=$(($(date +%s%3N) - quit_at))
    [[ $code -eq 0 ]] || why+=("exit $code")
    grep -q "^RESULT PASS" "$log" || why+=("no RESULT PASS")
    { grep -qE "^(ERROR|WARNING):" "$log" || "$repo/tests/tools/godot-log-problems.sh" "$log" >/dev/null; } \
        && why+=("errors, warnings or leaks in the output")
    [[ $exit_ms -ge 0 && $exit_ms -le $((limit * 1000)) ]] || why+=("exit took ${exit_ms} ms after quitting")
    if [[ ${#why[@]} -eq 0 ]]; then
        passed=$((passed + 1))
        echo "ok   $name (exited ${exit_ms} ms after quitting)"
    else
        failed=$((failed + 1))
        echo "FAIL $name (${why[*]}); log: $log"
    fi
}

mdns_unavailable='mDNS is unavailable on this host'
unresolvable='Cannot resolve STUN server stun.l.google.com:19302'
refused_duplicate='id 1 is already used by another channel'

run_case offline-engine-minimal-demo offline minimal_demo_run "$refused_duplicate=1" -
run_case offline-defaults offline default_peers - - --config=none
run_case offline-signaling-demo-config offline default_peers - "$unresolvable=2" --config=signaling-demo
run_case lan-without-route-defaults lan default_peers - "$mdns_unavailable=2" --config=none
run_case lan-defaults uplink default_peers - - --config=none
run_case dead-resolver-signaling-demo-config dead-dns default_peers - "$unresolvable=2" \
    --config=signaling-demo --open-before-gathering
run_case slow-resolver-signaling-demo-config slow-dns default_peers - "$unresolvable=2" \
    --config=signaling-demo --open-before-gathering

run_quit_case quit-while-resolving dead-dns quit_while_resolving 3

echo "hosts: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
