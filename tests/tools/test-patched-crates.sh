#!/usr/bin/env bash
# The patched webrtc-rs crates' own test suites, each built as upstream builds it (its own
# Cargo.lock) but against the other patched copies. Prints cargo's "test result:" lines; exits
# non-zero when anything failed.
#   test-patched-crates.sh                      checks that the committed copies are pristine +
#                                               the patch series (third_party/webrtc-rs/series.sh
#                                               check), then runs all five suites
#   test-patched-crates.sh --root DIR CRATE...  the suites of CRATE... in DIR, a tree laid out as
#                                               third_party/webrtc-rs (series.sh each uses it)
#
# The suites open sockets on the host's interfaces and some look up public STUN servers, so they
# build here (which may download crates) and run inside a private network namespace made by
# tests/hosts/host.sh as a machine with a LAN card, a multicast route for the mDNS tests and no
# route anywhere else. Skipped, with
# the reason: webrtc's test_stun_gathering_with_google_stun (needs stun.l.google.com on the
# internet) and test_play_from_disk_streaming (needs media files from upstream's examples,
# which the copy leaves out). webrtc's test_ice_restart_does_not_leak_sockets runs on its own
# after the rest (see `alone` below).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
patched="$repo/third_party/webrtc-rs"
# In dependency order: each crate is built against the patched copies of the ones before it.
order=(quinn-udp rtc-sctp rtc-ice rtc webrtc)
status=0
if [[ ${1:-} == --root ]]; then
    patched=$2
    shift 2
    wanted=("$@")
else
    wanted=("${order[@]}")
    "$patched/series.sh" check || status=1
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}/third_party"
# Without debug info (a few GB less), in one build folder for the five crates: each reuses the
# dependencies the ones before it built, where versions and features agree, and the next run
# rebuilds only what changed.
export CARGO_PROFILE_DEV_DEBUG=false

# The suites run in a copy of the crates, for cargo rewrites a crate's Cargo.lock when the
# crates before it are patched in. A new time on any file of quinn-udp's package reruns its
# build script, which names no files to watch, and so recompiles quinn-udp, webrtc and the
# plugin's crates in every later build of the addon, on the host and for each platform.
# `cp -a` keeps the files' times, so the copy's own builds stay fresh as well.
if [[ $patched == "$repo/third_party/webrtc-rs" ]]; then
    copy="$CARGO_TARGET_DIR-src"
    rm -rf "$copy"
    mkdir -p "$copy"
    for crate in "${wanted[@]}"; do
        cp -a "$patched/$crate" "$copy/" || exit 1
    done
    patched=$copy
fi

declare -A skips=(
    [webrtc]="--skip test_stun_gathering_with_google_stun --skip test_play_from_disk_streaming"
)
# Tests that must run alone, as "test-file:test-name": skipped in their crate's suite, then run
# on their own after it.
# webrtc-rs 0.21.1: test_ice_restart_does_not_leak_sockets counts the whole process's open file
# descriptors between ICE restarts, while cargo runs the five other tests of its file on threads
# beside it, each opening and closing sockets. On 2026-12-07, after passing in every earlier run of
# the test command, it failed so ("restart 1 leaked descriptors: 26 open after the first rebind,
# 28 now"): another test's sockets were open at the second count and not at the first.
declare -A alone=(
    [webrtc]="ice_restart_rebinds_sockets:test_ice_restart_does_not_leak_sockets"
)
patches=()
for crate in "${order[@]}"; do
    if [[ " ${wanted[*]} " == *" $crate "* ]]; then
        echo "== $crate $(sed -nE 's/^version = "([^"]+)"$/\1/p' "$patched/$crate/Cargo.toml" | head -n1) (patched): its own tests"
        cd "$patched/$crate" || exit 1
        if cargo test --no-run "${patches[@]}" >"$CARGO_TARGET_DIR.$crate.build.log" 2>&1; then
            alone_skips=()
            for test in ${alone[$crate]:-}; do
                alone_skips+=(--skip "${test#*:}")
            done
            # shellcheck disable=SC2086
            unshare --net --mount --propagation private "$repo/tests/hosts/host.sh" lan-mcast \
                cargo test --offline --no-fail-fast "${patches[@]}" -- ${skips[$crate]:-} \
                "${alone_skips[@]}" 2>&1 || status=1
            for test in ${alone[$crate]:-}; do
                unshare --net --mount --propagation private "$repo/tests/hosts/host.sh" lan-mcast \
                    cargo test --offline "${patches[@]}" --test "${test%%:*}" -- --exact "${test#*:}" 2>&1 ||
                    status=1
            done
        else
            tail -n 30 "$CARGO_TARGET_DIR.$crate.build.log"
            echo "FAIL $crate: its tests do not build"
            status=1
        fi
    fi
    patches+=(--config "patch.crates-io.$crate.path=\"$patched/$crate\"")
done
exit "$status"
