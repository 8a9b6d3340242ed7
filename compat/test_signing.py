"""The signing service: a signing client made through the clients API signs tokens with
POST /api/v2/jwt/sign and /jwt/sign-batch, PyJWT verifies them through the JWKS URL across
rotations and refuses them once their key is revoked, and the usage ledger counts them.

The tests run in file order and share one signing client (module scope), made first through
POST /api/v2/clients and deleted last through DELETE /api/v2/clients/{id}. The relying party here
is PyJWT alone: the key from /.well-known/jwks.json by `kid`, RS256 only, `aud` and `iss` checked.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import jwt
import pytest
import requests

from conftest import (
    AUDIENCE,
    HTTP_TIMEOUT_S,
    ISO_MS_UTC,
    ISSUER,
    MachineClient,
    admin_token,
    call,
    expect,
    expect_error,
    jwks_client,
    list_keys,
    management,
    requests_get_token,
    run_cli,
    sent,
    signer_token,
    the_one,
)

APP = "https://app.example"  # the one audience the signing client may sign for
OTHER_APP = "https://other.example"
MAX_LIFETIME = 3600
CLIENT_NAME = "compat-login-service"
SIGNING_POLICY = {"audiences": [APP], "max_lifetime_seconds": MAX_LIFETIME}
USAGE_FIELDS = {
    "kid",
    "tokens_signed",
    "first_signed_at",
    "last_signed_at",
    "live_tokens_until",
    "safe_to_revoke",
}
# How long to wait for the ledger to settle: a previous key's live_tokens_until reads up to ~5 min
# late for ~2 s after a rotation, and other processes (the CLI) see counts flushed every second.
SETTLE_S = 15.0


# ---------------------------------------------------------------------------------------------
# Helpers.


def is_iso_ms(value: Any) -> bool:
    """ISO-8601 UTC with milliseconds, as every Signet time ("2026-12-02T10:32:00.000Z")."""
    return isinstance(value, str) and re.match(ISO_MS_UTC, value) is not None


def epoch(iso: str) -> float:
    """Unix seconds of an ISO-8601 UTC time."""
    assert isinstance(iso, str), iso
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def claims(lifetime: int = 300, **extra: Any) -> dict:
    """An ID token's claims for the app, expiring `lifetime` seconds from now."""
    return {
        "sub": "user-1",
        "aud": APP,
        "exp": int(time.time()) + lifetime,
        "email": "a@example.com",
        **extra,
    }


def sign(server, token: str | None, claim_set: Any, header: dict | None = None) -> requests.Response:
    body: dict = {"claims": claim_set}
    if header is not None:
        body["header"] = header
    return call("POST", server, "/jwt/sign", token, json=body)


def signed(server, token: str, claim_set: dict, header: dict | None = None) -> dict:
    """A 201 from /jwt/sign, checked for its shape."""
    body = expect(sign(server, token, claim_set, header), 201)
    assert isinstance(body.get("jwt"), str) and body["jwt"].count(".") == 2, body
    assert isinstance(body.get("kid"), str) and body["kid"], body
    assert body.get("alg") == "RS256", body
    assert is_iso_ms(body.get("expires_at")), body
    assert epoch(body["expires_at"]) == claim_set["exp"], f"expires_at is not exp: {body} {claim_set}"
    assert jwt.get_unverified_header(body["jwt"])["kid"] == body["kid"], body
    return body


def sign_batch(server, token: str, claim_sets: list[dict]) -> requests.Response:
    body = {"tokens": [{"claims": claim_set} for claim_set in claim_sets]}
    return call("POST", server, "/jwt/sign-batch", token, json=body)


def signed_batch(server, token: str, claim_sets: list[dict]) -> dict:
    """A 201 from /jwt/sign-batch, checked for its shape: one token per claim set, in order."""
    body = expect(sign_batch(server, token, claim_sets), 201)
    assert isinstance(body.get("kid"), str) and body["kid"], body
    assert body.get("alg") == "RS256", body
    tokens = body.get("tokens")
    assert isinstance(tokens, list) and len(tokens) == len(claim_sets), body
    for item, claim_set in zip(tokens, claim_sets, strict=True):
        assert isinstance(item.get("jwt"), str), item
        assert is_iso_ms(item.get("expires_at")), item
        assert epoch(item["expires_at"]) == claim_set["exp"], (item, claim_set)
        assert jwt.get_unverified_header(item["jwt"])["kid"] == body["kid"], item
    return body


