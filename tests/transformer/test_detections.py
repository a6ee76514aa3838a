"""Detector boxes: the score cut, tile → frame mapping, one box per object across tiles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from transformer.detections import Detection, frame_detections, grown, non_max_suppression
from transformer.errors import PredictorUnavailable
from transformer.tiling import Tile, TilePlan

# two 512² tiles at scale 1 that overlap by 256 px, then the frame shrunk to one tile
PLAN = TilePlan(
    (Tile(0, 0, 512, 512, 1.0), Tile(256, 0, 512, 512, 1.0), Tile(0, 0, 768, 512, 512 / 768)),
    512,
    512,
)


def rows(*per_tile: list[tuple[float, float, float, float, float]], k: int = 4) -> np.ndarray:
    out = np.zeros((len(per_tile), k, 5), np.float32)
    for i, boxes in enumerate(per_tile):
        for j, box in enumerate(boxes):
            out[i, j] = box
    return out


def test_one_person_seen_by_two_tiles_and_the_whole_frame_is_one_detection() -> None:
    # a person at frame x 300..340, y 100..200: tile 0 sees it at 300, tile 1 at 44, level 2 small
    s = 512 / 768
    output = rows(
        [(300 / 512, 100 / 512, 340 / 512, 200 / 512, 0.9)],
        [(44 / 512, 100 / 512, 84 / 512, 200 / 512, 0.8)],
        [(300 * s / 512, 100 * s / 512, 340 * s / 512, 200 * s / 512, 0.7)],
    )
    found = frame_detections(output, PLAN, "person_detector", 0.5)
    assert len(found) == 1
    d = found[0]
    assert (d.x0, d.y0, d.x1, d.y1) == pytest.approx((300, 100, 340, 200), abs=0.01)
    assert d.score == pytest.approx(0.9) and d.role == "person_detector"


def test_scores_under_the_threshold_and_padding_rows_are_dropped() -> None:
    output = rows([(0.1, 0.1, 0.2, 0.2, 0.3)], [], [])
    assert frame_detections(output, PLAN, "face_detector", 0.5) == []
    assert frame_detections(rows([], [], []), PLAN, "face_detector", 0.5) == []


def test_two_people_side_by_side_stay_two() -> None:
    output = rows([(0.1, 0.1, 0.2, 0.4, 0.9), (0.25, 0.1, 0.35, 0.4, 0.85)], [], [])
    assert len(frame_detections(output, PLAN, "person_detector", 0.5)) == 2


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 4, 5), np.float32),
        np.zeros((3, 4, 4), np.float32),
        np.zeros((3, 5), np.float32),
    ],
)
def test_an_output_of_the_wrong_shape_is_a_predictor_error(bad: np.ndarray) -> None:
    with pytest.raises(PredictorUnavailable, match="detector output has shape"):
        frame_detections(bad, PLAN, "person_detector", 0.5)


def test_non_finite_boxes_are_a_predictor_error_never_an_empty_result() -> None:
    output = rows([(0.1, 0.1, np.nan, 0.2, 0.9)], [], [])
    with pytest.raises(PredictorUnavailable, match="non-finite"):
        frame_detections(output, PLAN, "face_detector", 0.5)


@given(
    st.lists(
        st.tuples(
            st.floats(0, 900),
            st.floats(0, 900),
            st.floats(1, 100),
            st.floats(1, 100),
            st.floats(0, 1),
        ),
        max_size=30,
    )
)
def test_nms_covers_every_box_it_drops_with_a_kept_box_scoring_at_least_as_high(
    boxes: list[tuple[float, float, float, float, float]],
) -> None:
    found = [Detection("face_detector", x, y, x + w, y + h, s) for x, y, w, h, s in boxes]
    kept = non_max_suppression(found)
    assert {k.score for k in kept} <= {d.score for d in found}
    assert len(kept) <= len(found)
    for d in found:
        covering = [
            k
            for k in kept
            if k.x0 <= d.x0
            and k.y0 <= d.y0
            and d.x1 <= k.x1
            and d.y1 <= k.y1
            and k.score >= d.score - 1e-9
        ]
        assert covering, "a box was dropped without a kept box covering it"


def test_nms_merges_a_tile_cut_box_with_the_whole_person_it_duplicates() -> None:
    """The best-scoring box misses the head (a tile cut the person); the whole-person box from
    another tile overlaps it by IoU 0.75 and is merged in, so the head stays covered."""
    cut = Detection("person_detector", 100, 217, 117, 268, 0.71)
    whole = Detection("person_detector", 101, 200, 118, 268, 0.55)
    other = Detection("person_detector", 300, 200, 317, 268, 0.6)
    kept = non_max_suppression([cut, whole, other])
    assert kept == [
        Detection("person_detector", 100, 200, 118, 268, 0.71),
        other,
    ]


def _iou(a: Detection, b: Detection) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    return inter / (a.width * a.height + b.width * b.height - inter)


def test_grown_adds_the_margin_of_the_longer_side_and_clips_to_the_frame() -> None:
    d = Detection("face_detector", 10, 20, 30, 60, 0.9)  # 20 wide, 40 tall
    assert grown(d, 0.25, 100, 100) == (0, 10, 40, 70)
    assert grown(d, 1.0, 70, 40) == (0, 0, 40, 70)


def test_a_narrow_person_box_grows_sideways_with_the_persons_height() -> None:
    """A 68-px person the detector boxed 17 px wide: the back of the head 5 px to the side is
    inside the grown box (10 % of 17 px would have left it showing)."""
    person = Detection("person_detector", 100, 200, 117, 268, 0.8)
    x0, y0, x1, y1 = grown(person, 0.1, 1080, 1920)
    assert x1 - 117 >= 6 and 100 - x0 >= 6
    assert x1 >= 117 + 5  # the hair
    assert (y0, y1) == (193, 275)
