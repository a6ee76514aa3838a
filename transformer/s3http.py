"""A lean S3 transport: botocore's credentials and SigV4 signer, sent over one urllib3 pool.

A boto3 client spends 2.6-4 ms of CPU per call in event hooks, request building, parameter
validation and response parsing (measured in the transformer, `time.process_time`); the
transformer makes six calls per image. This module keeps the parts that matter for
correctness from botocore itself -- the credential chain (refreshable: IRSA's web-identity
credentials renew themselves) and `S3SigV4Auth` -- and does the rest by hand: build the URL,
sign, send with keep-alive, read the XML error code, retry like botocore's standard mode.
"""

from __future__ import annotations

import base64
import os
import random
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit

import botocore.session
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
MAX_ATTEMPTS = 3
"""Like boto3's client as configured before (`retries={"max_attempts": 3, "mode": "standard"}`)."""

_MAX_BACKOFF_S = 20.0
# botocore's standard retry mode (botocore/retries/standard.py): transient statuses and the
# throttling / transient error codes it retries on.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_RETRY_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
    }
)


class S3Error(Exception):
    """S3 answered with an error status; `code` is the XML error code (or the status)."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(f"{code} (HTTP {status}){': ' + message if message else ''}")
        self.status = status
        self.code = code


class S3Unreachable(Exception):
    """No answer from S3 after every attempt (connection refused, timeouts, resets)."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class ListPage:
    keys: tuple[str, ...]
    next_token: str | None


