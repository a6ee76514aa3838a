"""The FastAPI application: routes, the error-to-status map, the OpenAPI document at /openapi.json."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import boto3
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Authenticator, Principal, build_authenticator
from api.config import Settings, load_settings
from api.errors import ApiError, InvalidRequest, StorageUnavailable
from api.models import (
    BatchCreated,
    BatchRequest,
    BatchStatus,
    ErrorBody,
    ImageStatus,
    UploadRequest,
    UploadSlot,
)
from api.results import ResultsService, install_results_routes
from api.service import UploadService
from api.viewer import install_viewer
from api.storage import StateStore, s3_client

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_BODY_BYTES = 1024 * 1024
"""A full batch of 1 000 items is about 100 kB of JSON; anything much larger is refused (413)."""

_bearer = HTTPBearer(auto_error=False, description="A JWT from the identity provider (RS256).")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A machine API key.")

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid request (do not retry)."},
    401: {"model": ErrorBody, "description": "Missing or invalid credentials."},
    503: {"model": ErrorBody, "description": "Storage unavailable (retry)."},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such id for this tenant."}
}


def _principal(
    request: Request,
    _bearer_doc: Annotated[Any, Depends(_bearer)],
    _key_doc: Annotated[Any, Depends(_api_key)],
) -> Principal:
    """The security schemes above only document the headers; the authenticator reads them raw."""
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.authenticate(
        request.headers.get("authorization"), request.headers.get("x-api-key")
    )


Caller = Annotated[Principal, Depends(_principal)]


def _utcnow() -> datetime:
    return datetime.now(UTC)


_MAX_REASON_CHARS = 300


def _error(status: int, code: str, reason: str) -> JSONResponse:
    """The error body; a reason built from request data is cut to one bounded line."""
    reason = " ".join(reason.split())
    if len(reason) > _MAX_REASON_CHARS:
        reason = f"{reason[: _MAX_REASON_CHARS - 24]}… ({len(reason)} chars)"
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        ErrorBody(error=code, reason=reason).model_dump(), status_code=status, headers=headers
    )


class BodyLimit:
    """Refuse bodies over `max_bytes` with 413, whether announced (Content-Length) or not.

    A chunked body has no Content-Length, so the bytes are counted as the app receives them
    (a chunked 4 MiB body was once accepted with 201). Pure ASGI: past the limit it answers
    413 itself, tells the app the client went away, and drops whatever the app answers.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        too_large = _error(413, "too_large", f"request body over {self._max} bytes")
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self._max:
            await too_large(scope, receive, send)
            return
        received = 0
        started = rejected = False

        async def counting_receive() -> Message:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max and not started:
                    rejected = True
                    await too_large(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self._app(scope, counting_receive, guarded_send)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("request failed", extra={"reason": exc.reason})
        return _error(exc.status, exc.code, exc.reason)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(400, InvalidRequest.code, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail))


def _without_422(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Validation errors are 400 here (see the handler), so the document must not promise 422."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = _utcnow,
    session: boto3.Session | None = None,
) -> FastAPI:
    """The app; `session` carries AWS credentials when they must not come from the environment."""
    settings = settings or load_settings()
    store = StateStore(s3_client(settings, session=session), settings)
    presigner = s3_client(settings, public=True, session=session)
    service = UploadService(settings=settings, store=store, presigner=presigner)

    app = FastAPI(
        title="siteveil upload & results API",
        version="1",
        description="Presigned uploads of images to anonymize, batches of up to 1 000 images, "
        "and their status and results. Every id is scoped to the caller's tenant.",
    )
    app.state.settings = settings
    app.state.authenticator = build_authenticator(settings, store)
    app.openapi = _without_422(app)  # type: ignore[method-assign]
    _install_error_handlers(app)

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)

    @app.get("/healthz", tags=["health"], include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"], include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            store.ping()
        except StorageUnavailable as exc:
            return _error(503, exc.code, exc.reason)
        return JSONResponse({"status": "ready"})

    @app.post(
        "/v1/uploads",
        status_code=201,
        response_model=UploadSlot,
        responses=_ERRORS,
        tags=["uploads"],
        summary="One presigned upload slot under the caller's tenant",
    )
    def create_upload(body: UploadRequest, caller: Caller) -> UploadSlot:
        return service.create_upload(caller, body, clock())

    @app.post(
        "/v1/batches",
        status_code=201,
        response_model=BatchCreated,
        responses=_ERRORS,
        tags=["batches"],
        summary="A batch of 1 to 1 000 upload slots and its manifest",
    )
    def create_batch(body: BatchRequest, caller: Caller) -> BatchCreated:
        return service.create_batch(caller, body, clock())

    @app.get(
        "/v1/batches/{batch_id}",
        response_model=BatchStatus,
        responses={**_ERRORS, **_NOT_FOUND},
        tags=["batches"],
        summary="Counts pending / done / failed and each image's state and links",
    )
    def get_batch(batch_id: str, caller: Caller) -> BatchStatus:
        return service.batch_status(caller, batch_id, clock())

    @app.get(
        "/v1/images/{image_id}",
        response_model=ImageStatus,
        responses={**_ERRORS, **_NOT_FOUND},
        tags=["images"],
        summary="pending | done | failed, with links to the anonymized image and mask when done",
    )
    def get_image(image_id: str, caller: Caller) -> ImageStatus:
        return service.image_status(caller, image_id, clock())

    # The time-ordered results listing (api/results.py).
    results = ResultsService(settings=settings, store=store, presigner=presigner)
    install_results_routes(app, results, _principal, clock)
    install_viewer(app, results, clock)  # /viewer (api/viewer.py)
    return app
