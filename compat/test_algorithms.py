"""Signing algorithms (issue 17): RS256 and PS256 at 2048, 3072 and 4096 bits, ES256 (P-256) and
EdDSA (Ed25519), chosen with PATCH /api/v2/keys/signing/policy, as relying parties see them.

The tests run in file order and share the tenant's key set:

1. `test_switch_then_rotate` walks through the eight key types in turn: the PATCH replaces only
   the next key, a forced rotation makes it current, and tokens from /oauth/token and from the
   signing service carry its `alg` and verify with PyJWT through the JWKS URL.
2. `test_certificates_with_openssl` checks every published key of each type (current, next and
   the previous keys of every other type, a mixed set) with `openssl` and `cryptography`.
3. `test_the_sdk_lists_and_rotates_a_mixed_key_set`: auth0-python lists the mixed set and rotates
   (unforced: compat runs with SIGNET_PUBLICATION_WINDOW_SECS=0, see conftest.py) to a new type.
4. The refusals: unsupported algorithms and sizes, a malformed body, a read-only token; nothing
   changes.
5. `test_back_to_rs256_2048` puts the tenant back on RS256 at 2048 bits with a forced rotation.

Later modules (test_keys.py, test_rotation.py, test_signing.py, test_tokens.py) expect RS256
tokens from a current RS256 key: the module fixture `back_to_rs256_afterwards` restores RS256/2048
again after the module whatever happened in it. The keys made here are not revoked: they stay in
the JWKS as previous keys, so the later modules run against a mixed JWKS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from auth0.management.core.api_error import ApiError
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from conftest import (
    AUDIENCE,
    HTTP_TIMEOUT_S,
    ISSUER,
    TENANT_DOMAIN,
    admin_token,
    call,
    expect,
    expect_error,
    jwks_client,
    list_keys,
    management,
    requests_get_token,
    sdk_get_token,
    sent,
    sha1_fingerprint,
    signer_token,
    the_one,
    verify,
)

# Every key type Signet offers, in the order test_switch_then_rotate walks through them.
KEY_TYPES: list[tuple[str, int]] = [
    ("RS256", 2048),
    ("RS256", 3072),
    ("RS256", 4096),
    ("PS256", 2048),
    ("PS256", 3072),
    ("PS256", 4096),
    ("ES256", 256),
    ("EdDSA", 256),
]
ALGS = ("RS256", "PS256", "ES256", "EdDSA")
DEFAULT = ("RS256", 2048)
POLICY = "/keys/signing/policy"
APP = "https://algorithms.example"  # the one audience the module's signing client may sign for

KTY = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC", "EdDSA": "OKP"}
JWK_MEMBERS = {
    "RSA": {"alg", "kty", "use", "n", "e", "kid", "x5t", "x5c"},
    "EC": {"alg", "kty", "use", "crv", "x", "y", "kid", "x5t", "x5c"},
    "OKP": {"alg", "kty", "use", "crv", "x", "kid", "x5t", "x5c"},
}
# The certificate's signature, as `openssl x509 -text` names it and as an OID.
CERT_SIGNATURE = {
    "RS256": ("sha256WithRSAEncryption", SignatureAlgorithmOID.RSA_WITH_SHA256),
    "PS256": ("sha256WithRSAEncryption", SignatureAlgorithmOID.RSA_WITH_SHA256),
    "ES256": ("ecdsa-with-SHA256", SignatureAlgorithmOID.ECDSA_WITH_SHA256),
    "EdDSA": ("ED25519", SignatureAlgorithmOID.ED25519),
}
# The certificate's public key algorithm, as `openssl x509 -text` names it.
CERT_KEY_ALGORITHM = {
    "RS256": "rsaEncryption",
    "PS256": "rsaEncryption",
    "ES256": "id-ecPublicKey",
    "EdDSA": "ED25519",
}

# The PATCH bodies Signet refuses, with the errorCode of the refusal.
REFUSED = [
    ("HS256", {"signing_alg": "HS256"}, "unsupported_algorithm"),
    ("none", {"signing_alg": "none"}, "unsupported_algorithm"),
    ("ES256-3072", {"signing_alg": "ES256", "key_size": 3072}, "unsupported_algorithm"),
    ("RS256-1024", {"signing_alg": "RS256", "key_size": 1024}, "unsupported_algorithm"),
    ("RS256-2047", {"signing_alg": "RS256", "key_size": 2047}, "unsupported_algorithm"),
    ("alg-not-a-string", {"signing_alg": 5}, "invalid_body"),
]


def type_id(alg: str, key_size: int) -> str:
    return f"{alg}-{key_size}" if KTY[alg] == "RSA" else alg


# ---------------------------------------------------------------------------------------------
# Helpers.


def spec_of(key: dict) -> tuple[str | None, int | None]:
    """A key object's (or a policy's) type: (alg, key_size)."""
    return (key.get("alg", key.get("signing_alg")), key.get("key_size"))


def policy_in_force(server, token: str) -> tuple[str, int]:
    """GET /keys/signing/policy: its (signing_alg, key_size)."""
    body = expect(call("GET", server, POLICY, token), 200)
    assert isinstance(body, dict), f"GET {POLICY}: {body!r}"
    assert "signing_alg" in body and "key_size" in body, f"GET {POLICY} lacks the key type: {body}"
    return (body["signing_alg"], body["key_size"])


def set_policy(server, token: str, body: dict) -> requests.Response:
    """PATCH /keys/signing/policy with a JSON body."""
    return call("PATCH", server, POLICY, token, json=body)


def policy_body(alg: str, key_size: int) -> dict:
    """The PATCH for a key type. ES256 names no key_size (its default, 256, must apply); every
    other type names both (EdDSA's 256 explicitly)."""
    if alg == "ES256":
        return {"signing_alg": alg}
    return {"signing_alg": alg, "key_size": key_size}


def force_rotate(server, token: str) -> dict:
    """POST /keys/signing/rotate?force=true: the new current key's object."""
    body = expect(call("POST", server, "/keys/signing/rotate", token, params={"force": "true"}), 201)
    assert isinstance(body, dict) and body.get("current") is True, f"rotate?force=true: {body}"
    return body


def published(server) -> dict[str, dict]:
    """The JWKS as it is now, by kid."""
    response = requests.get(server.jwks_url, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, f"GET /.well-known/jwks.json answered {response.status_code}"
    keys = response.json()["keys"]
    kids = [key.get("kid") for key in keys]
    assert len(set(kids)) == len(kids), f"a kid is published twice: {kids}"
    return {key["kid"]: key for key in keys}


def b64url(value: str, what: str) -> bytes:
    """base64url without padding (RFC 7515 §2), strictly."""
    assert isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_-]+", value), (
        f"{what} is not unpadded base64url: {value!r}"
    )
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as error:
        raise AssertionError(f"{what} does not decode ({error}): {value!r}") from None


