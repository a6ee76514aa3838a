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
    if factor >= 2:  # an integer-factor area resize is OpenCV's fast path: do most of it so
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
