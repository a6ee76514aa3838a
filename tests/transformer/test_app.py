"""HTTP behaviour of the transformer: reply events, status codes (4xx never retried, 5xx retried)."""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import pytest
import simplejpeg
from cloudevents.v1.conversion import to_binary, to_structured
from cloudevents.v1.http import CloudEvent, from_http

from transformer import logs
from transformer.app import create_app
from transformer.config import Settings
from transformer.errors import PredictorUnavailable
from transformer.storage import Storage

from .conftest import SquarePredictor

KEY = "incoming/acme/2026/11/22/img-1.jpg"


def eventbridge(key: str = KEY, etag: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": key, "size": 10}
    if etag:
        obj["etag"] = etag
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "uploads"}, "object": obj},
    }


def post(
    client: Any,
    data: Any,
    *,
    structured: bool = False,
    etype: str = "dev.knative.eventing.aws-sqs",
) -> Any:
    event = CloudEvent({"type": etype, "source": "test", "id": "ev-1"}, data)
    headers, body = (to_structured if structured else to_binary)(event)
    return client.post("/", headers=headers, data=body)


@pytest.fixture
def client_for(s3: Any) -> Any:
    def make(predictor: Any, **extra: Any) -> Any:
        settings = Settings(
            model_name="person_segmenter",
            predictor_host="unused:1",
            results_bucket="results",
            **extra,
        )
        return create_app(settings, storage=Storage(s3), predictor=predictor).test_client()

    return make


@pytest.mark.parametrize("structured", [False, True], ids=["binary", "structured"])
def test_anonymized_reply_event(
    client_for: Any,
    put_upload: Any,
    astronaut: np.ndarray,
    square_predictor: SquarePredictor,
    structured: bool,
) -> None:
    _, etag = put_upload(simplejpeg.encode_jpeg(astronaut))
    response = post(client_for(square_predictor), eventbridge(etag=etag), structured=structured)
    assert response.status_code == 200
    reply = from_http(dict(response.headers), response.data)
    assert reply["type"] == "siteveil.image.anonymized"
    assert reply["subject"] == "acme/img-1"
    assert reply.get_data()["outputs"]["anonymized"] == "results/acme/img-1/anonymized.jpg"


def test_corrupt_image_replies_failed_with_reason(
    client_for: Any, put_upload: Any, s3: Any, square_predictor: SquarePredictor
) -> None:
    put_upload(b"\xff\xd8\xff garbage that is not a jpeg")
    response = post(client_for(square_predictor), eventbridge())
    assert response.status_code == 200
    reply = from_http(dict(response.headers), response.data)
    assert reply["type"] == "siteveil.image.failed"
    assert "corrupt JPEG" in reply.get_data()["error"]["reason"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="results")["Contents"]]
    # no image, no mask: the record and its index entry (transformer/index.py) only
    assert [k for k in keys if "/_index/" not in k] == ["results/acme/img-1/result.json"]
    (entry,) = [k for k in keys if "/_index/" in k]
    assert entry.endswith("_img-1_failed_.json")


@pytest.mark.parametrize(
    "body, headers",
    [
        (b'{"hello": "world"}', {"content-type": "application/json"}),
        (
            b"not json",
            {
                "ce-specversion": "1.0",
                "ce-id": "1",
                "ce-source": "s",
                "ce-type": "t",
                "content-type": "application/json",
            },
        ),
    ],
)
def test_malformed_requests_are_400_with_a_reason(
    client_for: Any, square_predictor: SquarePredictor, body: bytes, headers: dict[str, str]
) -> None:
    response = client_for(square_predictor).post("/", data=body, headers=headers)
    assert response.status_code == 400
    assert response.json["error"] == "InvalidEvent" and response.json["reason"]


def test_foreign_events_are_400(client_for: Any, square_predictor: SquarePredictor) -> None:
    response = post(client_for(square_predictor), {"Records": [{"eventSource": "aws:sqs"}]})
    assert response.status_code == 400 and "not ObjectCreated" in response.json["reason"]


def test_missing_object_replies_failed(client_for: Any, square_predictor: SquarePredictor) -> None:
    response = post(client_for(square_predictor), eventbridge())
    assert response.status_code == 200
    reply = from_http(dict(response.headers), response.data)
    assert reply["type"] == "siteveil.image.failed"
    assert reply.get_data()["error"]["type"] == "ObjectNotFound"


def test_predictor_down_is_503(
    client_for: Any,
    put_upload: Any,
    astronaut: np.ndarray,
    square_predictor: SquarePredictor,
    s3: Any,
) -> None:
    put_upload(simplejpeg.encode_jpeg(astronaut))
    square_predictor.fail_with = PredictorUnavailable("connection refused")
    client = client_for(square_predictor)
    response = post(client, eventbridge())
    assert response.status_code == 503 and response.json["error"] == "PredictorUnavailable"
    assert "Contents" not in s3.list_objects_v2(Bucket="results")
    assert client.get("/v2/health/ready").status_code == 503


