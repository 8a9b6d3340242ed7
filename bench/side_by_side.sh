# shellcheck shell=bash
# Shared by bench/tenants.sh and bench/metrics.sh (sourced after bench/lib.sh, not run): two
# Signets side by side, each on a data directory of its own, driven by bench/tenants.lua with a
# file of "host client_id client_secret" lines, in alternating rounds. Reads `bin`, `threads`,
# `duration` and `token_connections` of the script that sources it.

now_ms() { date +%s%3N; }
# `signet_on DIR ARGS…`: the CLI on the database in DIR.
signet_on() {
    local dir=$1
    shift
    SIGNET_DATA_DIR="$dir" "$bin" "$@"
}
# `serve DIR PORT`: starts Signet on DIR's database in the background; sets pid and started_at.
serve() {
    started_at=$(now_ms)
    SIGNET_DATA_DIR="$1" SIGNET_ADDR="127.0.0.1:$2" "$bin" serve >"$1.log" 2>&1 &
    pid=$!
    pids+=("$pid")
}
# `served_ms PORT HOST KID`: waits until HOST's JWKS names KID; prints the ms since started_at.
served_ms() {
    local port=$1 host=$2 kid=$3
    for _ in $(seq 3000); do
        if curl -fs -H "Host: $host" "http://127.0.0.1:$port/.well-known/jwks.json" 2>/dev/null | grep -q "$kid"; then
            echo $(($(now_ms) - started_at))
            return 0
        fi
        sleep 0.01
    done
    die "$host was not served on port $port"
}
client_line() { # `client_line HOST JSON`: "HOST client_id client_secret"
    local id secret
    id=$(sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p' <<<"$2")
    secret=$(sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p' <<<"$2")
    [ -n "$id" ] && [ -n "$secret" ] || die "cannot create a client: $2"
    printf '%s %s %s\n' "$1" "$id" "$secret"
}
first_kid() { sed -n 's/.*"kid": *"\([^"]*\)".*/\1/p' | head -1; }

# `measure PORT CLIENTS CONNECTIONS PATH`: "requests/s p50-ms p99-ms" of bench/tenants.lua with
# the tenants in the file CLIENTS; any non-2xx/3xx answer stops it.
measure() {
    wrk_figures "$(TENANTS_CLIENTS="$2" TENANTS_PATH="$4" wrk -t"$threads" -c"$3" -d"$duration" \
        --latency -s bench/tenants.lua "http://127.0.0.1:$1$4")" "$4 on port $1"
}
# `warm PORT CLIENTS`: unmeasured token requests first, so every tenant's key has signed and
# holds its usage-ledger lease (one durable write per key per lease) before the measured runs.
warm() {
    TENANTS_CLIENTS="$2" TENANTS_PATH=/oauth/token wrk -t"$threads" -c"$token_connections" \
        -d"${WARMUP:-5s}" -s bench/tenants.lua "http://127.0.0.1:$1/oauth/token" >/dev/null
}
