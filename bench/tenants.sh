#!/usr/bin/env bash
# Many tenants in one process (issue 15), on this machine:
#
#   bash bench/tenants.sh          (bench/run.sh runs it too, after its own tables)
#
# 1. One Signet with only its default tenant: the single-tenant JWKS and token rates.
# 2. The same database grown to TENANTS tenants (signet tenants create, a hundred domains per
#    run) with a client each; then a fresh `signet serve` on it: start-up time (launch until
#    the last tenant's JWKS answers), resident memory once idle, the JWKS and token rates with a
#    random tenant per request (bench/tenants.lua), and the time to create one more tenant
#    while it serves (the CLI's run, and until the server serves it).
#
# Prints one Markdown table and writes it to bench/results/tenants-<date>.md. Knobs
# (environment): TENANTS (1000), DURATION (10s per row), CONNECTIONS (32), TOKEN_CONNECTIONS
# (16), THREADS (2), WARMUP (5s of unmeasured token requests before each token row),
# SKIP_BUILD=1 to use the release binary already built. Nothing leaves 127.0.0.1.

set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

tenants=${TENANTS:-1000}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
token_connections=${TOKEN_CONNECTIONS:-16}
threads=${THREADS:-2}
port=39527
signet="http://127.0.0.1:$port"
default_host=bench.signet.test
date=$(date -u +%Y-%m-%d)

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

if [ -z "${SKIP_BUILD:-}" ]; then
    say "building the release binary and the dashboard (make build)"
    make --no-print-directory build >&2
fi
bin=$root/target/release/signet
[ -x "$bin" ] || die "no binary at $bin (run make build)"
for tool in wrk curl; do
    command -v "$tool" >/dev/null || die "$tool is missing (make tools installs it)"
done

