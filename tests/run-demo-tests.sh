#!/usr/bin/env bash
# Plays the demo headless through the real signaling server: a mesh of 4, server/client with
# 4 clients, a player quitting mid-game, and a sealed lobby refusing a fifth player.
# Prints "ok"/"FAIL" per case and "demo: N passed, N failed" at the end.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
: "${GODOT_BIN:?set GODOT_BIN to a Godot 4 binary}"
source "$repo/tests/tools/lobby.sh"
logs="$repo/tests/results/demo"
rm -rf "$logs"
mkdir -p "$logs"
start_signaling "$logs" || exit 1
trap stop_signaling EXIT

source "$repo/tests/tools/verdict.sh"

play_lobby "$logs/mesh" mesh 4
verdict $? "mesh of 4: everyone sees everyone, every chat line arrives"

play_lobby "$logs/server" server 5
verdict $? "server/client with 4 clients: every client sees every other through the host"

# The last player announces its departure, then quits: the others must report it gone in 10 s.
LOBBY_SECONDS=6 play_lobby "$logs/quit" mesh 4 --quit-after=1.5
status=$?
quitter=$(sed -nE 's/^LEAVING id=([0-9]+)$/\1/p' "$logs"/quit/player-*.log | head -n1)
reports=$(grep -h "^SUMMARY" "$logs"/quit/player-*.log | grep -c "left=${quitter:-none}:")
[[ -n "$quitter" && $reports -eq 3 ]] || status=1
verdict $status "a player who quits is peer_disconnected on the 3 others within 10 s" \
    "quitter=${quitter:-none}, reported by $reports"

LOBBY_LATECOMER=1 play_lobby "$logs/sealed" mesh 4
status=$?
refusal=$(grep -h "^ERROR" "$logs/sealed/latecomer.log" 2>/dev/null)
echo "  latecomer: ${refusal:-no refusal} (exit ${LATECOMER_STATUS:-none})"
[[ "${LATECOMER_STATUS:-}" == 3 && "$refusal" == *sealed* ]] || status=1
verdict $status "a sealed lobby refuses a fifth player with a clear message"

echo "demo: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
