"""Helpers for the end-to-end tests: images made on the spot, pixel measures, log and reply readers."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from stack.lifecycle import StackState


def encode(pixels: np.ndarray, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **options)
    return buffer.getvalue()


def decode_rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def decode_mask(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L")) > 127


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def laplacian_energy(rgb: np.ndarray, where: np.ndarray) -> float:
    """Mean squared Laplacian of the grey image over `where`: fine detail (edges, texture)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = cv2.Laplacian(grey, cv2.CV_32F)
    return float((lap[where] ** 2).mean())


def shrink(mask: np.ndarray, px: int) -> np.ndarray:
    kernel = np.ones((2 * px + 1, 2 * px + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), kernel).astype(bool)


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    kernel = np.ones((2 * px + 1, 2 * px + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def replies(state: StackState) -> list[dict[str, Any]]:
    """The reply CloudEvents the relay recorded (structured JSON, one per line)."""
    return read_jsonl(Path(state.replies_path))


def relay_log(state: StackState) -> list[dict[str, Any]]:
    lines = (Path(state.logs_dir) / "relay.log").read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def attempts_for(state: StackState, message_id: str) -> list[dict[str, Any]]:
    """The relay's log entries of each POST attempt for one SQS message."""
    return [e for e in relay_log(state) if e.get("message_id") == message_id and "attempt" in e]


def wait_until(condition: Callable[[], Any], *, timeout_s: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