def test_oversized_event_is_413(client_for: Any, square_predictor: SquarePredictor) -> None:
    response = client_for(square_predictor).post(
        "/", data=b"x" * (2 * 1024 * 1024), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_health_paths(client_for: Any, square_predictor: SquarePredictor) -> None:
    client = client_for(square_predictor)
    assert client.get("/").json == {"status": "alive"}
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").json == {"ready": True}
    assert client.get("/v2/models/person_segmenter/ready").status_code == 200
    assert client.get("/v2/models/other/ready").status_code == 404
    assert client.get("/nope").status_code == 404
    assert client.put("/").status_code == 405


def test_metrics_count_outcomes(
    client_for: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    client = client_for(square_predictor)

    def count(outcome: str) -> float:
        for line in client.get("/metrics").data.decode().splitlines():
            if line.startswith(f'siteveil_events_total{{outcome="{outcome}"}}'):
                return float(line.split()[-1])
        return 0.0

    before = count("anonymized"), count("rejected")
    put_upload(simplejpeg.encode_jpeg(astronaut))
    post(client, eventbridge())
    post(client, {"nope": 1})
    assert (count("anonymized"), count("rejected")) == (before[0] + 1, before[1] + 1)


def test_logs_carry_ids_but_never_pixels_or_secrets(
    client_for: Any,
    put_upload: Any,
    astronaut: np.ndarray,
    square_predictor: SquarePredictor,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Even at DEBUG, our logging keeps botocore (which logs signed headers and bodies) quiet."""
    put_upload(simplejpeg.encode_jpeg(astronaut))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure("DEBUG")
    try:
        post(client_for(square_predictor), eventbridge())
        post(client_for(square_predictor), {"nope": 1})
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    processed = [line for line in lines if line["message"] == "image processed"]
    assert processed and processed[0]["tenant"] == "acme" and processed[0]["image_id"] == "img-1"
    assert any(line.get("status") == 400 for line in lines)
    text = json.dumps(lines)
    for secret in ("testing", "X-Amz-Signature", "Authorization", "\\xff\\xd8", "ReceiptHandle"):
        assert secret not in text, secret


def eventbridge_in(bucket: str, key: str = KEY) -> dict[str, Any]:
    event = eventbridge(key)
    event["detail"]["bucket"]["name"] = bucket
    return event


@pytest.mark.parametrize("bucket", ["results", "someone-elses-bucket"])
def test_events_naming_another_bucket_are_400(
    client_for: Any,
    put_upload: Any,
    astronaut: np.ndarray,
    s3: Any,
    bucket: str,
    square_predictor: SquarePredictor,
) -> None:
    """Issue 14 §3: an event naming the results bucket was read and "anonymized"; one naming a
    nonexistent bucket wrote a `failed` record under that tenant."""
    s3.put_object(Bucket="results", Key=KEY, Body=simplejpeg.encode_jpeg(astronaut))
    client = client_for(square_predictor, upload_buckets=("uploads",))
    response = post(client, eventbridge_in(bucket))
    assert response.status_code == 400
    assert "is not an upload bucket" in response.json["reason"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="results")["Contents"]] == [KEY]
    assert square_predictor.calls == 0


def test_without_configured_upload_buckets_the_results_bucket_is_still_refused(
    client_for: Any, square_predictor: SquarePredictor
) -> None:
    response = post(client_for(square_predictor), eventbridge_in("results"))
    assert response.status_code == 400 and "'results'" in response.json["reason"]


def test_the_configured_upload_bucket_is_accepted(
    client_for: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    put_upload(simplejpeg.encode_jpeg(astronaut))
    response = post(client_for(square_predictor, upload_buckets=("uploads",)), eventbridge())
    assert response.status_code == 200
    assert from_http(dict(response.headers), response.data)["type"] == "siteveil.image.anonymized"


@pytest.mark.parametrize(
    "body, headers",
    [
        (b"\x00not json\n" * 90_000, {"content-type": "application/json"}),
        (b"{" * 900_000, {"content-type": "application/cloudevents+json"}),
    ],
)
def test_reasons_are_bounded_and_never_echo_the_body(
    client_for: Any,
    square_predictor: SquarePredictor,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    headers: dict[str, str],
) -> None:
    """Issue 14 §4: a 900 KiB non-JSON body came back as a 921 754-byte 400 and log line."""
    with caplog.at_level(logging.WARNING, logger="siteveil.transformer"):
        response = client_for(square_predictor).post("/", data=body, headers=headers)
    assert response.status_code == 400
    assert len(response.data) < 1000
    assert "not json" not in response.json["reason"] and "{{{{" not in response.json["reason"]
    assert all(
        len(r.getMessage()) + len(str(r.__dict__.get("reason"))) < 1000 for r in caplog.records
    )


def test_long_keys_are_cut_in_the_reason(
    client_for: Any, square_predictor: SquarePredictor
) -> None:
    key = "incoming/acme/" + "x" * 200_000 + "\n.jpg"
    response = post(client_for(square_predictor), eventbridge(key))
    assert response.status_code == 400
    reason = response.json["reason"]
    assert len(reason) <= 300 and "\n" not in reason and "more chars" in reason


@pytest.mark.parametrize("missing", ["ce-type", "ce-id", "ce-source", "ce-specversion"])
def test_binary_event_without_a_required_attribute_names_it(
    client_for: Any, square_predictor: SquarePredictor, missing: str
) -> None:
    """Issue 14 §5: a binary-mode event without ce-type or ce-id was answered "Failed to find
    specversion"."""
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "1",
        "ce-source": "s",
        "ce-type": "t",
        "content-type": "application/json",
    }
    del headers[missing]
    response = client_for(square_predictor).post(
        "/", data=json.dumps(eventbridge()), headers=headers
    )
    assert response.status_code == 400
    assert missing in response.json["reason"] and "specversion" not in response.json[
        "reason"
    ].replace("ce-specversion", "")
