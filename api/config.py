"""The API's one typed settings object, read once from the environment at start-up."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.errors import ConfigError

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Where the API keeps its state and how it checks callers.

    Environment variables are `SITEVEIL_API_<FIELD>` (e.g. `SITEVEIL_API_UPLOADS_BUCKET`), except the
    AWS ones, which keep their standard names so boto3 and the API agree.
    """

    model_config = SettingsConfigDict(
        env_prefix="SITEVEIL_API_", frozen=True, extra="ignore", populate_by_name=True
    )

    # --- S3 ---
    s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
        description="S3 endpoint the API talks to; unset on AWS.",
    )
    public_s3_endpoint_url: str | None = Field(
        default=None,
        description="S3 endpoint written into presigned URLs (what customers reach); "
        "defaults to s3_endpoint_url.",
    )
    region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    uploads_bucket: str = "siteveil-uploads"
    results_bucket: str | None = Field(
        default=None, description="Where result.json lives; defaults to the uploads bucket."
    )
    state_bucket: str | None = Field(
        default=None,
        description="Image index, batch manifests and hashed API keys; defaults to the uploads bucket.",
    )

    # --- uploads ---
    upload_expires_s: Annotated[int, Field(ge=60, le=3600)] = 900
    download_expires_s: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 3600
    max_upload_bytes: Annotated[int, Field(gt=0, le=5 * 1024 * MiB)] = 50 * MiB
    s3_concurrency: Annotated[int, Field(ge=1, le=64)] = 16

    # --- JWT (Cognito-compatible); JWT auth is off when neither JWKS source is set ---
    jwks_url: str | None = None
    jwks_path: str | None = None
    issuer: str | None = None
    audience: Annotated[tuple[str, ...], NoDecode] = ()
    tenant_claim: str = "custom:tenant"
    resource_server: str | None = Field(
        default=None,
        pattern=r"^[\x21\x23-\x5B\x5D-\x7E]{1,256}$",
        description="Cognito resource-server identifier. When set, only access tokens "
        "(`token_use: access`) are accepted; they need the `<id>/uploads:write` scope and carry "
        "the tenant as exactly one `<id>/tenant:<tenant>` scope (terraform/modules/auth). "
        "Unset: the tenant is the `tenant_claim` claim (other issuers, the local stack).",
    )
    jwt_leeway_s: Annotated[int, Field(ge=0, le=300)] = 30

    @model_validator(mode="before")
    @classmethod
    def _split_audience(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("audience"), str):
            data = {**data, "audience": tuple(a for a in data["audience"].split(",") if a)}
        return data

    @model_validator(mode="after")
    def _jwt_complete(self) -> Settings:
        if self.jwks_url and self.jwks_path:
            raise ValueError("set SITEVEIL_API_JWKS_URL or SITEVEIL_API_JWKS_PATH, not both")
        if self.jwt_enabled and (not self.issuer or not self.audience):
            raise ValueError("JWT auth needs SITEVEIL_API_ISSUER and SITEVEIL_API_AUDIENCE")
        return self

    @property
    def jwt_enabled(self) -> bool:
        return bool(self.jwks_url or self.jwks_path)

    @property
    def results_bucket_name(self) -> str:
        return self.results_bucket or self.uploads_bucket

    @property
    def state_bucket_name(self) -> str:
        return self.state_bucket or self.uploads_bucket


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment (plus explicit overrides), or fail with one clear error."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
