#!/usr/bin/env bash
# The core crate's tests (two real peers over loopback: channels, data both ways, close, lossy
# paths, back-pressure, bad input) cross-compiled by tests/platforms/build.sh and run for Windows
# x86_64 and x86_32 under Wine, Linux x86_32 natively and Linux arm32 under qemu.
# tests/run.sh starts this while build.sh still builds, with build.sh's pid in
# PLATFORMS_BUILD_PID: each platform's tests run as soon as their build is done (in a fixed order,
# the one in which the lanes usually finish them), so they take the place of a wait and the builds
# go on beside them. Without
# that variable the builds must be done already (build.sh, or tests/platforms/run.sh on its own).
# Needs root privileges (chroot into the sid root). Prints "ok"/"FAIL" per platform and
# "platform-tests: N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
results="$repo/tests/results/platforms-core"
rm -rf "$results"
mkdir -p "$results"
source "$repo/tests/tools/verdict.sh"
source "$repo/tests/platforms/common.sh" || {
    echo "platform-tests: 0 passed, 1 failed"
    exit 1
}

# core_tests PLATFORM TARGET RUNNER...: runs the core crate's test binaries built for TARGET
# (tests/platforms/build.sh) with RUNNER in the sid root, and counts their results.
# runtime_shutdown's test and the listening-sockets check read procfs and are Linux-only.
core_tests() {
    local platform=$1 target=$2 exe name p f status=0 count=0
    shift 2
    built "$platform-tests" || status=1
    local exes=()
    mapfile -t exes < <(sed -nE 's/.*"executable":"([^"]+\/deps\/[^"]+)".*/\1/p' "$build/$target-tests.json" | sort -u)
    ((${#exes[@]})) || status=1
    local total_passed=0 total_failed=0
    for exe in "${exes[@]}"; do
        name=$(basename "$exe")
        cp "$root$exe" "$results/$platform-$name"
        if [[ $platform == windows.x86_32 ]]; then
            # Wine 10's 32-bit dbghelp, which std's backtraces go through, faults on the DWARF 5
            # line tables of a binary that has them (a panic test's backtrace crashed the
            # process); the released DLL carries none either (tools/release.sh strips it).
            in_root i686-w64-mingw32-objcopy --strip-debug "$platform-$name" || status=1
        fi
        in_root "$@" "./$platform-$name" >"$results/$platform-${name%%-*}.log" 2>&1 || status=1
        read -r p f < <(sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' \
            "$results/$platform-${name%%-*}.log" | tail -n1)
        [[ -n ${p:-} ]] || { f=1; status=1; }
        total_passed=$((total_passed + ${p:-0}))
        total_failed=$((total_failed + ${f:-1}))
        count=$((count + 1))
        echo "  ${name%%-*}: ${p:-0} passed, ${f:-1} failed"
        grep -E "^test .*FAILED|panicked at" "$results/$platform-${name%%-*}.log" | head -n 4 | sed 's/^/    /'
    done
    echo "FIGURE core tests on $platform: $total_passed passed, $total_failed failed in $count binaries"
    return $status
}
# In the order the two lanes of build.sh usually finish their test builds.
core_tests windows.x86_64 x86_64-pc-windows-gnu wine64
verdict $? "the core crate's tests pass on Windows x86_64 (under Wine)"
core_tests linux.x86_32 i686-unknown-linux-gnu env
verdict $? "the core crate's tests pass on Linux x86_32 (natively)"
core_tests windows.x86_32 i686-pc-windows-gnu wine64
verdict $? "the core crate's tests pass on Windows x86_32 (under Wine)"
# qemu runs the binaries several times slower than a native build: the tests' limits on waits
# that include the peers' own work are stretched to match (tests/common/mod.rs, time_factor).
core_tests linux.arm32 armv7-unknown-linux-gnueabihf CORE_TEST_TIME_FACTOR=5 qemu-arm -L /usr/arm-linux-gnueabihf
verdict $? "the core crate's tests pass on Linux arm32 (under qemu)"

echo "platform-tests: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
