# Sourced by tests/bench/run.sh (the frame suite) and tests/bench/trace_stalls.sh (its scheduler
# trace), so that both load the machine the same way: a busy loop per core at normal priority,
# as a game that renders keeps it. Each loop also ends by itself once the sourcing script is gone.
busy_loops=()

busy_loops_start() {
    local i
    for ((i = 0; i < $(nproc); i++)); do
        sh -c 'while kill -0 $PPID 2>/dev/null; do :; done' &
        busy_loops+=($!)
    done
}

busy_loops_stop() {
    kill "${busy_loops[@]}" 2>/dev/null
    wait "${busy_loops[@]}" 2>/dev/null
    busy_loops=()
}
