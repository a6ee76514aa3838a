"""The upload API as a part of the local stack: its dev signing key, its command and environment,
dev tokens, and the commands `make up` prints for minting credentials.

The API is `python -m api serve` (uvicorn), pointed at the emulator's buckets, checking RS256
tokens against a local JWKS written once into the stack's state directory.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.devauth import JWKS_FILE, SIGNING_KEY_FILE, mint_dev_token, write_dev_keys
from stack.config import AwsLayout, StackConfig

ISSUER = "siteveil-dev"
AUDIENCE = "siteveil-api"


def ensure_dev_keys(keys_dir: Path) -> Path:
    """The signing key + JWKS (`python -m api dev-keys`), made once and kept across `up`s so that
    tokens minted earlier stay valid; the JWKS path."""
    _, jwks = write_dev_keys(keys_dir)
    return jwks


def api_env(base: Mapping[str, str], layout: AwsLayout, keys_dir: Path) -> dict[str, str]:
    """The API's environment: the stack's AWS settings plus its `SITEVEIL_API_*` settings.

    Inherited `SITEVEIL_*` variables are dropped: a shell's own API settings (say a JWKS URL)
    must not change the stack's API.
    """
    env = {k: v for k, v in base.items() if not k.startswith("SITEVEIL_")}
    env.update(
        {
            "SITEVEIL_API_UPLOADS_BUCKET": layout.uploads_bucket,
            "SITEVEIL_API_RESULTS_BUCKET": layout.results_bucket,
            "SITEVEIL_API_JWKS_PATH": str((keys_dir / JWKS_FILE).resolve()),
            "SITEVEIL_API_ISSUER": ISSUER,
            "SITEVEIL_API_AUDIENCE": AUDIENCE,
        }
    )
    return env


def api_command(config: StackConfig, port: int) -> list[str]:
    return [str(config.python), "-m", "api", "serve", "--host", "127.0.0.1", "--port", str(port)]


def dev_token(keys_dir: Path, tenant: str, *, ttl_s: int = 3600) -> str:
    """A dev JWT for `tenant`, as `python -m api dev-token` mints it."""
    return mint_dev_token(
        key_path=keys_dir / SIGNING_KEY_FILE,
        jwks_path=keys_dir / JWKS_FILE,
        tenant=tenant,
        issuer=ISSUER,
        audience=AUDIENCE,
        now=datetime.now(UTC),
        ttl=timedelta(seconds=ttl_s),
    )


def shown_path(path: Path | str) -> str:
    """A path as a user would type it: relative to the working directory when under it."""
    path = Path(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def token_command(python: Path, keys_dir: str, tenant: str) -> str:
    """The shell command that prints a dev JWT for `tenant`."""
    return shlex.join(
        [
            shown_path(python),
            "-m",
            "api",
            "dev-token",
            "--tenant",
            tenant,
            "--dir",
            shown_path(keys_dir),
            "--issuer",
            ISSUER,
            "--audience",
            AUDIENCE,
        ]
    )


def api_key_command(python: Path, aws: Mapping[str, str], uploads_bucket: str, tenant: str) -> str:
    """The shell command that stores a new API key for `tenant` and prints it (once)."""
    assignments = [f"{k}={v}" for k, v in aws.items()]
    assignments.append(f"SITEVEIL_API_UPLOADS_BUCKET={uploads_bucket}")
    return shlex.join(
        ["env", *assignments, shown_path(python), "-m", "api", "create-key", "--tenant", tenant]
    )
