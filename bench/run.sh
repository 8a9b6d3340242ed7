#!/usr/bin/env bash
# Signet's performance benchmark, side by side with a reference peer, on this machine:
#
#   bash bench/run.sh
#
# Builds the release binary (make build) and a bare axum "hello" server (the HTTP ceiling),
# installs the reference peer (panva's oidc-provider, bench/peer/) when missing, starts Signet, the
# peer twice (WORKERS=1, and one worker per core) and bare axum on 127.0.0.1, and drives them with
# wrk on the same cores. The key history is first grown to the first of LEVELS (10 previous keys),
# and the main table is measured there: JWKS (identity, Accept-Encoding br and gzip, with the bytes
# on the wire and the Content-Encoding answered), JWKS revalidation (304), the request log's cost
# (an A/B of pairs of new Signets alike but for RUST_LOG, info against warn, bench/logging_ab.sh), token issuance, the
# Management list, JWKS and the paginated list at the last level, rotate latency, the signed-in
# page's server render, the hydrate WASM, time to interactive (cold, and again after the growth
# runs), memory, and both peers. Every wrk row carries the server's CPU µs/request (its CPU time
# from /proc before and after, over the requests wrk made) and that figure over bare axum's.
# Writes it, with the growth table, to bench/results/run-<date>.md.
#
# The signing service has its own table (bench/signing_table.sh): signed JWTs per second through
# POST /api/v2/jwt/sign (bench/sign.lua: one ID token's claims, a bearer token with sign:tokens)
# beside Signet's and the peer's token endpoints at the same connection count, signatures per
# second through POST /api/v2/jwt/sign-batch (100 claim sets per request), each as a share of the
# RSA-2048 ceiling that `openssl speed -multi <cores> rsa2048` measures on this machine.
#
# The growth table grows the key history to each of LEVELS and measures there the JWKS (br and
# identity), the Management list (whole, and a page of 10 with ?page=0&per_page=10, both br) and
# ROTATIONS rotations. The scale-out table (bench/scale_out.sh) runs two Signets on one scratch
# PostgreSQL database at 127.0.0.1:5432 (user postgres, trust; skipped with the reason when there
# is none) and measures the JWKS and tokens on one alone, then on both at once.
#
# Last, the many-tenants table (bench/tenants.sh, written to bench/results/tenants-<date>.md), then
# the signing-algorithms table (bench/algorithms.sh, written to bench/results/algorithms-<date>.md).
#
# Knobs (environment): DURATION (10s per row), CONNECTIONS (32), THREADS (2), ROTATIONS (50
# measured rotations per level), LEVELS ("10 100 1000" previous keys), SIGN_CONNECTIONS (16, for
# the sign and token-endpoint rows of the signing table), BATCH_CONNECTIONS (4), BATCH_SIZE (100),
# SKIP_BUILD=1 to use the binaries already built, SKIP_SCALE_OUT=1 to leave out the PostgreSQL
# scale-out table, SKIP_TENANTS=1 and SKIP_ALGORITHMS=1 to leave out bench/tenants.sh and
# bench/algorithms.sh, SIGN_ONLY=1 to measure only the signing table (about a minute; written to
# bench/results/sign-<date>.md), ALGORITHMS_ONLY=1 to measure only the signing-algorithms table
# (bench/algorithms.sh and its knobs; three to four minutes). Everything stops by itself (the
# scratch database is dropped); nothing leaves 127.0.0.1.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
threads=${THREADS:-2}
samples=${ROTATIONS:-50}
levels=${LEVELS:-10 100 1000}
sign_connections=${SIGN_CONNECTIONS:-16}
batch_connections=${BATCH_CONNECTIONS:-4}
batch_size=${BATCH_SIZE:-100}
cores=$(nproc)
# The signing client's policy: the audience bench/sign.lua signs for, and a lifetime above the
# exp it asks for (now + 3000 s).
sign_audience=https://app.example
sign_max_lifetime=3600
# Above the kernel's ephemeral range (32768–60999): a server started late in the run must not
# find its port taken by one of the many client connections the rows before it opened.
signet_port=61517
peer_port=61518
hello_port=61519
peer1_port=61520
quiet_port=61521
loud_port=61524
scale_a_port=61522
scale_b_port=61523
signet="http://127.0.0.1:$signet_port"
peer="http://127.0.0.1:$peer_port"
peer1="http://127.0.0.1:$peer1_port"
hello="http://127.0.0.1:$hello_port"
body_port=61529
body="http://127.0.0.1:$body_port"
jwks="$signet/.well-known/jwks.json"
page_url="$signet/api/v2/keys/signing?page=0&per_page=10"

