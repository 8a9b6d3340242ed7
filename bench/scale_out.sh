# shellcheck shell=bash
# The scale-out rows of bench/run.sh (sourced by it, not run): two Signet processes, A and B, on
# ONE PostgreSQL database with the same master key, as README's "Running at scale" describes. The
# JWKS and /oauth/token are measured on A alone (wrk -t$threads -c$connections), then on A and B at
# once (two wrk in parallel, one against each process, half the connections and threads each, the
# same duration), each with the CPU µs/request of the process it drives.
#
# Needs a local PostgreSQL at 127.0.0.1:5432 that lets user postgres in without a password
# (trust) and psql; otherwise the rows are skipped with the reason. The scratch database
# (signet_bench_<pid>) is dropped on exit. Reads run.sh's `bin`, `work`, `pids`, `at_exit`,
# `wait_for`, `post_lua`, `threads`, `connections`, `duration` and `cores`.

scale_db=signet_bench_$$
pg_admin() { psql -h 127.0.0.1 -p 5432 -U postgres -d test -v ON_ERROR_STOP=1 -Atqc "$1"; }
drop_scale_db() { pg_admin "DROP DATABASE IF EXISTS $scale_db WITH (FORCE)" >/dev/null 2>&1; }

# `scale_pair PATH A-URL B-URL A-PID B-PID [WRK-ARGS…]`: wrk against A and B at once, half the
# connections and threads each; prints A's then B's "requests/s p50-ms p99-ms cpu-µs/request".
scale_pair() {
    local path=$1 a=$2 b=$3 a_pid=$4 b_pid=$5 a_before b_before a_after b_after wa wb fa fb
    shift 5
    local half_t=$((threads > 1 ? threads / 2 : 1)) half_c=$(((connections + 1) / 2))
    a_before=$(cpu_ticks "$a_pid")
    b_before=$(cpu_ticks "$b_pid")
    wrk --latency -t"$half_t" -c"$half_c" -d"$duration" "$@" "$a$path" >"$work/pair-a.txt" 2>&1 &
    wa=$!
    wrk --latency -t"$half_t" -c"$half_c" -d"$duration" "$@" "$b$path" >"$work/pair-b.txt" 2>&1 &
    wb=$!
    wait "$wa" || die "wrk against A failed: $(cat "$work/pair-a.txt")"
    wait "$wb" || die "wrk against B failed: $(cat "$work/pair-b.txt")"
    a_after=$(cpu_ticks "$a_pid")
    b_after=$(cpu_ticks "$b_pid")
    fa=$(wrk_figures "$(cat "$work/pair-a.txt")" "$path on A, with B") || exit 1
    fb=$(wrk_figures "$(cat "$work/pair-b.txt")" "$path on B, with A") || exit 1
    printf '%s %s %s %s\n' \
        "$fa" "$(cpu_per_request $((a_after - a_before)) "$(wrk_requests "$(cat "$work/pair-a.txt")")")" \
        "$fb" "$(cpu_per_request $((b_after - b_before)) "$(wrk_requests "$(cat "$work/pair-b.txt")")")"
}

