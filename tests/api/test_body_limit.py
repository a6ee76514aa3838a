"""The API's 1 MiB body limit holds whether the body is announced (Content-Length) or chunked."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient

from api.app import MAX_BODY_BYTES


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"filename": "a.jpg", "content_type": "image/jpeg", "pad": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


def test_chunked_body_over_the_limit_is_413(
    client: TestClient, acme_headers: dict[str, str]
) -> None:
    """Issue 14 §6: a chunked 4 MiB body (no Content-Length) was accepted with 201."""
    response = client.post(
        "/v1/uploads",
        content=_chunks(4 * 1024 * 1024),
        headers={**acme_headers, "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert str(MAX_BODY_BYTES) in response.json()["reason"]


def test_announced_body_over_the_limit_is_413(
    client: TestClient, acme_headers: dict[str, str]
) -> None:
    response = client.post(
        "/v1/uploads",
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={**acme_headers, "content-type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["error"] == "too_large"


def test_small_chunked_bodies_still_work(client: TestClient, acme_headers: dict[str, str]) -> None:
    response = client.post(
        "/v1/uploads",
        content=iter([b'{"content_type": "image/jpeg", ', b'"size": 1000}']),
        headers={**acme_headers, "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text


def test_reasons_built_from_the_request_are_bounded(
    client: TestClient, acme_headers: dict[str, str]
) -> None:
    """Issue 14 §4: a reason never echoes a large part of the request."""
    field = "x" * 50_000
    response = client.post(
        "/v1/uploads",
        json={"content_type": "image/jpeg", "size": 10, field: 1},
        headers=acme_headers,
    )
    assert response.status_code == 400
    assert len(response.json()["reason"]) <= 300
