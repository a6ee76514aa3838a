"""Scoring one returned frame against its ground truth, and how a model set reaches the stack."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from evaluation.runner import (
    EvalError,
    Frame,
    check_models,
    decode_rgb,
    encode_frame,
    score_frame,
    stack_config,
)
from evaluation.scenes import make_scene, scenes
from stack.config import REPO_ROOT, StackConfig


@pytest.fixture(scope="module")
def frame() -> Frame:
    scene = make_scene("540p-people-000", "540p", [300, 120, 60], np.random.default_rng(5))
    assert len(scene.people) == 3
    return encode_frame(scene)


def returned(pixels: np.ndarray) -> np.ndarray:
    """What the transformer sends back: a JPEG of the anonymized frame."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return decode_rgb(buffer.getvalue())


def test_an_untouched_frame_leaves_every_face_recognisable(frame: Frame) -> None:
    original = decode_rgb(frame.data)
    mask = np.zeros(original.shape[:2], bool)
    people, scored = score_frame(frame, returned(original), mask)
    assert scored.people == len(people) == 3 and scored.masked_share == 0.0
    assert 0 < scored.people_share < 0.5
    assert all(not p.face_unrecognisable for p in people)
    assert all(p.face_detail_kept is not None and p.face_detail_kept > 0.9 for p in people)
    assert all(p.body_coverage == 0.0 for p in people)
    assert sorted(p.height_bin for p in people) == ["160-319", "40-63", "96-159"]


def test_people_blurred_under_their_mask_count_as_hidden_and_covered(frame: Frame) -> None:
    original = decode_rgb(frame.data)
    mask = np.zeros(original.shape[:2], bool)
    for person in frame.people:
        mask |= person.body_mask(mask.shape)
    mask = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    blurred = cv2.GaussianBlur(original, (0, 0), 6)
    anonymized = np.where(mask[..., None], blurred, original)
    people, _ = score_frame(frame, returned(anonymized), mask)
    assert all(p.face_unrecognisable for p in people)
    assert all(p.body_coverage == 1.0 for p in people)


def test_a_frame_without_a_result_scores_as_nothing_hidden(frame: Frame) -> None:
    people, _ = score_frame(frame, None, None)
    assert all(not p.face_unrecognisable and p.face_detail_kept is None for p in people)
    assert all(p.body_coverage == 0.0 for p in people)


def test_person_free_frames_report_their_masked_share() -> None:
    [empty_scene] = scenes(seed=3, frames_per_resolution=0, person_free=1, resolutions=["540p"])
    frame = encode_frame(empty_scene)
    original = decode_rgb(frame.data)
    mask = np.zeros(original.shape[:2], bool)
    mask[:54] = True
    people, scored = score_frame(frame, original, mask)
    assert people == [] and scored.people == 0 and scored.people_share == 0.0
    assert scored.masked_share == pytest.approx(0.1)


def test_a_result_of_another_size_is_an_error(frame: Frame) -> None:
    original = decode_rgb(frame.data)
    with pytest.raises(EvalError, match="size"):
        score_frame(frame, original[:-2], np.zeros(original.shape[:2], bool))


def test_a_model_set_becomes_the_stack_config(tmp_path: Path) -> None:
    one = stack_config(["person_segmenter"], tmp_path)
    assert one.state_dir == tmp_path
    several = ("person_segmenter", "person_detector", "face_detector")
    if "models" in {f.name for f in dataclasses.fields(StackConfig)}:
        assert getattr(stack_config(several, tmp_path), "models") == several
    else:
        assert one.model_name == "person_segmenter"
        with pytest.raises(EvalError, match="one model per image"):
            stack_config(several, tmp_path)
    with pytest.raises(EvalError, match="at least one"):
        stack_config([], tmp_path)


def test_missing_models_are_named(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "config.pbtxt").write_text("")
    check_models(["here"], tmp_path)
    with pytest.raises(EvalError, match="no model face_detector"):
        check_models(["here", "face_detector"], tmp_path)
    assert (REPO_ROOT / "model_repository" / "person_segmenter" / "config.pbtxt").is_file()
