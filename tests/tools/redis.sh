# Sourced: start_redis SOCKET LOG [FLAG...] starts a redis-server of the caller's own that
# listens on the unix socket SOCKET only (no TCP port to pick and hand over), without
# persistence, logging to LOG; sets REDIS_PID and REDIS_URL, and returns once it answers a
# PING (non-zero if it does not within 10 s).
# shellcheck shell=bash disable=SC2034 # REDIS_PID and REDIS_URL are read by the callers
start_redis() {
    local socket=$1 log=$2 deadline=$((SECONDS + 10))
    shift 2
    rm -f "$socket"
    redis-server --port 0 --unixsocket "$socket" --unixsocketperm 700 --save "" --appendonly no \
        "$@" >"$log" 2>&1 &
    REDIS_PID=$!
    REDIS_URL="redis+unix://$socket"
    until [[ $(redis-cli -s "$socket" ping 2>/dev/null) == PONG ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}
