#!/usr/bin/env bash
# The interop suite: headless Godot with our addon against Chromium, libdatachannel
# (node-datachannel), aiortc and werift, each in both directions (Godot offers and closes; the other
# side offers and closes). Signaling goes through our own server. Everything runs in a fresh
# network namespace holding only a loopback interface, so no packet can leave it.
# Needs GODOT_BIN, the addon built into tests/godot and a release build of webrtc-signaling.
# Writes the matrix to tests/results/interop/MATRIX.md; with --record, also over the committed
# copy tests/interop/MATRIX.md. Ends with "interop: N passed, N failed" (one per check).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/tests/interop"
: "${GODOT_BIN:?set GODOT_BIN to a Godot 4 binary}"

if [[ "${INTEROP_IN_NETNS:-}" != 1 ]]; then
    INTEROP_PYTHON=$("$here/setup.sh") || { echo "interop: 0 passed, 1 failed (setup)"; exit 1; }
    export INTEROP_PYTHON GODOT_BIN INTEROP_IN_NETNS=1
    if unshare --net true 2>/dev/null; then
        exec unshare --net bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
    fi
    echo "note: cannot create a network namespace; running on the host's loopback" >&2
    exec "$0" "$@"
fi

source "$repo/tests/tools/lobby.sh"
logs="$repo/tests/results/interop"
rm -rf "$logs"
mkdir -p "$logs"
start_signaling "$logs" || exit 1
trap stop_signaling EXIT

remote_command() {
    case $1 in
        libdatachannel) echo node "$here/node.mjs" ;;
        werift) echo node "$here/werift.mjs" ;;
        chromium) echo node "$here/chromium.mjs" ;;
        aiortc) echo "$INTEROP_PYTHON" "$here/aiortc_peer.py" ;;
    esac
}

# run_pair PEER DIRECTION: DIRECTION is godot-offers (Godot also closes) or peer-offers.
run_pair() {
    local peer=$1 direction=$2 godot_offers=no remote_offers=yes
    [[ $direction == godot-offers ]] && godot_offers=yes remote_offers=no
    local glog="$logs/$peer-$direction.godot.log" rlog="$logs/$peer-$direction.peer.log"
    timeout -k 5 120 "$GODOT_BIN" --headless ${INTEROP_GODOT_FLAGS:-} --path "$repo/tests/godot" \
        --script res://interop/interop_peer.gd -- --server="$SIGNALING_URL" \
        --offer=$godot_offers --closer=$godot_offers >"$glog" 2>&1 &
    local godot=$!
    if wait_for_line "$glog" "^LOBBY " 30; then
        local lobby
        lobby=$(sed -n 's/^LOBBY //p' "$glog" | head -n1)
        # shellcheck disable=SC2046
        timeout -k 5 120 $(remote_command "$peer") --server="$SIGNALING_URL" --lobby="$lobby" \
            --offer=$remote_offers --closer=$remote_offers >"$rlog" 2>&1
    else
        echo "CHECK run FAIL Godot did not create a lobby" >"$rlog"
    fi
    wait "$godot"
    local problems
    if problems=$("$repo/tests/tools/godot-log-problems.sh" "$glog"); then
        echo "CHECK clean_exit FAIL $(head -n1 <<<"$problems")" >>"$glog"
    else
        echo "CHECK clean_exit PASS no script error, panic or leak in the Godot log" >>"$glog"
    fi
}

for peer in ${INTEROP_PEERS:-libdatachannel aiortc werift chromium}; do
    for direction in godot-offers peer-offers; do
        run_pair "$peer" "$direction"
    done
done
"$INTEROP_PYTHON" "$here/matrix.py" "$logs" "$logs/MATRIX.md"
[[ ${1:-} != --record ]] || cp "$logs/MATRIX.md" "$here/MATRIX.md"
