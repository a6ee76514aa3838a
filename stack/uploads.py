"""Talk to a running stack's S3 and SQS directly, as its operator: presigned PUT uploads below the
API, result records, dead letters. Customers (and the demo) go through the upload API instead.

The end-to-end tests of the pipeline upload here, with keys from the key layout's own builder
(`transformer.keys.incoming_key`), as the API would choose them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from botocore.exceptions import ClientError

from stack.aws import client
from stack.config import AwsLayout
from stack.lifecycle import StackState
from transformer.keys import InvalidKey, incoming_key, parse_incoming_key, result_keys

CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
}


@dataclass(frozen=True, slots=True)
class Upload:
    tenant: str
    image_id: str
    key: str
    etag: str
    started: float  # time.monotonic() when the PUT began


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one upload ended: a result record, a dead letter, or nothing before the deadline."""

    upload: Upload
    status: str  # "anonymized" | "failed" | "dead-lettered" | "timeout"
    record: dict[str, Any] | None
    reason: str | None
    latency_ms: float | None


class StackClient:
    """S3 and SQS of one running stack, through boto3 against its emulator."""

    def __init__(self, state: StackState) -> None:
        self.state = state
        layout = AwsLayout(
            region=state.region,
            access_key_id=state.access_key_id,
            secret_access_key=state.secret_access_key,
        )
        self.s3 = client("s3", state.aws_endpoint, layout)
        self.sqs = client("sqs", state.aws_endpoint, layout)

    def presigned_put(self, key: str, content_type: str, expires_s: int = 600) -> str:
        return str(
            self.s3.generate_presigned_url(
                "put_object",
                Params={
                    "Bucket": self.state.uploads_bucket,
                    "Key": key,
                    "ContentType": content_type,
                },
                ExpiresIn=expires_s,
            )
        )

    def upload(self, body: bytes, *, tenant: str, image_id: str, ext: str) -> Upload:
        """PUT the bytes through a presigned URL to a key of the upload layout."""
        key = incoming_key(tenant, datetime.now(UTC).date(), image_id, ext).key
        content_type = CONTENT_TYPES.get(ext.lower(), "application/octet-stream")
        url = self.presigned_put(key, content_type)
        started = time.monotonic()
        response = requests.put(url, data=body, headers={"Content-Type": content_type}, timeout=60)
        response.raise_for_status()
        etag = response.headers.get("ETag", "").strip('"')
        return Upload(tenant=tenant, image_id=image_id, key=key, etag=etag, started=started)

    def get(self, bucket: str, key: str) -> bytes | None:
        try:
            return bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise

    def record(self, upload: Upload) -> dict[str, Any] | None:
        """The upload's result.json, or None while there is none (it is written last)."""
        return self.record_of(upload.tenant, upload.image_id)

    def record_of(self, tenant: str, image_id: str) -> dict[str, Any] | None:
        key = result_keys(tenant, image_id, "x").record
        body = self.get(self.state.results_bucket, key)
        return json.loads(body) if body is not None else None

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every message in the dead-letter queue, left there (peeked with visibility 0)."""
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(5):  # SQS samples servers; a few receives see every message
            response = self.sqs.receive_message(
                QueueUrl=self.state.dead_letter_queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            for message in response.get("Messages", []):
                seen[message["MessageId"]] = message
            if not response.get("Messages"):
                break
        return list(seen.values())

    def queue_depth(self, url: str | None = None) -> int:
        """Messages waiting or in flight in the event queue (or another queue)."""
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url or self.state.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )


def letter_key(letter: dict[str, Any]) -> str | None:
    """The object key named by a dead letter's S3 event (EventBridge shape), if it names one."""
    try:
        body = json.loads(letter["Body"])
    except (ValueError, TypeError, KeyError):
        return None
    detail = body.get("detail", {}) if isinstance(body, dict) else {}
    key = detail.get("object", {}).get("key") if isinstance(detail, dict) else None
    return key if isinstance(key, str) else None


def dead_letter_for(upload: Upload, letters: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The dead letter whose S3 event names this upload's key, if any."""
    return next((letter for letter in letters if letter_key(letter) == upload.key), None)


def dead_letter_for_image(
    tenant: str, image_id: str, letters: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The dead letter of an upload known only by tenant and image id (the API chose its key)."""
    for letter in letters:
        try:
            parsed = parse_incoming_key(letter_key(letter) or "")
        except InvalidKey:
            continue
        if (parsed.tenant, parsed.image_id) == (tenant, image_id):
            return letter
    return None


def letter_reason(letter: dict[str, Any]) -> str:
    attributes = letter.get("MessageAttributes", {})
    reason = attributes.get("siteveil-reason", {}).get("StringValue", "dead-lettered")
    data = attributes.get("knativeerrordata", {}).get("StringValue")
    return f"{reason}: {data}" if data else str(reason)


def wait_for_outcomes(
    stack: StackClient, uploads: list[Upload], *, timeout_s: float = 120.0, poll_s: float = 0.1
) -> list[Outcome]:
    """Wait until every upload has a result.json or a dead letter, or the deadline passes."""
    outcomes: dict[int, Outcome] = {}
    deadline = time.monotonic() + timeout_s
    next_dlq_check = 0.0
    while len(outcomes) < len(uploads):
        letters: list[dict[str, Any]] = []
        if time.monotonic() >= next_dlq_check:  # the DLQ is rarely used: look once a second
            letters = stack.dead_letters()
            next_dlq_check = time.monotonic() + 1.0
        for index, upload in enumerate(uploads):
            if index in outcomes:
                continue
            record = stack.record(upload)
            if record is not None:
                latency = (time.monotonic() - upload.started) * 1000
                error = record.get("error") or {}
                # the dead-letter consumer's record: the customer's view of a dead letter
                status = (
                    "dead-lettered" if error.get("type") == "DeadLettered" else record["status"]
                )
                outcomes[index] = Outcome(upload, str(status), record, error.get("reason"), latency)
                continue
            letter = dead_letter_for(upload, letters)
            if letter is not None:
                outcomes[index] = Outcome(
                    upload, "dead-lettered", None, letter_reason(letter), None
                )
        if len(outcomes) == len(uploads):
            break
        if time.monotonic() > deadline:
            for index, upload in enumerate(uploads):
                outcomes.setdefault(
                    index,
                    Outcome(upload, "timeout", None, f"no result after {timeout_s:.0f} s", None),
                )
            break
        time.sleep(poll_s)
    return [outcomes[i] for i in range(len(uploads))]
