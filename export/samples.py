"""Parity inputs: real photos from scikit-image plus seeded random images, as model tensors."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from skimage import data

PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": data.astronaut,  # a person
    "camera": data.camera,  # a person (grayscale)
    "rocket": data.rocket,  # no person
}


def photo_rgb(name: str) -> np.ndarray:
    """uint8 H×W×3 RGB."""
    img = PHOTOS[name]()
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def to_tensor(
    rgb: np.ndarray,
    size: tuple[int, int],
    *,
    layout: str = "NHWC",
    scale: float = 1.0 / 255.0,
    mean: tuple[float, ...] = (0.0, 0.0, 0.0),
    std: tuple[float, ...] = (1.0, 1.0, 1.0),
    bgr: bool = False,
) -> np.ndarray:
    """One image → a 1×… float32 tensor, the way the transformer feeds the model (stretch)."""
    height, width = size
    img = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    if bgr:
        img = img[:, :, ::-1]
    x = (img.astype(np.float32) * np.float32(scale) - np.asarray(mean, np.float32)) / np.asarray(
        std, np.float32
    )
    if layout == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None], dtype=np.float32)


def random_inputs(shape: tuple[int, ...], count: int, seed: int = 0) -> list[np.ndarray]:
    """Seeded uniform [0, 1) inputs of ``shape`` (batch axis included)."""
    rng = np.random.default_rng(seed)
    return [rng.random(shape, dtype=np.float32) for _ in range(count)]
