# shellcheck shell=bash
# Shared by bench/run.sh, bench/tenants.sh, bench/metrics.sh and bench/algorithms.sh (sourced, not
# run): messages, a scratch directory whose servers stop with the script, reading and printing
# wrk's figures, and the CPU time a server spends per request.

say() { printf 'bench: %s\n' "$*" >&2; }

# `bench_settings DOMAIN`: the settings every benchmarked Signet shares: tenant DOMAIN, no limits
# that a load would hit, no publication window (rows rotate at once), the default key type, and
# nothing of the caller's environment that names another database or key.
bench_settings() {
    export SIGNET_TENANT_DOMAIN=$1
    export SIGNET_ADMIN_PASSWORD=bench-operator-password
    export SIGNET_API_RATE_LIMIT_PER_MINUTE=1000000000
    export SIGNET_ROTATION_LIMIT_PER_DAY=0
    export SIGNET_PUBLICATION_WINDOW_SECS=0
    unset SIGNET_DATABASE_URL SIGNET_MASTER_KEY_FILE SIGNET_TLS_CERT_FILE SIGNET_TLS_KEY_FILE \
        SIGNET_TRUSTED_PROXIES SIGNET_ADDR SIGNET_DATA_DIR SIGNET_SIGNING_ALG \
        SIGNET_SIGNING_KEY_SIZE SIGNET_METRICS_ADDR SIGNET_METRICS_TOKEN RUST_LOG
}

# Builds the release binary and the site (make build) unless SKIP_BUILD is set, then sets `bin`
# and checks that it and every tool named are there.
release_binary() {
    if [ -z "${SKIP_BUILD:-}" ]; then
        say "building the release binary and the dashboard (make build)"
        make --no-print-directory build >&2
    fi
    bin=$root/target/release/signet
    [ -x "$bin" ] || die "no binary at $bin (run make build)"
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool is missing (make tools installs it)"
    done
}
die() {
    say "$*"
    exit 1
}

# `spares_made PID…`: waits until none of these Signets is making spare key pairs (the thread
# `signet-spare-keys` lives only while it refills, at the lowest priority, and is started before a
# server listens), so no row measures a server whose start-up or last rotations are still being
# caught up with. Gives up after a minute.
spares_made() {
    local pid tries busy
    for ((tries = 0; tries < 600; tries++)); do
        busy=
        for pid in "$@"; do
            if grep -qs '^signet-spare-ke' /proc/"$pid"/task/*/comm; then busy=$pid; fi
        done
        [ -n "$busy" ] || return 0
        sleep 0.1
    done
    die "a Signet (pids $*) was still making spare key pairs after a minute"
}

# A scratch directory, removed on exit with every process whose pid is added to `pids`; then the
# commands named in `at_exit` run (e.g. dropping a scratch database), each once.
work=$(mktemp -d)
pids=()
at_exit=()
cleanup() {
    local pid command
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    for command in "${at_exit[@]}"; do
        "$command" || true
    done
    at_exit=()
    rm -rf "$work"
}
trap cleanup EXIT

# Milliseconds from a wrk latency ("693.00us", "17.70ms", "1.20s").
ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
        printf "%.2f", n
    }'
}

# `wrk_figures OUTPUT WHAT`: "requests/s p50-ms p99-ms" from a `wrk --latency` OUTPUT; any
# non-2xx/3xx answer or socket error stops the benchmark, naming WHAT.
wrk_figures() {
    local out=$1 rps p50 p99
    if grep -q 'Non-2xx or 3xx responses\|Socket errors' <<<"$out"; then
        say "errors during: $2"
        die "$out"
    fi
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    printf '%s %s %s\n' "$rps" "$(ms "$p50")" "$(ms "$p99")"
}

# `wrk_requests OUTPUT`: the number of requests wrk completed ("624012 requests in 10.10s, …").
wrk_requests() { awk '$2 == "requests" && $3 == "in" { print $1; exit }' <<<"$1"; }

# --- CPU time per request, read from /proc (utime + stime, fields 14 and 15 of /proc/PID/stat) ---
clk_tck=$(getconf CLK_TCK)
# `cpu_ticks PID…`: the CPU time of each PID and of its child processes (a Node.js cluster's
# workers), in clock ticks. A process that has gone counts nothing.
cpu_ticks() {
    local pid child ticks total=0
    for pid in "$@"; do
        for child in "$pid" $(pgrep -P "$pid" || true); do
            # The command name, field 2, may hold spaces: count the fields after its ")".
            ticks=$(sed 's/^.*) //' "/proc/$child/stat" 2>/dev/null | awk '{ print $12 + $13 }') || ticks=0
            total=$((total + ${ticks:-0}))
        done
    done
    echo "$total"
}
# `cpu_per_request TICKS REQUESTS`: microseconds of CPU per request, one decimal ("—" for none).
cpu_per_request() {
    awk -v t="$1" -v n="$2" -v hz="$clk_tck" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "—" }'
}
# `wrk_cpu "PID…" WRK-ARGS…`: one `wrk --latency WRK-ARGS…` run, reading the CPU time of the
# server's processes PID… (and their children) before and after; prints "requests/s p50-ms p99-ms
# cpu-µs/request". Any non-2xx/3xx answer or socket error stops the benchmark.
wrk_cpu() {
    local -a server
    local before after out figures
    read -r -a server <<<"$1"
    shift
    before=$(cpu_ticks "${server[@]}")
    out=$(wrk --latency "$@") || die "wrk failed: $*"
    after=$(cpu_ticks "${server[@]}")
    figures=$(wrk_figures "$out" "$*") || exit 1
    printf '%s %s\n' "$figures" "$(cpu_per_request $((after - before)) "$(wrk_requests "$out")")"
}
# `best A B`: the measurement with more requests/s (its first field).
best() { if [ -z "$1" ] || awk -v a="${1%% *}" -v b="${2%% *}" 'BEGIN { exit !(b > a) }'; then echo "$2"; else echo "$1"; fi; }
# `rss_mb PID`: the resident memory of PID in MB (VmRSS); `peak_mb PID` its peak (VmHWM).
rss_mb() { awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
peak_mb() { awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

fmt() { printf '%d' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; } # 43711 → 43,711
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
# `check WHAT CONDITION`: "✅ WHAT" or "❌ WHAT", CONDITION evaluated by awk.
check() {
    if awk "BEGIN { exit !($2) }"; then printf '✅ %s' "$1"; else printf '❌ %s' "$1"; fi
}
