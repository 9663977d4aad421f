#!/usr/bin/env bash
# Runs every tests/godot/tests/test_*.gd (or those whose names are given as arguments) in its own
# headless Godot process against the built addon. A script passes when it prints "RESULT PASS"
# and exits 0 within its time limit, and its log shows no script error, panic, crash or leak. GODOT_PROJECT and GODOT_LOGS point at another copy of the
# project (another platform's library) and log folder; GODOT_TIME_FACTOR stretches every limit
# (an emulated engine).
# Prints one "N passed, N failed" line at the end; exits non-zero when anything failed.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/tools/host-target.sh"
godot=${GODOT_BIN:?set GODOT_BIN to a Godot 4 binary}
project=${GODOT_PROJECT:-$repo/tests/godot}
logs=${GODOT_LOGS:-$repo/tests/results/godot}
default_limit=${GODOT_TEST_TIMEOUT:-180}
factor=${GODOT_TIME_FACTOR:-1}
# The impairment relay the network-fault scenes start (cargo build --release -p udp-impair).
export UDP_IMPAIR=${UDP_IMPAIR:-$host_target/release/udp-impair}
mkdir -p "$logs"

passed=0
failed=0
for script in "$project"/tests/test_*.gd; do
    name=$(basename "$script" .gd)
    if (($#)) && ! printf '%s\n' "$@" | grep -qx "$name"; then
        continue
    fi
    log="$logs/$name.log"
    # A script may ask for a tighter limit with a "# time-limit: SECONDS" line.
    script_limit=$(sed -nE 's/^# time-limit: ([0-9]+)$/\1/p' "$script")
    limit=$((${script_limit:-$default_limit} * factor))
    start=$(date +%s%3N)
    timeout -k 5 "$limit" "$godot" --headless --path "$project" --script "res://tests/$name.gd" >"$log" 2>&1
    code=$?
    ms=$(($(date +%s%3N) - start))
    secs="$((ms / 1000)).$((ms % 1000 / 100))"
    # A Rust panic, an engine crash, a script error or anything left alive at exit fails the
    # script even if it claimed success (tests/tools/godot-log-problems.sh).
    if [[ $code -eq 0 ]] && grep -q "^RESULT PASS" "$log" && ! "$repo/tests/tools/godot-log-problems.sh" "$log" >/dev/null; then
        passed=$((passed + 1))
        echo "ok   $name (${secs}s)"
    else
        failed=$((failed + 1))
        [[ $code -eq 124 || $code -eq 137 ]] && echo "     timed out after ${limit}s" >>"$log"
        echo "FAIL $name (exit $code, ${secs}s); log: $log"
        { grep -E "FAIL|timed out" "$log"; "$repo/tests/tools/godot-log-problems.sh" "$log"; } \
            | head -n 20 | sed 's/^/     /'
    fi
done
echo "godot: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
