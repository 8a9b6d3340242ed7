#!/usr/bin/env bash
# Load figures for Signet's hot paths on the release build, with wrk on this machine:
#
#   bash bench/load.sh            # after `make build`; SIGNET_BIN, DURATION, CONNECTIONS to change
#
# Starts target/release/signet on a fresh embedded database (logging at its default, info, to a
# file, as an operator would run it), creates a machine client, and drives: the JWKS, the JWKS
# revalidated with If-None-Match (304), token issuance (client_credentials), the Management API's
# key list with a verified bearer token, and the signed-in dashboard page (server-rendered).
# Prints a Markdown table (requests/s, p50, p99) and writes it to bench/results/load-<date>.md.
# Everything stays on 127.0.0.1 and stops by itself.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bin=${SIGNET_BIN:-target/release/signet}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
threads=${THREADS:-2}
port=${PORT:-39517}
base="http://127.0.0.1:$port"

command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk, or make tools)" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench: no binary at $bin (run make build)" >&2; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

export SIGNET_DATA_DIR="$work/data"
export SIGNET_ADDR="127.0.0.1:$port"
export SIGNET_TENANT_DOMAIN=bench.signet.test
export SIGNET_ADMIN_PASSWORD=bench-operator-password
export SIGNET_API_RATE_LIMIT_PER_MINUTE=1000000000
unset SIGNET_DATABASE_URL SIGNET_MASTER_KEY_FILE

client=$("$bin" clients create --name bench --scopes "read:signing_keys")
client_id=$(sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p' <<<"$client")
client_secret=$(sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p' <<<"$client")

"$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -fs "$base/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fs "$base/readyz" >/dev/null || { echo "bench: signet did not start" >&2; cat "$work/server.log" >&2; exit 1; }

token_body="grant_type=client_credentials&client_id=$client_id&client_secret=$client_secret&audience=https://bench.signet.test/api/v2/"
token=$(curl -fs "$base/oauth/token" -d "$token_body" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
etag=$(curl -fsI "$base/.well-known/jwks.json" | tr -d '\r' | sed -n 's/^etag: //Ip')
# The dashboard's session cookie, from the same sign-in form a browser posts.
session=$(curl -fs -o /dev/null -D - -H "Origin: $base" --data-urlencode "password=$SIGNET_ADMIN_PASSWORD" \
    "$base/_signet/sign_in" | tr -d '\r' | sed -n 's/^set-cookie: \([^;]*\).*/\1/Ip' | head -n 1)
[ -n "$session" ] || { echo "bench: cannot sign in to the dashboard" >&2; exit 1; }

cat >"$work/token.lua" <<LUA
wrk.method = "POST"
wrk.body = "$token_body"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA

# Prints "requests/s p50 p99" for one wrk run; fails if any response was not 2xx/3xx.
measure() {
    local out rps p50 p99
    out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@")
    if grep -q 'Non-2xx or 3xx responses' <<<"$out"; then
        echo "bench: errors during: $*" >&2
        echo "$out" >&2
        exit 1
    fi
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%s | %s | %s' "$rps" "$p50" "$p99"
}

date=$(date -u +%Y-%m-%d)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
table=$(
    printf '| row | requests/s | p50 | p99 |\n|---|---:|---:|---:|\n'
    printf '| JWKS `GET /.well-known/jwks.json` | %s |\n' "$(measure "$base/.well-known/jwks.json")"
    printf '| JWKS revalidated (`If-None-Match` → 304) | %s |\n' "$(measure -H "If-None-Match: $etag" "$base/.well-known/jwks.json")"
    printf '| token issuance `POST /oauth/token` | %s |\n' "$(measure -s "$work/token.lua" "$base/oauth/token")"
    printf '| Management list `GET /api/v2/keys/signing` (bearer verified) | %s |\n' "$(measure -H "Authorization: Bearer $token" "$base/api/v2/keys/signing")"
    printf '| dashboard page `GET /tenant/signing_keys` (signed in, server-rendered) | %s |\n' "$(measure -H "Cookie: $session" "$base/tenant/signing_keys")"
)
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")

report="Signet load figures, $date, $(nproc) cores ($cpu), wrk -t$threads -c$connections -d$duration on the same machine, release build, logging at info.

$table

Resident memory of the server after the runs: $((rss_kb / 1024)) MB."
mkdir -p bench/results
printf '%s\n' "$report" | tee "bench/results/load-$date.md"
