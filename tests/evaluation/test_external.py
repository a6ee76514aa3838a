"""Frames annotated elsewhere: read with their people, bad annotation files refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluation.external import load_frames, resolution_name
from evaluation.runner import EvalError, decode_rgb, score_frame


def write(tmp_path: Path, frames: list[dict]) -> Path:
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps({"frames": frames}))
    return path


@pytest.fixture
def images(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    (tmp_path / "cam").mkdir()
    Image.fromarray(rng.integers(0, 255, (1080, 1920, 3), np.uint8)).save(tmp_path / "cam/A 1.jpg")
    Image.fromarray(rng.integers(0, 255, (300, 400, 3), np.uint8)).save(tmp_path / "cam/empty.png")
    return tmp_path


def test_frames_come_with_their_people_masks_and_sizes(images: Path) -> None:
    polygon = [[100, 100], [160, 100], [160, 300], [100, 300]]
    annotations = write(
        images,
        [
            {
                "image": "cam/A 1.jpg",
                "people": [
                    {"face": [110, 105, 150, 150], "body": polygon},
                    {"face": [500, 500, 510, 510], "body": [495, 495, 530, 560]},
                ],
            },
            {"image": "cam/empty.png", "people": []},
        ],
    )
    first, second = load_frames(annotations)
    assert (first.name, first.resolution, first.ext) == ("a-1", "1080p", "jpg")
    assert (second.name, second.resolution, second.ext, second.people) == (
        "empty",
        "400x300",
        "png",
        (),
    )
    tall, small = first.people
    assert tall.box == (100, 100, 161, 301) and tall.height == 201 and tall.body.all()
    assert small.box == (495, 495, 530, 560) and small.face == (500, 500, 510, 510)
    # They score like generated people: untouched, each face keeps its detail.
    original = decode_rgb(first.data)
    scores, frame = score_frame(first, original, np.zeros(original.shape[:2], bool))
    assert [s.height_bin for s in scores] == ["160-319", "64-95"]
    assert not any(s.face_unrecognisable for s in scores) and frame.people == 2


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([{"people": []}], "needs an `image`"),
        ([{"image": "cam/nothing.jpg"}], "cannot read the image"),
        ([{"image": "annotations.json"}], "not a .jpg"),
        ([{"image": "cam/empty.png", "people": [{"face": [0, 0, 5, 5]}]}], "needs `face` and"),
        (
            [
                {
                    "image": "cam/empty.png",
                    "people": [{"face": [0, 0, 500, 5], "body": [0, 0, 9, 9]}],
                }
            ],
            "not a box inside",
        ),
        (
            [
                {
                    "image": "cam/empty.png",
                    "people": [{"face": [0, 0, 5, 5], "body": [[1, 1], [2, 2]]}],
                }
            ],
            "three or more",
        ),
        (
            [{"image": "cam/empty.png", "people": [{"face": [0, 0, 5, 5], "body": "x"}]}],
            "list of numbers",
        ),
        ([], "at least one frame"),
    ],
)
def test_bad_annotations_are_refused_with_the_reason(
    images: Path, frames: list[dict], reason: str
) -> None:
    with pytest.raises(EvalError, match=reason):
        load_frames(write(images, frames))


def test_resolution_names() -> None:
    assert resolution_name(3840, 2160) == "4k"
    assert resolution_name(1280, 720) == "1280x720"
