"""Local-stack credentials: an RSA signing key with its JWKS, and dev tokens shaped like Cognito's.

Never used in production, where Cognito (or another OIDC issuer) signs and publishes the JWKS.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SIGNING_KEY_FILE = "dev-signing-key.pem"
JWKS_FILE = "jwks.json"


def write_dev_keys(directory: Path) -> tuple[Path, Path]:
    """Create (once) a 2048-bit RSA key and its public JWKS in `directory`; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    key_path, jwks_path = directory / SIGNING_KEY_FILE, directory / JWKS_FILE
    if key_path.exists() and jwks_path.exists():
        return key_path, jwks_path
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update({"kid": f"dev-{secrets.token_hex(4)}", "alg": "RS256", "use": "sig"})
    jwks_path.write_text(json.dumps({"keys": [jwk]}, indent=2))
    return key_path, jwks_path


def mint_dev_token(
    *,
    key_path: Path,
    jwks_path: Path,
    tenant: str,
    issuer: str,
    audience: str,
    now: datetime,
    ttl: timedelta = timedelta(hours=1),
    tenant_claim: str = "custom:tenant",
    subject: str | None = None,
) -> str:
    """An RS256 token with the claims a Cognito ID token carries (plus the tenant claim)."""
    kid = json.loads(jwks_path.read_text())["keys"][0]["kid"]
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject or f"dev-user-{tenant}",
        "token_use": "id",
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        tenant_claim: tenant,
    }
    return jwt.encode(claims, key_path.read_bytes(), algorithm="RS256", headers={"kid": kid})
