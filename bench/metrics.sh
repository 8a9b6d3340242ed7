#!/usr/bin/env bash
# What the metrics cost (issue 18), on this machine:
#
#   bash bench/metrics.sh
#
# Two Signets side by side, alike but for the metrics: one with SIGNET_METRICS_ADDR set (every
# request counted and timed, scraped by a loop once a second as Prometheus would, more often
# than it usually does), one without. The JWKS and token rates of both, measured in alternating
# rounds (ROUNDS, best of each kept), and the ratio on/off: the budget is 97% or more.
#
# Prints one Markdown table and writes it to bench/results/metrics-<date>.md. Knobs
# (environment): DURATION (10s per row), CONNECTIONS (32), TOKEN_CONNECTIONS (16), THREADS (2),
# ROUNDS (3), WARMUP (5s), SKIP_BUILD=1 to use the release binary already built. Nothing leaves
# 127.0.0.1.

set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
token_connections=${TOKEN_CONNECTIONS:-16}
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
on_port=61547
off_port=61548
scrape_port=61549
host=bench.signet.test
date=$(date -u +%Y-%m-%d)

# shellcheck source=bench/lib.sh
. bench/lib.sh
# shellcheck source=bench/side_by_side.sh
. bench/side_by_side.sh

release_binary wrk curl

bench_settings $host

on="$work/on"
off="$work/off"
for side in "$on" "$off"; do
    client_line "$host" "$(signet_on "$side" clients create --name bench --scopes read:signing_keys)" >"$side.txt"
done

say "serving with metrics on :$on_port (scraped on :$scrape_port) and without on :$off_port"
SIGNET_METRICS_ADDR="127.0.0.1:$scrape_port" serve "$on" "$on_port"
served_ms "$on_port" "$host" "$(signet_on "$on" keys list --json | first_kid)" >/dev/null
serve "$off" "$off_port"
served_ms "$off_port" "$host" "$(signet_on "$off" keys list --json | first_kid)" >/dev/null
curl -fs "http://127.0.0.1:$scrape_port/metrics" | grep -q '^signet_database_up 1' ||
    die "the metrics are not served on :$scrape_port"
# A scraper, once a second, for as long as the benchmark runs.
(while sleep 1; do curl -fs -o /dev/null "http://127.0.0.1:$scrape_port/metrics" || true; done) &
pids+=("$!")

say "measuring in $rounds alternating rounds (wrk -t$threads -d$duration per run)"
warm "$on_port" "$on.txt"
warm "$off_port" "$off.txt"
on_jwks='' off_jwks='' on_token='' off_token=''
for ((round = 1; round <= rounds; round++)); do
    on_jwks=$(best "$on_jwks" "$(measure "$on_port" "$on.txt" "$connections" /.well-known/jwks.json)")
    off_jwks=$(best "$off_jwks" "$(measure "$off_port" "$off.txt" "$connections" /.well-known/jwks.json)")
    on_token=$(best "$on_token" "$(measure "$on_port" "$on.txt" "$token_connections" /oauth/token)")
    off_token=$(best "$off_token" "$(measure "$off_port" "$off.txt" "$token_connections" /oauth/token)")
done
series=$(curl -fs "http://127.0.0.1:$scrape_port/metrics" | grep -cv '^#')
row() { # `row WHAT ON OFF`
    local on_rps on_p50 on_p99 off_rps off_p50 off_p99
    read -r on_rps on_p50 on_p99 <<<"$2"
    read -r off_rps off_p50 off_p99 <<<"$3"
    printf '| %s | %s | %s ms | %s ms | %s | %s ms | %s ms | %s |\n' "$1" \
        "$(fmt "$on_rps")" "$on_p50" "$on_p99" "$(fmt "$off_rps")" "$off_p50" "$off_p99" \
        "$(check "$(pct "$on_rps" "$off_rps") of off (≥ 97%)" "$on_rps >= 0.97 * $off_rps")"
}

table="| row | metrics on: requests/s | p50 | p99 | metrics off: requests/s | p50 | p99 | budget |
|---|---:|---:|---:|---:|---:|---:|---|
$(row "JWKS" "$on_jwks" "$off_jwks")
$(row "token (\`/oauth/token\`)" "$on_token" "$off_token")

The scrape after the runs held $series series."

report="# Signet with and without metrics, $date

$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); wrk -t$threads -d$duration on the same machine (JWKS at $connections connections, tokens at $token_connections), best of $rounds alternating rounds; release build, embedded SQLite, logging at info; the metrics scraped once a second throughout.

$table"
mkdir -p bench/results
printf '%s\n' "$report" | tee "bench/results/metrics-$date.md"
