# shellcheck shell=bash
# The signing table of bench/run.sh (sourced by it after its servers start, not run): signed JWTs
# per second through POST /api/v2/jwt/sign and POST /api/v2/jwt/sign-batch beside Signet's and the
# peer's token endpoints, each as a share of the RSA-2048 ceiling of `openssl speed`. Reads run.sh's
# `measure`, `signet`, `peer`, `work`, `cores`, `signer_token`, `sign_audience`, `sign_connections`,
# `batch_connections` and `batch_size`.

# The RSA-2048 signing ceiling of this machine: sign/s of `openssl speed` on every core. The
# column is found by its header ("sign/s"), which OpenSSL 3.0 and later versions place differently.
openssl_ceiling() {
    openssl speed -seconds 5 -multi "$cores" rsa2048 2>/dev/null | awk '
        !col && / sign\/s / { for (i = 1; i <= NF; i++) if ($i == "sign/s") col = i; next }
        col && /^rsa +2048 bits/ { v = $(col + 3) }
        END { if (v == "") exit 1; printf "%.0f", v }'
}

# `sign_check URL BODY TOKENS`: one request as bench/sign.lua will send it must answer 201 with
# TOKENS signed JWTs, or the benchmark stops with Signet's answer.
sign_check() {
    local answer status jwts
    answer=$(curl -s -w '\n%{http_code}' -H "Authorization: Bearer $signer_token" \
        -H 'Content-Type: application/json' --data-binary "$2" "$1")
    status=${answer##*$'\n'}
    jwts=$(grep -o '"jwt": *"[^"]*\.[^"]*\.[^"]*"' <<<"$answer" | wc -l)
    if [ "$status" != 201 ] || [ "$jwts" -ne "$3" ]; then
        die "POST $1 answered $status, not $3 JWTs: ${answer%$'\n'*}"
    fi
}

# The signing table: sign and token endpoints at $sign_connections connections, the batch at
# $batch_connections; needs $openssl_sign. Sets sign_table, sign_summary and sign_rps.
sign_bench() {
    local exp one batch_body r i
    local sign_p50 sign_p99 sign_cpu otok_rps otok_p50 otok_p99 otok_cpu
    local ptok_rps ptok_p50 ptok_p99 ptok_cpu batch_rps batch_p50 batch_p99 batch_cpu batch_sigs
    exp=$(($(date +%s) + 3000))
    one="{\"sub\":\"user-1\",\"aud\":\"$sign_audience\",\"exp\":$exp,\"email\":\"a@example.com\"}"
    sign_check "$signet/api/v2/jwt/sign" "{\"claims\":$one}" 1
    batch_body="{\"claims\":$one}"
    for ((i = 1; i < batch_size; i++)); do batch_body+=",{\"claims\":$one}"; done
    sign_check "$signet/api/v2/jwt/sign-batch" "{\"tokens\":[$batch_body]}" "$batch_size"

    say "signing: /api/v2/jwt/sign, /oauth/token and the peer's /token at $sign_connections connections"
    export SIGN_TOKEN=$signer_token SIGN_AUDIENCE=$sign_audience SIGN_LIFETIME=3000
    r=$(WRK_CONNECTIONS=$sign_connections SIGN_BATCH=0 measure -s bench/sign.lua "$signet/api/v2/jwt/sign")
    read -r sign_rps sign_p50 sign_p99 sign_cpu <<<"$r"
    r=$(WRK_CONNECTIONS=$sign_connections measure -s "$work/signet-token.lua" "$signet/oauth/token")
    read -r otok_rps otok_p50 otok_p99 otok_cpu <<<"$r"
    r=$(WRK_CONNECTIONS=$sign_connections measure -s "$work/peer-token.lua" "$peer/token")
    read -r ptok_rps ptok_p50 ptok_p99 ptok_cpu <<<"$r"
    say "signing: /api/v2/jwt/sign-batch, $batch_size claim sets a request, at $batch_connections connections"
    r=$(WRK_CONNECTIONS=$batch_connections SIGN_BATCH=$batch_size measure -s bench/sign.lua "$signet/api/v2/jwt/sign-batch")
    read -r batch_rps batch_p50 batch_p99 batch_cpu <<<"$r"
    batch_sigs=$((batch_rps * batch_size))

    sign_table="| row | connections | requests/s | p50 | p99 | CPU µs/request | signatures/s | of the openssl ceiling | budget |
|---|---:|---:|---:|---:|---:|---:|---:|---|
| \`POST /api/v2/jwt/sign\` (one ID token, RS256) | $sign_connections | $(fmt "$sign_rps") | $sign_p50 ms | $sign_p99 ms | $sign_cpu | $(fmt "$sign_rps") | $(pct "$sign_rps" "$openssl_sign") | $(check "≥ 80% of openssl" "$sign_rps >= 0.8 * $openssl_sign") |
| \`POST /api/v2/jwt/sign-batch\` ($batch_size claim sets) | $batch_connections | $(fmt "$batch_rps") | $batch_p50 ms | $batch_p99 ms | $batch_cpu | $(fmt "$batch_sigs") | $(pct "$batch_sigs" "$openssl_sign") | |
| \`POST /oauth/token\` (client_credentials) | $sign_connections | $(fmt "$otok_rps") | $otok_p50 ms | $otok_p99 ms | $otok_cpu | $(fmt "$otok_rps") | $(pct "$otok_rps" "$openssl_sign") | |
| peer: oidc-provider \`POST /token\` (a worker per core) | $sign_connections | $(fmt "$ptok_rps") | $ptok_p50 ms | $ptok_p99 ms | $ptok_cpu | $(fmt "$ptok_rps") | $(pct "$ptok_rps" "$openssl_sign") | |
| ceiling: \`openssl speed -multi $cores rsa2048\` | | | | | | $(fmt "$openssl_sign") | 100% | |"
    sign_summary="Signed JWTs: $(fmt "$sign_rps")/s through the sign API ($(pct "$sign_rps" "$openssl_sign") of openssl, $(ratio "$sign_rps" "$ptok_rps") the peer's token endpoint, $(ratio "$sign_rps" "$otok_rps") Signet's own); $(fmt "$batch_sigs") signatures/s in batches of $batch_size ($(pct "$batch_sigs" "$openssl_sign") of openssl). CPU µs/request of the batch row is per request of $batch_size signatures."
}
