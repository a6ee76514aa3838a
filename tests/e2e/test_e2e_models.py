"""Several models per image through the real stack: segmenter + person detector + face detector.

A stack of its own (moto, the real Triton serving all three models on CPU, the transformer under
Gunicorn with `--models`, the relay). The demo's composite holds portraits from 760 px down to
40 px; every face from 64 px up must come back unrecognisable, and a person-free 1080p frame must
stay (almost) untouched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from skimage import data

from evaluation.metrics import detail_kept, face_unrecognisable, masked_share
from evaluation.sources import ASTRONAUT, CAMERAMAN
from stack.config import REPO_ROOT
from stack.lifecycle import StackState, running_stack
from stack.samples import COMPOSITE_PEOPLE, composite
from stack.uploads import StackClient, wait_for_outcomes
from tests.e2e.conftest import e2e_config, require_stack_tools
from tests.e2e.e2e_support import decode_mask, decode_rgb, encode, unique_id
from transformer.keys import result_keys
from transformer.results import ResultRecord

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TENANT = "e2e-models"
MODELS = ("person_segmenter", "person_detector", "face_detector")
FACES = {"astronaut": ASTRONAUT.face, "camera": CAMERAMAN.face}  # in the 512² source photos


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackState]:
    require_stack_tools()
    for name in MODELS:
        if not (REPO_ROOT / "model_repository" / name / "1" / "model.onnx").exists():
            pytest.skip(f"model_repository/{name}/1/model.onnx is missing: run `make model`")
    config = dataclasses.replace(e2e_config(tmp_path_factory.mktemp("e2e-models")), models=MODELS)
    with running_stack(config) as state:
        yield state


def anonymize(
    stack: StackState, pixels: np.ndarray, name: str
) -> tuple[ResultRecord, np.ndarray, np.ndarray]:
    client = StackClient(stack)
    upload = client.upload(
        encode(pixels, "JPEG", quality=92), tenant=TENANT, image_id=unique_id(name), ext="jpg"
    )
    [outcome] = wait_for_outcomes(client, [upload], timeout_s=600)
    assert outcome.status == "anonymized", outcome
    keys = result_keys(TENANT, upload.image_id, "jpg")

    def read(key: str) -> bytes:
        body = client.get(stack.results_bucket, key)
        assert body is not None, key
        return body

    record = ResultRecord.model_validate_json(read(keys.record))
    return record, decode_rgb(read(keys.anonymized)), decode_mask(read(keys.mask))


def test_every_face_of_the_composite_from_64_px_is_unrecognisable(stack: StackState) -> None:
    frame = composite()
    record, out, mask = anonymize(stack, frame, "composite")
    assert [(m.name, m.role) for m in record.models] == [
        ("person_segmenter", "segmenter"),
        ("person_detector", "person_detector"),
        ("face_detector", "face_detector"),
    ]
    assert all(m.version == "1" for m in record.models)
    assert all(m.tiles and m.smallest_px for m in record.models[1:])
    assert {d.role for d in record.detections} == {"person_detector", "face_detector"}
    hidden = {}
    for source, size, left, top in COMPOSITE_PEOPLE:
        x0, y0, x1, y1 = (round(v * size / 512) for v in FACES[source])
        face = (left + x0, top + y0, left + x1, top + y1)
        hidden[(source, size)] = face_unrecognisable(detail_kept(frame, out, face))
    assert all(ok for (_, size), ok in hidden.items() if size >= 64), hidden
    # the rocket sky and ground between the people stay as they were
    assert mask[:40, :].mean() < 0.02


def test_a_person_free_frame_stays_untouched(stack: StackState) -> None:
    frame = np.asarray(Image.fromarray(data.rocket()).resize((1920, 1080)))
    record, _, mask = anonymize(stack, frame, "rocket")
    assert masked_share(mask) <= 0.02, record.detections
