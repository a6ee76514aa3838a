"""Tiny TF.js graph models written the way the TF.js converter writes them (JSON + weight bytes)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from export.tfjs_to_onnx import TfjsGraph, parse_graph


def s(text: str) -> dict[str, str]:
    return {"s": base64.b64encode(text.encode()).decode()}


def ints(values: Sequence[int]) -> dict[str, Any]:
    return {"list": {"i": [str(v) for v in values]}}


def strs(values: Sequence[str]) -> dict[str, Any]:
    return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in values]}}


def node(name: str, op: str, inputs: Sequence[str] = (), **attrs: Any) -> dict[str, Any]:
    return {"name": name, "op": op, "input": list(inputs), "attr": attrs}


def placeholder(name: str, shape: Sequence[int]) -> dict[str, Any]:
    dims = [{"size": str(d)} for d in shape]
    return node(name, "Placeholder", dtype={"type": "DT_FLOAT"}, shape={"shape": {"dim": dims}})


def conv_attrs(
    strides: int = 1, padding: str = "SAME", fused: Sequence[str] = ()
) -> dict[str, Any]:
    attrs = {
        "strides": ints([1, strides, strides, 1]),
        "dilations": ints([1, 1, 1, 1]),
        "padding": s(padding),
        "data_format": s("NHWC"),
    }
    if fused:
        attrs["fused_ops"] = strs(fused)
        attrs["num_args"] = {"i": "1"}
    return attrs


def model_json(
    nodes: Sequence[dict[str, Any]],
    weights: Mapping[str, np.ndarray],
    outputs: Sequence[str],
    quantize: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], bytes]:
    """``(model.json dict, shard bytes)``; ``quantize`` maps a weight to ``float16`` or ``uint8``."""
    quantize = quantize or {}
    specs, chunks = [], []
    all_nodes = list(nodes)
    for name, value in weights.items():
        value = np.asarray(value)
        dtype = "int32" if value.dtype.kind in "iu" else "float32"
        spec: dict[str, Any] = {"name": name, "shape": list(value.shape), "dtype": dtype}
        mode = quantize.get(name)
        if mode == "float16":
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            chunks.append(value.astype("<f2").tobytes())
        elif mode == "uint8":
            lo, hi = float(value.min()), float(value.max())
            scale = (hi - lo) / 255 or 1.0
            spec["quantization"] = {"dtype": "uint8", "scale": scale, "min": lo}
            chunks.append(np.round((value - lo) / scale).astype(np.uint8).tobytes())
        else:
            chunks.append(value.astype("<i4" if dtype == "int32" else "<f4").tobytes())
        specs.append(spec)
        all_nodes.append(
            node(name, "Const", dtype={"type": "DT_INT32" if dtype == "int32" else "DT_FLOAT"})
        )
    spec_json = {
        "format": "graph-model",
        "generatedBy": "tests",
        "convertedBy": "tests",
        "signature": {"outputs": {o: {"name": o} for o in outputs}},
        "modelTopology": {"node": all_nodes, "library": {}, "versions": {}},
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": specs}],
    }
    return spec_json, b"".join(chunks)


def graph(*args: Any, **kwargs: Any) -> TfjsGraph:
    spec, data = model_json(*args, **kwargs)
    return parse_graph(spec, data)


def write(directory: Path, *args: Any, **kwargs: Any) -> Path:
    """Write model.json + its shard into ``directory``; returns the model.json path."""
    spec, data = model_json(*args, **kwargs)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "group1-shard1of1.bin").write_bytes(data)
    path = directory / "model.json"
    path.write_text(json.dumps(spec))
    return path
