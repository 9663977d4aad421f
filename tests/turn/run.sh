#!/usr/bin/env bash
# Two demo players that cannot reach each other connect through a real TURN server (coturn).
#
#   netns A (10.201.1.2) --veth-- netns TURN (10.201.1.1 / 10.201.2.1) --veth-- netns B (10.201.2.2)
#
# The TURN namespace runs coturn (long-term credentials) and the signaling server; it does not
# forward between its two links, so A and B only meet through TURN relay addresses. Every
# packet stays inside namespaces this script creates (no address of this machine is used).
# Checks: a mesh of two over TURN with iceTransportPolicy "relay"; the same without forcing
# relay (host candidates exist but cannot connect); and a player with a wrong password gets
# a clear error and gives up (FAILED), where waiting would hang. Then the same players with no
# TURN credentials of their own: a second coturn uses the TURN REST scheme (use-auth-secret), a
# second signaling server mints each player's credentials from the shared secret and they
# connect relay-only; a third server with a forged secret gets its players refused, and a player
# whose minted credentials expired is refused too.
# Needs root, iproute2, coturn, $GODOT_BIN, the addon in demo_project and release builds.
# Ends with "turn: N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/tools/host-target.sh"
godot=${GODOT_BIN:?set GODOT_BIN to a Godot 4 binary}
logs="$repo/tests/results/turn"
rm -rf "$logs"
mkdir -p "$logs"

"$repo/tools/host-packages.sh" turnserver:coturn >"$logs/apt.log" 2>&1 \
    || { echo "cannot install coturn (see $logs/apt.log)"; echo "turn: 0 passed, 1 failed"; exit 1; }

tag=$$
ns_turn=wrt-turn-$tag ns_a=wrt-a-$tag ns_b=wrt-b-$tag
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    for ns in "$ns_a" "$ns_b" "$ns_turn"; do ip netns del "$ns" 2>/dev/null; done
}
trap cleanup EXIT

set -e
for ns in "$ns_turn" "$ns_a" "$ns_b"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
ip link add "wa$tag" type veth peer name "ta$tag"
ip link set "wa$tag" netns "$ns_a"
ip link set "ta$tag" netns "$ns_turn"
ip link add "wb$tag" type veth peer name "tb$tag"
ip link set "wb$tag" netns "$ns_b"
ip link set "tb$tag" netns "$ns_turn"
ip -n "$ns_turn" addr add 10.201.1.1/24 dev "ta$tag"
ip -n "$ns_turn" addr add 10.201.2.1/24 dev "tb$tag"
ip -n "$ns_a" addr add 10.201.1.2/24 dev "wa$tag"
ip -n "$ns_b" addr add 10.201.2.2/24 dev "wb$tag"
for pair in "$ns_turn ta$tag" "$ns_turn tb$tag" "$ns_a wa$tag" "$ns_b wb$tag"; do
    read -r ns dev <<<"$pair"
    ip -n "$ns" link set "$dev" up
done
ip netns exec "$ns_turn" sysctl -qw net.ipv4.ip_forward=0
set +e

# A and B must not reach each other directly.
if ip netns exec "$ns_a" ping -c1 -W1 10.201.2.2 >/dev/null 2>&1; then
    echo "A reaches B directly: the topology is wrong"
    echo "turn: 0 passed, 1 failed"
    exit 1
fi

ip netns exec "$ns_turn" turnserver -n --listening-ip=10.201.1.1 --listening-ip=10.201.2.1 \
    --relay-ip=10.201.1.1 --listening-port=3478 --min-port=50000 --max-port=50100 \
    --lt-cred-mech --user=player:correct-horse --realm=webrtc.test --fingerprint \
    --no-tls --no-dtls --no-cli --no-multicast-peers --log-file=stdout --simple-log --verbose \
    >"$logs/coturn.log" 2>&1 &
pids+=($!)
ip netns exec "$ns_turn" "$host_target/release/webrtc-signaling" --host 0.0.0.0 --port 9000 \
    2>"$logs/signaling.log" &
