"""The result record (`result.json`, schema_version 1) that the dashboard and the upload API read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from transformer.metadata import ImageMetadata

SCHEMA_VERSION: Literal[1] = 1
ANONYMIZED: Literal["anonymized"] = "anonymized"
FAILED: Literal["failed"] = "failed"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceObject(_Record):
    bucket: str
    key: str
    etag: str | None = None
    size: NonNegativeInt | None = None


class OutputKeys(_Record):
    bucket: str
    anonymized: str
    mask: str
    record: str


class ModelRef(_Record):
    name: str
    version: str | None = None  # None when the image failed before the model was called
    role: Literal["segmenter", "person_detector", "face_detector"] | None = None
    # detectors: how many tiles they saw and the smallest object height (frame px) searched for
    tiles: Annotated[int, Field(gt=0)] | None = None
    smallest_px: Annotated[float, Field(gt=0)] | None = None


class Detection(_Record):
    """A person or face a detector found, in pixels of the original image (before the margin)."""

    role: Literal["person_detector", "face_detector"]
    x: NonNegativeInt
    y: NonNegativeInt
    width: Annotated[int, Field(gt=0)]
    height: Annotated[int, Field(gt=0)]
    score: Annotated[float, Field(ge=0, le=1)]


class Region(_Record):
    """Bounding box of one connected person component, in pixels of the original image."""

    x: NonNegativeInt
    y: NonNegativeInt
    width: Annotated[int, Field(gt=0)]
    height: Annotated[int, Field(gt=0)]
    pixels: Annotated[int, Field(gt=0)]


class Anonymization(_Record):
    mode: Literal["blur", "pixelate", "fill"]
    threshold: Annotated[float, Field(gt=0, lt=1)]
    dilation_px: NonNegativeInt


class Failure(_Record):
    type: str
    reason: str


class ResultRecord(_Record):
    """One image's outcome. Written last: its presence means the result is complete."""

    schema_version: Literal[1] = SCHEMA_VERSION
    status: Literal["anonymized", "failed"]
    image_id: str
    tenant: str
    event_id: str
    source: SourceObject
    outputs: OutputKeys | None = None
    width: Annotated[int, Field(gt=0)] | None = None
    height: Annotated[int, Field(gt=0)] | None = None
    model: ModelRef  # the model KServe names (`--model_name`)
    models: list[ModelRef] = Field(default_factory=list)  # every model run on the image
    anonymization: Anonymization
    person_fraction: Annotated[float, Field(ge=0, le=1)] | None = None
    person_regions: list[Region] = Field(default_factory=list)
    detections: list[Detection] = Field(default_factory=list)
    timings_ms: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    transformer_version: str
    processed_at: datetime
    original_deleted: bool = False
    error: Failure | None = None
    # the customer's camera id, capture time and labels, as signed into the upload (optional)
    metadata: ImageMetadata | None = None


def result_json_schema() -> dict[str, object]:
    """The JSON Schema of result.json, for consumers in other languages (and the tests)."""
    schema = ResultRecord.model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": SCHEMA_ID, **schema}


JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:siteveil:schema:result:1"
"""Published as docs/result.schema.json (a test keeps the file equal to this function)."""


if __name__ == "__main__":  # python -m transformer.results > docs/result.schema.json
    import json

    print(json.dumps(result_json_schema(), indent=2, sort_keys=True))
