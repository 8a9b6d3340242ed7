"""The signing-keys Management API through the SDK's `client.keys.signing` (list, get, revoke)."""

from __future__ import annotations

import re

import pytest
from auth0.management import ForbiddenError, NotFoundError
from auth0.management.core.api_error import ApiError
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from conftest import (
    ISO_MS_UTC,
    list_keys,
    management,
    requests_get_token,
    sent,
    sha1_fingerprint,
    the_one,
    verify,
)

BOOLEANS = ("current", "next", "previous", "revoked")


def test_list_has_one_current_one_next_and_well_formed_keys(sdk):
    """Test 2: exactly one current and one next key; the four booleans on every key; each `cert`
    is an X.509 certificate whose SHA-1 fingerprint is `fingerprint`."""
    keys = list_keys(sdk)
    assert keys, "GET /keys/signing returned no keys"
    current = the_one(keys, "current")
    nxt = the_one(keys, "next")
    assert current["kid"] != nxt["kid"]

    for key in keys:
        where = f"key {key.get('kid')!r}: {sorted(key)}"
        for flag in BOOLEANS:
            assert flag in key, f"{where} lacks {flag!r}"
            assert isinstance(key[flag], bool), f"{where}: {flag} = {key[flag]!r}"
        for field in ("kid", "cert", "pkcs7", "fingerprint", "thumbprint"):
            assert isinstance(key.get(field), str) and key[field], f"{where}: no {field!r}"

        cert = x509.load_pem_x509_certificate(key["cert"].encode())
        assert key["fingerprint"] == sha1_fingerprint(cert), where
        assert key["thumbprint"] == key["fingerprint"].replace(":", ""), where
        in_pkcs7 = pkcs7.load_pem_pkcs7_certificates(key["pkcs7"].encode())
        assert [c.public_bytes(serialization.Encoding.DER) for c in in_pkcs7] == [
            cert.public_bytes(serialization.Encoding.DER)
        ], f"{where}: pkcs7 does not hold exactly the key's certificate"

        for stamp in ("current_since", "current_until", "revoked_at"):
            if stamp in key:
                assert re.match(ISO_MS_UTC, key[stamp]), f"{where}: {stamp} = {key[stamp]!r}"
        if not key["revoked"]:
            assert "revoked_at" not in key, where

    assert "current_since" in current, "the current key has no current_since"
    assert "current_until" not in current, "the current key has a current_until"
    for absent in ("current_since", "current_until", "revoked_at"):
        assert absent not in nxt, f"the next key has {absent}: {nxt[absent]!r}"

    # Valid keys first, then revoked ones.
    revoked_flags = [key["revoked"] for key in keys]
    assert revoked_flags == sorted(revoked_flags), f"a revoked key is listed before a valid one: {revoked_flags}"


def test_get_one_key_and_unknown_kid_is_404(sdk):
    """Test 3: GET /keys/signing/{kid} returns the same key the list shows; an unknown kid makes
    the SDK raise its NotFoundError with 404 and errorCode inexistent_signing_key."""
    current = the_one(list_keys(sdk), "current")
    fetched = sent(sdk.keys.signing.get(current["kid"]))
    assert fetched == current

    with pytest.raises(NotFoundError) as raised:
        sdk.keys.signing.get("compat-no-such-kid")
    error = raised.value
    assert error.status_code == 404
    assert isinstance(error.body, dict), error.body
    assert error.body.get("errorCode") == "inexistent_signing_key", error.body
    assert error.body.get("statusCode") == 404, error.body
    assert error.body.get("error") == "Not Found", error.body
    assert isinstance(error.body.get("message"), str) and error.body["message"], error.body


def test_revoking_current_or_next_key_is_400_invalid_key_state(sdk):
    """Test 6: only a previously used key can be revoked; the current (and next) key cannot, and
    nothing changes."""
    before = list_keys(sdk)
    current = the_one(before, "current")
    nxt = the_one(before, "next")

    for key in (current, nxt):
        with pytest.raises(ApiError) as raised:
            sdk.keys.signing.revoke(key["kid"])
        error = raised.value
        assert error.status_code == 400, f"revoking {key['kid']}: {error}"
        assert isinstance(error.body, dict), error.body
        assert error.body.get("errorCode") == "invalid_key_state", error.body
        assert error.body.get("statusCode") == 400, error.body

    after = list_keys(sdk)
    assert the_one(after, "current")["kid"] == current["kid"]
    assert the_one(after, "next")["kid"] == nxt["kid"]
    assert not any(k["revoked"] for k in after if k["kid"] in (current["kid"], nxt["kid"]))


def test_read_only_token_can_list_but_not_rotate(server, machine_client, sdk):
    """Test 7: a token asked for with scope=read:signing_keys only lists; rotating is 403
    insufficient_scope and rotates nothing."""
    issued = requests_get_token(server, machine_client, scope="read:signing_keys")
    assert issued.get("scope") == "read:signing_keys", issued
    claims = verify(server, issued["access_token"])
    assert claims.get("scope") == "read:signing_keys", claims

    read_only = management(server, issued["access_token"])
    keys = list_keys(read_only)
    current = the_one(keys, "current")
    assert sent(read_only.keys.signing.get(current["kid"]))["kid"] == current["kid"]

    with pytest.raises(ForbiddenError) as raised:
        read_only.keys.signing.rotate()
    error = raised.value
    assert error.status_code == 403
    assert isinstance(error.body, dict), error.body
    assert error.body.get("errorCode") == "insufficient_scope", error.body

    # Revoking needs update:signing_keys too; the scope is checked before the key's state.
    with pytest.raises(ForbiddenError) as raised:
        read_only.keys.signing.revoke(current["kid"])
    assert raised.value.status_code == 403
    assert raised.value.body.get("errorCode") == "insufficient_scope", raised.value.body

    assert the_one(list_keys(sdk), "current")["kid"] == current["kid"], "the refused rotate rotated"
