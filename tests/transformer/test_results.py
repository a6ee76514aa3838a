"""result.json: versioned, strict, and its JSON Schema is published for other languages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from transformer.results import ResultRecord, result_json_schema


def record(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "status": "anonymized",
        "image_id": "img-1",
        "tenant": "acme",
        "event_id": "e",
        "source": {"bucket": "b", "key": "incoming/acme/2026/11/22/img-1.jpg"},
        "model": {"name": "person_segmenter", "version": "1"},
        "anonymization": {"mode": "blur", "threshold": 0.5, "dilation_px": 2},
        "transformer_version": "0.1.0",
        "processed_at": datetime(2026, 11, 22, tzinfo=UTC),
    }
    return {**base, **extra}


def test_round_trip_and_schema_version() -> None:
    parsed = ResultRecord.model_validate(record(person_fraction=0.25))
    again = ResultRecord.model_validate_json(parsed.model_dump_json())
    assert again == parsed and again.schema_version == 1


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "done"},
        {"person_fraction": 1.5},
        {"unknown_field": 1},
        {"schema_version": 2},
        {"person_regions": [{"x": 0, "y": 0, "width": 0, "height": 1, "pixels": 1}]},
    ],
)
def test_invalid_records_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ResultRecord.model_validate(record(**bad))


def test_json_schema_validates_what_the_model_writes() -> None:
    schema = result_json_schema()
    jsonschema.validate(ResultRecord.model_validate(record()).model_dump(mode="json"), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**record(), "status": "done", "processed_at": "x"}, schema)


def test_published_schema_is_the_models_schema() -> None:
    """docs/result.schema.json is what consumers in other languages read: it must not drift.
    Regenerate it with `python -m transformer.results > docs/result.schema.json`."""
    published = json.loads((Path(__file__).parents[2] / "docs" / "result.schema.json").read_text())
    assert published == result_json_schema()
    assert "metadata" in published["properties"] and published["$id"].endswith(":1")


def test_metadata_block_is_optional_and_validated() -> None:
    assert ResultRecord.model_validate(record()).metadata is None
    with_meta = record(metadata={"camera_id": "cam-7", "captured_at": "2026-11-22T08:00:00+01:00"})
    parsed = ResultRecord.model_validate(with_meta)
    assert parsed.metadata is not None and parsed.metadata.captured_at == datetime(
        2026, 11, 22, 7, tzinfo=UTC
    )
    for bad in (
        {"camera_id": "cam_7"},
        {"captured_at": "2026-11-22T08:00:00"},  # no offset: not RFC 3339
        {"labels": {f"k{i}": "v" for i in range(11)}},
        {"labels": {"Upper": "v"}},
    ):
        with pytest.raises(ValidationError):
            ResultRecord.model_validate(record(metadata=bad))
