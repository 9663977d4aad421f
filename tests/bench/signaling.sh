#!/usr/bin/env bash
# The signaling server under load, side by side with matchbox_server (crates.io, installed into
# the cache on first use): CLIENTS WebSocket clients in pairs, each pair joining a lobby (a
# room) and relaying ROUNDS round trips (rust/signaling/examples/load.rs). Three setups, run in
# turn REPETITIONS times: ours as two instances sharing lobbies through Redis (every relay
# crosses instances), ours as one instance, matchbox_server as one instance. Prints the
# figures, writes tests/bench/results/SIGNALING.md; never fails on timing.
#   tests/bench/signaling.sh [REPETITIONS] [CLIENTS] [ROUNDS]   (default 3 10000 10)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/tools/host-target.sh"
source "$repo/tests/tools/redis.sh"
cd "$repo"
reps=${1:-3}
clients=${2:-10000}
rounds=${3:-10}
raw="$repo/tests/results/bench-signaling"
rm -rf "$raw"
mkdir -p "$raw"
cache=${XDG_CACHE_HOME:-$HOME/.cache}/godot-webrtc-rs
matchbox_version=0.15.0
matchbox="$cache/matchbox-$matchbox_version/bin/matchbox_server"

cargo build --release -p webrtc-signaling --bins --example load || exit 1
if [[ ! -x $matchbox ]]; then
    cargo install matchbox_server --version "=$matchbox_version" --locked \
        --root "$cache/matchbox-$matchbox_version" >"$raw/matchbox-install.log" 2>&1 \
        || { echo "cannot install matchbox_server (see $raw/matchbox-install.log)"; exit 1; }
fi
"$repo/tools/host-packages.sh" redis-server:redis-server >"$raw/apt.log" 2>&1
# Every client holds a socket, and so does the server end of it.
ulimit -n "$(ulimit -Hn)"
load="$host_target/release/examples/load"
server="$host_target/release/webrtc-signaling"

# listening_port PID: the TCP port the process PID listens on, once it does (10 s at most).
listening_port() {
    local deadline=$((SECONDS + 10)) port
    until port=$(ss -ltnpH | grep -F "pid=$1," | awk '{print $4}' | sed 's/.*://' | head -n1) && [[ -n $port ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
    echo "$port"
}

pids=()
stop_all() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    pids=()
}
trap stop_all EXIT

# ours FLAGS...: one more instance of our server, on a port it picks; its URL and pid go to
# URLS and PIDS.
ours() {
    local pid port
    "$server" --host 127.0.0.1 --port 0 --max-lobbies "$clients" "$@" 2>>"$raw/server.log" &
    pid=$!
    pids+=("$pid")
    port=$(listening_port "$pid") || return 1
    URLS+=(--url "ws://127.0.0.1:$port/") PIDS+=(--pid "$pid")
}

run() {
    local setup=$1 rep=$2 redis_pid
    URLS=() PIDS=()
    case $setup in
    redis)
        start_redis "$raw/redis.sock" /dev/null
        redis_pid=$REDIS_PID
        pids+=("$redis_pid")
        ours --redis "$REDIS_URL"
        ours --redis "$REDIS_URL"
        args=(--protocol ours)
        ;;
    single)
        ours
        args=(--protocol ours)
        ;;
    matchbox)
        local port pid
        "$matchbox" "127.0.0.1:0" >/dev/null 2>&1 &
        pid=$!
        pids+=("$pid")
        port=$(listening_port "$pid")
        URLS=(--url "ws://127.0.0.1:$port") PIDS=(--pid "$pid")
        args=(--protocol matchbox)
        ;;
    esac
    local line
    line=$("$load" "${args[@]}" "${URLS[@]}" "${PIDS[@]}" --clients "$clients" --rounds "$rounds" \
        2>>"$raw/load.log" | sed -n 's/^BENCH //p')
    if [[ $setup == redis && -n $line ]]; then
        local redis_kib
        redis_kib=$(sed -nE 's/^VmRSS:\s+([0-9]+) kB/\1/p' "/proc/$redis_pid/status")
        line=${line%\}}",\"redis_rss_mib\":$((redis_kib / 1024))}"
    fi
    [[ -n $line ]] && echo "{\"setup\":\"$setup\",\"rep\":$rep,${line#\{}" | tee -a "$raw/results.jsonl"
    stop_all
}

for ((rep = 1; rep <= reps; rep++)); do
    for setup in redis single matchbox; do
        run "$setup" "$rep"
    done
done

python3 - "$raw/results.jsonl" "$repo/tests/bench/results/SIGNALING.md" "$clients" "$rounds" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
clients, rounds = sys.argv[3], sys.argv[4]
setups = [
    ("redis", "ours, 2 instances on Redis"),
    ("single", "ours, 1 instance"),
    ("matchbox", "matchbox_server 0.15.0, 1 instance"),
]
columns = [
    ("joins_per_s", "joins/s", "{:.0f}"),
    ("relayed_per_s", "relayed msg/s", "{:.0f}"),
    ("latency_ms_p50", "relay p50 ms", "{:.1f}"),
    ("latency_ms_p99", "relay p99 ms", "{:.1f}"),
    ("rss_kib_per_connection", "server RSS/conn KiB", "{:.1f}"),
    ("failures", "failed clients", "{:.0f}"),
]
out = [
    "# Signaling under load",
    "",
    f"`tests/bench/signaling.sh`: {clients} WebSocket clients in pairs on one machine (2 cores), each",
    f"pair joining a lobby (matchbox: a room) and relaying {rounds} round trips of ~180-byte",
    "messages; the load generator is `rust/signaling/examples/load.rs`. Medians of the",
    "repetitions (setups run in turn). Latency is one way, send to receipt, both ends in the load",
    "generator. RSS per connection: servers' resident memory once everyone joined, less before,",
    "over the clients. With Redis every relay crosses instances (Redis pub/sub).",
    "",
    "| setup | runs | " + " | ".join(c[1] for c in columns) + " |",
    "| --- | --- | " + " | ".join("---" for _ in columns) + " |",
]
for key, name in setups:
    runs = [r for r in rows if r["setup"] == key]
    if not runs:
        out.append(f"| {name} | 0 | " + " | ".join("—" for _ in columns) + " |")
        continue
    cells = [fmt.format(statistics.median(r[col] for r in runs)) for col, _, fmt in columns]
    out.append(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")
redis = [r["redis_rss_mib"] for r in rows if "redis_rss_mib" in r]
if redis:
    out += ["", f"Redis itself: {statistics.median(redis):.0f} MiB resident at the end of a run."]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
EOF
