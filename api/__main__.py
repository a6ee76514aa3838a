"""`python -m api serve|dev-keys|dev-token|create-key`: run the API and manage its credentials."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.config import load_settings
from api.errors import ApiError, ConfigError
from transformer.keys import is_valid_id


def _tenant(value: str) -> str:
    if not is_valid_id(value):
        raise argparse.ArgumentTypeError(f"tenant {value!r} must match [a-z0-9-]{{1,64}}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default="info")

    dev_keys = commands.add_parser("dev-keys", help="create a local RSA signing key + JWKS (once)")
    dev_keys.add_argument("--dir", type=Path, required=True)

    dev_token = commands.add_parser("dev-token", help="print a dev JWT for a tenant")
    dev_token.add_argument("--tenant", type=_tenant, required=True)
    dev_token.add_argument("--dir", type=Path, required=True, help="where dev-keys wrote its files")
    dev_token.add_argument("--ttl-s", type=int, default=3600)
    dev_token.add_argument("--issuer", help="default: SITEVEIL_API_ISSUER")
    dev_token.add_argument("--audience", help="default: the first of SITEVEIL_API_AUDIENCE")

    create_key = commands.add_parser(
        "create-key", help="store a new API key (hashed); print it once"
    )
    create_key.add_argument("--tenant", type=_tenant, required=True)
    create_key.add_argument("--name", default="")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "dev-keys":
            from api.devauth import write_dev_keys

            key_path, jwks_path = write_dev_keys(args.dir)
            print(f"signing key: {key_path}\njwks: {jwks_path}")
            return 0
        if args.command == "dev-token":
            return _dev_token(args)
        return _create_key(args)
    except (ConfigError, ApiError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from transformer import logs

    logs.configure(args.log_level, fields=None)
    load_settings()  # fail fast, before uvicorn imports the factory
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        log_level=args.log_level,
        proxy_headers=False,
    )
    return 0


def _dev_token(args: argparse.Namespace) -> int:
    from api.devauth import JWKS_FILE, SIGNING_KEY_FILE, mint_dev_token

    settings = load_settings()
    issuer = args.issuer or settings.issuer
    audience = args.audience or (settings.audience[0] if settings.audience else None)
    if not issuer or not audience:
        raise ConfigError("dev-token needs --issuer/--audience or SITEVEIL_API_ISSUER/_AUDIENCE")
    print(
        mint_dev_token(
            key_path=args.dir / SIGNING_KEY_FILE,
            jwks_path=args.dir / JWKS_FILE,
            tenant=args.tenant,
            issuer=issuer,
            audience=audience,
            now=datetime.now(UTC),
            ttl=timedelta(seconds=args.ttl_s),
            tenant_claim=settings.tenant_claim,
        )
    )
    return 0


def _create_key(args: argparse.Namespace) -> int:
    from api import apikeys
    from api.storage import StateStore, s3_client

    settings = load_settings()
    new = apikeys.mint(args.tenant, name=args.name, now=datetime.now(UTC))
    StateStore(s3_client(settings), settings).put_api_key(new.record)
    print(new.plaintext)
    return 0


if __name__ == "__main__":
    sys.exit(main())