pids+=($!)
# The TURN REST scheme: coturn on 3490 (away from the first one's alternate port, 3479)
# checks credentials against a secret it shares with the signaling server on 9001, which mints
# them; the one on 9002 signs with a forged secret.
secret=$(head -c 24 /dev/urandom | base64)
printf '%s\n' "$secret" >"$logs/turn-secret"
printf 'not-%s\n' "$secret" >"$logs/forged-secret"
ip netns exec "$ns_turn" turnserver -n --listening-ip=10.201.1.1 --listening-ip=10.201.2.1 \
    --relay-ip=10.201.1.1 --listening-port=3490 --min-port=50200 --max-port=50300 \
    --use-auth-secret --static-auth-secret="$secret" --realm=webrtc.test --fingerprint \
    --pidfile="$logs/coturn-rest.pid" --db="$logs/coturn-rest.db" \
    --no-tls --no-dtls --no-cli --no-multicast-peers --log-file=stdout --simple-log --verbose \
    >"$logs/coturn-rest.log" 2>&1 &
pids+=($!)
# The one on 9003 mints credentials that expire after a second.
for minting in "9001 turn-secret 600" "9002 forged-secret 600" "9003 turn-secret 1"; do
    read -r port file ttl <<<"$minting"
    ip netns exec "$ns_turn" "$host_target/release/webrtc-signaling" --host 0.0.0.0 --port "$port" \
        --turn-url turn:10.201.1.1:3490 --turn-url turn:10.201.2.1:3490 \
        --turn-secret-file "$logs/$file" --turn-ttl "$ttl" 2>"$logs/signaling-$port.log" &
    pids+=($!)
done
deadline=$((SECONDS + 10))
until [[ $(grep -l "event=listening" "$logs"/signaling*.log 2>/dev/null | wc -l) -eq 4 ]] \
      && ip netns exec "$ns_turn" ss -lun | grep -q "10.201.1.1:3478" \
      && ip netns exec "$ns_turn" ss -lun | grep -q "10.201.1.1:3490"; do
    if ((SECONDS > deadline)); then
        echo "coturn or the signaling server did not start"; tail -n 20 "$logs"/*.log
        echo "turn: 0 passed, 1 failed"; exit 1
    fi
    sleep 0.1
done

passed=0
failed=0
# player NS NAME TURN_HOST PASSWORD ARGS...: one demo instance in NS, in the background. With
# PASSWORD "minted" the player brings no TURN server and uses what the signaling server on
# $SIGNALING_PORT (default 9000) hands it.
player() {
    local ns=$1 name=$2 host=$3 password=$4
    shift 4
    local turn=(--turn="turn:$host:3478" --turn-user=player --turn-password="$password")
    [[ $password == minted ]] && turn=()
    ip netns exec "$ns" timeout -k 5 60 "$godot" --headless --path "$repo/demo_project" -- --auto \
        --server="ws://$host:${SIGNALING_PORT:-9000}" --bind="${host%.1}.2" "${turn[@]}" "$@" \
        >"$logs/$name.log" 2>&1 &
    LAUNCHED=$!
}

# host NAME PASSWORD ARGS...: A creates a lobby; sets LOBBY (its name) and HOST (its pid).
host() {
    local name=$1 password=$2
    shift 2
    player "$ns_a" "$name" 10.201.1.1 "$password" --players=2 --seconds=2 "$@"
    HOST=$LAUNCHED
    local deadline=$((SECONDS + 20))
    until grep -qE "^(LOBBY|ERROR) " "$logs/$name.log" 2>/dev/null; do
        ((SECONDS < deadline)) || break
        sleep 0.1
    done
    LOBBY=$(sed -nE 's/^LOBBY ([^ ]+).*/\1/p' "$logs/$name.log" | head -n1)
}

# scenario NAME PLAYER_ARGS...: A hosts, B joins, both must finish with a SUMMARY whose links
# (from get_stats()) say the pair has a relay candidate at one end at least.
scenario() {
    local name=$1 start=$(date +%s%3N)
    shift
    local password=${SCENARIO_PASSWORD:-correct-horse}
    host "$name-a" "$password" "$@"
    local a=$HOST
    player "$ns_b" "$name-b" 10.201.2.1 "$password" --lobby="$LOBBY" --players=2 --seconds=2 "$@"
    local b=$LAUNCHED
    wait "$a"; local ca=$?
    wait "$b"; local cb=$?
    local ms=$(($(date +%s%3N) - start))
    local relayed
    relayed=$(grep -h "^SUMMARY" "$logs/$name-a.log" "$logs/$name-b.log" \
        | grep -cE " links=[0-9]+:[0-9.]+ms/([a-z]+-relay|relay-[a-z]+) ")
    if [[ $ca -eq 0 && $cb -eq 0 && $relayed -eq 2 ]] \
        && ! "$repo/tests/tools/godot-log-problems.sh" "$logs/$name-a.log" "$logs/$name-b.log"; then
        passed=$((passed + 1))
        echo "ok   $name ($ms ms)"
        grep -h "^SUMMARY" "$logs/$name-a.log" "$logs/$name-b.log" | sed 's/^/     /'
    else
        failed=$((failed + 1))
        echo "FAIL $name (exit $ca/$cb); logs: $logs/$name-{a,b}.log"
        grep -hE "ERROR|FAILURE" "$logs/$name-a.log" "$logs/$name-b.log" | head -n 10 | sed 's/^/     /'
    fi
}

