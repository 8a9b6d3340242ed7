# shellcheck shell=bash
# The request log's cost, for bench/run.sh (sourced by it, not run): Signet's JWKS with its
# request log on and off.
#
# Each side is a new process, prepared alike and differing only in RUST_LOG: one at its default
# (info, a line per request to a file), one at RUST_LOG=warn (no request lines). Each has a data
# directory of its own (two `signet serve` may not share one SQLite file) whose key set the CLI
# rotated as many times as run.sh rotated its own (`previous` keys), so both JWKS documents hold
# the same number of keys of the same type (their sizes are reported side by side). Neither is
# run.sh's own Signet, which has served every row before this one.
#
# Two processes of the same binary, both at RUST_LOG=warn, differ by up to 6 % on this machine
# (measured: 85–89k against 78–83k JWKS/s, the same one faster in every round), which is more than
# the budget being measured. So the A/B is several pairs of new processes: in every other pair the
# log-on side takes the other port and starts second, and within a pair the side measured first
# alternates by round. The cost is 1 − (Σ on) / (Σ off) over the pairs, each side's best round per
# pair; each pair's own figure is reported too.
# Reads run.sh's `measure`, `bin`, `server_of`, `wait_for`, `previous`, `pids` and `work`.

# `ab_server NAME PORT [ENV…]`: starts a Signet with ENV on a new data directory, its key set
# rotated to `previous` keys, and waits until it answers.
ab_server() {
    local name=$1 port=$2 dir="$work/$1" round
    shift 2
    rm -rf "$dir"
    mkdir -p "$dir"
    for ((round = 0; round < previous; round++)); do
        SIGNET_DATA_DIR="$dir" "$bin" keys rotate --force >/dev/null
    done
    env "$@" SIGNET_DATA_DIR="$dir" SIGNET_ADDR="127.0.0.1:$port" "$bin" serve >"$dir.log" 2>&1 &
    pids+=("$!")
    # shellcheck disable=SC2004 # run.sh's server_of is an associative array, keyed by port
    server_of[$port]=$!
    wait_for "http://127.0.0.1:$port/readyz" "the A/B's $name Signet" "$dir.log"
}

# `ab_stop PORT…`: stops the A/B's servers on PORT….
ab_stop() {
    local port
    for port in "$@"; do
        kill "${server_of[$port]}" 2>/dev/null || true
        wait "${server_of[$port]}" 2>/dev/null || true
        unset "server_of[$port]"
    done
}

# `logging_ab PORT-A PORT-B PAIRS ROUNDS SECONDS`: PAIRS pairs of new processes, ROUNDS rounds
# of SECONDS per side in each. Sets ab_on and ab_off (each side's mean over the pairs of its best
# round: "requests/s p50-ms p99-ms cpu-µs/request"), ab_cost (% of throughput), ab_pair_costs,
# ab_on_bytes and ab_off_bytes (the two JWKS sizes), ab_pairs and ab_rounds.
logging_ab() {
    local port_a=$1 port_b=$2 seconds=$5 pair round r on_port off_port on off best_on best_off
    ab_pairs=$3 ab_rounds=$4
    : >"$work/ab-pairs"
    say "request log A/B: $ab_pairs pairs of new Signets with $previous previous keys, info against RUST_LOG=warn"
    for ((pair = 1; pair <= ab_pairs; pair++)); do
        if ((pair % 2)); then
            on_port=$port_a off_port=$port_b
            ab_server log-on "$on_port"
            ab_server log-off "$off_port" RUST_LOG=warn
        else
            on_port=$port_b off_port=$port_a
            ab_server log-off "$off_port" RUST_LOG=warn
            ab_server log-on "$on_port"
        fi
        on="http://127.0.0.1:$on_port/.well-known/jwks.json"
        off="http://127.0.0.1:$off_port/.well-known/jwks.json"
        # Their spare next keys are generated at start; let that finish.
        spares_made "${server_of[$on_port]}" "${server_of[$off_port]}"
        ab_on_bytes=$(curl -fs "$on" | wc -c)
        ab_off_bytes=$(curl -fs "$off" | wc -c)
        # A second of unmeasured load for each, then the rounds, the first side alternating.
        WRK_DURATION=1s measure "$on" >/dev/null
        WRK_DURATION=1s measure "$off" >/dev/null
        best_on='' best_off=''
        for ((round = 1; round <= ab_rounds; round++)); do
            say "request log A/B, pair $pair of $ab_pairs, round $round of $ab_rounds (${seconds}s each side)"
            if (((pair + round) % 2)); then
                r=$(WRK_DURATION=${seconds}s measure "$off")
                best_off=$(best "$best_off" "$r")
                r=$(WRK_DURATION=${seconds}s measure "$on")
                best_on=$(best "$best_on" "$r")
            else
                r=$(WRK_DURATION=${seconds}s measure "$on")
                best_on=$(best "$best_on" "$r")
                r=$(WRK_DURATION=${seconds}s measure "$off")
                best_off=$(best "$best_off" "$r")
            fi
        done
        [ "$(wc -l <"$work/log-on.log")" -gt 1000 ] || die "the log-on Signet wrote no request lines"
        [ "$(wc -l <"$work/log-off.log")" -lt 50 ] || say "the log-off Signet wrote $(wc -l <"$work/log-off.log") log lines at RUST_LOG=warn"
        echo "$best_on $best_off" >>"$work/ab-pairs"
        ab_stop "$on_port" "$off_port"
    done
    # Each line: on's "rps p50 p99 cpu", then off's.
    ab_on=$(awk '{ for (i = 1; i <= 4; i++) s[i] += $i } END { printf "%.0f %.2f %.2f %.1f\n", s[1] / NR, s[2] / NR, s[3] / NR, s[4] / NR }' "$work/ab-pairs")
    ab_off=$(awk '{ for (i = 5; i <= 8; i++) s[i] += $i } END { printf "%.0f %.2f %.2f %.1f\n", s[5] / NR, s[6] / NR, s[7] / NR, s[8] / NR }' "$work/ab-pairs")
    ab_cost=$(awk '{ on += $1; off += $5 } END { printf "%.1f", 100 * (1 - on / off) }' "$work/ab-pairs")
    ab_pair_costs=$(awk '{ printf "%s%.1f %%", (NR > 1 ? ", " : ""), 100 * (1 - $1 / $5) }' "$work/ab-pairs")
}
