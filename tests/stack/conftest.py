"""Fixtures for the stack's tests: a tiny Triton model repository made on the spot."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stack.triton import DEFAULT_VENV

_CONFIG = """\
name: "doubler"
backend: "python"
max_batch_size: 4
input [ { name: "x", data_type: TYPE_FP32, dims: [ 3 ] } ]
output [ { name: "y", data_type: TYPE_FP32, dims: [ 3 ] } ]
parameters { key: "siteveil.scale" value: { string_value: "0.5" } }
instance_group [ { kind: KIND_CPU, count: 1 } ]
"""

_MODEL = """\
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "x").as_numpy()
            y = pb_utils.Tensor("y", (x * 2).astype(np.float32))
            responses.append(pb_utils.InferenceResponse([y]))
        return responses
"""


@pytest.fixture(scope="session")
def triton_venv() -> Path:
    if not (DEFAULT_VENV / "bin" / "python").exists():
        pytest.skip(f"no Triton virtualenv at {DEFAULT_VENV}: run `make triton-venv`")
    return DEFAULT_VENV


@pytest.fixture(scope="session")
def doubler_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model repository whose only model doubles its input (Python backend, numpy only)."""
    root = tmp_path_factory.mktemp("repository")
    model = root / "doubler"
    (model / "1").mkdir(parents=True)
    (model / "configs").mkdir()
    (model / "configs" / "cpu.pbtxt").write_text(_CONFIG)
    (model / "1" / "model.py").write_text(textwrap.dedent(_MODEL))
    return root
