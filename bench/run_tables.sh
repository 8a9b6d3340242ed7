# shellcheck shell=bash
# The growth table and the main report of bench/run.sh (sourced by it, not run): bytes on the
# wire and the Content-Encoding answered, time to interactive, the growth runs, and the main table
# with its budgets. Reads run.sh's servers, tokens, measurements and `measure`.

# `wire URL ENCODING [CURL-ARGS…]`: "bytes content-encoding" of one GET of URL with
# Accept-Encoding: ENCODING: the body's bytes as they crossed the wire (curl decodes nothing), and
# the Content-Encoding of the answer ("identity" when it names none).
wire() {
    local url=$1 encoding=$2 size answered
    shift 2
    size=$(curl -fs -D "$work/wire.txt" -o /dev/null -w '%{size_download}' \
        -H "Accept-Encoding: $encoding" "$@" "$url") || die "GET $url (Accept-Encoding: $encoding) failed"
    answered=$(tr -d '\r' <"$work/wire.txt" | sed -n 's/^content-encoding: *//Ip' | tail -n 1)
    echo "$size ${answered:-identity}"
}
# `jwks_wire`: "identity-bytes gzip-bytes gzip-answered br-bytes br-answered" for the JWKS now.
jwks_wire() {
    local r id gz gz_answered br br_answered
    r=$(wire "$jwks" identity) || exit 1
    read -r id _ <<<"$r"
    r=$(wire "$jwks" gzip) || exit 1
    read -r gz gz_answered <<<"$r"
    r=$(wire "$jwks" br) || exit 1
    read -r br br_answered <<<"$r"
    echo "$id $gz $gz_answered $br $br_answered"
}
# `encoded WANTED ANSWERED`: the budget cell of a compressed row.
encoded() {
    if [ "$2" = "$1" ]; then printf '✅ Content-Encoding: %s' "$1"; else printf '❌ not compressed (Content-Encoding: %s)' "$2"; fi
}

# `time_to_interactive`: "median max" in ms of 5 cold loads of the signed-in Signing Keys page,
# then the WASM bytes on the wire before it was interactive and in all (bench/tti.mjs), or
# "failed REASON". A page whose WASM does not load never hydrates: that is
# checked first, so the reason names it.
time_to_interactive() {
    local page="$signet/tenant/signing_keys" wasm_path status reason
    wasm_path=$(curl -fs -H "Cookie: $session" "$page" | grep -o '/pkg/[A-Za-z0-9_.-]*\.wasm' | head -n 1)
    if [ -n "$wasm_path" ]; then
        status=$(curl -s -o /dev/null -w '%{http_code}' "$signet$wasm_path")
        if [ "$status" != 200 ]; then
            reason="the page loads $wasm_path, which answers $status"
            # Leptos names the WASM after wasm-bindgen's output (…_bg.wasm) unless cargo-leptos
            # built the server (LEPTOS_OUTPUT_NAME at compile time).
            case $wasm_path in *_bg.wasm) reason+="; a server binary built by cargo build, not make build" ;; esac
            say "$reason"
            echo "failed: $reason"
            return 0
        fi
    fi
    node bench/tti.mjs "$page" "$session" 2>"$work/tti.err" && return 0
    reason=$(grep -m 1 -E 'Error|Timeout|error' "$work/tti.err" || tail -n 1 "$work/tti.err")
    say "bench/tti.mjs failed: $reason"
    echo "failed: bench/tti.mjs: $reason"
}
# `tti_cell "MEDIAN MAX" BUDGET-MS`: the budget cell of a time-to-interactive row.
tti_cell() {
    local median max
    read -r median max _ <<<"$1"
    if [ "$median" = failed: ] || [ -z "$median" ]; then
        printf '❌ not measured (%s)' "${1#failed: }"
    else
        check "median $median ms, worst $max ms of 5 cold loads (≤ $2 ms median)" "$median <= $2"
    fi
}

