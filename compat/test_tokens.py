"""Tokens: the SDK's client-credentials grant against Signet, validated by PyJWT through the JWKS."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error

from conftest import (
    ALL_SCOPES,
    AUDIENCE,
    HTTP_TIMEOUT_S,
    ISSUER,
    list_keys,
    management,
    sdk_get_token,
    the_one,
    verify,
)


def test_sdk_token_validates_with_pyjwt_through_the_jwks(server, machine_client):
    """Test 1: a token from the SDK validates with PyJWT (JWKS URL, RS256, iss, aud) and is
    signed with the current key."""
    issued = sdk_get_token(server, machine_client)

    assert issued.get("token_type") == "Bearer", issued
    assert isinstance(issued.get("expires_in"), int) and issued["expires_in"] > 0, issued
    assert set(issued.get("scope", "").split()) == set(ALL_SCOPES.split()), issued
    access_token = issued["access_token"]

    header = jwt.get_unverified_header(access_token)
    assert header.get("alg") == "RS256", header
    claims = verify(server, access_token)

    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == f"{machine_client.client_id}@clients"
    assert claims.get("gty") == "client-credentials", claims
    assert set(claims.get("scope", "").split()) == set(ALL_SCOPES.split()), claims
    assert isinstance(claims.get("jti"), str) and claims["jti"], claims
    now = time.time()
    assert abs(claims["iat"] - now) < 120, f"iat {claims['iat']} is far from now {now:.0f}"
    assert abs((claims["exp"] - claims["iat"]) - issued["expires_in"]) <= 5, (
        f"exp - iat = {claims['exp'] - claims['iat']} but expires_in = {issued['expires_in']}"
    )

    current = the_one(list_keys(management(server, access_token)), "current")
    assert header.get("kid") == current["kid"], (
        f"token kid {header.get('kid')!r} is not the current key {current['kid']!r}"
    )


def test_two_tokens_have_distinct_jti(server, machine_client):
    first = verify(server, sdk_get_token(server, machine_client)["access_token"])
    second = verify(server, sdk_get_token(server, machine_client)["access_token"])
    assert first["jti"] != second["jti"]


def test_wrong_secret_is_invalid_client_through_the_sdk(server, machine_client):
    """The SDK surfaces an RFC 6749 invalid_client as Auth0Error(401, 'invalid_client')."""
    get_token = GetToken(
        server.host,
        machine_client.client_id,
        client_secret=machine_client.client_secret + "x",
        protocol="http",
        timeout=HTTP_TIMEOUT_S,
    )
    with pytest.raises(Auth0Error) as raised:
        get_token.client_credentials(AUDIENCE)
    assert raised.value.status_code == 401, raised.value.content
    assert raised.value.error_code == "invalid_client", raised.value.content


@pytest.mark.parametrize("style", ["form", "json", "basic"])
def test_token_endpoint_accepts_form_json_and_basic_auth(server, machine_client, style):
    """POST /oauth/token with a form body, a JSON body, or HTTP Basic client authentication."""
    body = {"grant_type": "client_credentials", "audience": AUDIENCE}
    kwargs: dict = {"timeout": HTTP_TIMEOUT_S}
    if style == "basic":
        kwargs["auth"] = (machine_client.client_id, machine_client.client_secret)
        kwargs["data"] = body
    else:
        body |= {"client_id": machine_client.client_id, "client_secret": machine_client.client_secret}
        kwargs["json" if style == "json" else "data"] = body
    response = requests.post(server.token_url, **kwargs)
    assert response.status_code == 200, f"{style}: {response.status_code} {response.text}"
    claims = verify(server, response.json()["access_token"])
    assert claims["sub"] == f"{machine_client.client_id}@clients"
