# Shell helpers (sourced) for the two suites that check what tests/platforms/build.sh built:
# run.sh (the release zip and what runs from it) and core-tests.sh (the core crate's tests).
# Expects `repo` and `results` (the suite's own folder of results) to be set. Sets `root`, the sid
# root with Wine, qemu and the cross toolchains, and `build`, build.sh's folder.
root=$("$repo/tools/sid-root.sh" wine64 qemu-user godot-template-release gcc-mingw-w64-x86-64-posix \
    gcc-mingw-w64-i686-posix libc6:i386 libgcc-s1:i386) || return 1
build="$repo/tests/results/platforms-build"

# in_root COMMAND...: runs COMMAND in the sid root with the results folder (as /results, the
# working directory) and the repository (as /src, where the cross-compiled test binaries look
# for their test data) mounted. Debian's wine64 runs 32-bit Windows programs as well (Wine's own
# WoW64), without wine32.
in_root() {
    "$repo/tools/in-root.sh" --bind "$results:/results" --bind "$repo:/src" --cd /results \
        WINEPREFIX=/root/.wine-webrtc WINEDEBUG=-all XDG_RUNTIME_DIR=/tmp "$@"
}

# built NAME: whether that build step succeeded; prints its times as a figure. While build.sh
# still runs (its pid in PLATFORMS_BUILD_PID), waits for the step's line first: `tail --follow`
# wakes on each line build.sh appends and gives up when build.sh exits.
built() {
    local status wall cpu lines follower
    if [[ -n ${PLATFORMS_BUILD_PID:-} ]]; then
        exec {lines}< <(exec tail -n +1 --follow=name --retry --pid="$PLATFORMS_BUILD_PID" \
            "$build/status.txt" 2>/dev/null)
        follower=$!
        grep -qm1 -E "^($1 |done\$)" <&"$lines"
        kill "$follower" 2>/dev/null
        exec {lines}<&-
    fi
    read -r status wall cpu < <(sed -nE "s/^$1 ([0-9]+) ([0-9]+) ([0-9]+)\$/\1 \2 \3/p" "$build/status.txt")
    echo "FIGURE build $1: ${wall:-?} s (${cpu:-?} s of CPU)"
    [[ ${status:-1} -eq 0 ]]
}
