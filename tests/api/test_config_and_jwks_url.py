"""Settings validation, the JWKS-over-HTTP resolver (Cognito publishes its keys at a URL), limits."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import JwtVerifier, jwks_url_resolver
from api.config import load_settings
from api.devauth import JWKS_FILE, SIGNING_KEY_FILE, mint_dev_token
from api.errors import ConfigError, StorageUnavailable, Unauthorized


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def jwks_server(dev_keys: Path) -> Iterator[str]:
    handler = partial(_QuietHandler, directory=str(dev_keys))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{JWKS_FILE}"
    finally:
        server.shutdown()
        server.server_close()


def _token(dev_keys: Path, **overrides: object) -> str:
    args: dict[str, object] = {
        "key_path": dev_keys / SIGNING_KEY_FILE,
        "jwks_path": dev_keys / JWKS_FILE,
        "tenant": "acme",
        "issuer": "https://idp.test/pool",
        "audience": "client-1",
        "now": datetime.now(UTC),
    }
    args.update(overrides)
    return mint_dev_token(**args)  # type: ignore[arg-type]


def test_tokens_verify_against_a_jwks_url(jwks_server: str, dev_keys: Path) -> None:
    settings = load_settings(
        jwks_url=jwks_server, issuer="https://idp.test/pool", audience=("client-1",)
    )
    verifier = JwtVerifier(settings, jwks_url_resolver(jwks_server))
    principal = verifier.verify(_token(dev_keys))
    assert (principal.tenant, principal.method) == ("acme", "jwt")
    with pytest.raises(Unauthorized):
        verifier.verify(_token(dev_keys, audience="client-2"))


def test_an_unreachable_jwks_url_is_503_not_401(dev_keys: Path) -> None:
    """The caller's token may be fine: the outage is ours, so "retry", not "you are refused"."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/jwks.json"  # nothing listens
    settings = load_settings(jwks_url=closed, issuer="https://idp.test/pool", audience="client-1")
    verifier = JwtVerifier(settings, jwks_url_resolver(closed))
    with pytest.raises(StorageUnavailable):
        verifier.verify(_token(dev_keys))


def test_settings_refuse_half_configured_jwt() -> None:
    with pytest.raises(ConfigError, match="ISSUER"):
        load_settings(jwks_path="/x/jwks.json")
    with pytest.raises(ConfigError, match="not both"):
        load_settings(jwks_path="/x", jwks_url="http://x", issuer="i", audience=("a",))
    assert load_settings(audience="a,b", issuer="i", jwks_path="/x").audience == ("a", "b")


def test_request_bodies_over_a_megabyte_are_413(
    client: TestClient, acme_headers: dict[str, str]
) -> None:
    body = b'{"items": [' + b" " * (1024 * 1024 + 1) + b"]}"
    response = client.post(
        "/v1/batches",
        content=body,
        headers={**acme_headers, "content-type": "application/json"},
    )
    assert response.status_code == 413
