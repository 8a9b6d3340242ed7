"""Fixtures for Signet's compatibility proof.

A real `signet serve` (the release binary from SIGNET_BIN) runs for the whole session on a loopback
port with its own temporary data directory; a machine client is created with `signet clients
create`. The tenant domain is compat.signet.test, so tokens say `iss=https://compat.signet.test/`
and `aud=https://compat.signet.test/api/v2/`, while the server itself is reached over
http://127.0.0.1:<port>: every client here is pointed at that address explicitly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from auth0.authentication import GetToken
from auth0.management import Auth0
from cryptography import x509
from cryptography.hazmat.primitives import hashes

REPO_ROOT = Path(__file__).resolve().parent.parent
TENANT_DOMAIN = "compat.signet.test"
ISSUER = f"https://{TENANT_DOMAIN}/"
AUDIENCE = f"https://{TENANT_DOMAIN}/api/v2/"
SIGNING_KEY_SCOPES = "read:signing_keys create:signing_keys update:signing_keys"
CLIENT_SCOPES = "create:clients read:clients delete:clients"
ALL_SCOPES = f"{SIGNING_KEY_SCOPES} {CLIENT_SCOPES}"
HEALTH_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 30.0


def signet_bin() -> Path:
    raw = os.environ.get("SIGNET_BIN", "target/release/signet")
    path = Path(raw)
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def signet_env(data_dir: Path, addr: str | None = None) -> dict[str, str]:
    """The environment for a signet process: ours, without any inherited SIGNET_* setting.

    Signet refuses unknown SIGNET_ settings, and CI sets SIGNET_TEST_DATABASE_URL (and a developer
    may have SIGNET_DATABASE_URL or SIGNET_CONFIG pointing at their own data), so drop them all.
    """
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SIGNET_")}
    env["SIGNET_DATA_DIR"] = str(data_dir)
    env["SIGNET_TENANT_DOMAIN"] = TENANT_DOMAIN
    env["SIGNET_ROTATION_LIMIT_PER_DAY"] = "100"
    # The suites rotate several times in a row: no publication window (SPEC §12).
    env["SIGNET_PUBLICATION_WINDOW_SECS"] = "0"
    # The test clock: the server's (and the CLI's) time is the system time plus the seconds in
    # this file, re-read on every clock read; a missing file is 0. Only test_signing.py writes it,
    # and puts it back to 0 before it returns.
    env["SIGNET_TEST_CLOCK_FILE"] = str(clock_file(data_dir.parent))
    # test_tenants.py's reverse proxy runs here; it names the tenant with X-Forwarded-Host.
    env["SIGNET_TRUSTED_PROXIES"] = "127.0.0.1"
    if addr is not None:
        env["SIGNET_ADDR"] = addr
    return env


def clock_file(workdir: Path) -> Path:
    return workdir / "clock-offset-seconds"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    base_url: str  # http://127.0.0.1:<port>
    host: str  # 127.0.0.1:<port>, the "domain" the SDK's authentication client is given
    workdir: Path
    data_dir: Path
    env: dict[str, str]
    log_path: Path

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v2"

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    @property
    def clock_file(self) -> Path:
        """SIGNET_TEST_CLOCK_FILE: write an integer number of seconds to move Signet's clock."""
        return clock_file(self.workdir)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class MachineClient:
    client_id: str
    client_secret: str
    scopes: str


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    binary = signet_bin()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"no signet binary at {binary} (build it with `make build`, or set SIGNET_BIN)")

    workdir = Path(tempfile.mkdtemp(prefix="signet-compat-"))
    data_dir = workdir / "data"
    port = free_port()
    addr = f"127.0.0.1:{port}"
    env = signet_env(data_dir, addr)
    log_path = workdir / "server.log"
    srv = Server(
        base_url=f"http://{addr}",
        host=addr,
        workdir=workdir,
        data_dir=data_dir,
        env=env,
        log_path=log_path,
    )

    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(binary), "serve"],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        last_error = "no attempt"
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"`signet serve` exited with status {process.returncode} before it was healthy; "
                    f"its log:\n{srv.log_tail()}"
                )
            try:
                response = requests.get(f"{srv.base_url}/healthz", timeout=2)
                if response.status_code == 200:
                    break
                last_error = f"HTTP {response.status_code}"
            except requests.RequestException as error:
                last_error = str(error)
            if time.monotonic() > deadline:
                pytest.fail(
                    f"`signet serve` not healthy on {srv.base_url} after {HEALTH_TIMEOUT_S:.0f}s "
                    f"({last_error}); its log:\n{srv.log_tail()}"
                )
            time.sleep(0.2)
        yield srv
    finally:
        _stop(process)
        if os.environ.get("COMPAT_KEEP_DATA"):
            print(f"\nsignet compat data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run_cli(server: Server, *args: str) -> subprocess.CompletedProcess:
    """Runs `signet ARGS…` on the server's data dir and tenant, from the temp dir."""
    return subprocess.run(
        [str(signet_bin()), *args],
        cwd=server.workdir,
        env={k: v for k, v in server.env.items() if k != "SIGNET_ADDR"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def machine_client(server: Server) -> MachineClient:
    """A machine-to-machine client with the three signing-key scopes and the three client
    scopes (create:clients read:clients delete:clients), made with the CLI."""
    result = run_cli(server, "clients", "create", "--name", "compat", "--scopes", ALL_SCOPES)
    if result.returncode != 0:
        pytest.fail(
            f"`signet clients create` exited {result.returncode}\n"
            f"stdout: {result.stdout}\nstderr: {result.stderr}"
        )
    try:
        created = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        pytest.fail(f"`signet clients create` did not print JSON ({error}): {result.stdout!r}")
    for field in ("client_id", "client_secret", "scopes"):
        assert field in created, f"`signet clients create` output lacks {field!r}: {created}"
    scopes = created["scopes"]
    if isinstance(scopes, list):
        scopes = " ".join(scopes)
    return MachineClient(created["client_id"], created["client_secret"], scopes)


# ---------------------------------------------------------------------------------------------
# Helpers the tests share.


def sdk_get_token(server: Server, client: MachineClient) -> dict:
    """A client-credentials token through the SDK's own authentication client.

    auth0-python's GetToken builds `{protocol}://{domain}/oauth/token`, so domain=127.0.0.1:<port>
    and protocol="http" point it at Signet while `audience` stays the tenant's https identifier.
    It posts JSON with client_secret in the body (client_secret_post).
    """
    get_token = GetToken(
        server.host,
        client.client_id,
        client_secret=client.client_secret,
        protocol="http",
        timeout=HTTP_TIMEOUT_S,
    )
    return get_token.client_credentials(AUDIENCE)


def requests_get_token(server: Server, client: MachineClient, scope: str | None = None) -> dict:
    """A client-credentials token with `requests` (form body), e.g. to ask for a narrower scope,
    which the SDK's GetToken.client_credentials has no parameter for."""
    form = {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "audience": AUDIENCE,
    }
    if scope is not None:
        form["scope"] = scope
    response = requests.post(server.token_url, data=form, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, (
        f"POST /oauth/token (form, scope={scope!r}) answered {response.status_code}: {response.text}"
    )
    return response.json()


def management(server: Server, token: str) -> Auth0:
    """The SDK's Fern-generated Management API client, on http://127.0.0.1:<port>/api/v2.

    (auth0.management.ManagementClient always builds https://{domain}/api/v2, so the generated
    `Auth0` class it wraps is used directly with `base_url`.) No retries: a retried rotate would
    rotate twice.
    """
    return Auth0(base_url=server.api_url, token=token, max_retries=0, timeout=HTTP_TIMEOUT_S)


@pytest.fixture
def token(server: Server, machine_client: MachineClient) -> str:
    """A fresh all-scopes access token, from the SDK."""
    return sdk_get_token(server, machine_client)["access_token"]


@pytest.fixture
def sdk(server: Server, token: str) -> Auth0:
    return management(server, token)


def sent(model) -> dict:
    """An SDK response object as the fields the server actually sent (JSON names, no defaults).

    The SDK's models default missing booleans to None; this shows what was really on the wire.
    """
    return model.model_dump(by_alias=True, exclude_unset=True)


def list_keys(sdk: Auth0) -> list[dict]:
    """GET /api/v2/keys/signing through the SDK, as sent."""
    return [sent(key) for key in sdk.keys.signing.list()]


def the_one(keys: list[dict], flag: str) -> dict:
    matching = [k for k in keys if k.get(flag) is True]
    assert len(matching) == 1, f"expected exactly one {flag} key, got {len(matching)}: {keys}"
    return matching[0]


ISO_MS_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


def jwks_client(server: Server) -> "jwt.PyJWKClient":
    """A fresh PyJWKClient with no JWK Set cache: every lookup fetches the JWKS URL again."""
    return jwt.PyJWKClient(server.jwks_url, cache_jwk_set=False, timeout=HTTP_TIMEOUT_S)


def verify(server: Server, access_token: str) -> dict:
    """Validates a Signet access token the way a resource server would: the key from the JWKS URL
    by `kid`, RS256 only, issuer and audience checked, the standard time claims required."""
    signing_key = jwks_client(server).get_signing_key_from_jwt(access_token)
    return jwt.decode(
        access_token,
        signing_key.key,
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


def sha1_fingerprint(cert: x509.Certificate) -> str:
    """Auth0's format: upper-case hex pairs joined by colons (as `openssl x509 -fingerprint -sha1`)."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA1()))


# ---------------------------------------------------------------------------------------------
# Plain HTTP, for the routes the SDK has no method for (the signing service, the key policy).


def call(
    method: str, server: Server, path: str, token: str | None = None, **kwargs
) -> requests.Response:
    """One request to http://127.0.0.1:<port>/api/v2{path}, with a bearer token if given."""
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(
        method, f"{server.api_url}{path}", headers=headers, timeout=HTTP_TIMEOUT_S, **kwargs
    )


def expect(response: requests.Response, status: int) -> Any:
    """The JSON body of a response that must have `status` (None for an empty body)."""
    what = f"{response.request.method} {response.request.path_url}"
    assert response.status_code == status, f"{what} answered {response.status_code}: {response.text}"
    return response.json() if response.content else None


def expect_error(response: requests.Response, status: int, error_code: str) -> dict:
    """An Auth0-shaped error body with this status and errorCode, and a message."""
    body = expect(response, status)
    assert isinstance(body, dict), body
    assert body.get("statusCode") == status, body
    assert body.get("errorCode") == error_code, body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def admin_token(server: Server, machine_client: MachineClient) -> str:
    """A management token with every scope of the compat client, signed by the current key."""
    return sdk_get_token(server, machine_client)["access_token"]


def signer_token(server: Server, client: dict) -> str:
    """The signing client's access token (client_credentials, the Management API audience)."""
    creds = MachineClient(client["client_id"], client["client_secret"], "sign:tokens")
    return requests_get_token(server, creds)["access_token"]
