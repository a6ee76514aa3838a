"""Detector configs: every config parses as Triton's ModelConfig and carries the detector contract."""

from __future__ import annotations

import pytest
from tritonclient.grpc import model_config_pb2 as mc

from export.errors import ExportError
from export.triton_config import (
    DetectorContract,
    contract_of,
    detector_spec,
    parse_pbtxt,
    render_all,
)

DETECTOR_KEYS = {
    "siteveil.role",
    "siteveil.input_layout",
    "siteveil.color_order",
    "siteveil.scale",
    "siteveil.mean",
    "siteveil.std",
    "siteveil.output_kind",
    "siteveil.score_threshold",
    "siteveil.min_object_px",
    "siteveil.max_object_px",
    "siteveil.resize",
    "siteveil.model_family",
}


def person_contract(**changes: object) -> DetectorContract:
    values: dict[str, object] = dict(
        role="person_detector", input_layout="NHWC", color_order="RGB", scale=1 / 255,
        mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), score_threshold=0.3, min_object_px=40,
        max_object_px=512, model_family="centernet-test",
    )  # fmt: skip
    values.update(changes)
    return DetectorContract(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("rel", ["config.pbtxt", "configs/onnx.pbtxt", "configs/cpu.pbtxt"])
def test_every_detector_config_parses_with_the_contract(rel: str) -> None:
    spec = detector_spec("person_detector", person_contract(), (512, 512), top_k=100)
    config = parse_pbtxt(render_all(spec)[rel])
    assert config.name == "person_detector"
    assert config.max_batch_size == 32
    (inp,), (out,) = config.input, config.output
    assert (inp.name, inp.data_type, list(inp.dims)) == ("image", mc.TYPE_FP32, [512, 512, 3])
    assert (out.name, out.data_type, list(out.dims)) == ("detections", mc.TYPE_FP32, [100, 5])
    params = contract_of(config)
    assert params.keys() == DETECTOR_KEYS
    assert params["siteveil.role"] == "person_detector"
    assert params["siteveil.output_kind"] == "boxes"
    assert float(params["siteveil.score_threshold"]) == pytest.approx(0.3)
    assert int(params["siteveil.min_object_px"]) == 40
    assert int(params["siteveil.max_object_px"]) == 512
    assert config.HasField("dynamic_batching")


def test_nchw_detector_and_the_cpu_backend_runs_one_ort_thread() -> None:
    contract = person_contract(role="face_detector", input_layout="NCHW", scale=1.0)
    config = parse_pbtxt(
        render_all(detector_spec("face_detector", contract, (480, 640), top_k=50))[
            "configs/cpu.pbtxt"
        ]
    )
    assert list(config.input[0].dims) == [3, 480, 640]
    assert config.backend == "python"
    assert config.parameters["ort_intra_op_threads"].string_value == "1"
    assert config.parameters["siteveil.role"].string_value == "face_detector"
    assert float(config.parameters["siteveil.scale"].string_value) == 1.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"score_threshold": 0.0}, "score_threshold"),
        ({"score_threshold": 1.5}, "score_threshold"),
        ({"min_object_px": 0}, "min_object_px"),
        ({"min_object_px": 600}, "min_object_px"),
        ({"std": (1.0, 0.0, 1.0)}, "non-zero"),
    ],
)
def test_a_bad_detector_contract_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ExportError, match=message):
        person_contract(**changes)
