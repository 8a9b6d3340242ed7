# shellcheck shell=bash
# The request log's cost, for bench/run.sh (sourced by it, not run): Signet's JWKS with its
# request log on and off, in alternating rounds.
#
# Two `signet serve` may not share one SQLite file, so the log-off side is a second process on a
# data directory of its own, started with RUST_LOG=warn (no request lines); the log-on side is
# run.sh's Signet itself (info, a line per request to a file). Before the second one starts, the
# CLI rotates its fresh key set as many times as run.sh rotated its own (`previous` keys), so
# both JWKS documents hold the same keys of the same type (their sizes are reported side by side).
# Reads run.sh's `measure`, `bin`, `signet`, `server_of`, `wait_for`, `previous`, `connections`
# and `threads`.

# `logging_ab PORT ROUNDS SECONDS`: ROUNDS rounds of SECONDS per side, best of each kept. Sets
# ab_on and ab_off ("requests/s p50-ms p99-ms cpu-µs/request"), ab_on_bytes and ab_off_bytes
# (the two JWKS sizes) and ab_rounds.
logging_ab() {
    local port=$1 seconds=$3 dir="$work/quiet" quiet="http://127.0.0.1:$1" quiet_pid round r
    ab_rounds=$2
    say "request log A/B: a second Signet at RUST_LOG=warn with $previous previous keys, on :$port"
    mkdir -p "$dir"
    for ((round = 0; round < previous; round++)); do
        SIGNET_DATA_DIR="$dir" "$bin" keys rotate --force >/dev/null
    done
    RUST_LOG=warn SIGNET_DATA_DIR="$dir" SIGNET_ADDR="127.0.0.1:$port" "$bin" serve >"$dir.log" 2>&1 &
    quiet_pid=$!
    pids+=("$quiet_pid")
    # shellcheck disable=SC2004 # run.sh's server_of is an associative array, keyed by port
    server_of[$port]=$quiet_pid
    wait_for "$quiet/readyz" "the log-off Signet" "$dir.log"
    # Its spare next keys are generated at start; let that finish.
    sleep 3
    ab_on_bytes=$(curl -fs "$signet/.well-known/jwks.json" | wc -c)
    ab_off_bytes=$(curl -fs "$quiet/.well-known/jwks.json" | wc -c)

    # A second of unmeasured load for the fresh process, then the rounds.
    WRK_DURATION=1s measure "$quiet/.well-known/jwks.json" >/dev/null
    ab_on='' ab_off=''
    for ((round = 1; round <= ab_rounds; round++)); do
        say "request log A/B, round $round of $ab_rounds: on, then off (${seconds}s each)"
        r=$(WRK_DURATION=${seconds}s measure "$signet/.well-known/jwks.json")
        ab_on=$(best "$ab_on" "$r")
        r=$(WRK_DURATION=${seconds}s measure "$quiet/.well-known/jwks.json")
        ab_off=$(best "$ab_off" "$r")
    done
    [ "$(wc -l <"$dir.log")" -lt 50 ] || say "the log-off Signet wrote $(wc -l <"$dir.log") log lines at RUST_LOG=warn"

    kill "$quiet_pid" 2>/dev/null || true
    wait "$quiet_pid" 2>/dev/null || true
    unset "server_of[$port]"
}
