#!/usr/bin/env bash
# Prints the path of a launcher that runs Debian's arm64 `godot` (4.6.3, sid) on this x86_64
# machine under qemu's user-mode emulator, installing both first if needed.
#
# The arm64 godot package and every arm64 library it needs are downloaded with the sid root's
# apt (tools/sid-root.sh) and unpacked into a folder of their own, as an arm64 system's /usr
# would hold them; qemu-aarch64 comes from the amd64 qemu-user package. No binfmt_misc, no
# chroot: the launcher names the emulator, the arm64 dynamic loader and library path itself.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache="${WEBRTC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/godot-webrtc-rs}"
arm="$cache/arm64-godot"
launcher="$cache/godot-arm64"

if [[ -x "$launcher" ]] && "$launcher" --headless --version >/dev/null 2>&1; then
    echo "$launcher"
    exit 0
fi
log() { echo "provision-arm64-godot: $*" >&2; }

root=$("$repo/tools/sid-root.sh")
debs=/var/cache/arm64-debs
if ! chroot "$root" dpkg --print-foreign-architectures | grep -qx arm64; then
    chroot "$root" dpkg --add-architecture arm64
fi
log "downloading godot:arm64, its arm64 libraries and qemu-user"
chroot "$root" apt-get -o Acquire::Check-Valid-Until=false update -qq >&2
mkdir -p "$root$debs"
# Every arm64 package godot:arm64 needs, recursively (Architecture: all ones hold no code).
chroot "$root" apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances godot:arm64 \
    | grep -E '^[a-z0-9][^ ]*:arm64$' | sort -u >"$root$debs/packages.txt"
chroot "$root" sh -c "cd $debs && apt-get download \$(cat packages.txt) qemu-user" >"$cache/arm64-apt.log" 2>&1 \
    || { tail -n 20 "$cache/arm64-apt.log" >&2; exit 1; }

log "unpacking $(wc -l <"$root$debs/packages.txt") arm64 packages"
rm -rf "$arm"
mkdir -p "$arm"
for deb in "$root$debs"/*_arm64.deb; do
    dpkg-deb -x "$deb" "$arm"
done
# Debian's merged /usr: the loader and libraries are looked up under /lib too.
for dir in lib bin; do
    [[ -e "$arm/$dir" ]] || ln -s "usr/$dir" "$arm/$dir"
done
dpkg-deb --fsys-tarfile "$root$debs"/qemu-user_*_amd64.deb | tar -x -C "$arm" ./usr/bin/qemu-aarch64
rm -rf "${root:?}$debs"

cat >"$launcher.tmp" <<LAUNCH
#!/bin/sh
A="$arm"
exec "\$A/usr/bin/qemu-aarch64" -L "\$A" \
-E LD_LIBRARY_PATH="\$A/usr/lib/aarch64-linux-gnu:\$A/usr/lib/aarch64-linux-gnu/pulseaudio" \
"\$A/usr/bin/godot" "\$@"
LAUNCH
chmod +x "$launcher.tmp"
mv "$launcher.tmp" "$launcher"
"$launcher" --headless --version >&2
echo "$launcher"