def decode(token: str, key: Any) -> dict:
    """The relying party's checks: RS256 only, the app's audience, Signet's issuer, and the
    standard claims present."""
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=APP,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


def verify_signed(server, token: str) -> dict:
    """Verifies a signed token with a fresh PyJWKClient on the JWKS URL (no cache)."""
    return decode(token, jwks_client(server).get_signing_key_from_jwt(token).key)


def fresh_keyset(server) -> jwt.PyJWKSet:
    """The JWKS as it is now, as a PyJWT key set."""
    response = requests.get(server.jwks_url, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, response.text
    return jwt.PyJWKSet.from_dict(response.json())


def verify_with(keyset: jwt.PyJWKSet, token: str) -> dict:
    """Verifies a token with a key set already fetched (raises KeyError for an unknown kid)."""
    return decode(token, keyset[jwt.get_unverified_header(token)["kid"]].key)


def usage(server, token: str, kid: str) -> dict:
    """GET /keys/signing/{kid}/usage, checked for its shape."""
    body = expect(call("GET", server, f"/keys/signing/{kid}/usage", token), 200)
    assert set(body) == USAGE_FIELDS, f"usage fields {sorted(body)}"
    assert body["kid"] == kid, body
    assert isinstance(body["tokens_signed"], int) and body["tokens_signed"] >= 0, body
    assert isinstance(body["safe_to_revoke"], bool), body
    for stamp in ("first_signed_at", "last_signed_at", "live_tokens_until"):
        assert body[stamp] is None or is_iso_ms(body[stamp]), f"{stamp}: {body}"
    if body["tokens_signed"] == 0:
        assert body["first_signed_at"] is None and body["last_signed_at"] is None, body
    else:
        assert body["first_signed_at"] is not None and body["last_signed_at"] is not None, body
        assert epoch(body["first_signed_at"]) <= epoch(body["last_signed_at"]), body
        assert body["live_tokens_until"] is not None, body
    return body


def cli_usage(server, kid: str) -> dict:
    """The `usage` object of one key in `signet keys list --json`."""
    result = run_cli(server, "keys", "list", "--json")
    assert result.returncode == 0, f"signet keys list --json: {result.stderr}"
    for key in json.loads(result.stdout):
        if key.get("kid") == kid:
            assert isinstance(key.get("usage"), dict), key
            return key["usage"]
    raise AssertionError(f"{kid} is not in `signet keys list --json`: {result.stdout}")


def when(value: Any) -> float | None:
    """A time from `signet keys list --json`: ISO-8601 (as the API), or Unix seconds."""
    if value is None or isinstance(value, (int, float)):
        return value
    return epoch(value)


def wait_for(read: Callable[[], dict], done: Callable[[dict], bool], what: str) -> dict:
    """Polls `read` until `done` holds for its value, for up to SETTLE_S."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"after {SETTLE_S:.0f}s, still not {what}: {value}")
        time.sleep(0.25)


def rotate(server, token: str) -> str:
    """POST /keys/signing/rotate through the SDK; the kid of the new current key."""
    response = management(server, token).keys.signing.with_raw_response.rotate()
    assert response.status_code == 201, f"rotate answered {response.status_code}"
    return sent(response.data)["kid"]


def revoke(server, token: str, kid: str) -> None:
    response = management(server, token).keys.signing.with_raw_response.revoke(kid)
    assert response.status_code == 200, f"revoke {kid} answered {response.status_code}"
    assert sent(response.data).get("revoked") is True


def set_clock(server, offset_s: int) -> None:
    """Moves Signet's clock (server and CLI) `offset_s` seconds ahead of the system clock."""
    server.clock_file.write_text(str(offset_s))


# ---------------------------------------------------------------------------------------------
# The signing client, made through the API and deleted by the last test (or, failing that, here).


@pytest.fixture(scope="module")
def signing_client(server, machine_client) -> Iterator[dict]:
    body = {"name": CLIENT_NAME, "scopes": ["sign:tokens"], "signing_policy": SIGNING_POLICY}
    response = call("POST", server, "/clients", admin_token(server, machine_client), json=body)
    if response.status_code != 201:
        pytest.fail(f"POST /api/v2/clients answered {response.status_code}: {response.text}")
    created = response.json()
    yield created
    # Already deleted by test_delete_signing_client when it passed: 404 then.
    call("DELETE", server, f"/clients/{created['client_id']}", admin_token(server, machine_client))


# ---------------------------------------------------------------------------------------------
# Tests, in order.


def test_create_signing_client_through_the_api(server, machine_client, signing_client):
    """POST /api/v2/clients answers the client with its secret (once) and its signing policy;
    GET /api/v2/clients lists it without the secret; its token carries exactly sign:tokens."""
    created = signing_client
    assert isinstance(created.get("client_id"), str) and created["client_id"], created
    assert isinstance(created.get("client_secret"), str) and len(created["client_secret"]) >= 32, created
    assert created.get("name") == CLIENT_NAME, created
    assert created.get("scopes") == ["sign:tokens"], created
    assert created.get("signing_policy") == SIGNING_POLICY, created
    assert isinstance(created.get("created_at"), str)
    assert abs(epoch(created["created_at"]) - time.time()) < 300, created

    admin = admin_token(server, machine_client)
    listed = expect(call("GET", server, "/clients", admin), 200)
    assert isinstance(listed, list), listed
    assert all("client_secret" not in item for item in listed), "GET /clients shows a secret"
    ours = [item for item in listed if item.get("client_id") == created["client_id"]]
    assert len(ours) == 1, f"the new client is not listed once: {listed}"
    without_secret = {k: v for k, v in created.items() if k != "client_secret"}
    assert ours[0] == without_secret

    issued = requests_get_token(
        server, MachineClient(created["client_id"], created["client_secret"], "sign:tokens")
    )
    assert issued.get("scope") == "sign:tokens", issued

    # Creating clients needs create:clients; a policy beyond 30 days is refused.
    read_only = requests_get_token(server, machine_client, scope="read:clients")["access_token"]
    refused = call("POST", server, "/clients", read_only, json={"name": "x", "scopes": []})
    expect_error(refused, 403, "insufficient_scope")
    too_long = {
        "name": "x",
        "scopes": ["sign:tokens"],
        "signing_policy": {"audiences": [APP], "max_lifetime_seconds": 30 * 24 * 3600 + 1},
    }
    expect(call("POST", server, "/clients", admin, json=too_long), 400)


def test_signed_token_verifies_with_pyjwt(server, machine_client, signing_client):
    """A token from POST /jwt/sign is RS256 with the current kid, carries the caller's claims
    plus Signet's iss and iat, and PyJWT verifies it through the JWKS URL."""
    admin = admin_token(server, machine_client)
    signer = signer_token(server, signing_client)
    current = the_one(list_keys(management(server, admin)), "current")["kid"]
    claim_set = claims(600)

    body = signed(server, signer, claim_set)
    assert body["kid"] == current
    assert jwt.get_unverified_header(body["jwt"]) == {"typ": "JWT", "alg": "RS256", "kid": current}

    decoded = verify_signed(server, body["jwt"])
    for name, value in claim_set.items():
        assert decoded.get(name) == value, f"{name}: {decoded}"
    assert decoded["iss"] == ISSUER
    assert abs(decoded["iat"] - time.time()) < 120, decoded

    # Also accepted: typ/cty in the header, iss equal to Signet's, aud as an array, nbf now.
    now = int(time.time())
    variant = claims(600, iss=ISSUER, nbf=now - 30)
    variant["aud"] = [APP]
    body = signed(server, signer, variant, header={"typ": "at+jwt", "cty": "JWT"})
    header = jwt.get_unverified_header(body["jwt"])
    assert header == {"typ": "at+jwt", "cty": "JWT", "alg": "RS256", "kid": current}, header
    decoded = verify_signed(server, body["jwt"])
    assert decoded["aud"] == [APP] and decoded["nbf"] == now - 30, decoded


def _bad_requests() -> list[tuple[str, Callable[[int], Any], str]]:
    """(id, body builder given now, errorCode). A builder returning str is sent as raw JSON text."""
    ok = lambda now, **extra: {"sub": "user-1", "aud": APP, "exp": now + 300, **extra}  # noqa: E731
    return [
        ("no exp", lambda now: {"claims": {"sub": "user-1", "aud": APP}}, "missing_exp"),
        ("exp a string", lambda now: {"claims": ok(now, exp=str(now + 300))}, "invalid_exp"),
        ("exp a fraction", lambda now: {"claims": ok(now, exp=now + 300.5)}, "invalid_exp"),
        ("exp past", lambda now: {"claims": ok(now, exp=now - 10)}, "invalid_exp"),
        ("lifetime over policy", lambda now: {"claims": ok(now, exp=now + MAX_LIFETIME + 120)},
         "lifetime_too_long"),
        ("another iss", lambda now: {"claims": ok(now, iss="https://evil.example/")}, "invalid_issuer"),
        ("caller iat", lambda now: {"claims": ok(now, iat=now)}, "iat_not_allowed"),
        ("nbf long past", lambda now: {"claims": ok(now, nbf=now - 600)}, "invalid_nbf"),
        ("nbf after exp", lambda now: {"claims": ok(now, nbf=now + 400)}, "invalid_nbf"),
        ("another aud", lambda now: {"claims": ok(now, aud=OTHER_APP)}, "audience_not_allowed"),
        ("one aud of two", lambda now: {"claims": ok(now, aud=[APP, OTHER_APP])}, "audience_not_allowed"),
        ("header alg", lambda now: {"claims": ok(now), "header": {"alg": "none"}}, "header_not_allowed"),
        ("header kid", lambda now: {"claims": ok(now), "header": {"kid": "x"}}, "header_not_allowed"),
        ("header jku", lambda now: {"claims": ok(now), "header": {"jku": "https://evil.example/jwks"}},
         "header_not_allowed"),
        ("header x5c", lambda now: {"claims": ok(now), "header": {"x5c": ["MIIB"]}}, "header_not_allowed"),
        ("header crit", lambda now: {"claims": ok(now), "header": {"crit": ["exp"]}}, "header_not_allowed"),
        ("claims an array", lambda now: {"claims": [ok(now)]}, "claims_not_object"),
        ("claims too large", lambda now: {"claims": ok(now, blob="x" * 17000)}, "claims_too_large"),
        (
            "sub given twice",
            lambda now: '{"claims":{"sub":"user-1","sub":"admin","aud":"%s","exp":%d}}' % (APP, now + 300),
            "duplicate_claim",
        ),
        ("not JSON", lambda now: "claims=1", "invalid_body"),
        ("unknown top-level field", lambda now: {"claims": ok(now), "key": "other"}, "invalid_body"),
    ]


@pytest.mark.parametrize(
    ("build", "error_code"),
    [pytest.param(build, code, id=name) for name, build, code in _bad_requests()],
)
def test_sign_refuses_what_the_rules_forbid(server, signing_client, build, error_code):
    """Each rule of the contract is a 400 with its errorCode in Auth0's error body."""
    body = build(int(time.time()))
    kwargs: dict = {"json": body} if not isinstance(body, str) else {
        "data": body,
        "headers": {"Content-Type": "application/json"},
    }
    response = call("POST", server, "/jwt/sign", signer_token(server, signing_client), **kwargs)
    expect_error(response, 400, error_code)


def test_sign_needs_a_token_with_sign_tokens(server, machine_client, signing_client):
    """No token: 401 invalid_token; a token without sign:tokens: 403 insufficient_scope; the
    signing client's token cannot use the key endpoints."""
    expect_error(sign(server, None, claims()), 401, "invalid_token")
    expect_error(sign(server, admin_token(server, machine_client), claims()), 403, "insufficient_scope")
    signer = signer_token(server, signing_client)
    expect_error(call("GET", server, "/keys/signing", signer), 403, "insufficient_scope")
    expect_error(call("POST", server, "/keys/signing/rotate", signer), 403, "insufficient_scope")


def test_sign_batch_verifies_with_pyjwt_and_is_counted(server, machine_client, signing_client):
    """100 claim sets signed in one call by the current key, each verified by PyJWT; the usage
    ledger counts all 100 at once. A batch with one bad item, or of 0 or 101 items, signs nothing."""
    admin = admin_token(server, machine_client)
    signer = signer_token(server, signing_client)
    current = the_one(list_keys(management(server, admin)), "current")["kid"]
    before = usage(server, admin, current)

    claim_sets = [claims(600 + i, sub=f"user-{i}") for i in range(100)]
    body = signed_batch(server, signer, claim_sets)
    assert body["kid"] == current
    keyset = fresh_keyset(server)
    for item, claim_set in zip(body["tokens"], claim_sets, strict=True):
        decoded = verify_with(keyset, item["jwt"])
        assert decoded["sub"] == claim_set["sub"] and decoded["exp"] == claim_set["exp"], decoded
        assert decoded["iss"] == ISSUER

    after = usage(server, admin, current)
    assert after["tokens_signed"] == before["tokens_signed"] + 100, (before, after)
    assert epoch(after["live_tokens_until"]) >= max(c["exp"] for c in claim_sets), after
    assert after["safe_to_revoke"] is False, "the current key is never safe to revoke"

    bad = claims(300)
    del bad["exp"]
    one_bad = [claims(300), claims(300), claims(300), bad, claims(300)]
    refused = expect_error(sign_batch(server, signer, one_bad), 400, "missing_exp")
    assert refused["message"].startswith("tokens[3]:"), refused
    expect_error(sign_batch(server, signer, []), 400, "invalid_batch_size")
    expect_error(sign_batch(server, signer, [claims(300)] * 101), 400, "invalid_batch_size")
    final = usage(server, admin, current)
    assert final["tokens_signed"] == after["tokens_signed"], "a refused batch was counted"


def test_signed_tokens_across_rotations_usage_and_revocation(server, machine_client, signing_client):
    """Key A signs t1; after a rotation t1 still verifies and key B signs t2 and a batch; after a
    second rotation B is previous and its usage settles to exactly its tokens (never safe while
    they live, safe once Signet's clock passes their exp). Revoking B, then A, makes PyJWT refuse
    their tokens from a fresh JWKS, while tokens of the new current key verify."""
    # Both tokens are signed by A, so nothing but the sign API signs with B below.
    admin = admin_token(server, machine_client)
    signer = signer_token(server, signing_client)
    key_a = the_one(list_keys(management(server, admin)), "current")["kid"]

    a_before = usage(server, admin, key_a)
    t1 = signed(server, signer, claims(300))
    assert t1["kid"] == key_a
    verify_signed(server, t1["jwt"])
    a_after = usage(server, admin, key_a)
    assert a_after["tokens_signed"] == a_before["tokens_signed"] + 1, (a_before, a_after)
    assert a_after["safe_to_revoke"] is False, a_after

    # Rotation 1: A becomes previous; its token still verifies; B signs.
    key_b = rotate(server, admin)
    assert key_b != key_a
    verify_signed(server, t1["jwt"])
    b_fresh = usage(server, admin, key_b)
    assert b_fresh["tokens_signed"] == 0 and b_fresh["live_tokens_until"] is None, b_fresh
    assert b_fresh["safe_to_revoke"] is False, "the current key is never safe to revoke"

    t2_claims = claims(300)
    t2 = signed(server, signer, t2_claims)
    assert t2["kid"] == key_b
    verify_signed(server, t2["jwt"])
    batch_claims = [claims(240 + i, sub=f"user-{i}") for i in range(5)]
    batch = signed_batch(server, signer, batch_claims)
    assert batch["kid"] == key_b
    keyset = fresh_keyset(server)
    for item in batch["tokens"]:
        verify_with(keyset, item["jwt"])
    b_exp = max(c["exp"] for c in [t2_claims, *batch_claims])
    b_used = usage(server, admin, key_b)
    assert b_used["tokens_signed"] == 6, b_used
    assert epoch(b_used["live_tokens_until"]) >= b_exp, b_used
    a_previous = usage(server, admin, key_a)
    assert a_previous["safe_to_revoke"] is False, f"A still has live tokens: {a_previous}"

    # Rotation 2: B becomes previous. From here the management token is C's, not A's.
    key_c = rotate(server, admin)
    assert key_c not in (key_a, key_b)
    admin = admin_token(server, machine_client)
    b_settled = wait_for(
        lambda: usage(server, admin, key_b),
        lambda u: u["live_tokens_until"] is not None and epoch(u["live_tokens_until"]) == b_exp,
        f"live_tokens_until at the latest exp B signed ({b_exp})",
    )
    assert b_settled["tokens_signed"] == 6 and b_settled["safe_to_revoke"] is False, b_settled
    cli = wait_for(
        lambda: cli_usage(server, key_b),
        lambda u: u.get("tokens_signed") == 6 and when(u.get("live_tokens_until")) == b_exp,
        f"6 tokens on B, live until {b_exp}, in `signet keys list --json`",
    )
    assert cli.get("safe_to_revoke") is False, cli

    # Once Signet's clock is past B's last exp, B is safe to revoke (API and CLI alike).
    try:
        set_clock(server, int(b_exp - time.time()) + 60)
        later = usage(server, admin, key_b)
        assert later["safe_to_revoke"] is True, later
        assert later["tokens_signed"] == 6 and epoch(later["live_tokens_until"]) == b_exp, later
        assert cli_usage(server, key_b).get("safe_to_revoke") is True
    finally:
        set_clock(server, 0)
    assert usage(server, admin, key_b)["safe_to_revoke"] is False, "the clock did not come back"

    # Revoke B: a fresh JWKS no longer has it, PyJWT refuses t2 and the batch; t1 (A) still verifies.
    revoke(server, admin, key_b)
    with pytest.raises(jwt.PyJWKClientError):
        verify_signed(server, t2["jwt"])
    keyset = fresh_keyset(server)
    for item in batch["tokens"]:
        with pytest.raises(KeyError):
            verify_with(keyset, item["jwt"])
    verify_signed(server, t1["jwt"])

    # Revoke A: t1 is refused too, and so is the signing client's token A signed.
    revoke(server, admin, key_a)
    with pytest.raises(jwt.PyJWKClientError):
        verify_signed(server, t1["jwt"])
    expect_error(sign(server, signer, claims()), 401, "invalid_token")

    # A fresh token signs with C, and that verifies.
    t3 = signed(server, signer_token(server, signing_client), claims(300))
    assert t3["kid"] == key_c
    verify_signed(server, t3["jwt"])

    expect(call("GET", server, "/keys/signing/compat-no-such-kid/usage", admin), 404)


def test_delete_signing_client(server, machine_client, signing_client):
    """DELETE /api/v2/clients/{id} needs delete:clients, answers 204, the list no longer has the
    client, a second delete is 404 inexistent_client, and its credentials get no token."""
    client_id = signing_client["client_id"]
    path = f"/clients/{client_id}"
    read_only = requests_get_token(server, machine_client, scope="read:clients")["access_token"]
    expect_error(call("DELETE", server, path, read_only), 403, "insufficient_scope")

    admin = admin_token(server, machine_client)
    response = call("DELETE", server, path, admin)
    assert response.status_code == 204, f"DELETE {path} answered {response.status_code}: {response.text}"
    assert response.content == b"", response.content

    listed = expect(call("GET", server, "/clients", admin), 200)
    assert client_id not in {item.get("client_id") for item in listed}, listed
    expect_error(call("DELETE", server, path, admin), 404, "inexistent_client")

    response = requests.post(
        server.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": signing_client["client_secret"],
            "audience": AUDIENCE,
        },
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 401, response.text
    assert response.json().get("error") == "invalid_client", response.text
