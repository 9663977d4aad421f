#!/usr/bin/env bash
# Prints the path of a runnable headless Godot 4 binary, installing one first if needed.
#
# $GODOT wins when set. Otherwise Debian's `godot` package (only in sid) is installed into the
# Debian sid root under the cache folder (tools/sid-root.sh) and run from the host through the
# root's own dynamic loader, so no chroot is needed to run it. Everything it downloads stays
# outside the repository and is reused by later runs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)

if [[ -n "${GODOT:-}" ]]; then
    echo "$GODOT"
    exit 0
fi

cache="${WEBRTC_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/godot-webrtc-rs}"
launcher="$cache/godot"

if [[ -x "$launcher" ]] && "$launcher" --version >/dev/null 2>&1; then
    echo "$launcher"
    exit 0
fi

root=$("$repo/tools/sid-root.sh" godot)
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