# `scale_out A-PORT B-PORT`: sets scale_report, the table and its sentence, or why it was skipped.
scale_out() {
    local a_port=$1 b_port=$2 a b a_pid b_pid url client id secret body r
    local aj aj_p50 aj_p99 aj_cpu at at_p50 at_p99 at_cpu
    local pj pj_p50 pj_p99 pj_cpu qj qj_p50 qj_p99 qj_cpu pt pt_p50 pt_p99 pt_cpu qt qt_p50 qt_p99 qt_cpu
    a="http://127.0.0.1:$a_port"
    b="http://127.0.0.1:$b_port"
    if [ -n "${SKIP_SCALE_OUT:-}" ]; then
        scale_report="Scale-out (two processes on one PostgreSQL): skipped (SKIP_SCALE_OUT)."
        return 0
    fi
    if ! command -v psql >/dev/null; then
        scale_report="Scale-out (two processes on one PostgreSQL): skipped, psql is missing."
        say "$scale_report"
        return 0
    fi
    if ! pg_admin 'SELECT 1' >/dev/null 2>&1; then
        scale_report="Scale-out (two processes on one PostgreSQL): skipped, no PostgreSQL lets user postgres in at 127.0.0.1:5432 (database test)."
        say "$scale_report"
        return 0
    fi
    say "scale-out: two Signets on the scratch PostgreSQL database $scale_db"
    pg_admin "CREATE DATABASE $scale_db" >/dev/null || die "cannot create the database $scale_db"
    at_exit+=(drop_scale_db)
    url="postgres://postgres@127.0.0.1:5432/$scale_db"
    # One master key for both, from a file, as from a secret store.
    (umask 077 && openssl rand -base64 32 >"$work/master.key")
    mkdir -p "$work/pg-a" "$work/pg-b"
    client=$(SIGNET_DATABASE_URL=$url SIGNET_MASTER_KEY_FILE="$work/master.key" SIGNET_DATA_DIR="$work/pg-a" \
        "$bin" clients create --name bench-pg --scopes "read:signing_keys")
    id=$(sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p' <<<"$client")
    secret=$(sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p' <<<"$client")
    if [ -z "$id" ] || [ -z "$secret" ]; then die "cannot create a client on PostgreSQL: $client"; fi
    SIGNET_DATABASE_URL=$url SIGNET_MASTER_KEY_FILE="$work/master.key" SIGNET_DATA_DIR="$work/pg-a" \
        SIGNET_ADDR="127.0.0.1:$a_port" "$bin" serve >"$work/pg-a.log" 2>&1 &
    a_pid=$!
    pids+=("$a_pid")
    wait_for "$a/readyz" "Signet A on PostgreSQL" "$work/pg-a.log"
    SIGNET_DATABASE_URL=$url SIGNET_MASTER_KEY_FILE="$work/master.key" SIGNET_DATA_DIR="$work/pg-b" \
        SIGNET_ADDR="127.0.0.1:$b_port" "$bin" serve >"$work/pg-b.log" 2>&1 &
    b_pid=$!
    pids+=("$b_pid")
    wait_for "$b/readyz" "Signet B on PostgreSQL" "$work/pg-b.log"
    # Let both finish their start-up work (the spare keys) before anything is measured.
    spares_made "$a_pid" "$b_pid"
    local kids_note=
    [ "$(curl -fs "$a/.well-known/jwks.json" | grep -o '"kid":"[^"]*"' | sort)" = \
        "$(curl -fs "$b/.well-known/jwks.json" | grep -o '"kid":"[^"]*"' | sort)" ] ||
        kids_note=" ❌ A and B served different kids in their JWKS when the measurement began."
    body="grant_type=client_credentials&client_id=$id&client_secret=$secret&audience=https://${SIGNET_TENANT_DOMAIN}/api/v2/"
    for r in "$a" "$b"; do
        curl -fs "$r/oauth/token" -d "$body" | grep -q '"access_token"' || die "$r/oauth/token issued no token"
    done
    post_lua "$body" "$work/pg-token.lua"
    # A second of unmeasured tokens on each: every process signs once and takes its usage lease.
    wrk -t1 -c2 -d1s -s "$work/pg-token.lua" "$a/oauth/token" >/dev/null
    wrk -t1 -c2 -d1s -s "$work/pg-token.lua" "$b/oauth/token" >/dev/null

    say "scale-out: A alone, then A and B at once (wrk -d$duration)"
    r=$(wrk_cpu "$a_pid" -t"$threads" -c"$connections" -d"$duration" "$a/.well-known/jwks.json")
    read -r aj aj_p50 aj_p99 aj_cpu <<<"$r"
    r=$(scale_pair /.well-known/jwks.json "$a" "$b" "$a_pid" "$b_pid")
    read -r pj pj_p50 pj_p99 pj_cpu qj qj_p50 qj_p99 qj_cpu <<<"$r"
    r=$(wrk_cpu "$a_pid" -t"$threads" -c"$connections" -d"$duration" -s "$work/pg-token.lua" "$a/oauth/token")
    read -r at at_p50 at_p99 at_cpu <<<"$r"
    r=$(scale_pair /oauth/token "$a" "$b" "$a_pid" "$b_pid" -s "$work/pg-token.lua")
    read -r pt pt_p50 pt_p99 pt_cpu qt qt_p50 qt_p99 qt_cpu <<<"$r"

    kill "$a_pid" "$b_pid" 2>/dev/null || true
    wait "$a_pid" "$b_pid" 2>/dev/null || true
    drop_scale_db || say "could not drop the database $scale_db"

    local half_t=$((threads > 1 ? threads / 2 : 1)) half_c=$(((connections + 1) / 2))
    scale_report="Scale-out: two Signet processes, A and B, on one PostgreSQL $(pg_admin 'SHOW server_version' | awk '{print $1}') database with one master key file (wrk -d$duration; alone: -t$threads -c$connections against A; at once: two wrk in parallel, -t$half_t -c$half_c each, one against each process):

| two processes, one PostgreSQL | A requests/s | A p50 / p99 | A CPU µs/request | B requests/s | B p50 / p99 | B CPU µs/request | A + B | of A alone |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
| JWKS, A alone | $(fmt "$aj") | $aj_p50 / $aj_p99 ms | $aj_cpu | — | — | — | $(fmt "$aj") | 100% |
| JWKS, A and B at once | $(fmt "$pj") | $pj_p50 / $pj_p99 ms | $pj_cpu | $(fmt "$qj") | $qj_p50 / $qj_p99 ms | $qj_cpu | $(fmt $((pj + qj))) | $(pct $((pj + qj)) "$aj") |
| token (\`/oauth/token\`, RS256), A alone | $(fmt "$at") | $at_p50 / $at_p99 ms | $at_cpu | — | — | — | $(fmt "$at") | 100% |
| token, A and B at once | $(fmt "$pt") | $pt_p50 / $pt_p99 ms | $pt_cpu | $(fmt "$qt") | $qt_p50 / $qt_p99 ms | $qt_cpu | $(fmt $((pt + qt))) | $(pct $((pt + qt)) "$at") |

Both processes, both load generators and PostgreSQL share this machine's $cores cores, so the sum cannot double here: a second process brings no CPU of its own, it splits the same cores. The sum against A alone shows whether spreading the load over two processes on one database costs throughput; the CPU µs/request, which does not depend on how busy the machine is, shows what a request costs each process when both serve (equal to A alone's: the processes add up where each has cores of its own).$kids_note"
}
