#!/usr/bin/env bash
# release.sh [--out DIR] [--platforms LIST] [--with DIR]: builds the addon for every platform this
# machine can build and writes DIR/webrtc_rs-<version>.zip (default DIR: dist/) in the Asset
# Library layout:
#
#   addons/webrtc_rs/webrtc_rs.gdextension   only the libraries the zip holds; the rest in comments
#   addons/webrtc_rs/lib/...                 stripped libraries
#   addons/webrtc_rs/{README.md,LICENSE,THIRD_PARTY.md,lobby_client.gd}
#
# and beside the zip, DIR/debug/<library>.debug: the debug information stripped off each library
# (each library names its file in a .gnu_debuglink section, so a debugger finds it there).
#
# LIST is comma-separated, default linux.x86_64,linux.arm64,windows.x86_64: Linux x86_64 with the
# host's own Rust toolchain, the others inside the Debian sid root (tools/cross-build.sh). --with
# adds libraries built elsewhere (the hosted workflow's macOS, Android, iOS and Windows arm64
# builds), named as in webrtc.gdextension. Prints the zip's path last.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

out="$repo/dist"
platforms="linux.x86_64,linux.arm64,windows.x86_64"
with=""
while (($#)); do
    case $1 in
    --out) out=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    --platforms) platforms=$2; shift 2 ;;
    --with) with=$(cd "$2" && pwd); shift 2 ;;
    *) echo "usage: release.sh [--out DIR] [--platforms LIST] [--with DIR]" >&2; exit 2 ;;
    esac
done
version=$(sed -nE 's/^version = "([^"]+)"/\1/p' Cargo.toml | head -n1)
log() { echo "release: $*" >&2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
addon="$stage/addons/webrtc_rs"
mkdir -p "$addon/lib" "$out/debug"

# package BUILT NAME OBJCOPY...: copies a built library into the addon as NAME, its debug
# information into debug/NAME.debug, and strips the packaged copy. OBJCOPY is the command that
# reads the library's format.
package() {
    local built=$1 name=$2
    shift 2
    cp "$built" "$addon/lib/$name"
    "$@" --only-keep-debug "$addon/lib/$name" "$out/debug/$name.debug"
    "$@" --strip-all --add-gnu-debuglink="$out/debug/$name.debug" "$addon/lib/$name"
    log "$name: $(stat -c %s "$addon/lib/$name") bytes stripped"
}

# in_root COMMAND FILE...: runs a cross binutils command of the sid root on host files, which
# it sees through a temporary copy inside the root.
in_root() {
    local tool=$1 root work
    shift
    root=$("$repo/tools/sid-root.sh")
    work=$(mktemp -d "$root/tmp/release.XXXXXX")
    local args=() arg
    for arg in "$@"; do
        case $arg in
        --add-gnu-debuglink=*)
            cp "${arg#*=}" "$work/"
            args+=("--add-gnu-debuglink=/tmp/${work##*/}/$(basename "${arg#*=}")")
            ;;
        /*)
            [[ -f $arg ]] && cp "$arg" "$work/"
            args+=("/tmp/${work##*/}/$(basename "$arg")")
            ;;
        *) args+=("$arg") ;;
        esac
    done
    chroot "$root" "$tool" "${args[@]}"
    # Results go back to the host paths they were named by.
    for arg in "$@"; do
        [[ $arg == /* ]] && cp "$work/$(basename "$arg")" "$arg"
    done
    rm -rf "$work"
}

IFS=, read -ra wanted <<<"$platforms"
for platform in "${wanted[@]}"; do
    start=$SECONDS
    case $platform in
    linux.x86_64)
        cargo build --release -p webrtc-godot >&2
        package target/release/libwebrtc_godot.so libwebrtc_godot.linux.x86_64.so objcopy
        ;;
    linux.arm64)
        tools/cross-build.sh aarch64-unknown-linux-gnu build --release -p webrtc-godot >&2
        package "$(tools/cross-build.sh --target-dir)/aarch64-unknown-linux-gnu/release/libwebrtc_godot.so" \
            libwebrtc_godot.linux.arm64.so in_root aarch64-linux-gnu-objcopy
        ;;
    windows.x86_64)
        tools/cross-build.sh x86_64-pc-windows-gnu build --release -p webrtc-godot >&2
        package "$(tools/cross-build.sh --target-dir)/x86_64-pc-windows-gnu/release/webrtc_godot.dll" \
            webrtc_godot.windows.x86_64.dll in_root x86_64-w64-mingw32-objcopy
        ;;
    *) echo "release.sh: this machine cannot build $platform (see .github/workflows/release.yml)" >&2; exit 2 ;;
    esac
    log "$platform built in $((SECONDS - start)) s"
done
if [[ -n $with ]]; then
    for lib in "$with"/*; do
        [[ -f $lib ]] && cp "$lib" "$addon/lib/" && log "added $(basename "$lib") from $with"
    done
fi

cp addons/webrtc_rs/README.md addons/webrtc_rs/lobby_client.gd LICENSE "$addon/"
tools/third-party.py >"$addon/THIRD_PARTY.md"
log "platforms in the manifest: $(tools/write-manifest.py webrtc.gdextension "$addon" | tr '\n' ' ')"

zip="$out/webrtc_rs-$version.zip"
rm -f "$zip"
(cd "$stage" && python3 -m zipfile -c "$zip" addons)
log "wrote $zip ($(stat -c %s "$zip") bytes)"
echo "$zip"
