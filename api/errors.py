"""The API's domain errors, each bound to one HTTP status (mapped in one place, `app.py`)."""

from __future__ import annotations


class ApiError(Exception):
    """Base class: `status` is the HTTP status, `code` a stable machine-readable word."""

    status = 500
    code = "internal"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidRequest(ApiError):
    """The request is well-formed HTTP but asks for something we refuse (400, do not retry)."""

    status = 400
    code = "invalid_request"


class Unauthorized(ApiError):
    """No credentials, or credentials we cannot verify (401). Never says which check failed."""

    status = 401
    code = "unauthorized"


class NotFound(ApiError):
    """Unknown id, or an id of another tenant (404: we never confirm that it exists)."""

    status = 404
    code = "not_found"


class StorageUnavailable(ApiError):
    """S3 (or the JWKS endpoint) cannot be reached or answered oddly (503, retry me)."""

    status = 503
    code = "unavailable"


class ConfigError(Exception):
    """The settings are incomplete or contradictory; raised at start-up, never per request."""
