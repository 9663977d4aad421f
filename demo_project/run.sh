#!/usr/bin/env bash
# The main job: builds the addon and the signaling server, provisions Godot like the tests do,
# starts the server on loopback, then plays a four-player mesh lobby and a four-player
# server/client lobby with headless demo instances and prints their summaries.
# Exits 0 only if every instance saw every other player and all its messages.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
tests/tools/build-addon.sh demo_project || exit 1
cargo build --release -p webrtc-signaling || exit 1
GODOT_BIN=$(tests/tools/provision-godot.sh) || exit 1
source tests/tools/lobby.sh

logs="$repo/demo_project/.logs"
mkdir -p "$logs"
start_signaling "$logs" || exit 1
trap stop_signaling EXIT
echo "signaling server at $SIGNALING_URL"
status=0
play_lobby "$logs/mesh" mesh 4 || status=1
play_lobby "$logs/server" server 4 || status=1
if ((status == 0)); then
    echo "demo: every player saw every other, in both modes"
else
    echo "demo: FAILED (logs in $logs)"
fi
exit $status
