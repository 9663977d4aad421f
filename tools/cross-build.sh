#!/usr/bin/env bash
# cross-build.sh TARGET CARGO-ARGS...: runs `cargo CARGO-ARGS --target TARGET` for another
# platform inside the Debian sid root (tools/sid-root.sh), whose Rust 1.97, cross compilers and
# linkers the host lacks.
#   cross-build.sh --target-dir TARGET   the build folder of TARGET, as seen from the host
#   cross-build.sh --packages TARGET...  the sid packages those targets need
#
# The repository is mounted at /src in the root and cargo's home (download cache and its lock)
# is shared with the host's, so nothing is fetched twice; build outputs stay in the root, under
# /var/cache/webrtc-cross, in folders of their own for each source tree (cargo tells what to
# rebuild by modification times, which are only meaningful within one tree). Targets share two
# build folders, so that build scripts and proc macros are compiled once per folder, and two
# builds can run at once (cargo locks a folder while it builds): one for Linux and x86_64 macOS,
# one for Windows, arm64 macOS and the checked-only targets (tests/platforms/build.sh runs one
# lane of builds on each, and shares the checks out between them).
#
# Targets, by how the standard library is had:
# - Linux arm64, x86_32 and arm32: Debian's multiarch libstd-rust-dev and cross gcc.
# - Windows x86_64 and x86_32: Debian ships no Windows standard library, so cargo builds it from
#   rust-src (-Z build-std, allowed on a stable compiler through RUSTC_BOOTSTRAP), and the C
#   runtime and libgcc are linked in statically (+crt-static): the DLL needs only Windows' own
#   DLLs. Each function gets its own section (rustc leaves that off for windows-gnu) and lld
#   links (tools/lld-linker.sh), so what nothing calls is dropped: 9.5 MB stripped, where GNU ld
#   made 20 MB, and thin LTO 11 MB for ten minutes more of linking.
# - macOS x86_64 and arm64: build-std, clang and ld64.lld (tools/lld-linker.sh) against a minimal
#   SDK made by tools/macos-sdk.py (Apple's SDK cannot be had here).
# - Android, iOS and Windows arm64: `cargo check` only (build-std, no linker), so a cfg error
#   on those platforms fails here; their libraries are linked by .github/workflows/release.yml.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache="${WEBRTC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/godot-webrtc-rs}"
target_dir=/var/cache/webrtc-cross/$(printf '%s' "$repo" | md5sum | cut -c1-12)
sdk=/opt/macos-sdk
# The zig release whose copies of Apple's libSystem stub and C headers make the macOS SDK.
zig_wheel=ziglang==0.17.1

# packages TARGET: the sid packages a target's build needs.
packages() {
    local common=(rustc cargo rust-src ca-certificates libjemalloc2)
    case $1 in
    aarch64-unknown-linux-gnu) echo "${common[*]} gcc-aarch64-linux-gnu libc6-dev-arm64-cross libstd-rust-dev:arm64" ;;
    i686-unknown-linux-gnu) echo "${common[*]} gcc-i686-linux-gnu libc6-dev-i386-cross libstd-rust-dev:i386" ;;
    armv7-unknown-linux-gnueabihf) echo "${common[*]} gcc-arm-linux-gnueabihf libc6-dev-armhf-cross libstd-rust-dev:armhf" ;;
    x86_64-pc-windows-gnu) echo "${common[*]} gcc-mingw-w64-x86-64-posix clang lld" ;;
    i686-pc-windows-gnu) echo "${common[*]} gcc-mingw-w64-i686-posix clang lld" ;;
    *-apple-* | *-linux-android | *-windows-msvc) echo "${common[*]} clang lld llvm" ;;
    *) return 1 ;;
    esac
}

# folder TARGET: the build folder TARGET's builds use, inside the root. A check, whose outputs
# nothing reads afterwards, may run in either: CROSS_BUILD_FOLDER (linux or other) names it.
folder() {
    [[ -z ${CROSS_BUILD_FOLDER:-} ]] || { echo "$target_dir/$CROSS_BUILD_FOLDER"; return; }
    case $1 in
    *-linux-gnu | *-linux-gnueabihf | x86_64-apple-darwin) echo "$target_dir/linux" ;;
    *) echo "$target_dir/other" ;;
    esac
}

case ${1:-} in
--target-dir)
    echo "$("$repo/tools/sid-root.sh")$(folder "${2:?usage: cross-build.sh --target-dir TARGET}")"
    exit 0
    ;;
--packages)
    shift
    for target in "$@"; do
        packages "$target" || { echo "cross-build.sh: unknown target $target" >&2; exit 2; }
    done | tr ' ' '\n' | sort -u
    exit 0
    ;;
esac
target=${1:?usage: cross-build.sh TARGET CARGO-ARGS...}
shift
needed=$(packages "$target") || { echo "cross-build.sh: unknown target $target" >&2; exit 2; }
# shellcheck disable=SC2086
root=$("$repo/tools/sid-root.sh" $needed)

# Debian's rustc allocates with glibc's malloc, where rustup's brings jemalloc: Debian's jemalloc,
# preloaded into cargo and everything it starts, takes a third off the compiler's peak memory
# and a few percent off a build's CPU time (tests/bench/results/PROFILES.md, "Build time").
# No incremental caches: these builds are not edit-compile loops, and the caches take disk.
# RUSTC_BOOTSTRAP is set for every target, not only for those that need it (build-std): build
# scripts of proc-macro crates (proc-macro2's) rebuild when it changes, and those host builds
# are shared by the targets of a folder, so a macOS build would rebuild the Linux ones after it.
env=(CARGO_TERM_COLOR=never CARGO_TARGET_DIR="$(folder "$target")" CARGO_INCREMENTAL=0
    RUSTC_BOOTSTRAP=1 LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
    CARGO_HTTP_CAINFO=/etc/ssl/certs/host-ca.crt SSL_CERT_FILE=/etc/ssl/certs/host-ca.crt)
