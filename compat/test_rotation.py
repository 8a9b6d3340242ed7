"""Rotation then revocation through the SDK, with PyJWT as the resource server.

The two steps share one module-scoped rotation (taken once, with snapshots of before and after);
test_rotate checks the rotation, then test_revoke revokes the key the rotation retired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jwt
import pytest
import requests
from auth0.management import UnauthorizedError

from conftest import (
    HTTP_TIMEOUT_S,
    ISO_MS_UTC,
    jwks_client,
    list_keys,
    management,
    sdk_get_token,
    sent,
    the_one,
    verify,
)


@dataclass(frozen=True)
class Rotation:
    old_token: str  # issued before the rotation, signed by the key that is now previous
    before: list[dict]
    status: int
    rotated: dict  # the rotate response as sent
    after: list[dict]
    new_token: str  # issued after the rotation

    @property
    def old_current(self) -> dict:
        return the_one(self.before, "current")

    @property
    def old_next(self) -> dict:
        return the_one(self.before, "next")


@pytest.fixture(scope="module")
def rotation(server, machine_client) -> Rotation:
    old_token = sdk_get_token(server, machine_client)["access_token"]
    sdk = management(server, old_token)
    before = list_keys(sdk)
    response = sdk.keys.signing.with_raw_response.rotate()
    rotated = sent(response.data)
    after = list_keys(sdk)
    new_token = sdk_get_token(server, machine_client)["access_token"]
    return Rotation(old_token, before, response.status_code, rotated, after, new_token)


def jwks_kids(server) -> list[str]:
    response = requests.get(server.jwks_url, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, response.text
    return [key.get("kid") for key in response.json()["keys"]]


def test_rotate(server, rotation):
    """Test 4: the next key becomes current, the current key becomes previous, new tokens carry
    the new current kid, and a token signed before the rotation still validates."""
    old_current, old_next = rotation.old_current, rotation.old_next
    assert jwt.get_unverified_header(rotation.old_token)["kid"] == old_current["kid"]

    assert rotation.status == 201, f"POST /keys/signing/rotate answered {rotation.status}"
    rotated = rotation.rotated
    assert rotated["kid"] == old_next["kid"], "the rotate response is not the old next key"
    assert rotated["cert"] == old_next["cert"]
    assert rotated.get("current") is True, rotated
    assert rotated.get("next") is False and rotated.get("previous") is False, rotated
    assert rotated.get("revoked") is False, rotated
    assert re.match(ISO_MS_UTC, rotated.get("current_since", "")), rotated

    after = {key["kid"]: key for key in rotation.after}
    assert the_one(rotation.after, "current")["kid"] == old_next["kid"]
    was_current = after.get(old_current["kid"])
    assert was_current is not None, "the old current key is missing from the list"
    assert was_current["previous"] is True, was_current
    assert was_current["current"] is False and was_current["revoked"] is False, was_current
    assert re.match(ISO_MS_UTC, was_current.get("current_until", "")), was_current
    new_next = the_one(rotation.after, "next")
    assert new_next["kid"] not in {key["kid"] for key in rotation.before}, "no fresh next key"

    # New tokens are signed by the new current key.
    assert jwt.get_unverified_header(rotation.new_token)["kid"] == old_next["kid"]
    verify(server, rotation.new_token)

    # Previous keys still verify: the old token validates with PyJWT and still works on the API.
    assert old_current["kid"] in jwks_kids(server)
    verify(server, rotation.old_token)
    list_keys(management(server, rotation.old_token))


def test_revoke(server, rotation):
    """Test 5: revoking the previous key leaves the JWKS at once; tokens it signed are refused by
    the Management API (401) and PyJWT cannot find their key any more."""
    retired = rotation.old_current["kid"]
    sdk = management(server, rotation.new_token)

    response = sdk.keys.signing.with_raw_response.revoke(retired)
    assert response.status_code == 200, f"PUT /keys/signing/{retired}/revoke answered {response.status_code}"
    revoked = sent(response.data)
    assert revoked["kid"] == retired
    assert revoked.get("revoked") is True, revoked
    assert revoked.get("current") is False and revoked.get("next") is False, revoked
    assert re.match(ISO_MS_UTC, revoked.get("revoked_at", "")), revoked

    # The Management API refuses the old token.
    with pytest.raises(UnauthorizedError) as raised:
        management(server, rotation.old_token).keys.signing.list()
    assert raised.value.status_code == 401
    assert isinstance(raised.value.body, dict), raised.value.body
    assert raised.value.body.get("errorCode") == "invalid_token", raised.value.body

    # The key is gone from the JWKS, and PyJWT's fresh fetch cannot find it.
    assert retired not in jwks_kids(server)
    with pytest.raises(jwt.PyJWKClientError):
        jwks_client(server).get_signing_key(retired)
    with pytest.raises(jwt.PyJWKClientError):
        verify(server, rotation.old_token)

    # The list still shows it, revoked, after the valid keys; the current and next are untouched.
    keys = list_keys(sdk)
    listed = {key["kid"]: key for key in keys}
    assert retired in listed, "the revoked key is not in the list"
    assert listed[retired]["revoked"] is True and "revoked_at" in listed[retired], listed[retired]
    revoked_flags = [key["revoked"] for key in keys]
    assert revoked_flags == sorted(revoked_flags), f"a revoked key is listed before a valid one: {revoked_flags}"
    assert the_one(keys, "current")["kid"] == rotation.old_next["kid"]
    the_one(keys, "next")
    assert sent(sdk.keys.signing.get(retired))["revoked"] is True

    # Tokens from the current key are unaffected.
    verify(server, rotation.new_token)