class S3Http:
    """Signed S3 requests over one keep-alive connection pool (create one per process)."""

    def __init__(
        self,
        *,
        region: str,
        credentials: Any,
        endpoint: str | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`endpoint` set (moto, MinIO, SeaweedFS): path-style URLs under it; unset: AWS's
        regional endpoint, virtual-hosted style (path style for bucket names with dots, whose
        virtual host would not match the wildcard certificate -- botocore does the same)."""
        self.region = region
        self._credentials = credentials
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._max_attempts = max(1, max_attempts)
        self._sleep = sleep
        self._pool = urllib3.PoolManager(
            num_pools=10,
            maxsize=10,
            retries=False,
            timeout=urllib3.Timeout(connect=connect_timeout_s, read=read_timeout_s),
        )

    @classmethod
    def from_env(cls) -> S3Http:
        """Endpoint, region and credentials the way boto3 finds them.

        Endpoint: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` (botocore's service-specific
        endpoints), else AWS. Region: `AWS_REGION`, else botocore's (`AWS_DEFAULT_REGION`, the
        config file), else us-east-1. Credentials: botocore's chain (env, web identity, ...).
        """
        session = botocore.session.get_session()
        region = (
            os.environ.get("AWS_REGION") or session.get_config_variable("region") or "us-east-1"
        )
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return cls(region=region, credentials=session.get_credentials(), endpoint=endpoint)

    @classmethod
    def like(cls, client: Any, **kwargs: Any) -> S3Http:
        """The endpoint, region and credentials of a boto3 S3 client (for tools and tests that
        already hold one). botocore keeps the client's credentials on its request signer."""
        return cls(
            region=client.meta.region_name or "us-east-1",
            credentials=client._request_signer._credentials,
            endpoint=client.meta.endpoint_url,
            **kwargs,
        )

    # -- operations --------------------------------------------------------------------------

    def get_object(self, bucket: str, key: str, *, max_bytes: int) -> Response:
        """GET; a body over `max_bytes` raises `TooLarge` before (or while) it is read."""
        return self._call("GET", bucket, key, max_bytes=max_bytes)

    def put_object(
        self, bucket: str, key: str, body: bytes, content_type: str, *, if_none_match: bool
    ) -> Response:
        checksum = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode("ascii")
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(len(body)),
            "x-amz-checksum-crc32": checksum,
            "x-amz-sdk-checksum-algorithm": "CRC32",
        }
        if if_none_match:
            headers["If-None-Match"] = "*"
        return self._call("PUT", bucket, key, headers=headers, body=body)

    def list_objects_v2(self, bucket: str, prefix: str, token: str | None = None) -> ListPage:
        query = {"list-type": "2", "prefix": prefix, "encoding-type": "url"}
        if token is not None:
            query["continuation-token"] = token
        root = ET.fromstring(self._call("GET", bucket, "", query=query).body)
        keys = tuple(unquote_plus(e.text or "") for e in root.iterfind("{*}Contents/{*}Key"))
        truncated = (root.findtext("{*}IsTruncated") or "false").lower() == "true"
        return ListPage(keys, root.findtext("{*}NextContinuationToken") if truncated else None)

    def delete_object(self, bucket: str, key: str) -> None:
        self._call("DELETE", bucket, key)

    def head_bucket(self, bucket: str) -> None:
        self._call("HEAD", bucket, "")

    # -- the request -------------------------------------------------------------------------

    def url(self, bucket: str, key: str, query: Mapping[str, str] | None = None) -> str:
        """The object's URL, the key percent-encoded as botocore does (`safe="/~"`, UTF-8)."""
        path = quote(key, safe="/~")
        if self._endpoint is not None or "." in bucket:
            base = self._endpoint or f"https://s3.{self.region}.amazonaws.com"
            url = f"{base}/{bucket}/{path}" if path else f"{base}/{bucket}"
        else:
            url = f"https://{bucket}.s3.{self.region}.amazonaws.com/{path}"
        if query:
            url += "?" + "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in query.items())
        return url

    def sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> dict[str, str]:
        """The headers to send: `headers` plus SigV4's, from botocore's own S3 signer.

        The payload hash follows botocore (`S3SigV4Auth._should_sha256_sign_payload`): over
        HTTP the body's SHA-256 is always signed; over HTTPS an upload that carries a checksum
        header (our CRC32) is sent as UNSIGNED-PAYLOAD, like boto3's PutObject.
        """
        request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
        if body:
            request.context["has_streaming_input"] = True
            request.context["checksum"] = {
                "request_algorithm": {"in": "header", "name": "x-amz-checksum-crc32"}
            }
        credentials = self._credentials
        if credentials is None:
            raise S3Unreachable("no AWS credentials found (botocore's credential chain)")
        frozen = credentials.get_frozen_credentials()
        S3SigV4Auth(
            Credentials(frozen.access_key, frozen.secret_key, frozen.token), "s3", self.region
        ).add_auth(request)
        return dict(request.headers.items())

    def _call(
        self,
        method: str,
        bucket: str,
        key: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        max_bytes: int | None = None,
    ) -> Response:
        url = self.url(bucket, key, query)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(method, url, headers or {}, body, max_bytes)
            except S3Error as exc:
                retry = exc.status in _RETRY_STATUSES or exc.code in _RETRY_CODES
                if not retry or attempt >= self._max_attempts:
                    raise
            except urllib3.exceptions.HTTPError as exc:
                if attempt >= self._max_attempts:
                    raise S3Unreachable(f"{method} {urlsplit(url).path}: {exc}") from exc
            # botocore's standard mode: full jitter, base 2, at most 20 s.
            self._sleep(random.random() * min(_MAX_BACKOFF_S, 2.0 ** (attempt - 1)))

    def _once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        max_bytes: int | None,
    ) -> Response:
        signed = self.sign(method, url, headers, body)
        # the pool of the host, then the path exactly as signed: PoolManager.urlopen would
        # normalise it first (an S3 key may hold "./" or "../" segments)
        parts = urlsplit(url)
        pool = self._pool.connection_from_host(parts.hostname, parts.port, parts.scheme)
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        response = pool.urlopen(
            method,
            target,
            body=body or None,
            headers=signed,
            preload_content=False,
            redirect=False,
            assert_same_host=False,
        )
        try:
            status = response.status
            if status >= 300:
                data = response.read(64 * 1024) if method != "HEAD" else b""
                raise _error(status, data)
            length = response.headers.get("Content-Length")
            if max_bytes is not None and length is not None and int(length) > max_bytes:
                response.close()  # the connection is dropped, the body never read
                raise TooLarge(int(length), max_bytes)
            # S3 sends Content-Length (checked above); a body without one is read only so far
            data = (
                response.read(max_bytes + 1)
                if max_bytes is not None and length is None
                else response.read()
            )
            if max_bytes is not None and len(data) > max_bytes:
                response.close()
                raise TooLarge(None, max_bytes)
            return Response(status, response.headers, data)
        finally:
            response.release_conn()


class TooLarge(Exception):
    """The object is larger than the caller allows (`length` when S3 said it up front)."""

    def __init__(self, length: int | None, max_bytes: int) -> None:
        super().__init__(f"object is {length} bytes, more than the {max_bytes} allowed")
        self.length = length
        self.max_bytes = max_bytes


def _error(status: int, body: bytes) -> S3Error:
    code, message = str(status), ""
    if body:
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            pass
        else:
            code = root.findtext("{*}Code") or root.findtext("Code") or code
            message = root.findtext("{*}Message") or root.findtext("Message") or ""
    return S3Error(status, code, message)


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """`x-amz-meta-*` headers without the prefix, keys lower-cased (as boto3's `Metadata`)."""
    return {
        name[11:].lower(): value
        for name, value in headers.items()
        if name.lower().startswith("x-amz-meta-")
    }
