"""Detection parity: one-to-one box matching, what fails it and what a borderline score forgives."""

from __future__ import annotations

import numpy as np

from export.detection_parity import DetectionThresholds, compare_boxes, nms

T = DetectionThresholds(min_iou=0.95, max_score_error=1e-3, score_threshold=0.1, nms_iou=0.3)
FACE = [0.2, 0.2, 0.4, 0.5, 0.9]
OTHER = [0.6, 0.1, 0.7, 0.3, 0.5]


def boxes(*rows: list[float]) -> np.ndarray:
    return np.asarray(rows, np.float32).reshape(-1, 5)


def test_same_boxes_in_any_order_pass() -> None:
    case = compare_boxes("x", boxes(FACE, OTHER), boxes(OTHER, FACE), T)
    assert case.passed and case.min_iou == 1.0 and case.reference_boxes == 2


def test_a_missing_an_extra_or_a_moved_box_fails() -> None:
    assert not compare_boxes("missing", boxes(FACE, OTHER), boxes(FACE), T).passed
    assert not compare_boxes("extra", boxes(FACE), boxes(FACE, OTHER), T).passed
    moved = [0.22, 0.2, 0.42, 0.5, 0.9]  # IoU 0.82
    case = compare_boxes("moved", boxes(FACE), boxes(moved), T)
    assert not case.passed and 0.8 < case.min_iou < 0.85
    rescored = [*FACE[:4], 0.85]
    assert not compare_boxes("score", boxes(FACE), boxes(rescored), T).passed


def test_candidate_duplicates_are_removed_by_the_references_nms() -> None:
    neighbour = [0.21, 0.21, 0.41, 0.51, 0.6]  # the folded graph leaves NMS to the transformer
    assert compare_boxes("nms", boxes(FACE), boxes(FACE, neighbour), T).passed
    assert len(nms(boxes(FACE, neighbour), 0.3)) == 1


def test_a_box_at_the_score_threshold_may_be_on_one_side_only() -> None:
    borderline = [0.6, 0.6, 0.7, 0.7, 0.1003]  # the other side scored it 0.0999: not compared
    assert compare_boxes("edge", boxes(FACE), boxes(FACE, borderline), T).passed
    clear = [0.6, 0.6, 0.7, 0.7, 0.2]
    assert not compare_boxes("clear", boxes(FACE), boxes(FACE, clear), T).passed
