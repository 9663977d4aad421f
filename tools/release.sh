#!/usr/bin/env bash
# release.sh [--out DIR] [--platforms LIST] [--with DIR] [--libraries-only]: builds the addon for
# the platforms in LIST and writes DIR/webrtc_rs-<version>.zip (default DIR: dist/) in the Asset
# Library layout:
#
#   addons/webrtc_rs/webrtc_rs.gdextension   only the libraries the zip holds; the rest in comments
#   addons/webrtc_rs/lib/...                 stripped libraries (macOS: a .framework)
#   addons/webrtc_rs/{README.md,LICENSE,THIRD_PARTY.md,lobby_client.gd}
#
# and beside the zip, DIR/debug/: the debug information stripped off each library (ELF and PE
# libraries name their file in a .gnu_debuglink section; macOS has a .dSYM bundle).
#
# LIST is comma-separated. The default is every platform this kind of machine builds:
# linux.x86_64 (the host's own Rust toolchain), linux.x86_32, linux.arm64, linux.arm32,
# windows.x86_64, windows.x86_32 and macos (universal), all but the first in the Debian sid root
# (tools/cross-build.sh). Three more need a machine of their own and are built by
# .github/workflows/release.yml with this same script and the host's toolchain:
# android.arm64 and android.x86_64 (with $ANDROID_NDK_HOME), ios.arm64 (on macOS with Xcode),
# windows.arm64 (on Windows on Arm).
# --libraries-only writes DIR/lib and DIR/debug without the zip; --with DIR adds the libraries
# (and debug files) such a run wrote. Prints the zip's path last.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/tools/host-target.sh"
cd "$repo"

out="$repo/dist"
platforms="linux.x86_64,linux.x86_32,linux.arm64,linux.arm32,windows.x86_64,windows.x86_32,macos"
with=""
libraries_only=0
while (($#)); do
    case $1 in
    --out) out=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    --platforms) platforms=$2; shift 2 ;;
    --with) with=$(cd "$2" && pwd); shift 2 ;;
    --libraries-only) libraries_only=1; shift ;;
    *) echo "usage: release.sh [--out DIR] [--platforms LIST] [--with DIR] [--libraries-only]" >&2; exit 2 ;;
    esac
done
version=$(sed -nE 's/^version = "([^"]+)"/\1/p' Cargo.toml | head -n1)
log() { echo "release: $*" >&2; }

# Staged inside the output folder, which the sid root's tools see too (in_root).
mkdir -p "$out"
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
addon="$stage/addons/webrtc_rs"
mkdir -p "$addon/lib" "$out/debug"

# in_root COMMAND ARG...: runs a tool of the sid root (cross binutils, llvm) on files in the
# output folder, which it sees at its host path.
in_root() { "$repo/tools/in-root.sh" --bind "$out" "$@"; }

# package BUILT NAME OBJCOPY...: copies a built ELF or PE library into the addon as NAME, its
# debug information into debug/NAME.debug, and strips the packaged copy. OBJCOPY is the command
# that reads the library's format.
package() {
    local built=$1 name=$2
    shift 2
    cp "$built" "$addon/lib/$name"
    "$@" --only-keep-debug "$addon/lib/$name" "$out/debug/$name.debug"
    "$@" --strip-all --add-gnu-debuglink="$out/debug/$name.debug" "$addon/lib/$name"
    log "$name: $(stat -c %s "$addon/lib/$name") bytes stripped"
}

# cross TARGET LIBRARY: builds the library for TARGET in the sid root; prints where it is.
cross() {
    tools/cross-build.sh "$1" build --release -p webrtc-godot >&2
    echo "$(tools/cross-build.sh --target-dir "$1")/$1/release/$2"
}

# package_macos: both slices in one file, inside a framework Godot's macOS export copies and
# signs as it is. The install name names the framework's binary; dsymutil gathers the debug
# information from the build's objects before strip removes the debug map; llvm-strip keeps
# the linker's ad-hoc signature of the arm64 slice valid.
package_macos() {
    local name=libwebrtc_godot.macos arch target dwarf=() framework
    framework="$addon/lib/$name.framework"
    for arch in x86_64 arm64; do
        target=${arch/arm64/aarch64}-apple-darwin
        mkdir -p "$stage/$arch"
        cp "$(cross "$target" libwebrtc_godot.dylib)" "$stage/$arch/$name"
        in_root llvm-install-name-tool -id "@rpath/$name.framework/$name" "$stage/$arch/$name"
        in_root dsymutil "$stage/$arch/$name" -o "$stage/$arch/$name.dSYM"
        dwarf+=("$stage/$arch/$name.dSYM/Contents/Resources/DWARF/$name")
    done
    # One dSYM for both slices, as dsymutil makes of a universal file (with a lipo it lacks here).
    rm -rf "$out/debug/$name.framework.dSYM"
    cp -r "$stage/x86_64/$name.dSYM" "$out/debug/$name.framework.dSYM"
    in_root llvm-lipo -create "${dwarf[@]}" -output "$out/debug/$name.framework.dSYM/Contents/Resources/DWARF/$name"
    mkdir -p "$framework/Resources"
    in_root llvm-lipo -create "$stage/x86_64/$name" "$stage/arm64/$name" -output "$stage/$name"
    in_root llvm-strip -S -x "$stage/$name"
    mv "$stage/$name" "$framework/$name"
    sed -e "s/@NAME@/$name/g" -e "s/@VERSION@/$version/g" tools/macos-Info.plist >"$framework/Resources/Info.plist"
    log "$name.framework: $(stat -c %s "$framework/$name") bytes stripped (two slices)"
}

