#!/usr/bin/env bash
# host-packages.sh COMMAND:PACKAGE...: installs the host's Debian PACKAGE for each COMMAND (or
# path) this machine lacks, in one apt transaction. Does nothing when every COMMAND is there.
#
# Every host install of the project goes through here, under one lock: on a new machine the
# test command's background cross builds bootstrap the sid root (debootstrap) while the
# foreground installs promtool, coturn or Chromium, and two apt runs at once fail on apt's own
# lock instead of waiting for it. The package lists are refreshed only when an install fails.
set -euo pipefail
missing=()
for pair in "$@"; do
    command=${pair%%:*}
    package=${pair#*:}
    if [[ $command == /* ]]; then
        [[ -e $command ]] && continue
    else
        command -v "$command" >/dev/null && continue
    fi
    missing+=("$package")
done
((${#missing[@]})) || exit 0

cache="${WEBRTC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/godot-webrtc-rs}"
mkdir -p "$cache"
exec 8>"$cache/host-apt.lock"
flock 8
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
echo "host-packages: installing ${missing[*]}" >&2
{ install || { apt-get update -qq && install; }; } >&2
