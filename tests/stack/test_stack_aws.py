"""provision(): the uploads bucket → EventBridge rule → SQS (+ DLQ) chain on a real moto server."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

import requests

from stack.aws import client, provision
from stack.config import AwsLayout
from tests.stack.stack_support import Moto


def receive(sqs: Any, url: str, wait_s: int = 1, visibility: int | None = None) -> list[dict]:
    extra = {} if visibility is None else {"VisibilityTimeout": visibility}
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=wait_s,
        AttributeNames=["All"],
        **extra,
    )
    return list(response.get("Messages", []))


def fresh_layout(moto: Moto) -> AwsLayout:
    suffix = uuid.uuid4().hex[:8]
    return replace(
        moto.layout,
        uploads_bucket=f"uploads-{suffix}",
        results_bucket=f"results-{suffix}",
        queue=f"events-{suffix}",
        dead_letter_queue=f"events-{suffix}-dlq",
        rule=f"rule-{suffix}",
        max_receive_count=2,
    )


def test_only_object_created_under_incoming_reaches_the_queue(moto: Moto) -> None:
    layout = fresh_layout(moto)
    queues = provision(moto.endpoint, layout)
    s3 = client("s3", moto.endpoint, layout)
    sqs = client("sqs", moto.endpoint, layout)

    key = "incoming/acme/2026/01/02/img-1.jpg"
    url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": layout.uploads_bucket, "Key": key}, ExpiresIn=60
    )
    assert url.startswith(f"{moto.endpoint}/{layout.uploads_bucket}/")  # path style, 127.0.0.1
    assert requests.put(url, data=b"jpeg bytes", timeout=10).status_code == 200
    s3.put_object(Bucket=layout.uploads_bucket, Key="elsewhere/img-2.jpg", Body=b"x")
    s3.put_object(Bucket=layout.results_bucket, Key="incoming/acme/2026/01/02/x.jpg", Body=b"x")
    s3.put_object_tagging(
        Bucket=layout.uploads_bucket, Key=key, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )

    messages = receive(sqs, queues.url)
    assert len(messages) == 1
    event = json.loads(messages[0]["Body"])
    assert event["detail-type"] == "Object Created"
    assert event["detail"]["bucket"]["name"] == layout.uploads_bucket
    assert event["detail"]["object"]["key"] == key
    assert receive(sqs, queues.url, visibility=0) == []  # nothing else is waiting


def test_redrive_moves_a_message_received_too_often_to_the_dead_letter_queue(moto: Moto) -> None:
    layout = fresh_layout(moto)
    queues = provision(moto.endpoint, layout)
    sqs = client("sqs", moto.endpoint, layout)
    sqs.send_message(QueueUrl=queues.url, MessageBody="never acknowledged")

    for _ in range(layout.max_receive_count):
        assert len(receive(sqs, queues.url, visibility=0)) == 1  # received, never deleted
    assert receive(sqs, queues.url, visibility=0) == []
    [dead] = receive(sqs, queues.dead_letter_url)
    assert dead["Body"] == "never acknowledged"
