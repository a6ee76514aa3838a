"""The union of several models: segmenter pixels ∪ person boxes ∪ face boxes, faces always covered."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer.compose import CompositionOptions, ModelInput, compose, model_input
from transformer.model_contract import ModelContract, contract_from_config

from .conftest import DEMO_CONFIG

OPTIONS = CompositionOptions(
    threshold=0.5, dilation_px=0, person_box_margin=0.1, face_box_margin=0.25
)


def detector_config(role: str, size: int = 128) -> dict[str, Any]:
    return {
        "name": role,
        "max_batch_size": 32,
        "input": [{"name": "image", "data_type": "TYPE_FP32", "dims": [3, size, size]}],
        "output": [{"name": "detections", "data_type": "TYPE_FP32", "dims": [20, 5]}],
        "parameters": {
            "siteveil.role": {"string_value": role},
            "siteveil.input_layout": {"string_value": "NCHW"},
            "siteveil.color_order": {"string_value": "BGR"},
            "siteveil.output_kind": {"string_value": "boxes"},
            "siteveil.score_threshold": {"string_value": "0.4"},
            "siteveil.min_object_px": {"string_value": "16"},
            "siteveil.max_object_px": {"string_value": str(size)},
        },
    }


@pytest.fixture
def face_contract() -> ModelContract:
    return contract_from_config(detector_config("face_detector"))


@pytest.fixture
def person_contract() -> ModelContract:
    return contract_from_config(detector_config("person_detector"))


def boxes_at(
    sent: ModelInput, frame_box: tuple[int, int, int, int], score: float, slot: int = 0
) -> np.ndarray:
    """What a perfect detector answers: the frame box in every tile that holds all of it."""
    assert sent.plan is not None
    out = np.zeros((len(sent.plan.tiles), 20, 5), np.float32)
    x0, y0, x1, y1 = frame_box
    for i, t in enumerate(sent.plan.tiles):
        if t.x <= x0 and t.y <= y0 and x1 <= t.x + t.width and y1 <= t.y + t.height:
            out[i, slot] = (
                (x0 - t.x) * t.scale / sent.plan.model_width,
                (y0 - t.y) * t.scale / sent.plan.model_height,
                (x1 - t.x) * t.scale / sent.plan.model_width,
                (y1 - t.y) * t.scale / sent.plan.model_height,
                score,
            )
    return out


def test_a_face_the_segmenter_misses_is_covered_with_its_margin(
    demo_contract: ModelContract, face_contract: ModelContract
) -> None:
    rgb = np.zeros((300, 400, 3), np.uint8)
    seg = model_input(rgb, demo_contract, 40, 64)
    face = model_input(rgb, face_contract, 16, 64)
    nothing = np.zeros((1, 256, 256, 1), np.float32)  # the segmenter sees no one
    found = compose(
        [seg, face], [nothing, boxes_at(face, (100, 50, 120, 74), 0.9)], 300, 400, OPTIONS
    )
    assert found.mask[50:74, 100:120].all()  # the face
    assert found.mask[44:80, 94:126].all()  # and 25 % of its 24-px height around it
    # and no more: the tiles that saw the face map it back to within a pixel of each other
    ((x0, y0, x1, y1),) = found.faces
    assert abs(x0 - 94) <= 1 and abs(y0 - 44) <= 1 and abs(x1 - 126) <= 1 and abs(y1 - 80) <= 1
    assert found.mask.sum() == (x1 - x0) * (y1 - y0)
    assert [d.role for d in found.detections] == ["face_detector"]
    covered = np.zeros_like(found.mask)
    for r in found.regions:
        covered[r.y : r.y + r.height, r.x : r.x + r.width] = True
    assert not (found.mask & ~covered).any()


@pytest.fixture
def seg_and_person(
    demo_contract: ModelContract, person_contract: ModelContract
) -> tuple[ModelInput, ModelInput, np.ndarray]:
    """A 256² frame for the segmenter and the person detector, and an empty P(person) map."""
    rgb = np.zeros((256, 256, 3), np.uint8)
    seg = model_input(rgb, demo_contract, 40, 64)
    person = model_input(rgb, person_contract, 40, 64)
    return seg, person, np.zeros((1, 256, 256, 1), np.float32)


def test_union_keeps_confirmed_segments_and_adds_person_boxes(
    seg_and_person: tuple[ModelInput, ModelInput, np.ndarray],
) -> None:
    seg, person, prob = seg_and_person
    prob[0, 10:60, 10:60] = 0.9  # a person the detector also boxes (its legs stick out)
    prob[0, 200:250, 10:60] = 0.9  # "a person" in the gravel that no detector confirms
    boxes = boxes_at(person, (20, 20, 50, 50), 0.8) + boxes_at(
        person, (150, 100, 170, 160), 0.8, slot=1
    )
    found = compose([seg, person], [prob, boxes], 256, 256, OPTIONS)
    assert found.mask[12:58, 12:58].all()  # the whole silhouette, beyond the box
    assert found.mask[100:160, 150:170].all()
    assert not found.mask[200:250, 10:60].any()
    assert found.faces == []
    assert len(found.regions) == 2
    # each box grew by 10 % of its longer side: the 20×60 one by 6 px on every side
    assert found.mask[94:166, 144:176].all()
    assert not found.mask[92, 160] and not found.mask[130, 142]


def test_unconfirmed_segments_stay_when_asked(
    seg_and_person: tuple[ModelInput, ModelInput, np.ndarray],
) -> None:
    seg, person, prob = seg_and_person
    prob[0, 200:250, 10:60] = 0.9
    nothing = np.zeros((len(person.plan.tiles), 20, 5), np.float32)  # type: ignore[union-attr]
    trusting = dataclasses.replace(OPTIONS, confirm_segments=False)
    assert compose([seg, person], [prob, nothing], 256, 256, trusting).mask[205:245, 15:55].all()
    assert not compose([seg, person], [prob, nothing], 256, 256, OPTIONS).mask.any()


def test_low_scores_add_nothing_and_segmenter_only_is_unchanged(
    seg_and_person: tuple[ModelInput, ModelInput, np.ndarray],
) -> None:
    seg, person, prob = seg_and_person
    prob[0, 10:60, 10:60] = 0.9
    weak = boxes_at(person, (150, 100, 170, 160), 0.3)  # under the model's 0.4
    trusting = dataclasses.replace(OPTIONS, confirm_segments=False)
    with_detector = compose([seg, person], [prob, weak], 256, 256, trusting)
    alone = compose([seg], [prob], 256, 256, OPTIONS)
    assert np.array_equal(with_detector.mask, alone.mask)
    assert with_detector.detections == []
    assert alone.mask[12:58, 12:58].all()  # no detector ran: the segmenter alone decides


def test_detectors_without_a_segmenter_are_enough(face_contract: ModelContract) -> None:
    rgb = np.zeros((200, 200, 3), np.uint8)
    face = model_input(rgb, face_contract, 16, 64)
    found = compose([face], [boxes_at(face, (20, 20, 40, 44), 0.95)], 200, 200, OPTIONS)
    assert found.mask.any() and found.mask[20:44, 20:40].all()


def test_a_huge_frame_is_searched_from_a_coarser_level_and_says_so(
    face_contract: ModelContract,
) -> None:
    rgb = np.zeros((2160, 3840, 3), np.uint8)
    sent = model_input(rgb, face_contract, 12, max_tiles=64)
    assert sent.plan is not None and len(sent.plan.tiles) <= 64
    assert sent.smallest_px is not None and sent.smallest_px > 12
    batches = list(sent.batches())
    assert all(len(b) <= 8 for b in batches)  # made a few tiles at a time, as they are sent
    assert np.concatenate(batches).shape == (len(sent.plan.tiles), 3, 128, 128)  # NCHW
    roomy = model_input(rgb, face_contract, 12, max_tiles=100_000)
    assert roomy.smallest_px == 12


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 380), st.integers(0, 280), st.integers(4, 80), st.integers(4, 80)),
        max_size=6,
    )
)
def test_every_detected_pixel_is_masked_and_inside_a_region(
    boxes: list[tuple[int, int, int, int]],
) -> None:
    contract = contract_from_config(detector_config("person_detector"))
    rgb = np.zeros((300, 400, 3), np.uint8)
    person = model_input(rgb, contract, 16, 64)
    output = np.zeros((len(person.plan.tiles), 20, 5), np.float32)  # type: ignore[union-attr]
    for x, y, w, h in boxes:
        output = np.maximum(output, boxes_at(person, (x, y, min(400, x + w), min(300, y + h)), 0.9))
    found = compose([person], [output], 300, 400, OPTIONS)
    covered = np.zeros_like(found.mask)
    for r in found.regions:
        covered[r.y : r.y + r.height, r.x : r.x + r.width] = True
    assert not (found.mask & ~covered).any()


def test_demo_config_is_a_segmenter_by_default() -> None:
    config = copy.deepcopy(DEMO_CONFIG)
    assert contract_from_config(config).role == "segmenter"
