"""Fixtures of the export tests: the pinned demo model, its conversion, tiny TFLite models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import flatbuffers
import numpy as np
import onnx
import pytest
import tflite

from export.demo_model import convert_demo
from export.fetch import SELFIE_SEGMENTATION, fetch

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = REPO_ROOT / ".cache" / "export"  # filled by `make model` before the tests run


@pytest.fixture(scope="session")
def export_cache() -> Path:
    return CACHE


@pytest.fixture(scope="session")
def demo_tflite() -> Path:
    return fetch(SELFIE_SEGMENTATION, CACHE)


@pytest.fixture(scope="session")
def demo_onnx(demo_tflite: Path) -> onnx.ModelProto:
    return convert_demo(demo_tflite)


def build_tflite(
    op: str | int,
    in_shape: tuple[int, ...] = (1, 4, 4, 3),
    out_shape: tuple[int, ...] | None = None,
) -> bytes:
    """A one-op float TFLite model: input → ``op`` → output (custom op when ``op`` is a str)."""
    out_shape = out_shape or in_shape
    b = flatbuffers.Builder(1024)

    def ints(start: Callable[[flatbuffers.Builder, int], None], values: tuple[int, ...]) -> int:
        start(b, len(values))
        for v in reversed(values):
            b.PrependInt32(v)
        return b.EndVector()

    tensors = []
    for name, shape in (("x", in_shape), ("y", out_shape)):
        name_off = b.CreateString(name)
        shape_off = ints(tflite.TensorStartShapeVector, shape)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape_off)
        tflite.TensorAddType(b, tflite.TensorType.FLOAT32)
        tflite.TensorAddBuffer(b, 0)
        tflite.TensorAddName(b, name_off)
        tensors.append(tflite.TensorEnd(b))
    tflite.SubGraphStartTensorsVector(b, len(tensors))
    for t in reversed(tensors):
        b.PrependUOffsetTRelative(t)
    tensors_vec = b.EndVector()
    op_in = ints(tflite.OperatorStartInputsVector, (0,))
    op_out = ints(tflite.OperatorStartOutputsVector, (1,))
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, op_in)
    tflite.OperatorAddOutputs(b, op_out)
    operator = tflite.OperatorEnd(b)
    tflite.SubGraphStartOperatorsVector(b, 1)
    b.PrependUOffsetTRelative(operator)
    ops_vec = b.EndVector()
    sg_in = ints(tflite.SubGraphStartInputsVector, (0,))
    sg_out = ints(tflite.SubGraphStartOutputsVector, (1,))
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vec)
    tflite.SubGraphAddInputs(b, sg_in)
    tflite.SubGraphAddOutputs(b, sg_out)
    tflite.SubGraphAddOperators(b, ops_vec)
    subgraph = tflite.SubGraphEnd(b)
    custom = b.CreateString(op) if isinstance(op, str) else None
    code = tflite.BuiltinOperator.CUSTOM if isinstance(op, str) else op
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddBuiltinCode(b, code)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
    if custom is not None:
        tflite.OperatorCodeAddCustomCode(b, custom)
    opcode = tflite.OperatorCodeEnd(b)
    tflite.BufferStart(b)
    empty = tflite.BufferEnd(b)
    vectors = []
    for start, items in (
        (tflite.ModelStartOperatorCodesVector, [opcode]),
        (tflite.ModelStartSubgraphsVector, [subgraph]),
        (tflite.ModelStartBuffersVector, [empty]),
    ):
        start(b, len(items))
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        vectors.append(b.EndVector())
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, vectors[0])
    tflite.ModelAddSubgraphs(b, vectors[1])
    tflite.ModelAddBuffers(b, vectors[2])
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.fixture
def tiny_tflite() -> Callable[..., bytes]:
    return build_tflite


def rng_image(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


TINY_MODELS = Path(__file__).with_name("tiny_models.py")


@pytest.fixture(scope="session")
def tiny_ref() -> Callable[[str], str]:
    """`path/tiny_models.py:<factory>`, the form the CLI takes."""
    return lambda factory: f"{TINY_MODELS}:{factory}"
