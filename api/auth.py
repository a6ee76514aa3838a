"""Who is calling: a JWT bearer token checked against a JWKS (RS256, Cognito-compatible) or an API key.

Every failure is the same 401 for the caller; the log line says which check failed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt

from api import apikeys
from api.config import Settings
from api.errors import StorageUnavailable, Unauthorized
from api.storage import StateStore
from transformer.keys import is_valid_id

log = logging.getLogger(__name__)

UPLOAD_SCOPE = "uploads:write"
TENANT_SCOPE_PREFIX = "tenant:"

ALGORITHMS = ["RS256"]
"""Only RS256, as Cognito signs: `none`, HS256 (the public key used as an HMAC secret) and the rest
are refused before any signature is checked."""


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    subject: str
    method: Literal["jwt", "api_key"]


KeyResolver = Callable[[str], Any]
"""Given a compact JWT, return the public key that must have signed it."""


def jwks_file_resolver(path: str | Path) -> KeyResolver:
    """Keys from a JWKS document on disk (the local stack's), loaded once."""
    jwk_set = jwt.PyJWKSet.from_dict(json.loads(Path(path).read_text()))
    by_kid = {key.key_id: key for key in jwk_set.keys}

    def resolve(token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        if kid not in by_kid:
            raise Unauthorized("unknown signing key")
        return by_kid[kid].key

    return resolve


def jwks_url_resolver(url: str) -> KeyResolver:
    """Keys from a JWKS URL (Cognito: `<issuer>/.well-known/jwks.json`), cached by PyJWKClient."""
    client = jwt.PyJWKClient(url, cache_keys=True, lifespan=600, timeout=5)

    def resolve(token: str) -> Any:
        try:
            return client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as exc:
            raise StorageUnavailable("JWKS endpoint not reachable") from exc
        except jwt.PyJWKClientError as exc:
            raise Unauthorized("unknown signing key") from exc

    return resolve


def _audience_ok(claims: dict[str, Any], audiences: tuple[str, ...]) -> bool:
    """`aud` (ID tokens, most issuers) or, when absent, Cognito access tokens' `client_id`."""
    aud = claims.get("aud")
    if aud is None:
        aud = claims.get("client_id")
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    return any(value in audiences for value in values if isinstance(value, str))


class JwtVerifier:
    def __init__(self, settings: Settings, resolver: KeyResolver) -> None:
        self._resolve = resolver
        self._issuer = settings.issuer
        self._audiences = settings.audience
        self._tenant_claim = settings.tenant_claim
        self._resource_server = settings.resource_server
        self._leeway = settings.jwt_leeway_s

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in ALGORITHMS:
                raise Unauthorized(f"algorithm {header.get('alg')!r} not allowed")
            claims = jwt.decode(
                token,
                self._resolve(token),
                algorithms=ALGORITHMS,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {type(exc).__name__}") from exc
        if not _audience_ok(claims, self._audiences):
            raise Unauthorized("invalid token: audience")
        if self._resource_server is None:
            tenant = claims.get(self._tenant_claim)
        else:
            tenant = _tenant_from_scopes(claims, self._resource_server)
        if not isinstance(tenant, str) or not is_valid_id(tenant):
            raise Unauthorized("invalid token: tenant claim missing or malformed")
        return Principal(tenant=tenant, subject=str(claims["sub"]), method="jwt")


def _tenant_from_scopes(claims: dict[str, Any], resource_server: str) -> str:
    """The tenant of a Cognito client-credentials access token.

    Such tokens carry no user attributes (so no `custom:tenant`), only the app client's id and
    the scopes it was granted, space-separated in `scope` (Cognito developer guide,
    "Understanding the access token"). Each tenant's app client is allowed the upload scope and
    its own `<resource server>/tenant:<id>` scope (terraform/modules/auth), and Cognito grants
    a client only its allowed scopes: so exactly one tenant scope names the caller's tenant.
    """
    if claims.get("token_use") != "access":
        raise Unauthorized(f"invalid token: token_use {claims.get('token_use')!r}, not 'access'")
    scope = claims.get("scope")
    scopes = scope.split() if isinstance(scope, str) else []
    if f"{resource_server}/{UPLOAD_SCOPE}" not in scopes:
        raise Unauthorized(f"invalid token: no {UPLOAD_SCOPE} scope")
    prefix = f"{resource_server}/{TENANT_SCOPE_PREFIX}"
    tenants = {s.removeprefix(prefix) for s in scopes if s.startswith(prefix)}
    if len(tenants) != 1:
        raise Unauthorized(f"invalid token: {len(tenants)} tenant scopes, need exactly one")
    return tenants.pop()


class ApiKeyVerifier:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    def verify(self, plaintext: str) -> Principal:
        key_id = apikeys.parse_key_id(plaintext)
        if key_id is None:
            raise Unauthorized("malformed API key")
        record = self._store.get_api_key(key_id)
        if record is None or not apikeys.matches(plaintext, record):
            raise Unauthorized("unknown API key")
        if not is_valid_id(record.tenant):
            raise Unauthorized("API key bound to a malformed tenant")
        return Principal(tenant=record.tenant, subject=f"apikey:{key_id}", method="api_key")


class Authenticator:
    """`Authorization: Bearer <JWT>` or `X-API-Key: svk_…`; exactly one must be present."""

    def __init__(self, jwt_verifier: JwtVerifier | None, api_keys: ApiKeyVerifier) -> None:
        self._jwt = jwt_verifier
        self._api_keys = api_keys

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        try:
            return self._authenticate(authorization, api_key)
        except Unauthorized as exc:
            log.info("authentication refused", extra={"reason": exc.reason})
            raise Unauthorized("missing or invalid credentials") from exc

    def _authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        if authorization and api_key:
            raise Unauthorized("both a bearer token and an API key")
        if api_key:
            return self._api_keys.verify(api_key.strip())
        if not authorization:
            raise Unauthorized("no credentials")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("not a bearer token")
        if self._jwt is None:
            raise Unauthorized("JWT auth is not configured")
        return self._jwt.verify(token.strip())


def build_authenticator(settings: Settings, store: StateStore) -> Authenticator:
    verifier: JwtVerifier | None = None
    if settings.jwks_path:
        verifier = JwtVerifier(settings, jwks_file_resolver(settings.jwks_path))
    elif settings.jwks_url:
        verifier = JwtVerifier(settings, jwks_url_resolver(settings.jwks_url))
    return Authenticator(verifier, ApiKeyVerifier(store))
