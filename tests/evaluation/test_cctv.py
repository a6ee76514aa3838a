"""evaluation/cctv.py: ground truth from a fixed camera, mosaics, and the real vtest.avi."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from evaluation import cctv
from evaluation.external import load_frames
from stack.config import REPO_ROOT

VIDEO = REPO_ROOT / ".cache" / "eval" / "vtest.avi"  # `make eval-cctv-video` (a TEST_DEP)


def _ground(h: int = 240, w: int = 320) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(90, 110, (h, w, 3), dtype=np.uint8)


def _with_person(frame: np.ndarray, x: int, y: int, w: int, h: int) -> np.ndarray:
    out = frame.copy()
    out[y : y + h, x : x + w] = (20, 30, 200)
    return out


def test_a_standing_person_is_found_with_the_head_in_the_top_seventh() -> None:
    empty = _ground()
    people = cctv.people_in(_with_person(empty, 100, 50, 20, 70), empty)
    assert len(people) == 1
    (person,) = people
    assert person.box == (100, 50, 120, 120)
    assert person.head == (100, 50, 120, 60)  # 70 / 7 rows
    assert len(person.body) >= 4


def test_wide_small_and_cut_regions_are_not_scored() -> None:
    empty = _ground()
    frame = _with_person(empty, 20, 40, 80, 60)  # two people side by side: too wide
    frame = _with_person(frame, 200, 100, 6, 20)  # under MIN_PERSON_PX
    frame = _with_person(frame, 250, 0, 15, 60)  # head above the image's top
    assert cctv.people_in(frame, empty) == []


def test_the_empty_scene_is_the_median_without_passers_by() -> None:
    empty = _ground()
    frames = [_with_person(empty, 10 + 30 * i, 50, 20, 70) for i in range(8)]
    assert np.array_equal(cctv.empty_scene(frames, every=1), empty)


def test_a_mosaic_scales_and_shifts_each_cells_people() -> None:
    empty = _ground()
    frame = _with_person(empty, 100, 50, 20, 70)
    people = cctv.people_in(frame, empty)
    layout = cctv.Layout("t", 2, 1, (160, 120))
    image, placed = cctv.mosaic([frame, frame], [people, people], layout)
    assert image.shape == (120, 320, 3)
    assert [p.box for p in placed] == [(50, 25, 60, 60), (210, 25, 220, 60)]
    assert [p.head for p in placed] == [(50, 25, 60, 30), (210, 25, 220, 30)]
    # the pixels moved with the boxes: the person's red is inside each box
    for p in placed:
        x0, y0, x1, y1 = p.box
        assert image[y0:y1, x0:x1, 2].mean() > 150


def test_the_person_free_mosaic_is_the_empty_scene_mirrored_in_every_other_cell() -> None:
    empty = _with_person(_ground(), 10, 10, 20, 30)  # something asymmetric to see the mirror
    layout = cctv.Layout("t", 2, 2, (320, 240))
    image = cctv.empty_mosaic(empty, layout)
    assert image.shape == (480, 640, 3)
    assert np.array_equal(image[:240, :320], empty)
    assert np.array_equal(image[:240, 320:], empty[:, ::-1])
    assert np.array_equal(image[240:, :320], empty)


def test_frame_indices_are_distinct_and_spread() -> None:
    picks = cctv.frame_indices(795, 48, start=7)
    assert len(set(picks)) == 48 and min(picks) >= 0 and max(picks) < 795
    with pytest.raises(ValueError):
        cctv.frame_indices(10, 11)


def test_the_real_video_gives_real_people_the_evaluation_reads(tmp_path: Path) -> None:
    """vtest.avi, fetched pinned by `make eval-cctv-video`: frame 200 shows seven people
    walking (counted by eye); the annotator finds each of them alone, and the mosaics it
    writes are read back by the evaluation's --scenes loader."""
    frames = cctv.read_video(VIDEO)
    assert len(frames) == 795 and frames[0].shape == (576, 768, 3)
    empty = cctv.empty_scene(frames)
    people = cctv.people_in(frames[200], empty)
    assert len(people) == 7
    assert sorted(p.box[3] - p.box[1] for p in people) == [43, 55, 61, 76, 77, 101, 105]

    annotations = cctv.build(tmp_path, VIDEO.parent, ["1080p-far"], 1, archive=None)
    frame, person_free = load_frames(annotations)
    assert frame.resolution == person_free.resolution == "1080p"
    assert len(frame.people) >= 30  # 12 cells of real CCTV, several people each
    assert person_free.people == ()  # the empty scene, scored as a person-free frame
    decoded = cv2.imdecode(np.frombuffer(person_free.data, np.uint8), cv2.IMREAD_COLOR)
    cell = cv2.cvtColor(cv2.resize(decoded[:360, :480], (768, 576)), cv2.COLOR_BGR2RGB)
    assert cctv.people_in(cell, empty) == []  # no one differs from the empty scene
    document = json.loads(annotations.read_text())
    image = cv2.imread(str(tmp_path / document["frames"][0]["image"]))
    assert image.shape == (1080, 1920, 3)
