"""RGB image → the model's input tensor, as the model contract says (size, colour order, scale, layout)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from transformer.model_contract import ModelContract


def to_input_tensor(rgb: np.ndarray, contract: ModelContract) -> np.ndarray:
    """Resize (stretch) to the model size and normalise; adds the batch axis when batched."""
    height, width = rgb.shape[:2]
    factor = min(height // contract.height, width // contract.width)
    # An integer-factor area resize does most of the shrinking; its even part goes by halves,
    # OpenCV's SIMD 2×2 path (measured here: 1080p ×4 in 1.2 ms by halves, 5.6 ms in one step;
    # 4K ×8: 4.7 vs 12.2 ms). Same size as one step; each halving rounds the 2×2 mean, so the
    # pixels are one step's to within a grey level.
    while factor >= 2 and factor % 2 == 0:
        height, width, factor = height // 2, width // 2, factor // 2
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    if factor >= 2:
        rgb = cv2.resize(rgb, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
    shrinking = rgb.shape[0] > contract.height or rgb.shape[1] > contract.width
    small = cv2.resize(
        rgb,
        (contract.width, contract.height),
        interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR,
    )
    return to_model_tensor(small[np.newaxis], contract)


def to_model_tensor(batch: np.ndarray, contract: ModelContract) -> np.ndarray:
    """N×H×W×3 uint8 RGB at the model's size → the model's tensor (colour order, scale, layout)."""
    if contract.color_order == "BGR":
        batch = batch[..., ::-1]
    tensor = (
        np.ascontiguousarray(batch)
        if contract.input_dtype == np.uint8
        else _normalised(batch, contract)
    )
    if contract.layout == "NCHW":
        tensor = np.ascontiguousarray(tensor.transpose(0, 3, 1, 2))
    return tensor


def _normalised(small: np.ndarray, contract: ModelContract) -> np.ndarray:
    """(pixels × scale − mean) / std in float32, then the model's own float type."""
    values: npt.NDArray[np.float32] = small.astype(np.float32)
    values *= np.float32(contract.scale)
    if contract.mean != (0.0, 0.0, 0.0):
        values -= np.asarray(contract.mean, dtype=np.float32)
    if contract.std != (1.0, 1.0, 1.0):
        values /= np.asarray(contract.std, dtype=np.float32)
    return values.astype(contract.input_dtype, copy=False)
