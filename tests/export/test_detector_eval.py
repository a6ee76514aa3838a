"""The face detector's configured figures hold on frames we make; the measurement's rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from export import samples
from export.detection_parity import box_iou, folded_runner
from export.detector_eval import (
    BLAZEFACE_FULL_RANGE,
    Measurement,
    SizeResult,
    blazeface_input,
    blazeface_runner,
    measure,
)
from export.face_detector import FACE_CONTRACT, INPUT_SIZE, to_input
from export.fetch import fetch

MODEL = Path(__file__).resolve().parents[2] / "model_repository" / "face_detector" / "1"
ASTRONAUT_FACE = np.array([[182, 58, 270, 178]]) / 512  # CenterFace's box on the 512² photo


@pytest.fixture(scope="module")
def measurement() -> Measurement:
    assert (MODEL / "model.onnx").is_file(), "run `make model` first"
    return measure(
        folded_runner(MODEL / "model.onnx"),
        to_input,
        INPUT_SIZE,
        heights=(FACE_CONTRACT.min_object_px, FACE_CONTRACT.max_object_px),
        scenes_per_height=2,
        thresholds=(FACE_CONTRACT.score_threshold,),
    )


def test_faces_at_min_object_px_are_found_at_the_configured_threshold(
    measurement: Measurement,
) -> None:
    t = FACE_CONTRACT.score_threshold
    small, large = measurement.sizes
    assert small.face_px == FACE_CONTRACT.min_object_px
    assert small.faces["photo"] >= 5
    assert small.recall(t, "photo") >= 0.9, measurement.table()
    assert small.recall(t) >= 0.8, measurement.table()  # LFW's tight grey faces included
    assert large.recall(t, "photo") == 1.0, measurement.table()


def test_person_free_frames_stay_clean_at_the_configured_threshold(
    measurement: Measurement,
) -> None:
    assert {"rocket", "noise", "brick", "grass", "gravel", "rocket-2x"} <= set(
        measurement.negatives
    )
    worst = max(measurement.negatives.values())
    assert worst < FACE_CONTRACT.score_threshold - 0.05, measurement.table()


def _size(px: int, photo: tuple[int, int], lfw: tuple[int, int], false: int = 0) -> SizeResult:
    return SizeResult(
        face_px=px,
        faces={"photo": photo[1], "lfw": lfw[1]},
        found={"photo": {"0.4": photo[0]}, "lfw": {"0.4": lfw[0]}},
        false_boxes={"0.4": false},
    )


def test_recommended_values_follow_the_stated_rule() -> None:
    m = Measurement(
        input_size=(640, 640),
        thresholds=(0.4,),
        sizes=(
            _size(16, (1, 10), (0, 10)),
            _size(24, (10, 10), (2, 10)),  # photo faces all found, overall 0.6
            _size(32, (10, 10), (8, 10)),  # overall 0.9: the smallest reliable size
            _size(64, (10, 10), (6, 10)),  # tight LFW crops dip; photo faces still all found
            _size(256, (2, 2), (1, 2)),
        ),
        negatives={"rocket": 0.1},
    )
    assert m.recommended() == {"score_threshold": 0.4, "min_object_px": 32, "max_object_px": 256}
    dirty = Measurement((640, 640), (0.4,), m.sizes, negatives={"rocket": 0.38})
    assert dirty.clean_threshold() == 0.4  # the last candidate when none is clean enough


def test_blazeface_comparison_decodes_the_astronauts_face(export_cache: Path) -> None:
    runner = blazeface_runner(fetch(BLAZEFACE_FULL_RANGE, export_cache))
    (boxes,) = runner(blazeface_input(192)(samples.photo_rgb("astronaut")))
    best = boxes[np.argmax(boxes[:, 4])]
    assert best[4] > 0.8
    assert box_iou(best[None], ASTRONAUT_FACE)[0, 0] > 0.7


@pytest.mark.parametrize(("crop_index", "top_left"), [(0, (300, 40)), (1, (20, 400))])
def test_pasted_face_box_is_where_the_model_sees_the_face(
    crop_index: int, top_left: tuple[int, int]
) -> None:
    """The measurement's ground truth: the box paste_face returns is the face the model finds."""
    crop = samples.face_crops()[crop_index]
    canvas = samples.ground(INPUT_SIZE, seed=3)
    box = samples.paste_face(canvas, crop, 80, top_left)
    assert box[3] - box[1] == pytest.approx(80)
    (dets,) = folded_runner(MODEL / "model.onnx")(to_input(canvas))
    found = dets[dets[:, 4] >= FACE_CONTRACT.score_threshold]
    truth = np.asarray([box]) / np.asarray([INPUT_SIZE[1], INPUT_SIZE[0]] * 2)
    assert len(found) == 1
    assert box_iou(found, truth)[0, 0] > 0.7
