"""The cluster's dead-letter recorder: a dead-lettered CloudEvent (Knative's knativeerror*
extensions) becomes a `failed` record; a redriven upload is processed again. Issue 14 §7."""

from __future__ import annotations

from typing import Any

import numpy as np
import simplejpeg
from cloudevents.v1.conversion import to_binary
from cloudevents.v1.http import CloudEvent

from transformer.config import Settings
from transformer.deadletters import create_app
from transformer.events import ObjectCreated
from transformer.keys import parse_incoming_key
from transformer.pipeline import Pipeline
from transformer.results import ResultRecord
from transformer.storage import Storage

from .conftest import SquarePredictor

KEY = "incoming/acme/2026/11/22/img-1.jpg"
SETTINGS = Settings(
    model_name="person_segmenter",
    predictor_host="-",
    results_bucket="results",
    upload_buckets=("uploads",),
)


def dead_lettered(bucket: str = "uploads", **extensions: str) -> tuple[dict[str, str], bytes]:
    data = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": bucket}, "object": {"key": KEY, "etag": "e1"}},
    }
    attributes = {
        "type": "dev.knative.connector.event.aws-sqs",
        "source": "arn:aws:sqs:eu-west-1:1:q",
        "id": "m-1",
        **extensions,
    }
    return to_binary(CloudEvent(attributes, data))


def result(s3: Any) -> ResultRecord:
    body = s3.get_object(Bucket="results", Key="results/acme/img-1/result.json")["Body"]
    return ResultRecord.model_validate_json(body.read())


def test_a_dead_lettered_event_is_recorded_failed_with_knatives_reason(s3: Any) -> None:
    client = create_app(SETTINGS, storage=Storage(s3)).test_client()
    headers, body = dead_lettered(knativeerrorcode="503", knativeerrordata="Triton is down")
    response = client.post("/", headers=headers, data=body)
    assert response.status_code == 200 and response.json["recorded"] == ["img-1"]
    record = result(s3)
    assert record.status == "failed" and record.error is not None
    assert record.error.type == "DeadLettered"
    assert record.error.reason == "dead-lettered: HTTP 503: Triton is down"
    assert not record.original_deleted


def test_dead_letters_naming_another_bucket_are_400(s3: Any) -> None:
    client = create_app(SETTINGS, storage=Storage(s3)).test_client()
    headers, body = dead_lettered("results")
    assert client.post("/", headers=headers, data=body).status_code == 400
    assert "Contents" not in s3.list_objects_v2(Bucket="results")


def test_a_redriven_upload_is_processed_again(
    s3: Any, put_upload: Any, astronaut: np.ndarray, square_predictor: SquarePredictor
) -> None:
    key, etag = put_upload(simplejpeg.encode_jpeg(astronaut), KEY)
    client = create_app(SETTINGS, storage=Storage(s3)).test_client()
    headers, body = dead_lettered()
    client.post("/", headers=headers, data=body)
    assert result(s3).status == "failed"
    obj = ObjectCreated("m-1", "uploads", key, etag, None, parse_incoming_key(key))
    outcome = Pipeline(SETTINGS, Storage(s3), square_predictor).process(obj)
    assert not outcome.duplicate and result(s3).status == "anonymized"
