"""The results viewer at /viewer: server-rendered pages over the same listing as GET /v1/results.

Sign-in is the API's own: a JWT (a dev token locally) or an API key, entered once and kept in an
HttpOnly, SameSite=Strict cookie scoped to /viewer; every page checks it again with the API's
authenticator, so an expired token sends the user back to the sign-in form. The pages show the
anonymized image and the mask only (links from the result record, checked to lie under the
image's result prefix) and only the caller's tenant. No build toolchain: Jinja2 templates, one
stylesheet and a few lines of script (the mask toggle) inline under a per-response CSP nonce.
"""

import base64
import binascii
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.auth import Authenticator, Principal
from api.errors import InvalidRequest, Unauthorized
from api.models import ResultPage
from api.results import ResultQuery, ResultsService, time_range
from transformer.metadata import CAMERA_ID_PATTERN

COOKIE = "siteveil_viewer"
COOKIE_PATH = "/viewer"
SESSION_S = 8 * 3600
PAGE_SIZE = 24
MAX_CREDENTIAL_CHARS = 3000
"""A Cognito ID token is 1–2 kB; a cookie holds about 4 kB."""

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("viewer_templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class Filters:
    """The filter form's values as the user typed them (echoed back into the form)."""

    camera_id: str = ""
    status: str = ""
    start: str = ""
    end: str = ""
    mask: bool = False
    cursor: str = ""

    def query_string(self, **changes: str) -> str:
        values = {
            "camera_id": self.camera_id,
            "status": self.status,
            "from": self.start,
            "to": self.end,
            "mask": "1" if self.mask else "",
            "cursor": self.cursor,
            **changes,
        }
        return urlencode({k: v for k, v in values.items() if v})


def _filters(request: Request) -> Filters:
    q = request.query_params
    return Filters(
        camera_id=q.get("camera_id", "").strip()[:64],
        status=q.get("status", "") if q.get("status") in ("anonymized", "failed") else "",
        start=q.get("from", "").strip()[:40],
        end=q.get("to", "").strip()[:40],
        mask=q.get("mask") == "1",
        cursor=q.get("cursor", "")[:400],
    )


def _moment(text: str, name: str) -> datetime | None:
    """`datetime-local` inputs send `2026-12-01T08:00` (no zone): the viewer works in UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidRequest(f"{name}: not a date and time ({text!r})") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _query(filters: Filters, now: datetime) -> ResultQuery:
    if filters.camera_id and not re.match(CAMERA_ID_PATTERN, filters.camera_id):
        raise InvalidRequest("camera: 1-64 of A-Z a-z 0-9 . : - (starting alphanumeric)")
    start, end = time_range(_moment(filters.start, "from"), _moment(filters.end, "to"), now)
    return ResultQuery(
        start=start,
        end=end,
        camera_id=filters.camera_id or None,
        status=filters.status or None,  # type: ignore[arg-type]
        order="desc",
        limit=PAGE_SIZE,
        cursor=filters.cursor or None,
    )


def _encode_session(credential: str) -> str:
    return base64.urlsafe_b64encode(credential.encode()).decode()


def _decode_session(cookie: str | None) -> str | None:
    if not cookie or len(cookie) > 2 * MAX_CREDENTIAL_CHARS:
        return None
    try:
        return base64.urlsafe_b64decode(cookie.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _authenticate(authenticator: Authenticator, credential: str) -> Principal:
    """An API key (`svk_…`) or a bearer JWT, checked exactly as the API checks its headers."""
    if credential.startswith("svk_"):
        return authenticator.authenticate(None, credential)
    return authenticator.authenticate(f"Bearer {credential}", None)


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = _TEMPLATES.get_template(template).render(nonce=nonce, **context)
    response = HTMLResponse(html, status_code=status)
    _secure(response, nonce)
    return response


def _secure(response: Response, nonce: str = "") -> None:
    # Images come from presigned S3 URLs (another origin); nothing else leaves the page.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src http: https:; "
        f"style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # presigned links must not leak
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"


def _signed_out(message: str | None = None, status: int = 200) -> HTMLResponse:
    response = _page("login.html", status, error=message)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


def install_viewer(app: FastAPI, results: ResultsService, clock: Callable[[], datetime]) -> None:
    """`GET /viewer`, `POST /viewer/login`, `POST /viewer/logout` (not in the OpenAPI document)."""

    @app.get("/viewer", include_in_schema=False, response_model=None)
    def viewer(request: Request) -> Response:
        credential = _decode_session(request.cookies.get(COOKIE))
        if credential is None:
            return _signed_out()
        authenticator: Authenticator = request.app.state.authenticator
        try:
            principal = _authenticate(authenticator, credential)
        except Unauthorized:
            return _signed_out("Your sign-in has expired or is no longer valid.", 401)
        filters = _filters(request)
        now = clock()
        error = None
        page = ResultPage(items=[])
        counts = None
        try:
            query = _query(filters, now)
            page = results.page(principal, query, now)
            counts = results.counts(principal, query)
        except InvalidRequest as exc:
            error = exc.reason
        next_url = None
        if page.next_cursor:
            next_url = f"/viewer?{filters.query_string(cursor=page.next_cursor)}"
        return _page(
            "results.html",
            400 if error else 200,
            tenant=principal.tenant,
            filters=filters,
            items=page.items,
            counts=counts,
            error=error,
            next_url=next_url,
            first_url=f"/viewer?{filters.query_string(cursor='')}" if filters.cursor else None,
        )

    @app.post("/viewer/login", include_in_schema=False, response_model=None)
    async def login(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", "replace")
        credential = (parse_qs(body).get("credential") or [""])[0].strip()
        if not credential or len(credential) > MAX_CREDENTIAL_CHARS:
            return _signed_out("Enter a token or an API key.", 400)
        try:
            _authenticate(request.app.state.authenticator, credential)
        except Unauthorized:
            return _signed_out("That token or API key was not accepted.", 401)
        response = RedirectResponse("/viewer", status_code=303)
        response.set_cookie(
            COOKIE,
            _encode_session(credential),
            max_age=SESSION_S,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        _secure(response)
        return response

    @app.post("/viewer/logout", include_in_schema=False, response_model=None)
    def logout() -> Response:
        response = RedirectResponse("/viewer", status_code=303)
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
        _secure(response)
        return response