# The signing-algorithms table alone: bench/algorithms.sh builds the release binary itself
# unless SKIP_BUILD is set.
if [ -n "${ALGORITHMS_ONLY:-}" ]; then
    exec bash bench/algorithms.sh
fi

# shellcheck source=bench/lib.sh
. bench/lib.sh

if [ -z "${SKIP_BUILD:-}" ]; then
    say "building the release binary and the dashboard (make build)"
    make --no-print-directory build >&2
    say "building the bare axum ceiling (server/examples/hello.rs)"
    cargo build --release --quiet -p server --example hello >&2
fi
bin=target/release/signet
hello_bin=target/release/examples/hello
[ -x "$bin" ] || die "no binary at $bin (run make build)"
# The signing table alone (SIGN_ONLY=1) needs no bare axum ceiling.
[ -n "${SIGN_ONLY:-}" ] || [ -x "$hello_bin" ] ||
    die "no binary at $hello_bin (cargo build --release -p server --example hello)"
# One version of each binary for the whole run, even if a build replaces them meanwhile.
cp "$bin" "$work/signet"
bin=$work/signet
if [ -x "$hello_bin" ]; then
    cp "$hello_bin" "$work/hello"
    hello_bin=$work/hello
fi
for tool in wrk curl openssl node brotli gzip pgrep getconf; do
    command -v "$tool" >/dev/null || die "$tool is missing (make tools installs it)"
