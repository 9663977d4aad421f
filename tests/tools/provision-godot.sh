#!/usr/bin/env bash
# Prints the path of a runnable headless Godot 4 binary, installing one first if needed.
#
# $GODOT wins when set. Otherwise Debian's `godot` package (only in sid) is installed into a
# minimal sid root under the cache folder and run from the host through the root's own dynamic
# loader, so no chroot or root privileges are needed to run it. Everything it downloads stays
# outside the repository and is reused by later runs.
set -euo pipefail

if [[ -n "${GODOT:-}" ]]; then
    echo "$GODOT"
    exit 0
fi

cache="${WEBRTC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/godot-webrtc-rs}"
root="$cache/sid-root"
launcher="$cache/godot"

if [[ -x "$launcher" ]] && "$launcher" --version >/dev/null 2>&1; then
    echo "$launcher"
    exit 0
fi

log() { echo "provision-godot: $*" >&2; }

if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi

# The mirror this machine's apt already uses (the only one reachable here).
mirror=$(grep -rhoE 'https?://[^ ]*debian\.org/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | grep -v security | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$cache"
if [[ ! -x "$root/usr/bin/apt-get" ]]; then
    log "bootstrapping a minimal Debian sid root from $mirror (about 30 s)"
    rm -rf "$root"
    debootstrap --variant=minbase sid "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
        || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
fi

log "installing Debian's godot package into the sid root"
# The stored sid Release file is past its Valid-Until date, hence the option.
chroot "$root" apt-get -o Acquire::Check-Valid-Until=false update -qq >&2
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -o Acquire::Check-Valid-Until=false \
    install -y -qq --no-install-recommends godot >"$cache/apt.log" 2>&1 \
    || { tail -n 20 "$cache/apt.log" >&2; exit 1; }

cat >"$launcher.tmp" <<LAUNCH
#!/bin/sh
R="$root"
exec "\$R/usr/lib64/ld-linux-x86-64.so.2" --library-path \
"\$R/usr/lib/x86_64-linux-gnu:\$R/lib/x86_64-linux-gnu:\$R/usr/lib/x86_64-linux-gnu/pulseaudio" \
"\$R/usr/bin/godot" "\$@"
LAUNCH
chmod +x "$launcher.tmp"
mv "$launcher.tmp" "$launcher"
"$launcher" --headless --version >&2
echo "$launcher"
