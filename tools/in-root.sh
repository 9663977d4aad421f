#!/usr/bin/env bash
# in-root.sh [--bind HOST[:INSIDE]]... [--cd DIR] COMMAND [ARG...]: runs COMMAND in the Debian
# sid root (tools/sid-root.sh) with /proc, /dev and each HOST folder mounted (at INSIDE, or at
# the same path when INSIDE is left out), in a mount namespace of its own: the mounts vanish
# with the command, even if it is killed. COMMAND starts in DIR (default /) with HOME=/root and
# the root's PATH; leading VAR=VALUE words set more of its environment (it runs under env).
# The root must exist: callers install what they need with tools/sid-root.sh first.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
binds=()
dir=/
while (($#)); do
    case $1 in
    --bind) binds+=("$2"); shift 2 ;;
    --cd) dir=$2; shift 2 ;;
    *) break ;;
    esac
done
(($#)) || { echo "usage: in-root.sh [--bind HOST[:INSIDE]]... [--cd DIR] COMMAND [ARG...]" >&2; exit 2; }
root=$("$repo/tools/sid-root.sh")
exec unshare --mount --propagation private bash -c '
    set -e
    root=$1 dir=$2 n=$3
    shift 3
    for bind in "${@:1:n}"; do
        host=${bind%%:*} inside=${bind#*:}
        mkdir -p "$root$inside"
        mount --bind "$host" "$root$inside"
    done
    shift "$n"
    mount -t proc proc "$root/proc"
    mount --bind /dev "$root/dev"
    exec chroot "$root" /usr/bin/env -C "$dir" HOME=/root PATH=/usr/bin:/bin "$@"
' in-root "$root" "$dir" "${#binds[@]}" "${binds[@]}" "$@"