done
if [ ! -d bench/peer/node_modules/oidc-provider ]; then
    say "installing the reference peer (npm ci in bench/peer)"
    (cd bench/peer && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

wait_for() {
    local url=$1 what=$2 log=$3
    for _ in $(seq 200); do
        curl -fs -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$log" >&2
    die "$what did not start"
}

# `alive PID WHAT LOG`: stops the benchmark with LOG's end if the process PID has exited.
alive() {
    kill -0 "$1" 2>/dev/null && return 0
    tail -n 20 "$3" >&2
    die "$2 has exited"
}

# The processes serving each port, for the CPU time of `measure`.
declare -A server_of=()

# --- Signet, on a fresh embedded database, logging at its default (info) to a file ---
export SIGNET_DATA_DIR="$work/data"
export SIGNET_ADDR="127.0.0.1:$signet_port"
export SIGNET_TENANT_DOMAIN=bench.signet.test
export SIGNET_ADMIN_PASSWORD=bench-operator-password
export SIGNET_API_RATE_LIMIT_PER_MINUTE=1000000000
export SIGNET_ROTATION_LIMIT_PER_DAY=0
export SIGNET_PUBLICATION_WINDOW_SECS=0
unset SIGNET_DATABASE_URL SIGNET_MASTER_KEY_FILE SIGNET_TLS_CERT_FILE SIGNET_TLS_KEY_FILE RUST_LOG
client=$("$bin" clients create --name bench --scopes "read:signing_keys create:signing_keys update:signing_keys")
client_id=$(sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p' <<<"$client")
client_secret=$(sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p' <<<"$client")
# The signing service's client: sign:tokens only, for the app's audience, up to an hour.
signer=$("$bin" clients create --name bench-signer --scopes "sign:tokens" \
    --audiences "$sign_audience" --max-lifetime "$sign_max_lifetime")
signer_id=$(sed -n 's/.*"client_id": *"\([^"]*\)".*/\1/p' <<<"$signer")
signer_secret=$(sed -n 's/.*"client_secret": *"\([^"]*\)".*/\1/p' <<<"$signer")
[ -n "$signer_id" ] && [ -n "$signer_secret" ] || die "cannot create the signing client: $signer"
"$bin" serve >"$work/signet.log" 2>&1 &
signet_pid=$!
pids+=("$signet_pid")
server_of[$signet_port]=$signet_pid
wait_for "$signet/readyz" signet "$work/signet.log"

# --- the reference peer: oidc-provider, one RSA-2048 key, client_credentials, JWT access tokens;
# a worker per core, and (beside the signing table alone) one worker ---
PORT=$peer_port node bench/peer/server.mjs >"$work/peer.log" 2>&1 &
pids+=("$!")
server_of[$peer_port]=$!
wait_for "$peer/jwks" "the oidc-provider peer" "$work/peer.log"

# --- the ceiling: bare axum ---
if [ -z "${SIGN_ONLY:-}" ]; then
    WORKERS=1 PORT=$peer1_port node bench/peer/server.mjs >"$work/peer1.log" 2>&1 &
    pids+=("$!")
    server_of[$peer1_port]=$!
    wait_for "$peer1/jwks" "the oidc-provider peer with one worker" "$work/peer1.log"
    HELLO_ADDR="127.0.0.1:$hello_port" "$hello_bin" >"$work/hello.log" 2>&1 &
    pids+=("$!")
    server_of[$hello_port]=$!
    wait_for "$hello/" "the bare axum server" "$work/hello.log"
fi

# Let the start-up work (spare keys, the peer's workers) finish before anything is measured.
spares_made "$signet_pid"
sleep 3
alive "$signet_pid" signet "$work/signet.log"
idle_rss=$(rss_mb "$signet_pid")
peer_workers=$(sed -n 's/^peer listening on .* (\([0-9]*\) workers)$/\1/p' "$work/peer.log")
peer_workers=${peer_workers:-$cores}

signet_token_body="grant_type=client_credentials&client_id=$client_id&client_secret=$client_secret&audience=https://bench.signet.test/api/v2/"
token=$(curl -fs "$signet/oauth/token" -d "$signet_token_body" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || die "Signet issued no token"
signer_token=$(curl -fs "$signet/oauth/token" \
    -d "grant_type=client_credentials&client_id=$signer_id&client_secret=$signer_secret&audience=https://bench.signet.test/api/v2/" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$signer_token" ] || die "Signet issued no token to the signing client"
peer_token_body="grant_type=client_credentials&client_id=bench&client_secret=bench-secret-bench-secret-bench-secret&scope=read:signing_keys"
peer_token=$(curl -fs "$peer/token" -d "$peer_token_body" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ "$(tr -cd . <<<"$peer_token" | wc -c)" -eq 2 ] || die "the peer issued no JWT access token"
session=$(curl -fs -o /dev/null -D - -H "Origin: $signet" --data-urlencode "password=$SIGNET_ADMIN_PASSWORD" \
    "$signet/_signet/sign_in" | tr -d '\r' | sed -n 's/^set-cookie: \([^;]*\).*/\1/Ip' | head -n 1)
[ -n "$session" ] || die "cannot sign in to the dashboard"

post_lua() { # a wrk script that POSTs a form body
    printf 'wrk.method = "POST"\nwrk.body = "%s"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n' "$1" >"$2"
}
post_lua "$signet_token_body" "$work/signet-token.lua"
post_lua "$peer_token_body" "$work/peer-token.lua"

# One wrk run against a server started above (found by the URL's port): prints "requests/s
# p50-ms p99-ms cpu-µs/request"; any non-2xx/3xx answer stops the benchmark.
measure() {
    local url=${*: -1} port
    port=${url#http://127.0.0.1:}
    port=${port%%/*}
    [ -n "${server_of[$port]:-}" ] || die "no server of this run listens on port $port"
    wrk_cpu "${server_of[$port]}" -t"$threads" -c"${WRK_CONNECTIONS:-$connections}" \
        -d"${WRK_DURATION:-$duration}" "$@"
}

# `rotations N PACE`: N rotations through the Management API, one at a time, PACE seconds apart
# (the next key is generated in the background meanwhile); prints "p50-ms p99-ms max-ms".
rotations() {
    local n=$1 pace=$2 i
    : >"$work/rotations"
    for i in $(seq "$n"); do
        curl -fs -o /dev/null -w '%{time_total}\n' -X POST -H "Authorization: Bearer $token" \
            "$signet/api/v2/keys/signing/rotate" >>"$work/rotations" || die "a rotation failed"
        sleep "$pace"
    done
    sort -g "$work/rotations" | awk '{ v[NR] = $1 * 1000 } END {
        p50 = v[int((NR + 1) / 2)]; i99 = int(NR * 0.99 + 0.999); if (i99 < 1) i99 = 1
        printf "%.1f %.1f %.1f\n", p50, v[i99], v[NR] }'
}

# `rotate_fast N`: N rotations, two at a time, unmeasured: they only grow the key history.
rotate_fast() {
    seq "$1" | xargs -P 2 -I{} curl -fs -o /dev/null -X POST -H "Authorization: Bearer $token" \
        "$signet/api/v2/keys/signing/rotate" || die "a rotation failed"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }

# shellcheck source=bench/signing_table.sh
. bench/signing_table.sh

date=$(date -u +%Y-%m-%d)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
machine="$cores cores ($cpu), $(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
peer_version=$(node -p 'require("./bench/peer/node_modules/oidc-provider/package.json").version')

if [ -n "${SIGN_ONLY:-}" ]; then
    say "openssl speed -seconds 5 -multi $cores rsa2048"
    openssl_sign=$(openssl_ceiling) || die "cannot read sign/s from openssl speed"
    sign_bench
    report="# Signet signing benchmark, $date

$machine; wrk -t$threads -d$duration on the same machine; release build, logging at info. Peer: oidc-provider $peer_version on Node.js $(node --version), one worker per core.

$sign_table

$sign_summary"
    mkdir -p bench/results
    printf '%s\n' "$report" | tee "bench/results/sign-$date.md"
    exit 0
fi

# shellcheck source=bench/logging_ab.sh
. bench/logging_ab.sh
# shellcheck source=bench/scale_out.sh
. bench/scale_out.sh
# shellcheck source=bench/run_tables.sh
. bench/run_tables.sh

# --- the main rows, at the first level of the key history ---
first_level=${levels%% *}
previous=0
if [ "$first_level" -gt 0 ]; then
    say "growing the key history to $first_level previous keys"
    rotate_fast "$first_level"
    previous=$first_level
    # Steady state: the spare next keys that the burst used up are generated again.
    spares_made "$signet_pid"
fi
etag=$(curl -fsI "$jwks" | tr -d '\r' | sed -n 's/^etag: //Ip')
revalidated=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$jwks")
r=$(jwks_wire)
read -r wire_id wire_gzip answered_gzip wire_br answered_br <<<"$r"
# A second bare axum serving these very JWKS bytes: the ceiling for a response of this size.
curl -fs "$jwks" >"$work/jwks.json"
HELLO_ADDR="127.0.0.1:$body_port" HELLO_BODY_FILE="$work/jwks.json" "$hello_bin" >"$work/hello-body.log" 2>&1 &
pids+=("$!")
server_of[$body_port]=$!
wait_for "$body/body" "the bare axum server with the JWKS's bytes" "$work/hello-body.log"

say "measuring (wrk -t$threads -c$connections -d$duration per row)"
r=$(measure "$jwks")
read -r jwks_rps jwks_p50 jwks_p99 jwks_cpu <<<"$r"
r=$(measure -H 'Accept-Encoding: br' "$jwks")
read -r br_rps br_p50 br_p99 br_cpu <<<"$r"
r=$(measure -H 'Accept-Encoding: gzip' "$jwks")
read -r gzip_rps gzip_p50 gzip_p99 gzip_cpu <<<"$r"
r=$(measure -H "If-None-Match: $etag" "$jwks")
read -r jwks304_rps jwks304_p50 jwks304_p99 jwks304_cpu <<<"$r"
r=$(measure "$peer1/jwks")
read -r peer1_jwks_rps peer1_jwks_p50 peer1_jwks_p99 peer1_jwks_cpu <<<"$r"
r=$(measure "$peer/jwks")
read -r peer_jwks_rps peer_jwks_p50 peer_jwks_p99 peer_jwks_cpu <<<"$r"
r=$(measure -s "$work/signet-token.lua" "$signet/oauth/token")
read -r token_rps token_p50 token_p99 token_cpu <<<"$r"
r=$(measure -s "$work/peer-token.lua" "$peer1/token")
read -r peer1_token_rps peer1_token_p50 peer1_token_p99 peer1_token_cpu <<<"$r"
r=$(measure -s "$work/peer-token.lua" "$peer/token")
read -r peer_token_rps peer_token_p50 peer_token_p99 peer_token_cpu <<<"$r"
r=$(measure -H "Authorization: Bearer $token" "$signet/api/v2/keys/signing")
read -r list_rps list_p50 list_p99 list_cpu <<<"$r"
r=$(measure -H "Cookie: $session" "$signet/tenant/signing_keys")
read -r ssr_rps ssr_p50 ssr_p99 ssr_cpu <<<"$r"
r=$(measure "$hello/")
read -r hello_rps hello_p50 hello_p99 hello_cpu <<<"$r"
r=$(measure "$body/body")
read -r body_rps body_p50 body_p99 body_cpu <<<"$r"
load_peak=$(peak_mb "$signet_pid")
say "openssl speed -seconds 5 -multi $cores rsa2048"
openssl_sign=$(openssl_ceiling) || die "cannot read sign/s from openssl speed"

# --- the signing service ---
sign_bench

# --- the request log's cost: pairs of new Signets alike but for RUST_LOG (info against warn) ---
logging_ab "$loud_port" "$quiet_port" 4 4 4
read -r ab_on_rps _ _ ab_on_cpu <<<"$ab_on"
read -r ab_off_rps _ _ ab_off_cpu <<<"$ab_off"

# --- the dashboard's weight, and its time to interactive with the first level's key history ---
say "time to interactive in headless Chromium"
# The WASM as the server sends it (`make build` writes its brotli and gzip copies): the bytes of
# one GET per encoding, each counted only when the answer came in that encoding.
wasm_on_wire() {
    curl -fs -o /dev/null -H "Accept-Encoding: $1" \
        -w '%{size_download} %header{content-encoding}\n' "$signet/pkg/signet.wasm" |
        awk -v want="$1" '$2 == want || (want == "identity" && $2 == "") { print $1 }'
}
wasm_raw=$(wasm_on_wire identity) wasm_gzip=$(wasm_on_wire gzip) wasm_brotli=$(wasm_on_wire br)
[ -n "$wasm_raw" ] || say "Signet serves no /pkg/signet.wasm: the WASM row is not measured"
[ -z "$wasm_raw" ] || [ -n "$wasm_brotli" ] || say "Signet sends the WASM without brotli (no .br copy: make build)"
tti_cold=$(time_to_interactive)

# --- cost growth with the key history ---
growth_runs
after_rss=$(rss_mb "$signet_pid")
say "time to interactive in headless Chromium at $last_level previous keys"
tti_grown=$(time_to_interactive)

# --- two processes on one PostgreSQL database ---
scale_out "$scale_a_port" "$scale_b_port"

main_report
mkdir -p bench/results
printf '%s\n' "$report" | tee "bench/results/run-$date.md"

# The many-tenants and algorithms tables run last, on their own ports, after this run's servers.
cleanup
trap - EXIT
if [ -z "${SKIP_TENANTS:-}" ]; then
    say "many tenants (bench/tenants.sh)"
    SKIP_BUILD=1 bash bench/tenants.sh
fi
if [ -z "${SKIP_ALGORITHMS:-}" ]; then
    say "signing algorithms (bench/algorithms.sh)"
    SKIP_BUILD=1 bash bench/algorithms.sh
fi