# native TARGET LIBRARY: builds the library with this machine's own toolchain (the hosted
# workflow's Android, iOS and Windows arm64 jobs); prints where it is.
native() {
    cargo build --release -p webrtc-godot --target "$1" >&2
    echo "$host_target/$1/release/$2"
}

IFS=, read -ra wanted <<<"$platforms"
for platform in "${wanted[@]}"; do
    start=$SECONDS
    case $platform in
    linux.x86_64)
        cargo build --release -p webrtc-godot >&2
        package "$host_target/release/libwebrtc_godot.so" libwebrtc_godot.linux.x86_64.so objcopy
        ;;
    linux.x86_32)
        package "$(cross i686-unknown-linux-gnu libwebrtc_godot.so)" libwebrtc_godot.linux.x86_32.so \
            in_root i686-linux-gnu-objcopy
        ;;
    linux.arm64)
        package "$(cross aarch64-unknown-linux-gnu libwebrtc_godot.so)" libwebrtc_godot.linux.arm64.so \
            in_root aarch64-linux-gnu-objcopy
        ;;
    linux.arm32)
        package "$(cross armv7-unknown-linux-gnueabihf libwebrtc_godot.so)" libwebrtc_godot.linux.arm32.so \
            in_root arm-linux-gnueabihf-objcopy
        ;;
    windows.x86_64)
        package "$(cross x86_64-pc-windows-gnu webrtc_godot.dll)" webrtc_godot.windows.x86_64.dll \
            in_root x86_64-w64-mingw32-objcopy
        ;;
    windows.x86_32)
        package "$(cross i686-pc-windows-gnu webrtc_godot.dll)" webrtc_godot.windows.x86_32.dll \
            in_root i686-w64-mingw32-objcopy
        ;;
    macos) package_macos ;;
    android.arm64 | android.x86_64)
        arch=${platform#android.}
        target=${arch/arm64/aarch64}-linux-android
        ndk_bin="${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to an Android NDK}/toolchains/llvm/prebuilt/linux-x86_64/bin"
        # API level 24 (Android 7), Godot 4's own minimum.
        export "CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$target")_LINKER=$ndk_bin/${target}24-clang"
        export "CC_${target//-/_}=$ndk_bin/${target}24-clang" "AR_${target//-/_}=$ndk_bin/llvm-ar"
        package "$(native "$target" libwebrtc_godot.so)" "libwebrtc_godot.android.$arch.so" "$ndk_bin/llvm-objcopy"
        ;;
    ios.arm64)
        # iOS takes a library only inside a framework, like macOS; unsigned (the app's export signs).
        IPHONEOS_DEPLOYMENT_TARGET=12.0 native aarch64-apple-ios libwebrtc_godot.dylib >/dev/null
        name=libwebrtc_godot.ios
        mkdir -p "$addon/lib/$name.framework"
        cp "$host_target/aarch64-apple-ios/release/libwebrtc_godot.dylib" "$addon/lib/$name.framework/$name"
        install_name_tool -id "@rpath/$name.framework/$name" "$addon/lib/$name.framework/$name"
        dsymutil "$addon/lib/$name.framework/$name" -o "$out/debug/$name.framework.dSYM"
        strip -S -x "$addon/lib/$name.framework/$name"
        sed -e "s/@NAME@/$name/g" -e "s/@VERSION@/$version/g" -e "s/MacOSX/iPhoneOS/; s/LSMinimumSystemVersion/MinimumOSVersion/; s/10\.13/12.0/" \
            tools/macos-Info.plist >"$addon/lib/$name.framework/Info.plist"
        ;;
    windows.arm64)
        # MSVC keeps the debug information in a .pdb beside the DLL: the DLL is already stripped.
        cp "$(native aarch64-pc-windows-msvc webrtc_godot.dll)" "$addon/lib/webrtc_godot.windows.arm64.dll"
        cp "$host_target/aarch64-pc-windows-msvc/release/webrtc_godot.pdb" "$out/debug/webrtc_godot.windows.arm64.pdb"
        ;;
    *) echo "release.sh: unknown platform $platform" >&2; exit 2 ;;
    esac
    log "$platform built in $((SECONDS - start)) s"
done
if [[ -n $with ]]; then
    for entry in "$with"/lib/*; do
        [[ -e $entry ]] && cp -r "$entry" "$addon/lib/" && log "added $(basename "$entry") from $with"
    done
    [[ -d $with/debug ]] && cp -r "$with"/debug/. "$out/debug/"
fi

if ((libraries_only)); then
    rm -rf "$out/lib"
    cp -r "$addon/lib" "$out/lib"
    log "wrote $out/lib and $out/debug"
    exit 0
fi
cp addons/webrtc_rs/README.md addons/webrtc_rs/lobby_client.gd LICENSE "$addon/"
tools/third-party.py >"$addon/THIRD_PARTY.md"
log "platforms in the manifest: $(tools/write-manifest.py webrtc.gdextension "$addon" | tr '\n' ' ')"

zip="$out/webrtc_rs-$version.zip"
rm -f "$zip"
(cd "$stage" && python3 -m zipfile -c "$zip" addons)
log "wrote $zip ($(stat -c %s "$zip") bytes)"
echo "$zip"