triple=$(tr 'a-z-' 'A-Z_' <<<"$target")
build_std=()
apple_sdk() {
    if [[ ! -f $root$sdk/SDKSettings.json ]]; then
        local downloads="$cache/downloads"
        mkdir -p "$downloads"
        python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
            --platform manylinux_2_12_x86_64 -d "$downloads" "$zig_wheel" >&2
        python3 "$repo/tools/macos-sdk.py" "$downloads/ziglang-${zig_wheel#*==}-"*.whl "$root$sdk" >&2
    fi
    env+=(SDKROOT="$sdk" "CC_${target//-/_}=clang" "CARGO_TARGET_${triple}_LINKER=/src/tools/lld-linker.sh"
        LLD_TARGET="${target%%-*}-apple-macos")
}
case $target in
*-linux-gnu | *-linux-gnueabihf)
    gcc=${target/unknown-/}
    gcc=${gcc/armv7/arm}
    env+=("CARGO_TARGET_${triple}_LINKER=$gcc-gcc" "CC_${target//-/_}=$gcc-gcc")
    ;;
*-pc-windows-gnu)
    mingw=${target%%-*}-w64-mingw32
    env+=("CARGO_TARGET_${triple}_LINKER=/src/tools/lld-linker.sh" LLD_TARGET="$mingw" "CC_${target//-/_}=$mingw-gcc-posix"
        "CARGO_TARGET_${triple}_RUSTFLAGS=-C target-feature=+crt-static -Z function-sections=yes")
    build_std=(-Z "build-std=std,panic_abort,test")
    if [[ $target == i686-* ]]; then
        # x86_32 Windows unwinds with DWARF tables (.eh_frame), which rustc brackets with its
        # startup objects rsbegin.o (registers the tables with libgcc's unwinder from its start)
        # and rsend.o (a zero word that ends them), looked for in the compiler's library folder
        # for the target. A rustup sysroot ships them; build-std does not make them, so they are
        # compiled there from rust-src's rtstartup, once.
        # lld 21.1.8: GNU ld lays sections out in command-line order, so
        # rsend's zero word ends up last; lld places every archive member (std and every other
        # crate) after the command line's objects, so the unwinder stopped at rsend's word
        # before reaching them, and every panic aborted. rsend's section is renamed
        # `.eh_frame$~`: lld sorts the `$` sections of a name after the plain ones, by suffix,
        # so it comes last. Drop when rustc or lld order it themselves.
        lib=/usr/lib/rustlib/$target/lib
        prelude="mkdir -p $lib && for o in rsbegin rsend; do [ -f $lib/\$o.o ] || rustc --target $target"
        prelude+=" --emit=obj -C panic=abort -C opt-level=3 -o $lib/\$o.o"
        prelude+=" /usr/lib/rustlib/src/rust/library/rtstartup/\$o.rs || exit 1; done"
        prelude+=" && { $mingw-objdump -h $lib/rsend.o | grep -qF '.eh_frame\$~'"
        prelude+=" || $mingw-objcopy --rename-section '.eh_frame=.eh_frame\$~' $lib/rsend.o; }"
    fi
    ;;
*-apple-darwin)
    [[ $target == x86_64-* ]] && env+=(MACOSX_DEPLOYMENT_TARGET=10.13) || env+=(MACOSX_DEPLOYMENT_TARGET=11.0)
    apple_sdk
    build_std=(-Z "build-std=std,panic_abort")
    ;;
*-apple-ios*)
    env+=(IPHONEOS_DEPLOYMENT_TARGET=12.0)
    apple_sdk
    build_std=(-Z "build-std=std,panic_abort")
    ;;
*-linux-android | *-windows-msvc)
    # No NDK or Windows SDK here: ring's C code, which a check still compiles, is built by clang
    # without a C library's headers (ring's own switch for cross builds) instead of with this
    # machine's glibc ones.
    cflags="-ffreestanding -nostdlibinc -DRING_CORE_NOSTDLIBINC"
    env+=("CC_${target//-/_}=clang")
    if [[ $target == *-msvc ]]; then
        # In MSVC mode ring reaches for <stdlib.h>'s byte swaps unless the compiler says it is
        # GNU-like, and archives with lib.exe's stand-in.
        cflags+=" -fgnuc-version=4.2.1"
        env+=("AR_${target//-/_}=llvm-lib")
    fi
    env+=("CFLAGS_${target//-/_}=$cflags")
    build_std=(-Z "build-std=std,panic_abort")
    ;;
esac

home="${CARGO_HOME:-$HOME/.cargo}"
mkdir -p "$home/registry" "$root$(folder "$target")"
# The host's cargo home is mounted at /root/.cargo, and CARGO_HOME names it: the root inherits the
# host's environment, and a CARGO_HOME set there would have cargo fill a second registry inside.
in_root() {
    "$repo/tools/in-root.sh" --bind "$repo:/src" --bind "$home:/root/.cargo" --cd /src \
        CARGO_HOME=/root/.cargo "${env[@]}" "$@"
}
# A target's prelude (a shell command) runs first, in the same environment.
[[ -z ${prelude:-} ]] || in_root sh -c "$prelude"
in_root cargo "$@" --target "$target" "${build_std[@]}"
