#!/usr/bin/env bash
# Plays the demo headless through the real signaling server: a mesh of 4, server/client with
# 4 clients, a player quitting mid-game, a sealed lobby refusing a fifth player, a player whose
# WebSocket breaks resuming its seat, a lobby played through two server instances sharing it
# through Redis, and a mesh over wss:// with a self-signed certificate and join tokens (and the
# players it must refuse).
# Prints "ok"/"FAIL" per case and "demo: N passed, N failed" at the end.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/tools/host-target.sh"
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

# A player's WebSocket breaks mid-game (ss -K kills the socket: no close frame, as when a Wi-Fi
# link drops). Its seat waits on the server, the lobby client reconnects and resumes it, and
# the game goes on: nobody sees the player leave, every chat line arrives.
cut="$logs/resume"
mkdir -p "$cut"
port=${SIGNALING_URL##*:}
(
    # The player whose socket is cut says its process id once the lobby is sealed.
    wait_for_line "$cut/player-3.log" "^SEALED .* pid=[0-9]+" 60 || exit 1
    pid=$(sed -nE 's/^SEALED .* pid=([0-9]+).*/\1/p' "$cut/player-3.log" | head -n1)
    local_port=$(ss -tnpH state established "( dport = :$port )" | grep -F "pid=$pid," \
        | awk '{print $3}' | sed 's/.*://' | head -n1)
    [[ -n $local_port ]] || exit 1
    ss -K state established "( sport = :$local_port and dport = :$port )" >/dev/null
    echo "$local_port" >"$cut/cut-port"
) &
cutter=$!
LOBBY_SECONDS=5 play_lobby "$cut" mesh 3 --expect-resume
status=$?
wait "$cutter" || status=1
echo "  cut the WebSocket from port $(cat "$cut/cut-port" 2>/dev/null || echo none)"
grep -hE "^(RECONNECTING|RESUMED)" "$cut/player-3.log" | sed 's/^/  /'
grep -q "event=detach" "$logs/signaling.log" && grep -q "event=resume" "$logs/signaling.log" \
    || status=1
verdict $status "a player whose WebSocket breaks mid-game resumes its seat; the game goes on"

# Two server instances sharing their lobbies through Redis (a redis-server of the test's own):
# the host plays through one, the last player joins the same lobby through the other.
shared="$logs/redis"
mkdir -p "$shared/a" "$shared/b"
source "$repo/tests/tools/redis.sh"
start_redis "$shared/redis.sock" "$shared/redis.log"
stop_signaling
status=1
if start_signaling "$shared/a" --redis "$REDIS_URL"; then
    a_pid=$SIGNALING_PID a_url=$SIGNALING_URL
    if start_signaling "$shared/b" --redis "$REDIS_URL"; then
        b_url=$SIGNALING_URL
        SIGNALING_URL=$a_url
        play_lobby "$shared" mesh 3 --server="$b_url"
        status=$?
        stop_signaling
    fi
    kill "$a_pid" 2>/dev/null && wait "$a_pid" 2>/dev/null
fi
kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
joined_a=$(grep -c "event=join " "$shared/a/signaling.log")
joined_b=$(grep -c "event=join " "$shared/b/signaling.log")
echo "  joins through instance A: $joined_a, through instance B: $joined_b"
[[ $joined_a -eq 2 && $joined_b -eq 1 ]] || status=1
verdict $status "two server instances on Redis: a player joining through the other instance plays in the same lobby"

# wss:// served by the signaling server itself, with a self-signed certificate the players are
# told to trust, and a join secret: every player brings a token minted with it.
tls="$logs/tls"
mkdir -p "$tls"
"$repo/tools/host-packages.sh" openssl:openssl >"$tls/apt.log" 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$tls/key.pem" -out "$tls/cert.pem" >"$tls/openssl.log" 2>&1
head -c 32 /dev/urandom | base64 >"$tls/join-secret"
token=$("$host_target/release/webrtc-signaling" mint-token --join-secret-file "$tls/join-secret" \
    --subject demo --ttl 600)
stop_signaling
start_signaling "$tls" --tls-cert "$tls/cert.pem" --tls-key "$tls/key.pem" \
    --join-secret-file "$tls/join-secret"
status=$?
if ((status == 0)); then
    LOBBY_ARGS=(--trust="$tls/cert.pem" --tls-name=localhost --token="$token")
    play_lobby "$tls/mesh" mesh 3
    status=$?
fi
echo "  server: $SIGNALING_URL"
[[ $SIGNALING_URL == wss://* ]] || status=1
verdict $status "wss:// with a self-signed certificate the players trust; each joins with a minted token"

# refused_join NAME PATTERN WHAT ARGS...: a player with ARGS is refused with PATTERN (exit 3).
refused_join() {
    local name=$1 pattern=$2 what=$3 code
    shift 3
    LOBBY_ARGS=("$@")
    launch "$tls/$name.log" --players=2
    wait "$LAUNCHED"
    code=$?
    echo "  $name: $(grep -h "^ERROR " "$tls/$name.log") (exit $code)"
    [[ $code -eq 3 ]] && grep -qE "^ERROR .*$pattern" "$tls/$name.log"
    verdict $? "$what"
}
refused_join untrusting "cannot reach" \
    "a player that does not trust the certificate is refused, and the server says why" \
    --token="$token"
grep -q "event=tls_handshake_failed" "$tls/signaling.log"
verdict $? "the server logs the failed TLS handshake" "$(grep -m1 -o 'event=tls_handshake_failed.*' "$tls/signaling.log")"
refused_join tokenless "join token" "a player without a token gets no lobby" \
    --trust="$tls/cert.pem" --tls-name=localhost
LOBBY_ARGS=()

echo "demo: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
