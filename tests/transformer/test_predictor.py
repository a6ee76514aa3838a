"""The v2 client against a real Triton serving the demo model (HTTP binary and gRPC)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from stack.triton import TritonEndpoints, running_triton
from transformer.config import Settings
from transformer.errors import ModelContractError, PredictorUnavailable
from transformer.predictor import TritonPredictor
from transformer.preprocess import to_input_tensor

from .conftest import DEMO_CONFIG

REPO = Path(__file__).resolve().parents[2] / "model_repository"


@pytest.fixture(scope="module")
def triton() -> Iterator[TritonEndpoints]:
    if not (REPO / "person_segmenter" / "1" / "model.onnx").exists():
        pytest.skip("model_repository/person_segmenter/1/model.onnx is missing: run `make model`")
    with running_triton(REPO) as endpoints:
        yield endpoints


def predictor_for(host: str, protocol: str = "v2", **extra: object) -> TritonPredictor:
    return TritonPredictor(
        Settings(
            model_name="person_segmenter",
            predictor_host=host,
            predictor_protocol=protocol,  # type: ignore[arg-type]
            **extra,
        )
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", ["v2", "grpc-v2"])
def test_reads_the_contract_and_segments_a_person(triton: TritonEndpoints, protocol: str) -> None:
    predictor = predictor_for(triton.http if protocol == "v2" else triton.grpc, protocol)
    assert predictor.is_ready()
    served = predictor.served_model()
    assert served.version == "1"
    assert (served.contract.input_name, served.contract.output_name) == (
        "image",
        "person_probability",
    )
    person = predictor.infer(to_input_tensor(data.astronaut(), served.contract), served)
    rocket = predictor.infer(to_input_tensor(data.rocket(), served.contract), served)
    assert person.shape == (1, 256, 256, 1) and person.dtype == np.float32
    # the astronaut fills the frame; the rocket photo has no one in it
    assert (person > 0.5).mean() > 0.3
    assert (rocket > 0.5).mean() < 0.02


def test_http_and_grpc_give_the_same_scores(triton: TritonEndpoints) -> None:
    http, grpc = predictor_for(triton.http), predictor_for(triton.grpc, "grpc-v2")
    served = http.served_model()
    tensor = to_input_tensor(data.astronaut(), served.contract)
    assert np.allclose(
        http.infer(tensor, served), grpc.infer(tensor, grpc.served_model()), atol=1e-6
    )


def test_unknown_model_is_unavailable(triton: TritonEndpoints) -> None:
    predictor = TritonPredictor(Settings(model_name="no_such_model", predictor_host=triton.http))
    assert not predictor.is_ready()
    with pytest.raises(PredictorUnavailable):
        predictor.served_model()


@pytest.mark.parametrize("protocol", ["v2", "grpc-v2"])
def test_a_dead_predictor_is_unavailable_not_a_crash(protocol: str) -> None:
    predictor = predictor_for("127.0.0.1:9", protocol, predictor_timeout=2.0)
    assert not predictor.is_ready()
    with pytest.raises(PredictorUnavailable):
        predictor.served_model()


class ConfigOnlyTriton:
    """The boundary only: answers metadata and config reads the way tritonclient.http does."""

    def __init__(self, configs: dict[str, dict[str, object]]) -> None:
        self.configs = configs

    def get_model_metadata(self, name: str) -> dict[str, object]:
        return {"name": name, "versions": ["1", "3", "2"]}

    def get_model_config(self, name: str, version: str) -> dict[str, object]:
        return self.configs[name]


def detector_config(role: str) -> dict[str, object]:
    return {
        "max_batch_size": 32,
        "input": [{"name": "image", "data_type": "TYPE_FP32", "dims": [3, 512, 512]}],
        "output": [{"name": "detections", "data_type": "TYPE_FP32", "dims": [100, 5]}],
        "parameters": {
            f"siteveil.{k}": {"string_value": v}
            for k, v in {
                "role": role,
                "input_layout": "NCHW",
                "color_order": "RGB",
                "output_kind": "boxes",
                "score_threshold": "0.4",
                "min_object_px": "16",
                "max_object_px": "500",
            }.items()
        },
    }


def test_every_model_is_read_with_its_role_and_latest_version() -> None:
    predictor = predictor_for("unused:1", models=("person_segmenter", "face_detector"))
    predictor._client = ConfigOnlyTriton(
        {"person_segmenter": DEMO_CONFIG, "face_detector": detector_config("face_detector")}
    )
    served = predictor.served_models()
    assert [(m.name, m.version, m.contract.role) for m in served] == [
        ("person_segmenter", "3", "segmenter"),
        ("face_detector", "3", "face_detector"),
    ]
    assert predictor.served_model().name == "person_segmenter"


def test_two_models_of_one_role_are_refused_by_name() -> None:
    predictor = predictor_for("unused:1", models=("person_segmenter", "a", "b"))
    predictor._client = ConfigOnlyTriton(
        {
            "person_segmenter": DEMO_CONFIG,
            "a": detector_config("face_detector"),
            "b": detector_config("face_detector"),
        }
    )
    with pytest.raises(ModelContractError, match=r"\['a', 'b'\] all declare the role"):
        predictor.served_models()


def test_a_wrong_contract_names_the_model_and_version() -> None:
    broken = detector_config("person_detector")
    broken["output"] = [{"name": "detections", "data_type": "TYPE_FP32", "dims": [100, 6]}]
    predictor = predictor_for("unused:1", models=("person_segmenter", "people"))
    predictor._client = ConfigOnlyTriton({"person_segmenter": DEMO_CONFIG, "people": broken})
    with pytest.raises(ModelContractError, match="model 'people' version 3: a person_detector"):
        predictor.served_models()


@pytest.mark.parametrize("protocol", ["v2", "grpc-v2"])
def test_several_models_at_once_with_their_tiles_in_batches(
    triton: TritonEndpoints, protocol: str
) -> None:
    """The real Triton: the segmenter and the face detector on the astronaut's tiles, sent a few
    tiles at a time with requests in flight together; HTTP and gRPC answer the same."""
    from transformer.compose import model_input

    if not (REPO / "face_detector" / "1" / "model.onnx").exists():
        pytest.skip("model_repository/face_detector/1/model.onnx is missing: run `make model`")
    host = triton.http if protocol == "v2" else triton.grpc
    predictor = predictor_for(host, protocol, models=("person_segmenter", "face_detector"))
    segmenter, faces = predictor.served_models()
    rgb = data.astronaut()
    seg_in = model_input(rgb, segmenter.contract, 40, 64)
    face_in = model_input(rgb, faces.contract, 12, 64)
    assert face_in.count > 8  # more tiles than one request carries
    seg_out, face_out = predictor.infer_many(
        [(segmenter, seg_in.batches()), (faces, face_in.batches())]
    )
    assert seg_out.shape == (1, 256, 256, 1) and (seg_out > 0.5).mean() > 0.3
    assert face_out.shape == (face_in.count, 100, 5)
    from transformer.detections import frame_detections

    assert face_in.plan is not None
    found = frame_detections(
        face_out, face_in.plan, "face_detector", faces.contract.score_threshold
    )
    assert len(found) == 1  # her face, once, across all the tiles that hold it
    d = found[0]
    assert 150 < (d.x0 + d.x1) / 2 < 300 and 60 < (d.y0 + d.y1) / 2 < 200
