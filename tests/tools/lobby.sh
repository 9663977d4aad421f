# Shell helpers (sourced) that play demo lobbies headless: start the signaling server on a free
# loopback port, launch a host and its players, wait for them, report their SUMMARY lines.
# Used by the main job (demo_project/run.sh) and the demo tests (tests/run-demo-tests.sh).
# Needs: $repo, $GODOT_BIN, a release build of webrtc-signaling, the addon in demo_project.

source "$repo/tools/host-target.sh"
LOBBY_INSTANCE_TIMEOUT=${LOBBY_INSTANCE_TIMEOUT:-90}
LOBBY_ARGS=()

# wait_for_line FILE REGEX SECONDS: waits until FILE has a line matching REGEX.
wait_for_line() {
    local deadline=$((SECONDS + $3))
    until grep -qE "$2" "$1" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# start_signaling LOGDIR [FLAGS...]: sets SIGNALING_PID and SIGNALING_URL.
start_signaling() {
    local log="$1/signaling.log"
    shift
    "$host_target/release/webrtc-signaling" --host 127.0.0.1 --port 0 "$@" 2>"$log" &
    SIGNALING_PID=$!
    if ! wait_for_line "$log" "event=listening" 10; then
        echo "the signaling server did not start:" >&2
        cat "$log" >&2
        return 1
    fi
    SIGNALING_URL=$(sed -nE 's/.*event=listening .*url=([^ ]+).*/\1/p' "$log" | head -n1)
}

stop_signaling() {
    [[ -n "${SIGNALING_PID:-}" ]] && kill "$SIGNALING_PID" 2>/dev/null && wait "$SIGNALING_PID" 2>/dev/null
    SIGNALING_PID=
}

# launch LOG ARGS...: one headless demo instance in the background; its pid goes to LAUNCHED.
# With LOBBY_GAME set, the instance is that exported game instead of the project in the editor.
# Every instance also gets the flags in the array LOBBY_ARGS (a certificate to trust, a token).
launch() {
    local log=$1
    shift
    local game=("$GODOT_BIN" --headless --path "$repo/demo_project")
    [[ -n "${LOBBY_GAME:-}" ]] && game=("$LOBBY_GAME" --headless)
    timeout -k 5 "$LOBBY_INSTANCE_TIMEOUT" "${game[@]}" \
        -- --auto --server="$SIGNALING_URL" "${LOBBY_ARGS[@]}" "$@" >"$log" 2>&1 &
    LAUNCHED=$!
}

# play_lobby LOGDIR MODE PLAYERS [FLAGS FOR THE LAST PLAYER...]: the host creates a lobby, the
# others join it; waits for all and prints every SUMMARY. Sets LOBBY_NAME. Returns non-zero
# unless every instance exited 0. With LOBBY_LATECOMER=1 one more player tries to join once the
# host has sealed the lobby; its exit code goes to LATECOMER_STATUS, its log to latecomer.log.
play_lobby() {
    local dir=$1 mode=$2 players=$3
    shift 3
    local common=(--mode="$mode" --players="$players" --seconds="${LOBBY_SECONDS:-3}")
    local pids=() i status=0
    mkdir -p "$dir"
    rm -f "$dir"/player-*.log
    launch "$dir/player-1.log" "${common[@]}"
    pids+=("$LAUNCHED")
    if ! wait_for_line "$dir/player-1.log" "^(LOBBY|ERROR) " 30 || ! grep -q "^LOBBY " "$dir/player-1.log"; then
        echo "the host did not create a lobby; its log:" >&2
        tail -n 20 "$dir/player-1.log" >&2
        kill "${pids[@]}" 2>/dev/null
        return 1
    fi
    LOBBY_NAME=$(sed -n 's/^LOBBY //p' "$dir/player-1.log" | head -n1)
    for ((i = 2; i <= players; i++)); do
        if ((i == players)); then
            launch "$dir/player-$i.log" "${common[@]}" --lobby="$LOBBY_NAME" "$@"
        else
            launch "$dir/player-$i.log" "${common[@]}" --lobby="$LOBBY_NAME"
        fi
        pids+=("$LAUNCHED")
    done
    LATECOMER_STATUS=
    if [[ -n "${LOBBY_LATECOMER:-}" ]]; then
        if wait_for_line "$dir/player-1.log" "^SEALED " 60; then
            launch "$dir/latecomer.log" "${common[@]}" --lobby="$LOBBY_NAME"
            wait "$LAUNCHED"
            LATECOMER_STATUS=$?
        else
            echo "the host never sealed the lobby" >&2
        fi
    fi
    for i in "${!pids[@]}"; do
        local log="$dir/player-$((i + 1)).log"
        if ! wait "${pids[$i]}"; then
            status=1
            echo "player $((i + 1)) failed; the end of its log:" >&2
            grep -vE "^\s+at: " "$log" | tail -n 15 >&2
        elif "$repo/tests/tools/godot-log-problems.sh" "$log" >&2; then
            status=1
            echo "player $((i + 1)) finished, but its log shows the problems above" >&2
        fi
    done
    echo "$mode lobby $LOBBY_NAME, $players players:"
    grep -hE "^(SUMMARY|FAILURE|LEAVING)" "$dir"/player-*.log | sed 's/^/  /'
    return $status
}