work=$(mktemp -d)
signet_pid=
cleanup() {
    [ -z "$signet_pid" ] || kill "$signet_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

export SIGNET_DATA_DIR="$work/data"
export SIGNET_ADDR="127.0.0.1:$port"
export SIGNET_TENANT_DOMAIN=$default_host
export SIGNET_ADMIN_PASSWORD=bench-operator-password
export SIGNET_API_RATE_LIMIT_PER_MINUTE=1000000000
export SIGNET_ROTATION_LIMIT_PER_DAY=0
unset SIGNET_DATABASE_URL SIGNET_MASTER_KEY_FILE SIGNET_TLS_CERT_FILE SIGNET_TLS_KEY_FILE \
    SIGNET_TRUSTED_PROXIES RUST_LOG

domain_of() { printf 't%04d.bench.test' "$1"; }
now_ms() { date +%s%3N; }

# `serve`: starts Signet in the background, sets signet_pid and started_at (ms).
serve() {
    started_at=$(now_ms)
    "$bin" serve >"$work/signet.log" 2>&1 &
    signet_pid=$!
}
stop() {
    kill "$signet_pid"
    wait "$signet_pid" 2>/dev/null || true
    signet_pid=
}
# `served_ms HOST KID`: waits until HOST's JWKS names KID; prints the ms since started_at.
served_ms() {
    local host=$1 kid=$2
    for _ in $(seq 3000); do
        if curl -fs -H "Host: $host" "$signet/.well-known/jwks.json" 2>/dev/null | grep -q "$kid"; then
            echo $(($(now_ms) - started_at))
            return 0
        fi
        sleep 0.01
    done
    cat "$work/signet.log" >&2
    die "$host was not served"
}
client_line() { # `client_line HOST JSON`: "HOST client_id client_secret"
    local id secret
    id=$(sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p' <<<"$2")
    secret=$(sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p' <<<"$2")
    [ -n "$id" ] && [ -n "$secret" ] || die "cannot create a client: $2"
    printf '%s %s %s\n' "$1" "$id" "$secret"
}

# Milliseconds from a wrk latency ("693.00us", "17.70ms", "1.20s").
ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
        printf "%.2f", n
    }'
}
# `measure CONNECTIONS SCRIPT PATH`: "requests/s p50-ms p99-ms"; any non-2xx/3xx answer stops it.
measure() {
    local out rps p50 p99
    out=$(wrk -t"$threads" -c"$1" -d"$duration" --latency -s "$2" "$signet$3")
    if grep -q 'Non-2xx or 3xx responses\|Socket errors' <<<"$out"; then
        die "errors during $2: $out"
    fi
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%s %s %s\n' "$rps" "$(ms "$p50")" "$(ms "$p99")"
}
# `warm CONNECTIONS SCRIPT PATH`: an unmeasured run first, so every tenant's key has signed and
# holds its usage-ledger lease (one durable write per key per lease) before the measured run.
warm() {
    wrk -t"$threads" -c"$1" -d"${WARMUP:-5s}" -s "$2" "$signet$3" >/dev/null
}
fmt() { printf '%d' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
check() { if awk "BEGIN { exit !($2) }"; then printf '✅ %s' "$1"; else printf '❌ %s' "$1"; fi; }
rss_mb() { awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$signet_pid/status"; }

scopes="read:signing_keys"
export TENANTS_CLIENTS="$work/clients.txt"

# --- 1. one tenant ---
say "one tenant: JWKS and token rates"
client_line "$default_host" "$("$bin" clients create --name bench --scopes "$scopes")" >"$TENANTS_CLIENTS"
serve
first_kid=$("$bin" keys list --json | sed -n 's/.*"kid": *"\([^"]*\)".*/\1/p' | head -1)
served_ms "$default_host" "$first_kid" >/dev/null
sleep 2
read -r one_jwks one_jwks_p50 one_jwks_p99 <<<"$(measure "$connections" bench/tenants.lua /.well-known/jwks.json)"
TENANTS_PATH=/oauth/token warm "$token_connections" bench/tenants.lua /oauth/token
read -r one_token one_token_p50 one_token_p99 <<<"$(TENANTS_PATH=/oauth/token measure "$token_connections" bench/tenants.lua /oauth/token)"
stop

# --- 2. many tenants ---
say "creating $tenants tenants with a client each"
created_at=$(now_ms)
for ((first = 1; first <= tenants; first += 100)); do
    last=$((first + 99 > tenants ? tenants : first + 99))
    domains=()
    for ((n = first; n <= last; n++)); do domains+=("$(domain_of "$n")"); done
    "$bin" tenants create "${domains[@]}" >/dev/null
done
create_all_s=$(awk -v ms=$(($(now_ms) - created_at)) 'BEGIN { printf "%.0f", ms / 1000 }')
: >"$TENANTS_CLIENTS"
for ((n = 1; n <= tenants; n++)); do
    host=$(domain_of "$n")
    client_line "$host" "$("$bin" clients create --tenant "$host" --name bench --scopes "$scopes")" >>"$TENANTS_CLIENTS"
done
last_host=$(domain_of "$tenants")
last_kid=$("$bin" keys list --tenant "$last_host" --json | sed -n 's/.*"kid": *"\([^"]*\)".*/\1/p' | head -1)

say "serving $tenants tenants"
serve
startup_ms=$(served_ms "$last_host" "$last_kid")
sleep 3
idle_rss=$(rss_mb)
read -r many_jwks many_jwks_p50 many_jwks_p99 <<<"$(measure "$connections" bench/tenants.lua /.well-known/jwks.json)"
TENANTS_PATH=/oauth/token warm "$token_connections" bench/tenants.lua /oauth/token
read -r many_token many_token_p50 many_token_p99 <<<"$(TENANTS_PATH=/oauth/token measure "$token_connections" bench/tenants.lua /oauth/token)"
load_rss=$(rss_mb)

say "one more tenant while serving"
cli_started=$(now_ms)
extra=$("$bin" tenants create one-more.bench.test)
create_cli_ms=$(($(now_ms) - cli_started))
extra_kid=$(sed -n 's/.*"current_kid": *"\([^"]*\)".*/\1/p' <<<"$extra")
started_at=$cli_started
create_served_ms=$(served_ms one-more.bench.test "$extra_kid")
stop

table="| $tenants tenants in one process | requests/s | p50 | p99 | budget |
|---|---:|---:|---:|---|
| JWKS, one tenant (baseline) | $(fmt "$one_jwks") | $one_jwks_p50 ms | $one_jwks_p99 ms | |
| JWKS, random tenant per request | $(fmt "$many_jwks") | $many_jwks_p50 ms | $many_jwks_p99 ms | $(check "≥ 90% of one tenant ($(pct "$many_jwks" "$one_jwks"))" "$many_jwks >= 0.9 * $one_jwks") |
| token (\`/oauth/token\`), one tenant (baseline) | $(fmt "$one_token") | $one_token_p50 ms | $one_token_p99 ms | |
| token, random tenant per request | $(fmt "$many_token") | $many_token_p50 ms | $many_token_p99 ms | $(pct "$many_token" "$one_token") of one tenant |
| start-up (launch until tenant $tenants's JWKS answers) | | | | $(check "$startup_ms ms (≤ 5 s)" "$startup_ms <= 5000") |
| resident memory, idle | | | | $(check "$idle_rss MB (≤ 150 MB)" "$idle_rss <= 150"); $load_rss MB after the load |
| one more tenant: \`signet tenants create\` (a CLI process) | | | | $(check "$create_cli_ms ms (≤ 1 s)" "$create_cli_ms <= 1000") |
| one more tenant: until the running server serves it | | | | $(check "$create_served_ms ms (≤ 2 s)" "$create_served_ms <= 2000") |

Creating the $tenants tenants (a hundred per \`signet tenants create\`) took $create_all_s s."

report="# Signet with $tenants tenants, $date

$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); wrk -t$threads -d$duration on the same machine (JWKS at $connections connections, tokens at $token_connections); release build, embedded SQLite, logging at info.

$table"
mkdir -p bench/results
printf '%s\n' "$report" | tee "bench/results/tenants-$date.md"
