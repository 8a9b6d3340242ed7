-- wrk script for bench/run.sh: POSTs one fixed JSON body to Signet's signing API.
--
--   SIGN_TOKEN=… wrk -s bench/sign.lua http://127.0.0.1:39517/api/v2/jwt/sign
--   SIGN_TOKEN=… SIGN_BATCH=100 wrk -s bench/sign.lua http://127.0.0.1:39517/api/v2/jwt/sign-batch
--
-- Environment: SIGN_TOKEN, an access token with sign:tokens (required); SIGN_BATCH, unset or 0
-- for one claim set ({"claims": …}, for /jwt/sign), N for N claim sets ({"tokens": [...]}, for
-- /jwt/sign-batch); SIGN_AUDIENCE (default https://app.example) and SIGN_LIFETIME (seconds until
-- exp, default 3000), which the signing client's policy must allow.
-- The claims are an ID token's: {"sub":"user-1","aud":…,"exp":<now + lifetime>,"email":"a@example.com"};
-- exp is fixed when wrk loads the script, so one run may last up to about the lifetime.

local token = os.getenv("SIGN_TOKEN")
if token == nil or token == "" then
    error("SIGN_TOKEN is not set")
end
local batch = tonumber(os.getenv("SIGN_BATCH") or "0") or 0
local audience = os.getenv("SIGN_AUDIENCE") or "https://app.example"
local exp = os.time() + (tonumber(os.getenv("SIGN_LIFETIME") or "3000") or 3000)

local claims = string.format(
    '{"sub":"user-1","aud":"%s","exp":%d,"email":"a@example.com"}', audience, exp)

if batch > 0 then
    local items = {}
    for i = 1, batch do
        items[i] = '{"claims":' .. claims .. '}'
    end
    wrk.body = '{"tokens":[' .. table.concat(items, ",") .. ']}'
else
    wrk.body = '{"claims":' .. claims .. '}'
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