def spki(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def certificate(key: dict) -> x509.Certificate:
    return x509.load_pem_x509_certificate(key["cert"].encode())


def check_public_key(public_key, alg: str, key_size: int, where: str) -> None:
    """The key pair is of the type `alg`/`key_size` names."""
    if KTY[alg] == "RSA":
        assert isinstance(public_key, rsa.RSAPublicKey), f"{where}: not an RSA key: {public_key}"
        assert public_key.key_size == key_size, f"{where}: a {public_key.key_size}-bit modulus"
        assert public_key.public_numbers().e == 65537, f"{where}: e = {public_key.public_numbers().e}"
    elif alg == "ES256":
        assert isinstance(public_key, ec.EllipticCurvePublicKey), f"{where}: not an EC key: {public_key}"
        assert isinstance(public_key.curve, ec.SECP256R1), f"{where}: curve {public_key.curve.name}"
    else:
        assert isinstance(public_key, ed25519.Ed25519PublicKey), f"{where}: not Ed25519: {public_key}"


def check_key_object(key: dict) -> None:
    """A key object of GET /keys/signing[/{kid}]: `alg` and `key_size` name a type Signet offers,
    the certificate's key is of that type, and the fingerprints are the certificate's."""
    where = f"key {key.get('kid')!r}"
    assert key.get("alg") in ALGS, f"{where}: alg = {key.get('alg')!r}"
    size = key.get("key_size")
    assert type(size) is int, f"{where}: key_size = {size!r} is not an integer"
    assert (key["alg"], size) in KEY_TYPES, f"{where}: {key['alg']} with key_size {size} is not offered"
    cert = certificate(key)
    check_public_key(cert.public_key(), key["alg"], size, where)
    assert key.get("fingerprint") == sha1_fingerprint(cert), f"{where}: fingerprint is not the cert's"
    assert key.get("thumbprint") == key["fingerprint"].replace(":", ""), f"{where}: thumbprint"


def check_jwk(jwk: dict, key: dict) -> None:
    """The JWK Signet publishes for `key` (its key object): the members of its key type, RFC 7518
    encodings, an RSA modulus of exactly key_size bits, x5t/x5c of the key's certificate, and the
    same public key as the certificate."""
    alg, key_size = spec_of(key)
    kty = KTY[alg]
    where = f"JWK {jwk.get('kid')!r} ({type_id(alg, key_size)})"
    assert set(jwk) == JWK_MEMBERS[kty], (
        f"{where}: members {sorted(jwk)}, expected {sorted(JWK_MEMBERS[kty])}"
    )
    assert jwk["kid"] == key["kid"], where
    assert (jwk["alg"], jwk["kty"], jwk["use"]) == (alg, kty, "sig"), f"{where}: alg, kty, use"

    cert = certificate(key)
    der = cert.public_bytes(serialization.Encoding.DER)
    assert isinstance(jwk["x5c"], list) and len(jwk["x5c"]) == 1, f"{where}: x5c = {jwk['x5c']!r}"
    assert base64.b64decode(jwk["x5c"][0], validate=True) == der, f"{where}: x5c[0] is not the cert"
    assert b64url(jwk["x5t"], f"{where} x5t") == hashlib.sha1(der).digest(), f"{where}: x5t"

    if kty == "RSA":
        modulus = b64url(jwk["n"], f"{where} n")
        assert modulus[0] != 0, f"{where}: n has a leading zero byte"
        assert int.from_bytes(modulus, "big").bit_length() == key_size, (
            f"{where}: the modulus has {int.from_bytes(modulus, 'big').bit_length()} bits"
        )
        assert jwk["e"] == "AQAB", f"{where}: e = {jwk['e']!r}"
    elif kty == "EC":
        assert jwk["crv"] == "P-256", f"{where}: crv = {jwk['crv']!r}"
        assert len(b64url(jwk["x"], f"{where} x")) == 32, f"{where}: x is not 32 bytes"
        assert len(b64url(jwk["y"], f"{where} y")) == 32, f"{where}: y is not 32 bytes"
    else:
        assert jwk["crv"] == "Ed25519", f"{where}: crv = {jwk['crv']!r}"
        assert len(b64url(jwk["x"], f"{where} x")) == 32, f"{where}: x is not 32 bytes"

    as_pyjwt = jwt.PyJWK(jwk)
    assert as_pyjwt.algorithm_name == alg, where
    check_public_key(as_pyjwt.key, alg, key_size, where)
    assert spki(as_pyjwt.key) == spki(cert.public_key()), (
        f"{where}: the JWK's public key is not the certificate's"
    )


def verify_as(server, token: str, alg: str, audience: str) -> dict:
    """Validates a token the way a relying party that accepts only `alg` would: the key from a
    fresh fetch of the JWKS URL by `kid` (its JWK `alg` must be `alg` too: PyJWT checks the
    header against the PyJWK's), issuer and audience checked, the standard claims required."""
    signing_key = jwks_client(server).get_signing_key_from_jwt(token)
    assert signing_key.algorithm_name == alg, (
        f"the JWK of {signing_key.key_id} says {signing_key.algorithm_name}, expected {alg}"
    )
    return jwt.decode(
        token,
        signing_key,
        algorithms=[alg],
        audience=audience,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


def signature_length(alg: str, key_size: int) -> int:
    """The JWS signature's length in bytes: the modulus for RSA, R‖S for ES256 (RFC 7518 §3.4,
    not DER), 64 for Ed25519."""
    return key_size // 8 if KTY[alg] == "RSA" else 64


def check_token(server, token: str, key: dict, audience: str) -> dict:
    """A token signed by `key`: its header names the key's alg and kid, the signature has the
    length of the key type, PyJWT verifies it with [alg] and refuses it with any other algorithm
    list, and refuses it with one bit of the signature flipped. Returns its claims."""
    alg, key_size = spec_of(key)
    header = jwt.get_unverified_header(token)
    assert header == {"typ": "JWT", "alg": alg, "kid": key["kid"]}, (
        f"token header {header}, expected alg {alg} and kid {key['kid']}"
    )
    signing_input, _, signature = token.rpartition(".")
    raw = b64url(signature, f"{alg} signature")
    assert len(raw) == signature_length(alg, key_size), (
        f"a {type_id(alg, key_size)} signature of {len(raw)} bytes"
    )
    claims = verify_as(server, token, alg, audience)

    public_key = jwks_client(server).get_signing_key(key["kid"]).key
    for other in ALGS:
        if other == alg:
            continue
        with pytest.raises(jwt.InvalidAlgorithmError):
            jwt.decode(token, public_key, algorithms=[other], audience=audience, issuer=ISSUER)

    flipped = bytes([raw[0] ^ 0x01]) + raw[1:]
    forged = f"{signing_input}.{base64.urlsafe_b64encode(flipped).rstrip(b'=').decode()}"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, public_key, algorithms=[alg], audience=audience, issuer=ISSUER)
    return claims


def app_claims(lifetime: int = 300, **extra) -> dict:
    """Claims for the module's signing client: the app's audience, expiring in `lifetime` s."""
    return {"sub": "user-1", "aud": APP, "exp": int(time.time()) + lifetime, **extra}


def switch_to(server, token: str, alg: str, key_size: int) -> dict:
    """PATCH the policy to `alg`/`key_size`, then a forced rotation: the new current key."""
    changed = expect(set_policy(server, token, policy_body(alg, key_size)), 200)
    assert spec_of(changed) == (alg, key_size), f"PATCH {POLICY} answered {changed}"
    rotated = force_rotate(server, token)
    assert spec_of(rotated) == (alg, key_size), f"rotated to {rotated}"
    return rotated


def back_to_default(server, machine_client) -> dict:
    """RS256 at 2048 bits in the policy, and (when the current key is of another type) a forced
    rotation; then current and next are both RS256/2048. Returns the current key. A no-op when
    the tenant is already there."""
    admin = admin_token(server, machine_client)
    body = {"signing_alg": DEFAULT[0], "key_size": DEFAULT[1]}
    changed = expect(set_policy(server, admin, body), 200)
    assert spec_of(changed) == DEFAULT, f"PATCH {POLICY} {body} answered {changed}"
    sdk = management(server, admin)
    if spec_of(the_one(list_keys(sdk), "current")) != DEFAULT:
        force_rotate(server, admin)
    keys = list_keys(sdk)
    current, nxt = the_one(keys, "current"), the_one(keys, "next")
    assert spec_of(current) == DEFAULT, f"the current key is not RS256/2048: {current}"
    assert spec_of(nxt) == DEFAULT, f"the next key is not RS256/2048: {nxt}"
    assert policy_in_force(server, admin) == DEFAULT
    return current


# ---------------------------------------------------------------------------------------------
# Fixtures.


@pytest.fixture(scope="module", autouse=True)
def back_to_rs256_afterwards(server, machine_client) -> Iterator[None]:
    """Whatever happens here, later modules find RS256/2048 in force and an RS256 current key."""
    yield
    back_to_default(server, machine_client)


@pytest.fixture(scope="module")
def signing_client(server, machine_client) -> Iterator[dict]:
    """A signing-service client (sign:tokens, audience APP), deleted after the module."""
    body = {
        "name": "compat-algorithms",
        "scopes": ["sign:tokens"],
        "signing_policy": {"audiences": [APP], "max_lifetime_seconds": 3600},
    }
    response = call("POST", server, "/clients", admin_token(server, machine_client), json=body)
    if response.status_code != 201:
        pytest.fail(f"POST /api/v2/clients answered {response.status_code}: {response.text}")
    created = response.json()
    yield created
    call("DELETE", server, f"/clients/{created['client_id']}", admin_token(server, machine_client))


@pytest.fixture(scope="module")
def mixed_key_set(server, machine_client) -> list[dict]:
    """The valid keys, with at least one of every key type among them: test_switch_then_rotate
    has made them when it ran first; otherwise (a selection of tests) the missing types are
    switched to here."""
    for alg, key_size in KEY_TYPES:
        admin = admin_token(server, machine_client)
        valid = [k for k in list_keys(management(server, admin)) if not k["revoked"]]
        if (alg, key_size) not in {spec_of(k) for k in valid}:
            switch_to(server, admin, alg, key_size)
    valid = [
        k
        for k in list_keys(management(server, admin_token(server, machine_client)))
        if not k["revoked"]
    ]
    missing = set(KEY_TYPES) - {spec_of(k) for k in valid}
    assert not missing, f"no valid key of {sorted(missing)}"
    return valid


@pytest.fixture(scope="module")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.fail("openssl is not on PATH (make tools installs it)")
    return path


# ---------------------------------------------------------------------------------------------
# Tests, in order.


@pytest.mark.parametrize(
    ("alg", "key_size"), [pytest.param(alg, size, id=type_id(alg, size)) for alg, size in KEY_TYPES]
)
def test_switch_then_rotate(server, machine_client, signing_client, alg, key_size):
    """PATCH /keys/signing/policy to the type: the current key is untouched, the next key is
    replaced at once by one of the new type (published at once; the old next is revoked), or
    nothing changes when the type is already in force. After a forced rotation, tokens from
    /oauth/token and from /jwt/sign and /jwt/sign-batch carry the type's alg and the new kid and
    verify with PyJWT through the JWKS; the token from before the switch still verifies."""
    admin = admin_token(server, machine_client)
    sdk = management(server, admin)
    before = list_keys(sdk)
    old_current, old_next = the_one(before, "current"), the_one(before, "next")
    check_key_object(old_current)
    in_force = policy_in_force(server, admin)
    assert spec_of(old_next) == in_force, f"the next key is {spec_of(old_next)}, the policy {in_force}"

    changed = expect(set_policy(server, admin, policy_body(alg, key_size)), 200)
    assert isinstance(changed, dict), changed
    assert spec_of(changed) == (alg, key_size), f"PATCH {POLICY} answered {changed}"
    assert policy_in_force(server, admin) == (alg, key_size)

    after = list_keys(sdk)
    assert the_one(after, "current") == old_current, "PATCH /keys/signing/policy changed the current key"
    new_next = the_one(after, "next")
    jwks = published(server)
    if in_force == (alg, key_size):
        assert after == before, f"{type_id(alg, key_size)} was in force, yet the PATCH changed keys"
    else:
        assert new_next["kid"] not in {k["kid"] for k in before}, "the next key was not replaced"
        replaced = sent(sdk.keys.signing.get(old_next["kid"]))
        assert replaced.get("revoked") is True, f"the replaced next key is not revoked: {replaced}"
        assert not any(replaced.get(flag) for flag in ("current", "next", "previous")), replaced
        assert old_next["kid"] not in jwks, "the replaced next key is still in the JWKS"
    check_key_object(new_next)
    assert spec_of(new_next) == (alg, key_size), f"the next key is {spec_of(new_next)}"
    assert sent(sdk.keys.signing.get(new_next["kid"])) == new_next
    assert new_next["kid"] in jwks, "the new next key is not in the JWKS"
    assert old_current["kid"] in jwks, "the current key left the JWKS"
    check_jwk(jwks[new_next["kid"]], new_next)

    rotated = force_rotate(server, admin)
    assert rotated["kid"] == new_next["kid"], "the forced rotation did not make the next key current"
    assert spec_of(rotated) == (alg, key_size), f"rotated to {rotated}"
    assert rotated["cert"] == new_next["cert"]
    assert published(server)[rotated["kid"]] == jwks[new_next["kid"]], "the JWK changed with its state"

    # /oauth/token, through the SDK: the new alg and kid; the Management API takes the token.
    issued = sdk_get_token(server, machine_client)["access_token"]
    claims = check_token(server, issued, rotated, AUDIENCE)
    assert claims["sub"] == f"{machine_client.client_id}@clients", claims
    assert the_one(list_keys(management(server, issued)), "current")["kid"] == rotated["kid"]

    # The token from before the switch (now the previous key's, maybe of another type) still
    # verifies, and the Management API still takes it.
    assert jwt.get_unverified_header(admin)["kid"] == old_current["kid"]
    verify_as(server, admin, old_current["alg"], AUDIENCE)
    list_keys(sdk)

    # The signing service: one token and a batch of two.
    signer = signer_token(server, signing_client)
    claim_set = app_claims(600)
    body = expect(call("POST", server, "/jwt/sign", signer, json={"claims": claim_set}), 201)
    assert (body.get("alg"), body.get("kid")) == (alg, rotated["kid"]), f"/jwt/sign answered {body}"
    decoded = check_token(server, body["jwt"], rotated, APP)
    assert decoded["sub"] == claim_set["sub"] and decoded["exp"] == claim_set["exp"], decoded

    batch = [app_claims(300, sub="user-2"), app_claims(400, sub="user-3")]
    body = expect(
        call("POST", server, "/jwt/sign-batch", signer, json={"tokens": [{"claims": c} for c in batch]}),
        201,
    )
    assert (body.get("alg"), body.get("kid")) == (alg, rotated["kid"]), f"/jwt/sign-batch answered {body}"
    assert len(body.get("tokens", [])) == len(batch), body
    for item, claim_set in zip(body["tokens"], batch, strict=True):
        assert check_token(server, item["jwt"], rotated, APP)["sub"] == claim_set["sub"]


@pytest.mark.parametrize(
    ("alg", "key_size"), [pytest.param(alg, size, id=type_id(alg, size)) for alg, size in KEY_TYPES]
)
def test_certificates_with_openssl(server, mixed_key_set, openssl, tmp_path, alg, key_size):
    """Every published key of the type: its `cert` is a self-signed X.509 v3 certificate for the
    tenant domain whose signature algorithm matches the key type (openssl x509 -text, and openssl
    verify against itself), its `pkcs7` holds that certificate (openssl pkcs7 -print_certs), and
    the certificate's public key is the JWK's."""
    listed = {key["kid"]: key for key in mixed_key_set}
    jwks = published(server)
    ours = [listed[kid] for kid in jwks if kid in listed and spec_of(listed[kid]) == (alg, key_size)]
    assert ours, f"no published {type_id(alg, key_size)} key"
    signature_name, signature_oid = CERT_SIGNATURE[alg]

    def run(*args: str, cwd: Path) -> str:
        result = subprocess.run(
            [openssl, *args], cwd=cwd, capture_output=True, text=True, timeout=HTTP_TIMEOUT_S
        )
        assert result.returncode == 0, (
            f"openssl {' '.join(args)} exited {result.returncode}: {result.stderr}{result.stdout}"
        )
        return result.stdout

    for index, key in enumerate(ours):
        where = f"{type_id(alg, key_size)} key {key['kid']!r}"
        check_key_object(key)
        check_jwk(jwks[key["kid"]], key)
        folder = tmp_path / str(index)
        folder.mkdir()
        (folder / "cert.pem").write_bytes(key["cert"].encode())
        (folder / "cert.p7b").write_bytes(key["pkcs7"].encode())

        text = run("x509", "-in", "cert.pem", "-text", "-noout", cwd=folder)
        assert "Version: 3 (0x2)" in text, f"{where}: not X.509 v3:\n{text}"
        signatures = re.findall(r"Signature Algorithm:\s*(\S+)", text)
        assert signatures and set(signatures) == {signature_name}, (
            f"{where}: signature algorithm {signatures}, expected {signature_name}"
        )
        key_algorithm = re.search(r"Public Key Algorithm:\s*(\S+)", text)
        assert key_algorithm and key_algorithm.group(1) == CERT_KEY_ALGORITHM[alg], (
            f"{where}: public key algorithm {key_algorithm and key_algorithm.group(1)}"
        )
        if alg == "EdDSA":
            assert "ED25519 Public-Key:" in text, f"{where}:\n{text}"
        else:
            bits = re.search(r"Public-Key: \((\d+) bit\)", text)
            assert bits and int(bits.group(1)) == key_size, f"{where}: {bits and bits.group(0)}"
        if alg == "ES256":
            assert "NIST CURVE: P-256" in text, f"{where}: not P-256:\n{text}"
        for field in ("Subject", "Issuer"):
            assert re.search(rf"{field}:.*CN\s*=\s*{re.escape(TENANT_DOMAIN)}\s*$", text, re.M), (
                f"{where}: {field} is not CN={TENANT_DOMAIN}:\n{text}"
            )
        fingerprint = run("x509", "-in", "cert.pem", "-noout", "-fingerprint", "-sha1", cwd=folder)
        assert fingerprint.strip().split("=", 1)[1] == key["fingerprint"], f"{where}: {fingerprint}"

        printed = run("pkcs7", "-in", "cert.p7b", "-print_certs", "-noout", cwd=folder)
        subjects = re.findall(r"^subject=.*$", printed, re.M)
        assert len(subjects) == 1 and TENANT_DOMAIN in subjects[0], f"{where}: pkcs7 holds {printed!r}"

        verified = run("verify", "-CAfile", "cert.pem", "cert.pem", cwd=folder)
        assert verified.strip() == "cert.pem: OK", f"{where}: openssl verify said {verified!r}"

        # The same through cryptography.
        cert = certificate(key)
        assert cert.version == x509.Version.v3, where
        assert cert.signature_algorithm_oid == signature_oid, f"{where}: {cert.signature_algorithm_oid}"
        assert cert.subject == cert.issuer, f"{where}: not self-signed"
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        assert [n.value for n in names] == [TENANT_DOMAIN], f"{where}: subject {cert.subject}"
        cert.verify_directly_issued_by(cert)
        in_pkcs7 = pkcs7.load_pem_pkcs7_certificates(key["pkcs7"].encode())
        assert [c.public_bytes(serialization.Encoding.DER) for c in in_pkcs7] == [
            cert.public_bytes(serialization.Encoding.DER)
        ], f"{where}: pkcs7 does not hold exactly the key's certificate"
        published_key = jwt.PyJWK(jwks[key["kid"]]).key
        assert spki(cert.public_key()) == spki(published_key), f"{where}: cert and JWK differ"


def test_the_sdk_lists_and_rotates_a_mixed_key_set(server, machine_client, mixed_key_set, sdk):
    """auth0-python lists keys of every type, each with `alg` and `key_size` and fingerprints of
    its certificate, gets each one alike, and rotates (not forced) onto a key of a new type."""
    keys = list_keys(sdk)
    for key in keys:
        check_key_object(key)
    valid = [k for k in keys if not k["revoked"]]
    missing = set(KEY_TYPES) - {spec_of(k) for k in valid}
    assert not missing, f"the SDK lists no valid key of {sorted(missing)}"
    assert {k["kid"] for k in valid} == set(published(server)), "the list's valid keys are not the JWKS"
    for key in valid:
        assert sent(sdk.keys.signing.get(key["kid"])) == key, f"GET /keys/signing/{key['kid']}"

    # Another type than the current key's, queued as next, then an unforced rotation by the SDK.
    old_current = the_one(keys, "current")
    target = ("ES256", 256) if old_current["alg"] != "ES256" else ("EdDSA", 256)
    admin = admin_token(server, machine_client)
    expect(set_policy(server, admin, policy_body(*target)), 200)
    queued = the_one(list_keys(sdk), "next")
    assert spec_of(queued) == target, f"the next key is {spec_of(queued)}, expected {target}"
    try:
        response = sdk.keys.signing.with_raw_response.rotate()
    except ApiError as error:
        pytest.fail(
            f"the SDK's rotate was refused ({error.status_code}: {error.body}); compat runs with "
            "SIGNET_PUBLICATION_WINDOW_SECS=0 (conftest.py), so a new next key may become current"
        )
    assert response.status_code == 201, f"POST /keys/signing/rotate answered {response.status_code}"
    rotated = sent(response.data)
    assert rotated["kid"] == queued["kid"], f"rotated to {rotated['kid']}, not the next key {queued['kid']}"
    assert spec_of(rotated) == target, f"the rotate response is {spec_of(rotated)}: {rotated}"
    assert rotated["cert"] == queued["cert"]

    after = {key["kid"]: key for key in list_keys(sdk)}
    assert the_one(list(after.values()), "current")["kid"] == queued["kid"]
    was_current = after[old_current["kid"]]
    assert was_current["previous"] is True, was_current
    assert spec_of(was_current) == spec_of(old_current), "a rotation changed a key's type"
    assert spec_of(the_one(list(after.values()), "next")) == target

    issued = sdk_get_token(server, machine_client)["access_token"]
    check_token(server, issued, after[queued["kid"]], AUDIENCE)


@pytest.mark.parametrize(
    ("body", "error_code"), [pytest.param(body, code, id=name) for name, body, code in REFUSED]
)
def test_refused_policy_changes_change_nothing(server, machine_client, body, error_code):
    """An algorithm or size Signet does not offer is 400 unsupported_algorithm (a signing_alg that
    is not a string, 400 invalid_body) in Auth0's error body; the policy, the keys and the JWKS
    stay as they were."""
    admin = admin_token(server, machine_client)
    sdk = management(server, admin)
    before, policy_before, jwks_before = list_keys(sdk), policy_in_force(server, admin), published(server)

    error = expect_error(set_policy(server, admin, body), 400, error_code)
    assert error.get("error") == "Bad Request", error

    assert list_keys(sdk) == before, f"the refused PATCH {body} changed the keys"
    assert policy_in_force(server, admin) == policy_before, f"the refused PATCH {body} changed the policy"
    assert published(server) == jwks_before, f"the refused PATCH {body} changed the JWKS"


def test_changing_the_algorithm_needs_update_signing_keys(server, machine_client):
    """A token with read:signing_keys only reads the policy; its PATCH is 403 insufficient_scope
    and changes nothing."""
    read_only = requests_get_token(server, machine_client, scope="read:signing_keys")["access_token"]
    in_force = policy_in_force(server, read_only)
    before = list_keys(management(server, read_only))
    target = ("EdDSA", 256) if in_force != ("EdDSA", 256) else ("ES256", 256)

    expect_error(set_policy(server, read_only, policy_body(*target)), 403, "insufficient_scope")
    assert policy_in_force(server, read_only) == in_force
    assert list_keys(management(server, read_only)) == before, "the refused PATCH changed the keys"


def test_back_to_rs256_2048(server, machine_client):
    """RS256 named without a key_size, coming from ES256 or EdDSA, means 2048 bits; a forced
    rotation makes an RS256/2048 key current, and its tokens pass the suite's RS256-only check."""
    admin = admin_token(server, machine_client)
    if KTY[policy_in_force(server, admin)[0]] != "RSA":
        changed = expect(set_policy(server, admin, {"signing_alg": "RS256"}), 200)
        assert spec_of(changed) == DEFAULT, f"RS256 without key_size gave {spec_of(changed)}"
    current = back_to_default(server, machine_client)

    issued = sdk_get_token(server, machine_client)["access_token"]
    check_token(server, issued, current, AUDIENCE)
    verify(server, issued)
