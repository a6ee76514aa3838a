"""The lean S3 transport: what S3 sees on the wire (URLs, signatures, payload hashes), paging,
odd keys, metadata, retries, and S3 being down."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.auth import EMPTY_SHA256_HASH, UNSIGNED_PAYLOAD, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from stack.processes import free_port
from transformer.errors import InvalidImage, StorageUnavailable
from transformer.s3http import S3Http
from transformer.storage import Storage

CREDENTIALS = Credentials(
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "a-session-token"
)
ODD_KEY = "results/ténant one/ünïcödé €/./../img 1+2=3 ~(x).json"


class Recorded:
    """What a scripted HTTP server received; it answers from `script` in order, then 200."""

    def __init__(self, script: list[tuple[int, dict[str, str], bytes]]) -> None:
        self.script = script
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Recorded]]:
    recorded = Recorded([])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded.requests.append(
                (self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            status, headers, payload = (
                recorded.script.pop(0)
                if recorded.script
                else (200, {}, b"ok" if self.command == "GET" else b"")
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_DELETE = do_HEAD = _answer

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", recorded
    httpd.shutdown()
    httpd.server_close()


def transport(endpoint: str, slept: list[float] | None = None, **kw: Any) -> S3Http:
    sleep = slept.append if slept is not None else (lambda _: None)
    return S3Http(region="eu-west-1", credentials=CREDENTIALS, endpoint=endpoint, sleep=sleep, **kw)


def resigned(method: str, endpoint: str, path: str, headers: dict[str, str], body: bytes) -> str:
    """The Authorization botocore's own S3 signer computes for the request as the server got it
    (its path, and the headers its SignedHeaders names, at its x-amz-date): what S3 checks."""
    stamp = dt.datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    names = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    wire = {k: v for k, v in headers.items() if k in names and k != "host"}
    request = AWSRequest(method=method, url=endpoint + path, headers=wire, data=body)
    auth = S3SigV4Auth(CREDENTIALS, "s3", "eu-west-1")
    from unittest import mock

    with mock.patch("botocore.auth.get_current_datetime", return_value=stamp):
        auth.add_auth(request)
    return str(request.headers["authorization"])


def test_every_request_carries_the_signature_s3_would_compute(
    server: tuple[str, Recorded],
) -> None:
    """GET of an odd key, a conditional PUT, a LIST with a continuation token: the signature on
    the wire is the one botocore's S3SigV4Auth computes for the path and headers S3 receives (a
    path re-encoded after signing, or an unsigned header that matters, would fail here)."""
    endpoint, recorded = server
    s3 = transport(endpoint)
    s3.get_object("siteveil-results", ODD_KEY, max_bytes=100)
    s3.put_object("siteveil-results", ODD_KEY, b"{}", "application/json", if_none_match=True)
    recorded.script.append(
        (200, {}, b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
    )
    s3.list_objects_v2("siteveil-results", "results/ténant one/", "1/ab+c=")
    for method, path, headers, body in recorded.requests:
        assert headers["authorization"] == resigned(method, endpoint, path, headers, body)
        assert headers["x-amz-security-token"] == "a-session-token"
        signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
        assert {"host", "x-amz-content-sha256", "x-amz-date"} <= set(signed)
    put = recorded.requests[1][2]
    assert "if-none-match" in put["authorization"] and put["if-none-match"] == "*"


def test_the_wire_matches_boto3_for_the_same_calls(server: tuple[str, Recorded]) -> None:
    """The same GET and PUT through boto3 and through us: the same path (key encoding), payload
    hash and CRC32 checksum header."""
    endpoint, recorded = server
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="eu-west-1",
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
    )
    ours = transport(endpoint)
    client.get_object(Bucket="siteveil-results", Key=ODD_KEY)
    ours.get_object("siteveil-results", ODD_KEY, max_bytes=100)
    client.put_object(Bucket="siteveil-results", Key=ODD_KEY, Body=b"{}", ContentType="a/b")
    ours.put_object("siteveil-results", ODD_KEY, b"{}", "a/b", if_none_match=False)
    (_, boto_get, bg, _), (_, our_get, og, _), (_, boto_put, bp, _), (_, our_put, op, _) = (
        recorded.requests
    )
    assert our_get == boto_get and our_put == boto_put
    assert "%C3%BC" in our_get and "%20" in our_get and "%2B" in our_get
    assert og["x-amz-content-sha256"] == bg["x-amz-content-sha256"] == EMPTY_SHA256_HASH
    # over plain HTTP botocore signs the body's SHA-256 (S3SigV4Auth._should_sha256_sign_payload)
    assert op["x-amz-content-sha256"] == bp["x-amz-content-sha256"]
    assert op["x-amz-content-sha256"] == hashlib.sha256(b"{}").hexdigest()
    assert op["x-amz-checksum-crc32"] == bp["x-amz-checksum-crc32"]
    assert op["content-type"] == bp["content-type"] == "a/b"


def test_over_https_an_upload_with_a_checksum_is_unsigned_payload_like_boto3() -> None:
    """botocore 1.44 `S3SigV4Auth._should_sha256_sign_payload`: over HTTPS, a streaming upload
    that carries a checksum header is sent as UNSIGNED-PAYLOAD (TLS + CRC32 protect it); a
    request without a body signs the empty hash; over HTTP the body is always hashed."""
    aws = S3Http(region="eu-west-1", credentials=CREDENTIALS)
    url = aws.url("siteveil-results", "results/a/anonymized.jpg")
    assert url == "https://siteveil-results.s3.eu-west-1.amazonaws.com/results/a/anonymized.jpg"
    headers = {"Content-Length": "3", "x-amz-checksum-crc32": "NSRBwg=="}
    assert aws.sign("PUT", url, headers, b"abc")["X-Amz-Content-SHA256"] == UNSIGNED_PAYLOAD
    assert aws.sign("GET", url, {})["X-Amz-Content-SHA256"] == EMPTY_SHA256_HASH
    local = transport("http://127.0.0.1:1")
    plain = local.url("siteveil-results", "results/a/anonymized.jpg")
    assert plain == "http://127.0.0.1:1/siteveil-results/results/a/anonymized.jpg"
    assert local.sign("PUT", plain, headers, b"abc")["X-Amz-Content-SHA256"] == (
        hashlib.sha256(b"abc").hexdigest()
    )


def test_endpoint_region_and_credentials_come_from_the_aws_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://general:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3-only:2/")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    s3 = S3Http.from_env()
    assert s3.region == "eu-central-1"
    assert s3.url("b-1", "k") == "http://s3-only:2/b-1/k"
    assert "Credential=AKIDENV/" in s3.sign("GET", s3.url("b-1", "k"), {})["Authorization"]
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_REGION")
    aws = S3Http.from_env()
    assert aws.url("b-1", "k") == "https://b-1.s3.us-west-2.amazonaws.com/k"
    # a bucket name with dots would not match the *.s3 certificate: path style, as botocore
    assert aws.url("a.b", "k") == "https://s3.us-west-2.amazonaws.com/a.b/k"


def test_a_listing_pages_past_1000_keys_with_spaces_and_unicode(s3: Any) -> None:
    """ListObjectsV2 returns at most 1000 keys a page; keys come back URL-encoded
    (`encoding-type=url`) and are decoded."""
    storage = Storage(s3)
    keys = {f"r/ténant €/img {i:04d}+x.json" for i in range(1003)}
    for key in keys:
        storage.write("results", key, b"{}", "application/json")
    storage.write("results", "r/other/x", b"{}", "application/json")
    assert storage.list_keys("results", "r/ténant €/") == keys
    assert storage.list_keys("results", "r/ténant €/img 1000") == {"r/ténant €/img 1000+x.json"}


def test_an_odd_key_round_trips_with_metadata_etag_and_checksum(s3: Any) -> None:
    put = s3.put_object(
        Bucket="uploads",
        Key=ODD_KEY,
        Body=b"payload",
        ContentType="image/jpeg",
        Metadata={"Source-Etag": "abc", "tenant": "acme"},
    )
    stored = Storage(s3).read("uploads", ODD_KEY, max_bytes=7)
    assert (stored.body, stored.etag, stored.content_type) == (
        b"payload",
        put["ETag"].strip('"'),
        "image/jpeg",
    )
    assert stored.metadata == {"source-etag": "abc", "tenant": "acme"}
    Storage(s3).write("results", ODD_KEY, b"payload", "image/jpeg")
    head = s3.head_object(Bucket="results", Key=ODD_KEY, ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == put["ChecksumCRC32"]  # S3 checked our CRC32 against boto3's
    assert head["ETag"] == put["ETag"]


def test_a_503_then_200_is_retried_after_a_jittered_backoff(server: tuple[str, Recorded]) -> None:
    endpoint, recorded = server
    slow_down = b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>"
    recorded.script += [(503, {}, slow_down), (200, {"ETag": '"e1"'}, b"body")]
    slept: list[float] = []
    stored = Storage(transport(endpoint, slept)).read("uploads", "k", max_bytes=10)
    assert stored.body == b"body" and stored.etag == "e1"
    assert len(recorded.requests) == 2 and len(slept) == 1 and 0 <= slept[0] <= 1
    # re-signed for the retry, not a replay of the first request's headers
    assert all("authorization" in h for _, _, h, _ in recorded.requests)


def test_throttling_that_persists_is_storage_unavailable_after_three_attempts(
    server: tuple[str, Recorded],
) -> None:
    endpoint, recorded = server
    throttled = b"<Error><Code>SlowDown</Code></Error>"
    recorded.script += [(503, {}, throttled)] * 3
    slept: list[float] = []
    with pytest.raises(StorageUnavailable, match="writing s3://results/k failed: SlowDown"):
        Storage(transport(endpoint, slept)).write("results", "k", b"1", "text/plain")
    assert len(recorded.requests) == 3 and len(slept) == 2 and slept[1] <= 2


def test_a_client_error_is_not_retried(server: tuple[str, Recorded]) -> None:
    endpoint, recorded = server
    recorded.script.append((403, {}, b"<Error><Code>AccessDenied</Code></Error>"))
    with pytest.raises(StorageUnavailable, match="AccessDenied"):
        Storage(transport(endpoint)).read("uploads", "k", max_bytes=10)
    assert len(recorded.requests) == 1


def test_a_too_large_object_is_refused_before_its_body_is_read(
    server: tuple[str, Recorded],
) -> None:
    endpoint, recorded = server
    recorded.script.append((200, {}, b"x" * 5000))
    with pytest.raises(InvalidImage, match="5000 bytes, more than the 4999 allowed"):
        Storage(transport(endpoint)).read("uploads", "k", max_bytes=4999)


def test_a_dead_port_is_storage_unavailable_after_three_quick_attempts() -> None:
    slept: list[float] = []
    storage = Storage(transport(f"http://127.0.0.1:{free_port()}", slept))
    with pytest.raises(StorageUnavailable, match="reading s3://uploads/k failed"):
        storage.read("uploads", "k", max_bytes=10)
    assert len(slept) == 2 and slept[0] <= 1 and slept[1] <= 2  # botocore's standard backoff
    assert storage.ping("uploads") is False


def test_expiring_credentials_are_refreshed_before_a_request_is_signed() -> None:
    """IRSA's web-identity credentials expire; botocore's RefreshableCredentials renew them, and
    every request is signed with the current ones."""
    from botocore.credentials import RefreshableCredentials

    now = dt.datetime.now(dt.UTC)

    def refresh() -> dict[str, str]:
        expiry = (now + dt.timedelta(hours=1)).isoformat()
        return {
            "access_key": "AKIDRENEWED",
            "secret_key": "s",
            "token": "t2",
            "expiry_time": expiry,
        }

    credentials = RefreshableCredentials.create_from_metadata(
        {"access_key": "AKIDOLD", "secret_key": "s", "token": "t1", "expiry_time": now.isoformat()},
        refresh_using=refresh,
        method="assume-role-with-web-identity",
    )
    s3 = S3Http(region="eu-west-1", credentials=credentials)
    headers = s3.sign("GET", s3.url("siteveil-uploads", "k"), {})
    assert "Credential=AKIDRENEWED/" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "t2"
