#!/usr/bin/env bash
# Many tenants in one process (issue 15), on this machine:
#
#   bash bench/tenants.sh          (bench/run.sh runs it too, after its own tables)
#
# Two Signets side by side: one with only its default tenant, one with TENANTS tenants (made
# with signet tenants create, a hundred domains per run) and a client each. Reported: the
# second's start-up time (launch until the last tenant's JWKS answers) and resident memory once
# idle; the JWKS and token rates of both, a random tenant per request for the second
# (bench/tenants.lua), measured in alternating rounds (ROUNDS, best of each kept, so a noisy
# moment of the shared machine does not decide the ratio); and the time to create one more
# tenant while it serves (the CLI's run, and until the server serves it).
#
# Prints one Markdown table and writes it to bench/results/tenants-<date>.md. Knobs
# (environment): TENANTS (1000), DURATION (10s per row), CONNECTIONS (32), TOKEN_CONNECTIONS
# (16), THREADS (2), ROUNDS (2), WARMUP (5s of unmeasured token requests before the first round),
# SKIP_BUILD=1 to use the release binary already built. Nothing leaves 127.0.0.1.

set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

tenants=${TENANTS:-1000}
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
token_connections=${TOKEN_CONNECTIONS:-16}
threads=${THREADS:-2}
rounds=${ROUNDS:-2}
one_port=61527
many_port=61528
default_host=bench.signet.test
date=$(date -u +%Y-%m-%d)

# shellcheck source=bench/lib.sh
. bench/lib.sh

release_binary wrk curl

bench_settings $default_host

domain_of() { printf 't%04d.bench.test' "$1"; }
# shellcheck source=bench/side_by_side.sh
. bench/side_by_side.sh

scopes="read:signing_keys"
one="$work/one"
many="$work/many"

say "one tenant, with a client"
client_line "$default_host" "$(signet_on "$one" clients create --name bench --scopes "$scopes")" >"$work/one.txt"

say "creating $tenants tenants with a client each"
created_at=$(now_ms)
for ((first = 1; first <= tenants; first += 100)); do
    last=$((first + 99 > tenants ? tenants : first + 99))
    domains=()
    for ((n = first; n <= last; n++)); do domains+=("$(domain_of "$n")"); done
    signet_on "$many" tenants create "${domains[@]}" >/dev/null
done
create_all_s=$(awk -v ms=$(($(now_ms) - created_at)) 'BEGIN { printf "%.0f", ms / 1000 }')
: >"$work/many.txt"
for ((n = 1; n <= tenants; n++)); do
    host=$(domain_of "$n")
    client_line "$host" "$(signet_on "$many" clients create --tenant "$host" --name bench --scopes "$scopes")" >>"$work/many.txt"
done
last_host=$(domain_of "$tenants")
last_kid=$(signet_on "$many" keys list --tenant "$last_host" --json | first_kid)

say "serving one tenant on :$one_port and $tenants tenants on :$many_port"
serve "$one" "$one_port"
one_pid=$pid
served_ms "$one_port" "$default_host" "$(signet_on "$one" keys list --json | first_kid)" >/dev/null
serve "$many" "$many_port"
many_pid=$pid
startup_ms=$(served_ms "$many_port" "$last_host" "$last_kid")
# Let both finish their start-up work (the spare keys) before anything is measured.
spares_made "$one_pid" "$many_pid"
sleep 3
idle_rss=$(rss_mb "$many_pid")

say "measuring in $rounds alternating rounds (wrk -t$threads -d$duration per run)"
warm "$one_port" "$work/one.txt"
warm "$many_port" "$work/many.txt"
one_jwks_m= many_jwks_m= one_token_m= many_token_m=
for ((round = 1; round <= rounds; round++)); do
    one_jwks_m=$(best "$one_jwks_m" "$(measure "$one_port" "$work/one.txt" "$connections" /.well-known/jwks.json)")
    many_jwks_m=$(best "$many_jwks_m" "$(measure "$many_port" "$work/many.txt" "$connections" /.well-known/jwks.json)")
    one_token_m=$(best "$one_token_m" "$(measure "$one_port" "$work/one.txt" "$token_connections" /oauth/token)")
    many_token_m=$(best "$many_token_m" "$(measure "$many_port" "$work/many.txt" "$token_connections" /oauth/token)")
done
read -r one_jwks one_jwks_p50 one_jwks_p99 <<<"$one_jwks_m"
read -r many_jwks many_jwks_p50 many_jwks_p99 <<<"$many_jwks_m"
read -r one_token one_token_p50 one_token_p99 <<<"$one_token_m"
read -r many_token many_token_p50 many_token_p99 <<<"$many_token_m"
load_rss=$(rss_mb "$many_pid")

say "one more tenant while serving"
cli_started=$(now_ms)
extra=$(signet_on "$many" tenants create one-more.bench.test)
create_cli_ms=$(($(now_ms) - cli_started))
extra_kid=$(sed -n 's/.*"current_kid": *"\([^"]*\)".*/\1/p' <<<"$extra")
started_at=$cli_started
create_served_ms=$(served_ms "$many_port" one-more.bench.test "$extra_kid")

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

$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); wrk -t$threads -d$duration on the same machine (JWKS at $connections connections, tokens at $token_connections), best of $rounds alternating rounds; release build, embedded SQLite, logging at info.

$table"
mkdir -p bench/results
printf '%s\n' "$report" | tee "bench/results/tenants-$date.md"
