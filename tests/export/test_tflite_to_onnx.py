"""The TFLite → ONNX converter on the real demo model and on tiny one-op models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tflite
from ai_edge_litert.interpreter import Interpreter

from export.demo_model import check_parity
from export.errors import ExportError, UnsupportedOperator
from export.tflite_to_onnx import convert, read_tflite


def test_demo_model_passes_the_onnx_checker_with_standard_ops(demo_onnx: onnx.ModelProto) -> None:
    onnx.checker.check_model(demo_onnx, full_check=True)
    ops = {n.op_type for n in demo_onnx.graph.node}
    assert {"Conv", "ConvTranspose", "HardSwish", "Resize", "GlobalAveragePool", "Sigmoid"} <= ops
    assert all(n.domain in ("", "ai.onnx") for n in demo_onnx.graph.node)
    assert demo_onnx.opset_import[0].version >= 17


def test_demo_model_has_contract_names_and_a_dynamic_batch_axis(
    demo_onnx: onnx.ModelProto,
) -> None:
    (inp,), (out,) = demo_onnx.graph.input, demo_onnx.graph.output
    assert inp.name == "image" and out.name == "person_probability"
    in_dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert in_dims == ["batch", 256, 256, 3]
    assert out_dims == ["batch", 256, 256, 1]


def test_demo_model_matches_tflite_on_photos_and_random_inputs(
    demo_tflite: Path, demo_onnx: onnx.ModelProto
) -> None:
    report = check_parity(demo_tflite, demo_onnx.SerializeToString())
    print(report.table())
    assert report.passed
    assert report.max_abs_error < 1e-3
    assert report.min_iou >= 0.99
    cases = {c.name: c for c in report.cases}
    assert {"astronaut", "camera", "rocket", "batch-of-3"} <= set(cases)
    assert cases["astronaut"].person_fraction > 0.3  # the model sees the astronaut
    assert cases["rocket"].person_fraction < 0.01  # and no one on the launch pad


def test_batched_inference_equals_one_by_one(demo_onnx: onnx.ModelProto) -> None:
    session = ort.InferenceSession(
        demo_onnx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    x = np.random.default_rng(3).random((3, 256, 256, 3), dtype=np.float32)
    (batch,) = session.run(None, {"image": x})
    singles = np.concatenate([session.run(None, {"image": x[i : i + 1]})[0] for i in range(3)])
    assert batch.shape == (3, 256, 256, 1)
    np.testing.assert_allclose(batch, singles, atol=1e-5)


def test_fp16_weights_are_folded_into_fp32_initializers(demo_onnx: onnx.ModelProto) -> None:
    dtypes = {init.data_type for init in demo_onnx.graph.initializer}
    assert dtypes == {onnx.TensorProto.FLOAT}
    assert "DequantizeLinear" not in {n.op_type for n in demo_onnx.graph.node}


def test_reader_sees_the_ops_design_md_lists(demo_tflite: Path) -> None:
    kinds = {op.kind for op in read_tflite(demo_tflite.read_bytes()).ops}
    assert kinds == {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "ADD",
        "MUL",
        "RELU",
        "HARD_SWISH",
        "LOGISTIC",
        "AVERAGE_POOL_2D",
        "RESIZE_BILINEAR",
        "DEQUANTIZE",
        "CUSTOM:Convolution2DTransposeBias",
    }


@pytest.mark.parametrize("op", ["RELU", "RELU6", "LOGISTIC", "HARD_SWISH"])
def test_single_activation_ops_match_litert(op: str, tiny_tflite: Callable[..., bytes]) -> None:
    buf = tiny_tflite(getattr(tflite.BuiltinOperator, op))
    x = (np.random.default_rng(0).standard_normal((1, 4, 4, 3)) * 4).astype(np.float32)
    interpreter = Interpreter(model_content=buf)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    expected = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    session = ort.InferenceSession(
        convert(buf).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    np.testing.assert_allclose(session.run(None, {"x": x})[0], expected, atol=1e-6)


@pytest.mark.parametrize(
    ("op", "named"),
    [(tflite.BuiltinOperator.TANH, "TANH"), ("MyCustomOp", "CUSTOM:MyCustomOp")],
)
def test_unsupported_op_is_a_clear_error_naming_it(
    op: int | str, named: str, tiny_tflite: Callable[..., bytes]
) -> None:
    with pytest.raises(UnsupportedOperator, match=f"unsupported operator {named}") as info:
        convert(tiny_tflite(op))
    assert info.value.op == named


def test_not_a_tflite_file_is_rejected() -> None:
    with pytest.raises(ExportError, match="not a TFLite flatbuffer"):
        convert(b"\x00" * 64)
