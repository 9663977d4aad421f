#!/usr/bin/env bash
# Builds what tests/platforms/run.sh and core-tests.sh check, into
# tests/results/platforms-build/: the release zip of tools/release.sh (every platform this
# machine builds), the core crate's test binaries for the platforms whose tests run here (Windows
# x86_64 and x86_32 under Wine, Linux x86_32 natively, Linux arm32 under qemu), and `cargo check`
# for the platforms only the hosted workflow links (Android, iOS, Windows arm64).
#
# The cross builds take most of the test command's CPU time, so tests/run.sh starts this first,
# in the background at low priority, and the suites that mostly wait on the network run
# meanwhile. Two lanes run at once, each a sequence of cargo builds in its own build folder
# (tools/cross-build.sh assigns each target one; cargo locks a folder while it builds), so both
# cores stay busy while one build waits on a long crate. A target's tests build right after its
# library, with the same release settings, so they share every dependency.
#
# Writes one "NAME STATUS WALL_SECONDS CPU_SECONDS" line per step to status.txt, then "done".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out="$repo/tests/results/platforms-build"
rm -rf "$out"
mkdir -p "$out"

source "$repo/tests/tools/times.sh"
# step NAME COMMAND...: runs COMMAND with its output in NAME.log and records its status and its
# wall and CPU time (its own and its children's, from the subshell's `times`).
step() {
    local name=$1 start=$SECONDS status cpu
    shift
    (
        "$@" >"$out/$name.log" 2>&1
        status=$?
        times >"$out/$name.times"
        exit $status
    )
    status=$?
    cpu=$(times_seconds "$out/$name.times")
    echo "$name $status $((SECONDS - start)) $cpu" >>"$out/status.txt"
    return $status
}
cross() { "$repo/tools/cross-build.sh" "$@"; }
# library TARGET: the addon's release library for TARGET.
library() { cross "$1" build --release -p webrtc-godot; }
# tests TARGET: the core crate's test binaries for TARGET, listed in TARGET-tests.json.
tests() {
    cross "$1" test --release --no-run -p webrtc-godot-core --message-format=json >"$out/$1-tests.json"
}
# checks FOLDER: `cargo check` for the targets only the hosted workflow links, in the build
# folder FOLDER (tools/cross-build.sh's CROSS_BUILD_FOLDER). The whole addon for Android arm64
# and iOS; for Android x86_64, the iOS simulator and Windows arm64, whose operating systems those
# checks and the Windows builds already cover, the core crate, which holds all of the plugin's
# platform-specific code (the gdext crate has none), so godot's large crates are not checked
# three times more. In the release profile: the build scripts and proc macros a check compiles
# for this machine are then the ones the release builds of the same build folder made already
# (a debug check compiled its own: 39 crates, two dozen build scripts).
# Both lanes end with this step, and each check goes to the first lane free for it (making its
# directory claims it): which lane ends first differs from one machine to another, and a lane
# left to run alone leaves a core idle while its build waits on one large crate. Longest first,
# so that what is shared out last is short. A lane first claims, all at once, the targets its
# folder has checked before: a warm run then finds each check fresh where it was made, instead of
# checking it again in the other folder (4–8 CPU-minutes) and keeping a second copy (1.8 GB).
check_targets=(aarch64-linux-android:webrtc-godot aarch64-apple-ios:webrtc-godot
    aarch64-apple-ios-sim:webrtc-godot-core x86_64-linux-android:webrtc-godot-core
    aarch64-pc-windows-msvc:webrtc-godot-core)
claim() { mkdir "$out/check.${1%%:*}" 2>/dev/null; }
# check FOLDER TARGET:PACKAGE
check() {
    local target=${2%%:*} package=${2#*:}
    echo "== $target ($package)"
    CROSS_BUILD_FOLDER=$1 cross "$target" check --release -p "$package"
}
checks() {
    local folder=$1 entry target ours=() status=0
    for entry in "${check_targets[@]}"; do
        target=${entry%%:*}
        [[ -d $(CROSS_BUILD_FOLDER=$folder cross --target-dir "$target")/$target ]] || continue
        claim "$entry" && ours+=("$entry")
    done
    for entry in "${ours[@]}"; do
        check "$folder" "$entry" || status=1
    done
    for entry in "${check_targets[@]}"; do
        claim "$entry" || continue
        check "$folder" "$entry" || status=1
    done
    return $status
}

# Every package the cross builds and run.sh need, in one apt run: the lanes then find them.
step provision "$repo/tools/sid-root.sh" $("$repo/tools/cross-build.sh" --packages \
    aarch64-unknown-linux-gnu i686-unknown-linux-gnu armv7-unknown-linux-gnueabihf \
    x86_64-pc-windows-gnu i686-pc-windows-gnu aarch64-apple-darwin) \
    godot godot-template-release wine64 qemu-user libc6:i386 libgcc-s1:i386

lane_windows_apple() {
    step windows.x86_64 library x86_64-pc-windows-gnu
    step windows.x86_64-tests tests x86_64-pc-windows-gnu
    step windows.x86_32 library i686-pc-windows-gnu
    step windows.x86_32-tests tests i686-pc-windows-gnu
    step macos.arm64 library aarch64-apple-darwin
    step checks.other checks other
}
lane_linux_apple() {
    step linux.arm64 library aarch64-unknown-linux-gnu
    step linux.x86_32 library i686-unknown-linux-gnu
    step linux.x86_32-tests tests i686-unknown-linux-gnu
    step linux.arm32 library armv7-unknown-linux-gnueabihf
    step linux.arm32-tests tests armv7-unknown-linux-gnueabihf
    step macos.x86_64 library x86_64-apple-darwin
    step checks.linux checks linux
}
lane_windows_apple &
lane_linux_apple &
wait
# Every library is built by now: this packages them (and builds Linux x86_64 on the host).
step release "$repo/tools/release.sh" --out "$out/dist"
echo "done" >>"$out/status.txt"
