"""Triton Python-backend model: ONNX Runtime on the ``model.onnx`` of its own version directory.

This file is copied as ``<model>/<version>/model.py`` into the model repository (the copy is
committed for the demo model). It runs inside Triton's Python stub, in its own virtualenv
(``onnxruntime``, ``numpy``), so it imports nothing from this project. Input and output names come
from the model config, so one file serves any exported segmentation model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils  # provided by the Triton Python stub


def _threads(config: dict[str, Any]) -> int:
    value = config.get("parameters", {}).get("ort_intra_op_threads", {}).get("string_value", "")
    return int(value) if value else 0  # 0: ONNX Runtime's default


class TritonPythonModel:
    """Batches the requests Triton hands over into one ONNX Runtime call."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        version_dir = Path(args["model_repository"]) / args["model_version"]
        onnx_path = version_dir / "model.onnx"
        if not onnx_path.is_file():
            raise pb_utils.TritonModelException(
                f"{onnx_path} is missing: build it with `make model` (python -m export …)"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = _threads(config) or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i["name"] for i in config["input"]]
        self.outputs = [
            (o["name"], pb_utils.triton_string_to_numpy(o["data_type"])) for o in config["output"]
        ]

    def execute(self, requests: list[Any]) -> list[Any]:
        feeds: dict[str, list[np.ndarray]] = {name: [] for name in self.input_names}
        sizes = []
        for request in requests:
            for name in self.input_names:
                feeds[name].append(pb_utils.get_input_tensor_by_name(request, name).as_numpy())
            sizes.append(feeds[self.input_names[0]][-1].shape[0])
        batch = {name: np.concatenate(arrays) for name, arrays in feeds.items()}
        try:
            results = self.session.run([name for name, _ in self.outputs], batch)
        except Exception as exc:  # noqa: BLE001 — report any ORT failure to every request
            error = pb_utils.TritonError(f"onnxruntime failed: {exc}")
            return [pb_utils.InferenceResponse(output_tensors=[], error=error) for _ in requests]
        responses = []
        start = 0
        for size in sizes:
            tensors = [
                pb_utils.Tensor(name, np.ascontiguousarray(result[start : start + size], dtype))
                for (name, dtype), result in zip(self.outputs, results)
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += size
        return responses

    def finalize(self) -> None:
        self.session = None
