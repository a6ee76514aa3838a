"""How to feed a model, read from its Triton config (`parameters` written by export/, DESIGN.md §3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from transformer.errors import ModelContractError

OutputKind = Literal["probability", "logits", "labels", "boxes"]
Role = Literal["segmenter", "person_detector", "face_detector"]
ROLES: tuple[Role, ...] = ("segmenter", "person_detector", "face_detector")
SEGMENT_KINDS = ("probability", "logits", "labels")
PARAM_PREFIX = "siteveil."
_DTYPES = {
    "TYPE_FP32": np.float32,
    "TYPE_FP16": np.float16,
    "TYPE_UINT8": np.uint8,
    "FP32": np.float32,
    "FP16": np.float16,
    "UINT8": np.uint8,
}
_TRITON_DTYPE = {
    np.dtype(np.float32): "FP32",
    np.dtype(np.float16): "FP16",
    np.dtype(np.uint8): "UINT8",
}


@dataclass(frozen=True, slots=True)
class ModelContract:
    input_name: str
    input_dtype: np.dtype
    layout: Literal["NHWC", "NCHW"]
    height: int
    width: int
    batched: bool
    color_order: Literal["RGB", "BGR"]
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    output_name: str
    output_kind: OutputKind
    person_classes: tuple[int, ...]
    role: Role = "segmenter"
    max_batch_size: int = 0
    # detectors: the confidence cut and the object heights (model pixels) found reliably
    score_threshold: float = 0.5
    min_object_px: float = 0.0
    max_object_px: float = 0.0

    @property
    def is_detector(self) -> bool:
        return self.role != "segmenter"

    @property
    def triton_dtype(self) -> str:
        return _TRITON_DTYPE[self.input_dtype]


def contract_from_config(config: Mapping[str, Any]) -> ModelContract:
    """Parse Triton's model config (HTTP JSON, or gRPC JSON with {"config": …})."""
    config = config.get("config", config)
    try:
        tensor_in = _single(config.get("input"), "input")
        tensor_out = _single(config.get("output"), "output")
        params = _parameters(config.get("parameters") or {})
        layout = _choice(params, "input_layout", ("NHWC", "NCHW"))
        dims = [int(d) for d in tensor_in["dims"]]
        batched = int(config.get("max_batch_size", 0)) > 0
        if not batched:
            if len(dims) != 4 or dims[0] not in (-1, 1):
                raise ModelContractError(f"unbatched input dims {dims} are not 1×…×…×…")
            dims = dims[1:]
        if len(dims) != 3:
            raise ModelContractError(f"input dims {dims} are not three (H, W, C) per image")
        height, width, channels = dims if layout == "NHWC" else (dims[1], dims[2], dims[0])
        if channels != 3 or height <= 0 or width <= 0:
            raise ModelContractError(f"input dims {dims} are not a fixed-size 3-channel image")
        dtype_name = str(tensor_in.get("data_type", "TYPE_FP32"))
        if dtype_name not in _DTYPES:
            raise ModelContractError(f"input data type {dtype_name} is not supported")
        role = _choice(params, "role", ROLES) if "role" in params else "segmenter"
        detector = role != "segmenter"
        kind = _choice(params, "output_kind", ("boxes",) if detector else SEGMENT_KINDS)
        person_classes = _ints(params.get("person_classes", ""))
        if kind not in ("probability", "boxes") and not person_classes:
            raise ModelContractError(f"output kind {kind} needs siteveil.person_classes")
        out_dims = [int(d) for d in tensor_out.get("dims", [])]
        if detector and (len(out_dims) < 2 or out_dims[-1] != 5):
            raise ModelContractError(
                f"a {role} must output K×5 boxes (x0, y0, x1, y1, score), not dims {out_dims}"
            )
        if detector and not batched:
            raise ModelContractError(f"a {role} must batch (max_batch_size > 0): tiles go as one")
        score_threshold = float(params.get("score_threshold", "0.5"))
        min_object, max_object = (
            float(params.get("min_object_px", "0")),
            float(params.get("max_object_px", "0")),
        )
        if detector and not (0 < score_threshold < 1 and 0 < min_object < max_object):
            raise ModelContractError(
                f"a {role} needs 0 < siteveil.score_threshold < 1 and "
                "0 < siteveil.min_object_px < siteveil.max_object_px"
            )
        return ModelContract(
            input_name=str(tensor_in["name"]),
            input_dtype=np.dtype(_DTYPES[dtype_name]),
            layout=layout,  # type: ignore[arg-type]
            height=height,
            width=width,
            batched=batched,
            color_order=_choice(params, "color_order", ("RGB", "BGR")),  # type: ignore[arg-type]
            scale=float(params.get("scale", "1")),
            mean=_triple(params.get("mean", "0,0,0")),
            std=_triple(params.get("std", "1,1,1")),
            output_name=str(tensor_out["name"]),
            output_kind=kind,  # type: ignore[arg-type]
            person_classes=person_classes,
            role=role,  # type: ignore[arg-type]
            max_batch_size=int(config.get("max_batch_size", 0)),
            score_threshold=score_threshold,
            min_object_px=min_object,
            max_object_px=max_object,
        )
    except ModelContractError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelContractError(
            f"model config does not carry the siteveil contract: {exc}"
        ) from exc


def _single(tensors: object, what: str) -> Mapping[str, Any]:
    if not isinstance(tensors, list) or len(tensors) != 1:
        raise ModelContractError(f"model must have exactly one {what} tensor")
    return tensors[0]


def _parameters(raw: Mapping[str, Any]) -> dict[str, str]:
    """Triton's `parameters` map: {"siteveil.x": {"string_value": "…"}} → {"x": "…"}."""
    out: dict[str, str] = {}
    for key, value in raw.items():
        if key.startswith(PARAM_PREFIX):
            text = (
                value.get("string_value", value.get("stringValue"))
                if isinstance(value, Mapping)
                else value
            )
            out[key[len(PARAM_PREFIX) :]] = str(text)
    return out


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = params.get(name)
    if value not in allowed:
        raise ModelContractError(
            f"parameter {PARAM_PREFIX}{name}={value!r} is not one of {allowed}"
        )
    return value


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _triple(text: str) -> tuple[float, float, float]:
    values = [float(part) for part in text.split(",")]
    if len(values) == 1:
        values *= 3
    if len(values) != 3:
        raise ModelContractError(f"expected 1 or 3 comma-separated numbers, got {text!r}")
    return (values[0], values[1], values[2])
