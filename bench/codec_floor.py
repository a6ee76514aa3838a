"""The codec floor: decode + encode of the same frames with the transformer's JPEG library.

transformer/codec.py decodes and encodes JPEG with simplejpeg (libjpeg-turbo): RGB out, quality
90, 4:2:0 chroma subsampling. No transformer can anonymize a JPEG for less than this. Measured
as CPU time of this one thread (libjpeg-turbo is single-threaded), so other load on the machine
does not inflate it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import simplejpeg


def decode_encode(data: bytes, quality: int = 90) -> bytes:
    rgb = simplejpeg.decode_jpeg(data, colorspace="RGB")
    return simplejpeg.encode_jpeg(
        np.ascontiguousarray(rgb), quality=quality, colorspace="RGB", colorsubsampling="420"
    )


def floor_ms(images: Sequence[bytes], *, quality: int = 90) -> float:
    """Mean CPU ms per image of decode + encode, one core (after one untimed warm-up)."""
    if not images:
        raise ValueError("no images to measure the codec floor on")
    decode_encode(images[0], quality)
    started = time.thread_time()
    for data in images:
        decode_encode(data, quality)
    return 1000 * (time.thread_time() - started) / len(images)
