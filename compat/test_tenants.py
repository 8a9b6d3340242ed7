"""The Auth0 SDKs pointed at another tenant's domain, through a reverse proxy, work unchanged.

A second tenant, acme.compat.test, is created with `signet tenants create`. Between the SDKs and
Signet sits a small reverse proxy (as nginx would): the SDKs are pointed at http://acme.compat.test
and reach the proxy as their HTTP proxy (standing in for DNS that points the domain at it); the
proxy passes each request on to Signet with `X-Forwarded-Host: acme.compat.test`, and Signet,
trusting 127.0.0.1 (SIGNET_TRUSTED_PROXIES), answers as that tenant: its own issuer, keys and
clients, while the default tenant is untouched.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from auth0.authentication import GetToken
from auth0.management import Auth0

from conftest import ALL_SCOPES, HTTP_TIMEOUT_S, Server, run_cli, sent

ACME = "acme.compat.test"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"}


def reverse_proxy(upstream: str) -> ThreadingHTTPServer:
    """A reverse proxy to `upstream` (host:port) that passes the requested host on in
    X-Forwarded-Host, as `proxy_set_header X-Forwarded-Host $host` does in nginx."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self) -> None:
            target = urlsplit(self.path)
            host = target.hostname or self.headers.get("Host", "").split(":")[0]
            path = target.path + (f"?{target.query}" if target.query else "")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["X-Forwarded-Host"] = host
            connection = http.client.HTTPConnection(upstream, timeout=HTTP_TIMEOUT_S)
            try:
                connection.request(self.command, path or "/", body=body, headers=headers)
                answer = connection.getresponse()
                data = answer.read()
            finally:
                connection.close()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward

        def log_message(self, *_args) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def acme(server: Server) -> dict:
    """The tenant, as `signet tenants create` printed it, and a client of it (id, secret)."""
    created = run_cli(server, "tenants", "create", ACME)
    assert created.returncode == 0, created.stderr
    tenant = json.loads(created.stdout)
    assert tenant["issuer"] == f"https://{ACME}/"
    client = run_cli(server, "clients", "create", "--tenant", ACME, "--name", "acme", "--scopes", ALL_SCOPES)
    assert client.returncode == 0, client.stderr
    made = json.loads(client.stdout)
    tenant["client"] = (made["client_id"], made["client_secret"])
    return tenant


def served_within(deadline_s: float, current_kid: str) -> None:
    """Waits until the running server publishes acme's current key at acme's host (it follows
    the database every 500 ms)."""
    deadline = time.monotonic() + deadline_s
    while True:
        answer = requests.get(f"http://{ACME}/.well-known/jwks.json", timeout=HTTP_TIMEOUT_S)
        if answer.ok and answer.json()["keys"][0]["kid"] == current_kid:
            return
        assert time.monotonic() < deadline, f"{ACME} is not served: {answer.text[:200]}"
        time.sleep(0.1)


@pytest.fixture
def through_proxy(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Points every HTTP client of this process (requests, httpx, urllib) at the reverse proxy."""
    proxy = reverse_proxy(server.host)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    address = f"http://127.0.0.1:{proxy.server_address[1]}"
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, address)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    # urllib (PyJWKClient) keeps the opener it made first: make one that reads the proxy now.
    urllib.request.install_opener(urllib.request.build_opener())
    yield address
    urllib.request.install_opener(None)
    proxy.shutdown()
    proxy.server_close()


def test_the_sdks_manage_a_tenant_behind_a_reverse_proxy(
    server: Server, acme: dict, through_proxy: str
) -> None:
    served_within(20, acme["current_kid"])
    default_jwks = requests.get(server.jwks_url, proxies={"http": None}, timeout=HTTP_TIMEOUT_S).text
    client_id, client_secret = acme["client"]
    audience = f"https://{ACME}/api/v2/"
    token = GetToken(
        ACME, client_id, client_secret=client_secret, protocol="http", timeout=HTTP_TIMEOUT_S
    ).client_credentials(audience)["access_token"]

    # A resource server of acme verifies the token through acme's JWKS, by kid.
    jwks = jwt.PyJWKClient(f"http://{ACME}/.well-known/jwks.json", cache_jwk_set=False)
    claims = jwt.decode(
        token,
        jwks.get_signing_key_from_jwt(token).key,
        algorithms=["RS256"],
        audience=audience,
        issuer=f"https://{ACME}/",
    )
    assert claims["sub"] == f"{client_id}@clients"

    sdk = Auth0(base_url=f"http://{ACME}/api/v2", token=token, max_retries=0, timeout=HTTP_TIMEOUT_S)
    keys = [sent(key) for key in sdk.keys.signing.list()]
    published = requests.get(f"http://{ACME}/.well-known/jwks.json", timeout=HTTP_TIMEOUT_S).json()
    assert {k["kid"] for k in keys} == {k["kid"] for k in published["keys"]}
    next_kid = next(k["kid"] for k in keys if k.get("next"))
    rotated = sent(sdk.keys.signing.rotate())
    assert rotated["kid"] == next_kid, rotated

    # The default tenant saw none of it, and acme's token is nothing there.
    direct = {"http": None}
    after = requests.get(server.jwks_url, proxies=direct, timeout=HTTP_TIMEOUT_S).text
    assert after == default_jwks
    refused = requests.get(
        f"{server.api_url}/keys/signing",
        headers={"Authorization": f"Bearer {token}"},
        proxies=direct,
        timeout=HTTP_TIMEOUT_S,
    )
    assert refused.status_code == 401, refused.text
