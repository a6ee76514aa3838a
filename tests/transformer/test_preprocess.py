"""Preprocessing follows the contract: size, colour order, scale/mean/std, layout, batch axis."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from transformer.model_contract import ModelContract
from transformer.preprocess import to_input_tensor


def test_demo_model_input(astronaut: np.ndarray, demo_contract: ModelContract) -> None:
    tensor = to_input_tensor(astronaut, demo_contract)
    assert tensor.shape == (1, 256, 256, 3) and tensor.dtype == np.float32
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0
    # the top-left pixel block keeps its colour (RGB, not swapped)
    assert np.allclose(tensor[0, 0, 0], astronaut[:2, :2].reshape(-1, 3).mean(0) / 255, atol=0.02)


def test_bgr_nchw_normalised(demo_contract: ModelContract) -> None:
    contract = dataclasses.replace(
        demo_contract,
        layout="NCHW",
        color_order="BGR",
        scale=1.0,
        mean=(10.0, 20.0, 30.0),
        std=(2.0, 4.0, 5.0),
        height=8,
        width=4,
    )
    rgb = np.zeros((16, 8, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 100, 120, 130  # R, G, B
    tensor = to_input_tensor(rgb, contract)
    assert tensor.shape == (1, 3, 8, 4)
    # channel 0 is now blue: (130 - 10) / 2
    assert np.allclose(tensor[0, 0], 60) and np.allclose(tensor[0, 1], 25)
    assert np.allclose(tensor[0, 2], 14)  # red: (100 - 30) / 5


def test_uint8_models_get_raw_pixels(demo_contract: ModelContract) -> None:
    contract = dataclasses.replace(demo_contract, input_dtype=np.dtype(np.uint8))
    tensor = to_input_tensor(np.full((300, 500, 3), 77, np.uint8), contract)
    assert tensor.dtype == np.uint8 and tensor.shape == (1, 256, 256, 3) and (tensor == 77).all()


def test_small_images_are_upscaled(demo_contract: ModelContract) -> None:
    assert to_input_tensor(np.zeros((10, 20, 3), np.uint8), demo_contract).shape == (1, 256, 256, 3)


@pytest.mark.parametrize(
    "size", [(3840, 2160), (1920, 1080), (1792, 1024), (1000, 700), (300, 200)]
)
def test_large_frames_shrink_by_halves_like_one_area_resize(
    size: tuple[int, int], demo_contract: ModelContract
) -> None:
    """Halving (fast) instead of one integer-factor area resize keeps the intermediate size and
    changes the model's input by at most a grey level (each halving rounds its 2×2 mean)."""
    width, height = size
    rng = np.random.default_rng(width)
    frame = cv2.resize(
        rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8),
        (width, height),
        interpolation=cv2.INTER_LINEAR,
    )
    factor = min(height // 256, width // 256)  # one area resize by the integer factor, then 256²
    step = frame
    if factor >= 2:
        step = cv2.resize(frame, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    shrink = cv2.INTER_AREA if max(step.shape[:2]) > 256 else cv2.INTER_LINEAR
    reference = cv2.resize(step, (256, 256), interpolation=shrink) / 255
    tensor = to_input_tensor(frame, demo_contract)[0]
    assert tensor.shape == (256, 256, 3)
    assert np.abs(tensor - reference).max() <= 1.01 / 255
