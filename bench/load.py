"""The load: one binary-mode CloudEvent per uploaded frame, POSTed by C concurrent clients.

Each event is what the local relay sends the transformer for an upload (stack/relay.py): the
S3 "Object Created" EventBridge event as data, `ce-*` headers from the relay's own builder,
type `dev.knative.eventing.aws-sqs`. Every request is sent once (no retries): an answer other
than 2xx, or none, is an error of that transformer.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from stack.relay import EVENT_TYPE, cloudevent_headers

SOURCE = "arn:aws:sqs:us-east-1:000000000000:siteveil-uploads"


@dataclass(frozen=True, slots=True)
class Upload:
    """An object in the uploads bucket that an event names."""

    image_id: str
    bucket: str
    key: str
    etag: str
    size: int


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: its latency from send to the last byte of the answer, and how it ended."""

    image_id: str
    status: int | None
    latency_ms: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def eventbridge_event(upload: Upload, *, region: str = "us-east-1") -> dict[str, Any]:
    """The S3 `Object Created` event EventBridge delivers (moto's shape, which the relay carries)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{upload.bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": upload.bucket},
            "object": {"key": upload.key, "size": upload.size, "etag": upload.etag},
            "reason": "PutObject",
        },
    }


def cloudevent(upload: Upload) -> tuple[dict[str, str], bytes]:
    """Binary-mode headers and body for one upload, a fresh event id each time."""
    message = {"MessageId": str(uuid.uuid4()), "Attributes": {}}
    headers = cloudevent_headers(message, source=SOURCE, event_type=EVENT_TYPE)
    return headers, json.dumps(eventbridge_event(upload)).encode()


def drive(
    url: str, uploads: Sequence[Upload], *, clients: int, timeout_s: float = 300.0
) -> tuple[list[Sample], float]:
    """POST one event per upload from `clients` threads; the samples and the wall time in s.

    Events are built before the clock starts; each thread keeps one keep-alive session.
    """
    if clients < 1:
        raise ValueError("clients must be >= 1")
    work: queue.SimpleQueue[tuple[str, dict[str, str], bytes]] = queue.SimpleQueue()
    for upload in uploads:
        headers, body = cloudevent(upload)
        work.put((upload.image_id, headers, body))
    samples: list[Sample] = []
    lock = threading.Lock()

    def client() -> None:
        with requests.Session() as session:
            while True:
                try:
                    image_id, headers, body = work.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                try:
                    response = session.post(url, headers=headers, data=body, timeout=timeout_s)
                    _ = response.content
                    sample = Sample(
                        image_id,
                        response.status_code,
                        1000 * (time.perf_counter() - started),
                        None if response.ok else response.text[:300],
                    )
                except requests.RequestException as exc:
                    elapsed = 1000 * (time.perf_counter() - started)
                    sample = Sample(image_id, None, elapsed, f"{type(exc).__name__}: {exc}"[:300])
                with lock:
                    samples.append(sample)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, time.perf_counter() - started
