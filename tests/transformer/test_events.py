"""Every event shape of DESIGN.md §3 in binary and structured mode; malformed events are InvalidEvent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudevents.v1.conversion import to_binary, to_structured
from cloudevents.v1.http import CloudEvent, from_http

from transformer.errors import InvalidEvent
from transformer.events import (
    ANONYMIZED_TYPE,
    FAILED_TYPE,
    objects_created,
    parse_cloudevent,
    reply_event,
)

KEY = "incoming/acme/2026/11/22/img-1.jpg"


def eventbridge(key: str = KEY, etag_field: str = "etag") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-22T10:00:00Z",
        "region": "eu-central-1",
        "resources": ["arn:aws:s3:::uploads"],
        "detail": {
            "version": "0",
            "bucket": {"name": "uploads"},
            "object": {
                "key": key,
                "size": 1234,
                etag_field: '"abc123"',
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "reason": "PutObject",
        },
    }


def s3_notification(key: str = "incoming/acme/2026/11/22/img%2D1.jpg") -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "eu-central-1",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "uploads"},
                    "object": {"key": key, "size": 1234, "eTag": "abc123"},
                },
            }
        ]
    }


def http_event(
    data: Any,
    *,
    structured: bool = False,
    etype: str = "com.amazon.events.event",
    raw: bool = False,
) -> tuple[dict[str, str], bytes]:
    attributes = {"type": etype, "source": "arn:aws:sqs:eu-central-1:1:q", "id": "m-1"}
    payload = json.dumps(data) if raw else data
    event = CloudEvent(attributes, payload)
    return to_structured(event) if structured else to_binary(event)


@pytest.mark.parametrize("structured", [False, True], ids=["binary", "structured"])
@pytest.mark.parametrize("etag_field", ["etag", "eTag"])
def test_eventbridge_object_created(structured: bool, etag_field: str) -> None:
    headers, body = http_event(eventbridge(etag_field=etag_field), structured=structured)
    [obj] = objects_created(parse_cloudevent(headers, body))
    assert (obj.bucket, obj.key, obj.etag, obj.size) == ("uploads", KEY, "abc123", 1234)
    assert (obj.incoming.tenant, obj.incoming.image_id, obj.incoming.ext) == (
        "acme",
        "img-1",
        "jpg",
    )
    assert obj.event_id == "m-1"


def test_s3_notification_keys_are_url_decoded() -> None:
    headers, body = http_event(s3_notification())
    [obj] = objects_created(parse_cloudevent(headers, body))
    assert obj.key == KEY and obj.etag == "abc123"


@pytest.mark.parametrize("inner", [eventbridge(), s3_notification()], ids=["eventbridge", "s3"])
def test_sqs_message_body_as_integrationsource_sends_it(inner: dict[str, Any]) -> None:
    """Knative IntegrationSource aws.sqs: data is the raw SQS body (a JSON string)."""
    headers, body = http_event(inner, etype="dev.knative.eventing.aws-sqs", raw=True)
    [obj] = objects_created(parse_cloudevent(headers, body))
    assert obj.key == KEY


def test_sqs_message_envelope_with_body_field() -> None:
    message = {"MessageId": "x", "Body": json.dumps(eventbridge()), "ReceiptHandle": "r"}
    [obj] = objects_created(parse_cloudevent(*http_event(message)))
    assert obj.key == KEY


@pytest.mark.parametrize(
    "data, reason",
    [
        ({"hello": "world"}, "not an S3 object-created"),
        ({**eventbridge(), "detail-type": "Object Tags Added"}, "not an S3 Object Created"),
        ({**eventbridge(), "source": "aws.ec2"}, "not an S3 Object Created"),
        (eventbridge(key="results/acme/img-1/anonymized.jpg"), "is not incoming/"),
        (eventbridge(key="incoming/ACME/2026/11/22/img-1.jpg"), "is not incoming/"),
        (eventbridge(key="incoming/acme/2026/13/40/img-1.jpg"), "impossible date"),
        (eventbridge(key="incoming/acme/2026/11/22/img-1.gif"), "extension"),
        ({"Records": []}, "non-empty list"),
        (
            {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete"}]},
            "not ObjectCreated",
        ),
        ({"Service": "Amazon S3", "Event": "s3:TestEvent"}, "test event"),
        (
            {"detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {}}},
            "detail.object",
        ),
        ([1, 2, 3], "not an S3 object-created"),
    ],
)
def test_foreign_or_malformed_data_is_invalid(data: Any, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        objects_created(parse_cloudevent(*http_event(data)))


@pytest.mark.parametrize(
    "headers, body",
    [
        ({"content-type": "application/json"}, b'{"not": "a cloudevent"}'),
        (
            {
                "ce-specversion": "1.0",
                "ce-type": "t",
                "ce-source": "s",
                "ce-id": "1",
                "content-type": "application/json",
            },
            b"{not json",
        ),
        (
            {
                "ce-specversion": "1.0",
                "ce-type": "t",
                "ce-source": "s",
                "ce-id": "1",
                "content-type": "application/octet-stream",
            },
            b"\xff\xfe\x00",
        ),
        ({"content-type": "application/cloudevents+json"}, b"[]"),
    ],
)
def test_unparseable_requests_are_invalid(headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(InvalidEvent):
        objects_created(parse_cloudevent(headers, body))


def test_our_own_reply_types_are_refused_to_break_loops() -> None:
    with pytest.raises(InvalidEvent, match="reply loop"):
        parse_cloudevent(*http_event(eventbridge(), etype=ANONYMIZED_TYPE))


def test_reply_event_round_trips_as_binary_cloudevent() -> None:
    record = {"tenant": "acme", "image_id": "img-1", "status": "failed"}
    headers, body = reply_event(record, failed=True, shadow=False, model_name="person_segmenter")
    event = from_http(headers, body)
    assert event["type"] == FAILED_TYPE
    assert event["source"] == "siteveil/transformer/person_segmenter"
    assert event["subject"] == "acme/img-1"
    assert event.get_data() == record


def test_shadow_reply_types_differ_from_production() -> None:
    headers, _ = reply_event(
        {"tenant": "a", "image_id": "b"}, failed=False, shadow=True, model_name="m"
    )
    assert headers["ce-type"] == "siteveil.shadow.anonymized"
