"""End to end: delivery semantics — malformed events, duplicates, and nothing lost."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from skimage import data

from stack.lifecycle import StackState
from stack.relay import EVENT_TYPE
from stack.uploads import StackClient, Upload, dead_letter_for, wait_for_outcomes
from tests.e2e.e2e_support import attempts_for, encode, replies, unique_id, wait_until
from transformer.keys import result_keys

pytestmark = pytest.mark.e2e
TENANT = "e2e"


def eventbridge_event(bucket: str, key: str, etag: str, size: int) -> dict[str, object]:
    """An S3 Object Created event as EventBridge delivers it to SQS."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": size, "eTag": etag},
            "reason": "PutObject",
        },
    }


def binary_event(data_: dict[str, object], event_id: str) -> tuple[dict[str, str], bytes]:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-type": EVENT_TYPE,
        "ce-source": "e2e-test",
        "content-type": "application/json",
    }
    return headers, json.dumps(data_).encode()


def dead_letter_of(client: StackClient, message_id: str) -> dict[str, object]:
    def find() -> list[dict[str, object]]:
        return [
            m
            for m in client.dead_letters()
            if m["MessageAttributes"]["siteveil-message-id"]["StringValue"] == message_id
        ]

    return wait_until(find, what=f"dead letter of {message_id}")[0]


def test_a_malformed_event_gets_400_with_a_reason(stack: StackState) -> None:
    headers, body = binary_event({"hello": "world"}, "malformed-1")
    response = requests.post(stack.transformer_url + "/", headers=headers, data=body, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"] and response.json()["reason"]

    not_an_event = requests.post(
        stack.transformer_url + "/",
        data=b"{}",
        timeout=30,
        headers={"content-type": "application/json"},
    )
    assert not_an_event.status_code == 400


def test_a_malformed_event_on_the_queue_is_dead_lettered_without_retry(
    client: StackClient, stack: StackState
) -> None:
    message_id = client.sqs.send_message(
        QueueUrl=stack.queue_url, MessageBody=json.dumps({"hello": "world"})
    )["MessageId"]
    letter = dead_letter_of(client, message_id)
    attributes = letter["MessageAttributes"]
    assert attributes["knativeerrorcode"]["StringValue"] == "400"
    assert attributes["siteveil-attempts"]["StringValue"] == "1"
    assert "not retryable" in attributes["siteveil-reason"]["StringValue"]
    assert json.loads(letter["Body"]) == {"hello": "world"}
    assert len(attempts_for(stack, message_id)) == 1  # the transformer saw it exactly once


def test_a_duplicate_event_leaves_the_same_result_objects(
    client: StackClient, stack: StackState
) -> None:
    body = encode(data.astronaut(), "JPEG", quality=92)
    upload = client.upload(body, tenant=TENANT, image_id=unique_id("dup"), ext="jpg")
    [first] = wait_for_outcomes(client, [upload], timeout_s=120)
    assert first.status == "anonymized", first.reason
    prefix = result_keys(TENANT, upload.image_id, "x").prefix
    keys = client.list_keys(stack.results_bucket, prefix)
    assert len(keys) == 3
    before = {k: client.get(stack.results_bucket, k) for k in keys}
    subject = f"{TENANT}/{upload.image_id}"

    # SQS delivers at least once: the same S3 event arrives again, as a new message.
    event = eventbridge_event(stack.uploads_bucket, upload.key, upload.etag, len(body))
    client.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(event))
    again = wait_until(
        lambda: [r for r in replies(stack) if r.get("subject") == subject][1:],
        what="the duplicate's reply",
    )[0]
    # And a broker retry re-POSTs the very same CloudEvent (same id) straight to the transformer.
    headers, payload = binary_event(event, "duplicate-post-1")
    posts = [
        requests.post(stack.transformer_url + "/", headers=headers, data=payload, timeout=60)
        for _ in range(2)
    ]

    assert again["type"] == "siteveil.image.anonymized"
    assert again["data"] == first.record
    for post in posts:
        assert post.status_code == 200
        assert post.headers["ce-type"] == "siteveil.image.anonymized"
        assert post.json() == first.record
    after = {
        k: client.get(stack.results_bucket, k)
        for k in client.list_keys(stack.results_bucket, prefix)
    }
    assert after == before  # byte for byte, result.json (processed_at) included


def test_nothing_is_lost_every_upload_ends_with_a_result_or_a_dead_letter(
    client: StackClient, stack: StackState
) -> None:
    good = [
        (encode(data.astronaut(), "JPEG", quality=85), "jpg"),
        (encode(data.camera(), "PNG"), "png"),
        (encode(data.rocket(), "WEBP", quality=90), "webp"),
        (encode(data.coffee(), "JPEG", quality=90), "jpg"),
    ]
    broken = [(b"\xff\xd8\xff\xe0" + b"\x00" * 500, "jpg"), (b"plain text\n" * 50, "png")]
    uploads = [
        client.upload(body, tenant=TENANT, image_id=unique_id("batch"), ext=ext)
        for body, ext in good + broken
    ]
    # An object in incoming/ outside the key layout: the transformer cannot tell which image it
    # is (400), so its event must end in the dead-letter queue, not vanish.
    stray_key = f"incoming/{TENANT}/not-a-date/{unique_id('stray')}.jpg"
    response = requests.put(
        client.presigned_put(stray_key, "image/jpeg"),
        data=good[0][0],
        headers={"Content-Type": "image/jpeg"},
        timeout=30,
    )
    assert response.status_code == 200
    stray = Upload(
        tenant=TENANT,
        image_id=unique_id("no-result"),
        key=stray_key,
        etag="",
        started=uploads[-1].started,
    )

    outcomes = wait_for_outcomes(client, [*uploads, stray], timeout_s=180)

    statuses = [o.status for o in outcomes]
    assert statuses == ["anonymized"] * len(good) + ["failed"] * len(broken) + ["dead-lettered"]
    letter = dead_letter_for(stray, client.dead_letters())
    assert letter is not None
    assert letter["MessageAttributes"]["knativeerrorcode"]["StringValue"] == "400"
    wait_until(lambda: client.queue_depth() == 0, what="the event queue drains")
