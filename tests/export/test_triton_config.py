"""The person_segmenter repository: configs parse as Triton ModelConfig and carry the contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from tritonclient.grpc import model_config_pb2 as mc

from export.demo_model import PYTHON_MODEL
from export.triton_config import PERSON_SEGMENTER, parse_pbtxt, read_config, render_all

MODEL_DIR = Path(__file__).resolve().parents[2] / "model_repository" / "person_segmenter"
CONFIGS = ["config.pbtxt", "configs/onnx.pbtxt", "configs/cpu.pbtxt"]
CONTRACT_KEYS = {
    "siteveil.input_layout",
    "siteveil.color_order",
    "siteveil.scale",
    "siteveil.mean",
    "siteveil.std",
    "siteveil.output_kind",
    "siteveil.person_classes",
    "siteveil.resize",
    "siteveil.model_family",
}


@pytest.mark.parametrize("rel", CONFIGS)
def test_committed_config_parses_and_carries_the_contract(rel: str) -> None:
    config = read_config(MODEL_DIR / rel)
    assert isinstance(config, mc.ModelConfig)
    assert config.name == "person_segmenter"
    assert config.max_batch_size == 8
    (inp,), (out,) = config.input, config.output
    assert (inp.name, inp.data_type, list(inp.dims)) == ("image", mc.TYPE_FP32, [256, 256, 3])
    assert (out.name, out.data_type, list(out.dims)) == (
        "person_probability",
        mc.TYPE_FP32,
        [256, 256, 1],
    )
    params = {k: v.string_value for k, v in config.parameters.items()}
    assert CONTRACT_KEYS <= params.keys()
    assert params["siteveil.input_layout"] == "NHWC"
    assert params["siteveil.color_order"] == "RGB"
    assert float(params["siteveil.scale"]) == pytest.approx(1 / 255)
    assert [float(v) for v in params["siteveil.mean"].split(",")] == [0.0, 0.0, 0.0]
    assert [float(v) for v in params["siteveil.std"].split(",")] == [1.0, 1.0, 1.0]
    assert params["siteveil.output_kind"] == "probability"
    assert params["siteveil.resize"] == "stretch"
    assert params["siteveil.model_family"] == "mediapipe-selfie-segmentation"


@pytest.mark.parametrize("rel", CONFIGS)
def test_committed_configs_are_what_the_spec_renders(rel: str) -> None:
    assert (MODEL_DIR / rel).read_text() == render_all(PERSON_SEGMENTER)[rel], (
        "run `python -m export configs` after changing the spec"
    )


def test_cpu_config_is_the_python_backend() -> None:
    config = read_config(MODEL_DIR / "configs" / "cpu.pbtxt")
    assert config.backend == "python"
    assert config.instance_group[0].kind == mc.ModelInstanceGroup.KIND_CPU


def test_production_config_is_a_batched_tensorrt_plan_with_warmup() -> None:
    config = read_config(MODEL_DIR / "config.pbtxt")
    assert config.platform == "tensorrt_plan"
    assert config.dynamic_batching.max_queue_delay_microseconds > 0
    assert config.instance_group[0].kind == mc.ModelInstanceGroup.KIND_GPU
    assert config.version_policy.latest.num_versions >= 1
    assert config.model_warmup[0].inputs["image"].zero_data


def test_onnx_config_uses_the_tensorrt_accelerator() -> None:
    config = read_config(MODEL_DIR / "configs" / "onnx.pbtxt")
    assert config.platform == "onnxruntime_onnx"
    (accel,) = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert accel.name == "tensorrt"
    assert accel.parameters["precision_mode"] == "FP16"
    assert accel.parameters["trt_engine_cache_enable"] == "1"


def test_committed_model_py_is_the_exporter_template() -> None:
    assert (MODEL_DIR / "1" / "model.py").read_bytes() == PYTHON_MODEL.read_bytes()


def test_a_typo_in_a_config_is_rejected() -> None:
    with pytest.raises(Exception, match="max_batch_sise"):
        parse_pbtxt('name: "x"\nmax_batch_sise: 8\n')


@pytest.mark.parametrize("model", ["person_segmenter", "person_detector", "face_detector"])
def test_cpu_configs_run_onnx_runtime_on_one_intra_op_thread(model: str) -> None:
    """With 2 intra-op threads on a 2-core machine the segmenter cost Triton ~60 ms CPU per 1080p
    image against ~8.5 ms with one (ONNX Runtime's pool spins while it waits): scale a CPU Triton
    with instances, not threads. model.py reads this parameter into `intra_op_num_threads`."""
    config = read_config(MODEL_DIR.parent / model / "configs" / "cpu.pbtxt")
    assert config.parameters["ort_intra_op_threads"].string_value == "1"
    assert '"ort_intra_op_threads"' in PYTHON_MODEL.read_text()
