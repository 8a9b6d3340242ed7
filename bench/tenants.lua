-- wrk script of bench/tenants.sh: every request goes to a tenant picked at random among the
-- lines of $TENANTS_CLIENTS ("host client_id client_secret"), named by its Host header.
-- GET (the JWKS) unless $TENANTS_PATH is /oauth/token: then a client_credentials request with
-- that tenant's client, for that tenant's Management API.

local tenants = {}
for line in io.lines(os.getenv("TENANTS_CLIENTS")) do
  local host, id, secret = line:match("^(%S+) (%S+) (%S+)$")
  if host then
    tenants[#tenants + 1] = {
      host = host,
      body = "grant_type=client_credentials&client_id=" .. id .. "&client_secret=" .. secret
        .. "&audience=https://" .. host .. "/api/v2/",
    }
  end
end

local token = os.getenv("TENANTS_PATH") == "/oauth/token"

init = function()
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

request = function()
  local tenant = tenants[math.random(#tenants)]
  if token then
    return wrk.format("POST", "/oauth/token", {
      ["Host"] = tenant.host,
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, tenant.body)
  end
  return wrk.format("GET", "/.well-known/jwks.json", { ["Host"] = tenant.host })
end