bytes_or_dash() { if [ -n "$1" ]; then printf '%s B' "$(fmt "$1")"; else printf '—'; fi; }

# `wasm_sizes`: the hydrate WASM's bytes on the wire, uncompressed, gzip and brotli ("—": not
# sent in that encoding).
wasm_sizes() {
    if [ -n "$wasm_raw" ]; then
        printf '%s B raw, %s gzip, %s brotli on the wire' "$(fmt "$wasm_raw")" \
            "$(bytes_or_dash "$wasm_gzip")" "$(bytes_or_dash "$wasm_brotli")"
    else
        printf 'not served (/pkg/signet.wasm)'
    fi
}
# `rate_cell MEASUREMENT`: "requests/s (CPU µs/request)" of "requests/s p50 p99 cpu".
rate_cell() { printf '%s/s (%s µs)' "$(fmt "${1%% *}")" "${1##* }"; }
# `cpu_vs CPU`: CPU µs/request over bare axum's.
cpu_vs() { awk -v a="$1" -v b="$hello_cpu" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f×", a / b; else print "—" }'; }
# `within_2x WHAT FIRST LAST`: LAST's rate at least half FIRST's.
within_2x() {
    if [ -z "$2" ] || [ -z "$3" ]; then
        printf '❌ %s not measured' "$1"
    else
        check "$1 within 2× of $first_level previous keys ($(pct "${3%% *}" "${2%% *}"))" "${3%% *} >= 0.5 * ${2%% *}"
    fi
}

# The growth runs: at each of $levels previous keys, the JWKS (identity and br) and the list (whole
# and a page of 10, br) for 5 s each, then $samples rotations 0.25 s apart. Sets growth (the table),
# last_level, first_br, last_br, first_page, last_page (measurements), rotate_p50 and rotate_p99
# (the first level), worst_rotate_p50 and worst_rotate_p99.
growth_runs() {
    local level r p50 p99 status kids id gz gz_answered br br_answered g_jwks g_br g_list g_page page_cell budget
    local -a rows=() p50s=() p99s=()
    first_br='' last_br='' first_page='' last_page=''
    for level in $levels; do
        if [ "$level" -gt "$previous" ]; then
            say "growing the key history to $level previous keys"
            rotate_fast $((level - previous))
            previous=$level
            # Steady state: the spare next keys that the burst used up are generated again.
            spares_made "$signet_pid"
        fi
        say "at $previous previous keys: JWKS (identity, br), list (whole, page of 10; br), $samples rotations 0.25 s apart"
        r=$(jwks_wire)
        read -r id gz gz_answered br br_answered <<<"$r"
        g_jwks=$(WRK_DURATION=5s measure "$jwks")
        g_br=$(WRK_DURATION=5s measure -H 'Accept-Encoding: br' "$jwks")
        g_list=$(WRK_DURATION=5s measure -H 'Accept-Encoding: br' -H "Authorization: Bearer $token" \
            "$signet/api/v2/keys/signing")
        budget="$(encoded br "$br_answered"), $(encoded gzip "$gz_answered")"
        status=$(curl -s --compressed -o "$work/page.json" -w '%{http_code}' -H "Authorization: Bearer $token" "$page_url")
        if [ "$status" = 200 ]; then
            kids=$(grep -o '"kid":' "$work/page.json" | wc -l)
            g_page=$(WRK_DURATION=5s measure -H 'Accept-Encoding: br' -H "Authorization: Bearer $token" "$page_url")
            page_cell=$(rate_cell "$g_page")
            budget+=", $(check "a page holds $kids keys (≤ 10)" "$kids <= 10")"
        else
            g_page=
            page_cell="— (answered $status)"
            budget+=", ❌ \`?page=0&per_page=10\` answered $status"
        fi
        r=$(rotations "$samples" 0.25)
        read -r p50 p99 _ <<<"$r"
        p50s+=("$p50")
        p99s+=("$p99")
        budget+=", $(check "rotate p50 ≤ 5 ms, p99 ≤ 20 ms" "$p50 <= 5 && $p99 <= 20")"
        if [ "${#rows[@]}" -eq 0 ]; then
            first_br=$g_br first_page=$g_page
        fi
        last_br=$g_br last_page=$g_page last_level=$previous
        rows+=("| $previous | $(fmt "$id") / $(fmt "$gz") / $(fmt "$br") B | $(rate_cell "$g_jwks") | $(rate_cell "$g_br") | $(rate_cell "$g_list") | $page_cell | $p50 ms | $p99 ms | $budget")
        previous=$((previous + samples))
    done
    # The last level's row carries the 2× checks against the first.
    rows[-1]+=", $(within_2x "JWKS br" "$first_br" "$last_br"), $(within_2x "list page br" "$first_page" "$last_page")"
    growth="| previous keys | JWKS on the wire: identity / gzip / br | JWKS identity | JWKS br | list, br | list, page of 10, br | rotate p50 | rotate p99 | budget |
|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for r in "${rows[@]}"; do
        growth+=$'\n'"$r |"
    done
    rotate_p50=${p50s[0]}
    rotate_p99=${p99s[0]}
    worst_rotate_p50=$(printf '%s\n' "${p50s[@]}" | sort -g | tail -n 1)
    worst_rotate_p99=$(printf '%s\n' "${p99s[@]}" | sort -g | tail -n 1)
}

# `row NAME MEASUREMENT BUDGET`: a main-table row of a wrk measurement.
row() {
    local rps p50 p99 cpu
    read -r rps p50 p99 cpu <<<"$2"
    printf '\n| %s | %s | %s ms | %s ms | %s | %s | %s |' "$1" "$(fmt "$rps")" "$p50" "$p99" "$cpu" "$(cpu_vs "$cpu")" "$3"
}
# `fact NAME BUDGET`: a main-table row with no wrk figures.
fact() { printf '\n| %s | | | | | | %s |' "$1" "$2"; }

# Sets report: the main table, the notes under it, the signing, scale-out and growth tables.
main_report() {
    local table ab_cpu_cost page_name="list, page of 10 (\`?page=0&per_page=10\`), br, at $last_level previous keys"
    ab_cpu_cost=$(awk -v on="$ab_on_cpu" -v off="$ab_off_cpu" 'BEGIN { if (off + 0 > 0) printf "%+.0f%%", 100 * (on / off - 1); else print "—" }')
    local revalidation=
    [ "$revalidated" = 304 ] || revalidation=" (❌ the conditional GET answered $revalidated, not 304)"
    table="| row | requests/s | p50 | p99 | CPU µs/request | CPU ÷ bare axum's ($hello_cpu µs) | budget |
|---|---:|---:|---:|---:|---:|---|"
    table+=$(row "JWKS (identity, $first_level previous keys)" "$jwks_rps $jwks_p50 $jwks_p99 $jwks_cpu" \
        "$(check "≥ 90% of bare axum ($(pct "$jwks_rps" "$hello_rps"))" "$jwks_rps >= 0.9 * $hello_rps")")
    table+=$(row "JWKS, \`Accept-Encoding: br\`" "$br_rps $br_p50 $br_p99 $br_cpu" \
        "$(encoded br "$answered_br"); $(fmt "$wire_br") B on the wire (identity $(fmt "$wire_id") B)")
    table+=$(row "JWKS, \`Accept-Encoding: gzip\`" "$gzip_rps $gzip_p50 $gzip_p99 $gzip_cpu" \
        "$(encoded gzip "$answered_gzip"); $(fmt "$wire_gzip") B on the wire (identity $(fmt "$wire_id") B)")
    table+=$(row "JWKS revalidated (304)" "$jwks304_rps $jwks304_p50 $jwks304_p99 $jwks304_cpu" \
        "$(check "≥ 100% of JWKS 200 ($(pct "$jwks304_rps" "$jwks_rps"))" "$jwks304_rps >= $jwks_rps")$revalidation")
    table+=$(row "JWKS, request log on (info, a line per request to a file; A/B of new processes)" "$ab_on" \
        "$(check "cost 1 − Σon/Σoff = $ab_cost% (≤ 5%)" "$ab_cost <= 5"); CPU per request $ab_cpu_cost; each pair: $ab_pair_costs")
    table+=$(row "JWKS, request log off (\`RUST_LOG=warn\`; A/B of new processes alike but for the log)" "$ab_off" \
        "$ab_pairs pairs, each side's best of $ab_rounds rounds per pair, means shown; JWKS $(fmt "$ab_on_bytes") B on, $(fmt "$ab_off_bytes") B off")
    table+=$(row "peer: oidc-provider \`GET /jwks\`, 1 worker" "$peer1_jwks_rps $peer1_jwks_p50 $peer1_jwks_p99 $peer1_jwks_cpu" \
        "Signet's JWKS $(ratio "$jwks_rps" "$peer1_jwks_rps") this")
    table+=$(row "peer: \`GET /jwks\`, $peer_workers workers (one per core)" "$peer_jwks_rps $peer_jwks_p50 $peer_jwks_p99 $peer_jwks_cpu" \
        "Signet's JWKS $(ratio "$jwks_rps" "$peer_jwks_rps") this")
    table+=$(row "token issuance (\`POST /oauth/token\`, client_credentials, RS256)" "$token_rps $token_p50 $token_p99 $token_cpu" \
        "$(check "≥ 80% of openssl ($(pct "$token_rps" "$openssl_sign"))" "$token_rps >= 0.8 * $openssl_sign")")
    table+=$(row "peer: \`POST /token\`, 1 worker" "$peer1_token_rps $peer1_token_p50 $peer1_token_p99 $peer1_token_cpu" \
        "Signet's tokens $(ratio "$token_rps" "$peer1_token_rps") this")
    table+=$(row "peer: \`POST /token\`, $peer_workers workers (one per core)" "$peer_token_rps $peer_token_p50 $peer_token_p99 $peer_token_cpu" \
        "Signet's tokens $(ratio "$token_rps" "$peer_token_rps") this")
    table+=$(row "Management list, bearer verified" "$list_rps $list_p50 $list_p99 $list_cpu" \
        "$(check "≥ 80% of JWKS 200 ($(pct "$list_rps" "$jwks_rps"))" "$list_rps >= 0.8 * $jwks_rps")")
    table+=$(row "JWKS, br, at $last_level previous keys" "$last_br" "$(within_2x "JWKS br" "$first_br" "$last_br")")
    if [ -n "$last_page" ]; then
        table+=$(row "$page_name" "$last_page" "$(within_2x "list page br" "$first_page" "$last_page")")
    else
        table+=$(fact "$page_name" "$(within_2x "list page br" "$first_page" "$last_page") (not paginated)")
    fi
    table+=$(printf '\n| rotate latency (%s rotations 0.25 s apart, at %s previous keys) | — | %s ms | %s ms | — | — | %s |' \
        "$samples" "$first_level" "$rotate_p50" "$rotate_p99" \
        "$(check "p50 ≤ 5 ms, p99 ≤ 20 ms at every level (worst $worst_rotate_p50 / $worst_rotate_p99 ms)" \
            "$worst_rotate_p50 <= 5 && $worst_rotate_p99 <= 20")")
    table+=$(row "dashboard page, signed in (server render)" "$ssr_rps $ssr_p50 $ssr_p99 $ssr_cpu" \
        "$(check "≥ 3,000 pages/s" "$ssr_rps >= 3000")")
    local tti_median _max wasm_before wasm_all
    read -r tti_median _max wasm_before wasm_all <<<"$tti_cold"
    if [ "$tti_median" != failed: ] && [ -n "$wasm_before" ] && [ "$wasm_before" -gt 0 ]; then
        # What Chromium took off the wire for the page, as it asked (brotli).
        table+=$(fact "hydrate WASM, brotli on the wire (what the browser fetched before the page was interactive)" \
            "$(check "$(fmt "$wasm_before") B (≤ 204,800 B = 200 KiB); $(fmt "$wasm_all") B with the dialogs' code that follows" "$wasm_before <= 204800")")
    elif [ -n "$wasm_brotli" ]; then
        table+=$(fact "hydrate WASM, brotli on the wire" "$(check "$(fmt "$wasm_brotli") B (≤ 204,800 B = 200 KiB)" "$wasm_brotli <= 204800")")
    elif [ -n "$wasm_raw" ]; then
        table+=$(fact "hydrate WASM, brotli on the wire" "❌ sent uncompressed: $(fmt "$wasm_raw") B (no .br copy)")
    else
        table+=$(fact "hydrate WASM, brotli on the wire" "❌ not measured (no /pkg/signet.wasm)")
    fi
    table+=$(fact "time to interactive, cold ($first_level previous keys)" "$(tti_cell "$tti_cold" 200)")
    table+=$(fact "time to interactive, cold, after the growth runs ($last_level previous keys)" "$(tti_cell "$tti_grown" 500)")
    table+=$(fact "memory (VmRSS), idle after start" "$(check "$idle_rss MB (≤ 20 MB)" "$idle_rss <= 20")")
    table+=$(fact "memory (VmRSS), after the growth runs" "$(check "$after_rss MB (≤ 40 MB)" "$after_rss <= 40")")
    table+=$(fact "memory, peak under the load above (VmHWM)" "$load_peak MB (information)")
    table+=$(row "ceiling: bare axum \"hello\"" "$hello_rps $hello_p50 $hello_p99 $hello_cpu" "")
    table+=$(row "ceiling: bare axum serving the same JWKS bytes ($(fmt "$wire_id") B)" "$body_rps $body_p50 $body_p99 $body_cpu" \
        "Signet's JWKS: $(pct "$jwks_rps" "$body_rps") of this")
    table+=$'\n'"| ceiling: \`openssl speed -multi $cores rsa2048\` | $(fmt "$openssl_sign") sign/s | | | | | |"

    report="# Signet benchmark, $date

$machine; wrk -t$threads -c$connections -d$duration on the same machine; release build, logging at info. The main rows run with $first_level previous keys in the JWKS (beside the current and the next key). Peer: oidc-provider $peer_version on Node.js $(node --version), with 1 worker and with one per core ($peer_workers).

CPU µs/request is the server's user + system CPU time over the wrk run (fields 14 and 15 of /proc/PID/stat, in ticks of $clk_tck/s; for the peer its primary and every worker) divided by the requests wrk made; \"CPU ÷ bare axum's\" divides it by the bare axum row's. Unlike requests/s, it does not depend on how busy the machine is (wrk takes a share of the same cores).

$table

JWKS bytes on the wire (one GET): $(fmt "$wire_id") B identity, $(fmt "$wire_gzip") B asking for gzip (answered: $answered_gzip), $(fmt "$wire_br") B asking for br (answered: $answered_br). The request log (a line per request at info): $(fmt "$ab_on_rps") JWKS/s on, $(fmt "$ab_off_rps") off (RUST_LOG=warn; $ab_pairs pairs of new processes alike but for RUST_LOG, each on its own data directory with its key set rotated by the CLI to the same $first_level previous keys, since two servers may not share one SQLite file; ports and start order swapped every other pair), cost $ab_cost% of throughput; $ab_on_cpu against $ab_off_cpu CPU µs/request.

Signing service (wrk -t$threads -d$duration; the sign and token rows at $sign_connections connections, the batch at $batch_connections):

$sign_table

$sign_summary

$scale_report

Dashboard: WASM $(wasm_sizes); time to interactive: median of 5 cold loads in headless Chromium, signed in, the Signing Keys page.

Cost as the key history grows ($samples rotations 0.25 s apart per level; each rate for 5 s, with the CPU µs/request in brackets; the wire sizes of one GET):

$growth"
}
