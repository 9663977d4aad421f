#!/usr/bin/env bash
# cross-build.sh TARGET CARGO-ARGS...: runs `cargo CARGO-ARGS --target TARGET` for another
# platform inside the Debian sid root (tools/sid-root.sh), whose Rust 1.97 and cross compilers
# the host lacks. TARGET is x86_64-pc-windows-gnu or aarch64-unknown-linux-gnu.
#
# The repository is mounted at /src in the root and cargo's download cache is shared with the
# host's, so nothing is fetched twice; build outputs stay in the root, under
# /var/cache/webrtc-cross (printed by `cross-build.sh --target-dir` as seen from the host).
#
# Windows: Debian ships no prebuilt Windows standard library, so cargo builds it from rust-src
# (-Z build-std, allowed on a stable compiler through RUSTC_BOOTSTRAP), and the C runtime and
# libgcc are linked in statically (+crt-static): the DLL then needs only Windows' own DLLs.
# Thin LTO: PE linking drops little unused code, so the stripped DLL is 20 MB without it and
# about 11 MB with it (the ELF builds are 9-11 MB without).
# Linux arm64: Debian's multiarch libstd-rust-dev:arm64 and gcc-aarch64-linux-gnu.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
packages=(rustc cargo rust-src ca-certificates gcc-mingw-w64-x86-64-posix gcc-aarch64-linux-gnu
    libc6-dev-arm64-cross libstd-rust-dev:arm64)
root=$("$repo/tools/sid-root.sh" "${packages[@]}")
target_dir=/var/cache/webrtc-cross

if [[ ${1:-} == --target-dir ]]; then
    echo "$root$target_dir"
    exit 0
fi
target=${1:?usage: cross-build.sh TARGET CARGO-ARGS...}
shift

# No incremental caches: these builds are not edit-compile loops, and the caches take disk.
env=(HOME=/root PATH=/usr/bin:/bin CARGO_TERM_COLOR=never CARGO_TARGET_DIR="$target_dir" CARGO_INCREMENTAL=0
    CARGO_HTTP_CAINFO=/etc/ssl/certs/host-ca.crt SSL_CERT_FILE=/etc/ssl/certs/host-ca.crt)
extra=()
case $target in
x86_64-pc-windows-gnu)
    env+=(RUSTC_BOOTSTRAP=1
        CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc-posix
        CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc-posix
        "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS=-C target-feature=+crt-static"
        CARGO_PROFILE_RELEASE_LTO=thin)
    extra=(-Z build-std=std,panic_abort,test)
    ;;
aarch64-unknown-linux-gnu)
    env+=(CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
        CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc)
    ;;
*)
    echo "cross-build.sh: unknown target $target" >&2
    exit 2
    ;;
esac

registry="${CARGO_HOME:-$HOME/.cargo}/registry"
mkdir -p "$registry" "$root/src" "$root/root/.cargo/registry" "$root$target_dir"
# A private mount namespace: the binds vanish with the build, even if it is killed.
exec unshare --mount --propagation private bash -c '
    set -e
    root=$1 repo=$2 registry=$3
    shift 3
    mount --bind "$repo" "$root/src"
    mount --bind "$registry" "$root/root/.cargo/registry"
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
    exec chroot "$root" /usr/bin/env -C /src "$@"
' cross-build "$root" "$repo" "$registry" env "${env[@]}" cargo "$@" --target "$target" "${extra[@]}"