scenario relay-only --relay-only
scenario relay-by-necessity

# gave_up LOG CODE MS PATTERN WHAT: the player of LOG must have printed the TURN server's
# refusal (PATTERN) and FAILED, and given up (exit CODE after MS ms), not hung.
gave_up() {
    local log=$1 code=$2 ms=$3 pattern=$4 what=$5
    if [[ $code -ne 0 && $code -ne 124 ]] && grep -qiE "$pattern" "$log" && grep -q "FAILED" "$log"; then
        passed=$((passed + 1))
        echo "ok   $what (gave up after $ms ms, exit $code)"
    else
        failed=$((failed + 1))
        echo "FAIL $what (exit $code after $ms ms); log: $log"
    fi
    grep -hiE "TURN|FAILED|FAILURE" "$log" | head -n 5 | sed 's/^/     /'
}

# refused NAME HOST_PASSWORD JOINER_PASSWORD PATTERN WHAT: a joiner whose TURN credentials are
# refused must print the TURN server's refusal (PATTERN) and FAILED, and give up, not hang.
refused() {
    local name=$1 host_password=$2 password=$3 pattern=$4 what=$5 start code host
    start=$(date +%s%3N)
    host "$name-host" "$host_password" --relay-only
    host=$HOST
    player "$ns_b" "$name-joiner" 10.201.2.1 "$password" --lobby="$LOBBY" --players=2 --seconds=2 \
        --relay-only
    wait "$LAUNCHED"; code=$?
    kill "$host" 2>/dev/null; wait "$host" 2>/dev/null
    gave_up "$logs/$name-joiner.log" "$code" $(($(date +%s%3N) - start)) "$pattern" "$what"
}

# A wrong password.
refused wrong correct-horse wrong-password "TURN.*(credential|unauthori|401)" wrong-password

# Credentials minted per player by the signaling server, checked by coturn's use-auth-secret:
# relay-only players connect, so coturn accepted them (the forged and expired cases below show
# that it checks them).
SIGNALING_PORT=9001 SCENARIO_PASSWORD=minted scenario minted-relay-only --relay-only

# A server whose secret is not the TURN server's: its players are refused and give up.
SIGNALING_PORT=9002 refused forged minted minted "TURN.*(unauthori|401)" \
    "forged-secret credentials are refused by coturn"

# Expired credentials: the host's are minted when it joins, valid for a second, and first used
# when the joiner's offer arrives. Letting them expire before the joiner comes is the point.
start=$(date +%s%3N)
SIGNALING_PORT=9003 host expired-host minted --relay-only
expired_host=$HOST
# The server logs when the credentials it minted for the host expire; the joiner comes after.
deadline=$((SECONDS + 10))
until expires=$(sed -nE 's/.* event=join .*turn_expires=([0-9]+).*/\1/p' "$logs/signaling-9003.log" | head -n1) \
    && [[ -n $expires ]] && (($(date +%s) > expires)); do
    ((SECONDS < deadline)) || break
    sleep 0.1
done
SIGNALING_PORT=9003 player "$ns_b" expired-joiner 10.201.2.1 minted --lobby="$LOBBY" --players=2 \
    --seconds=2 --relay-only
expired_joiner=$LAUNCHED
wait "$expired_host"
code=$?
kill "$expired_joiner" 2>/dev/null
wait "$expired_joiner" 2>/dev/null
gave_up "$logs/expired-host.log" "$code" $(($(date +%s%3N) - start)) "TURN.*(unauthori|401)" \
    "expired credentials are refused by coturn (the host)"

echo "turn: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
