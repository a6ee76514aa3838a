"""Preprocessing follows the contract: size, colour order, scale/mean/std, layout, batch axis."""

from __future__ import annotations

import dataclasses

import numpy as np

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
