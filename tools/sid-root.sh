#!/usr/bin/env bash
# Prints the path of a Debian sid root under the cache folder, bootstrapping it and installing
# the Debian packages named as arguments first where they are missing (PKG:arm64 adds the arm64
# architecture). The root holds what the host's Debian lacks: Godot and its export templates,
# the Windows and arm64 cross toolchains, Wine. Everything stays outside the repository and is
# reused by later runs. Needs root privileges (debootstrap, chroot).
set -euo pipefail

cache="${WEBRTC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/godot-webrtc-rs}"
root="$cache/sid-root"
log() { echo "sid-root: $*" >&2; }

"$(dirname "$0")/host-packages.sh" debootstrap:debootstrap

# The mirror this machine's apt already uses (the only one reachable here).
mirror=$(grep -rhoE 'https?://[^ ]*debian\.org/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | grep -v security | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$cache"
# One caller at a time: the tests provision Godot while cross builds run in the background, and
# two apt runs in one root would fail on dpkg's lock.
exec 9>"$cache/sid-root.lock"
flock 9
if [[ ! -x "$root/usr/bin/apt-get" ]]; then
    log "bootstrapping a minimal Debian sid root from $mirror (about a minute)"
    rm -rf "$root"
    debootstrap --variant=minbase sid "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
        || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
fi
# Name resolution for apt and cargo, and this machine's CA bundle: its TLS (crates.io for
# cargo inside the root) goes through its own certificate authority.
cp /etc/resolv.conf "$root/etc/resolv.conf"
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[[ -f $ca ]] && mkdir -p "$root/etc/ssl/certs" && cp "$ca" "$root/etc/ssl/certs/host-ca.crt"

missing=()
for package in "$@"; do
    status=$(chroot "$root" dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]})); then
    for arch in $(printf '%s\n' "${missing[@]}" | sed -nE 's/.*:([a-z0-9]+)$/\1/p' | sort -u); do
        chroot "$root" dpkg --print-foreign-architectures | grep -qx "$arch" \
            || chroot "$root" dpkg --add-architecture "$arch"
    done
    log "installing into the sid root: ${missing[*]}"
    # The stored sid Release file may be past its Valid-Until date, hence the first option.
    # dpkg syncs every file it unpacks to disk unless told not to. The root is a cache (should a
    # crash leave it broken, deleting the folder makes the next run build it again), and without
    # the syncs its 1.3 GB of packages install faster, the more so when the test command's own
    # builds write to the same disk meanwhile (PROFILES.md, "Build time").
    apt=(apt-get -o Acquire::Check-Valid-Until=false -o Dpkg::Options::=--force-unsafe-io)
    chroot "$root" "${apt[@]}" update -qq >&2
    DEBIAN_FRONTEND=noninteractive chroot "$root" "${apt[@]}" install -y -qq --no-install-recommends \
        "${missing[@]}" >"$cache/apt.log" 2>&1 || { tail -n 20 "$cache/apt.log" >&2; exit 1; }
    chroot "$root" apt-get clean
fi
echo "$root"
