# Shared by bench/run.sh, bench/tenants.sh and bench/algorithms.sh (sourced, not run): messages, a scratch directory
# whose servers stop with the script, and reading and printing wrk's figures.

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

# A scratch directory, removed on exit with every process whose pid is added to `pids`.
work=$(mktemp -d)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
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

fmt() { printf '%d' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; } # 43711 → 43,711
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", 100 * a / b }'; }
# `check WHAT CONDITION`: "✅ WHAT" or "❌ WHAT", CONDITION evaluated by awk.
check() {
    if awk "BEGIN { exit !($2) }"; then printf '✅ %s' "$1"; else printf '❌ %s' "$1"; fi
}
