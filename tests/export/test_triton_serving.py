"""Exported models served by the project's local Triton (stack/triton.py), checked end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp

from export import samples
from export.torch_pipeline import build_from_torch, parity_inputs
from export.torch_to_onnx import TorchExportOptions, load_model, torch_runner
from export.triton_config import PreprocessContract, ServingOptions

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_REPOSITORY = REPO_ROOT / "model_repository"

triton = pytest.importorskip("stack.triton", reason="stack/triton.py is not in this checkout")


@pytest.fixture(scope="module")
def triton_install() -> None:
    try:
        triton.find_install()
    except triton.TritonUnavailable as exc:
        pytest.skip(f"local Triton unavailable: {exc}")


def _infer_http(endpoint: str, model: str, name: str, x: np.ndarray, out: str) -> np.ndarray:
    client = thttp.InferenceServerClient(endpoint)
    inp = thttp.InferInput(name, list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=True)
    return client.infer(model, [inp]).as_numpy(out)  # type: ignore[no-any-return]


def test_demo_model_is_served_with_its_contract(triton_install: None, tmp_path: Path) -> None:
    onnx_path = DEMO_REPOSITORY / "person_segmenter" / "1" / "model.onnx"
    photos = np.concatenate(
        [samples.to_tensor(samples.photo_rgb(n), (256, 256)) for n in ("astronaut", "rocket")]
    )
    with triton.running_triton(DEMO_REPOSITORY, log_dir=tmp_path) as endpoints:
        config = thttp.InferenceServerClient(endpoints.http).get_model_config("person_segmenter")
        served = _infer_http(
            endpoints.http, "person_segmenter", "image", photos, "person_probability"
        )
    params = {k: v["string_value"] for k, v in config["parameters"].items()}
    assert params["siteveil.output_kind"] == "probability"
    assert params["siteveil.input_layout"] == "NHWC"
    local = ort.InferenceSession(str(onnx_path)).run(None, {"image": photos})[0]
    assert served.shape == (2, 256, 256, 1)
    np.testing.assert_allclose(served, local, atol=1e-5)
    assert (served[0] > 0.5).mean() > 0.3  # the astronaut is covered
    assert (served[1] > 0.5).mean() < 0.01  # no one on the launch pad


def test_face_detector_is_served_and_finds_the_astronauts_face(
    triton_install: None, tmp_path: Path
) -> None:
    from export.face_detector import to_input

    onnx_path = DEMO_REPOSITORY / "face_detector" / "1" / "model.onnx"
    photos = np.concatenate([to_input(samples.photo_rgb(n)) for n in ("astronaut", "rocket")])
    with triton.running_triton(DEMO_REPOSITORY, log_dir=tmp_path) as endpoints:
        config = thttp.InferenceServerClient(endpoints.http).get_model_config("face_detector")
        served = _infer_http(endpoints.http, "face_detector", "image", photos, "detections")
    params = {k: v["string_value"] for k, v in config["parameters"].items()}
    assert params["siteveil.role"] == "face_detector"
    assert params["siteveil.output_kind"] == "boxes"
    threshold = float(params["siteveil.score_threshold"])
    local = ort.InferenceSession(str(onnx_path)).run(None, {"image": photos})[0]
    assert served.shape == (2, 100, 5)
    np.testing.assert_allclose(served, local, atol=1e-5)
    faces = served[0][served[0, :, 4] >= threshold]
    assert len(faces) == 1
    # the astronaut's face is at x 182..270, y 58..178 of the 512×512 photo (CenterFace's box)
    np.testing.assert_allclose(faces[0, :4], np.array([182, 58, 270, 178]) / 512, atol=0.02)
    assert not (served[1, :, 4] >= threshold).any()  # no face on the launch pad


def test_a_pytorch_model_exported_here_is_served_correctly(
    triton_install: None, tiny_ref: Callable[[str], str], tmp_path: Path
) -> None:
    model = load_model(tiny_ref("tiny_segmenter"))
    options = TorchExportOptions(input_shape=(3, 64, 64), head="person", person_classes=(1,))
    contract = PreprocessContract(
        input_layout="NCHW", color_order="RGB", scale=1 / 255, mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0), output_kind="probability", person_classes=(1,),
        model_family="tiny-test",
    )  # fmt: skip
    repository = tmp_path / "repo"
    build = build_from_torch(
        model,
        options,
        contract,
        repository=repository,
        name="tiny_seg",
        source={"model": "tiny_models.py:tiny_segmenter"},
        serving=ServingOptions(max_batch_size=4),
    )
    assert build.report.passed and build.version.version == 1
    inputs = parity_inputs(options, contract)
    batch = inputs["batch-of-3"]
    expected = torch_runner(model, options)(batch)
    with triton.running_triton(repository, log_dir=tmp_path) as endpoints:
        http_client = thttp.InferenceServerClient(endpoints.http)
        assert http_client.is_model_ready("tiny_seg", "1")
        config = http_client.get_model_config("tiny_seg")
        over_http = _infer_http(endpoints.http, "tiny_seg", "image", batch, "person_probability")
        grpc_client = tgrpc.InferenceServerClient(endpoints.grpc)
        inp = tgrpc.InferInput("image", list(inputs["random-0"].shape), "FP32")
        inp.set_data_from_numpy(inputs["random-0"])
        over_grpc = grpc_client.infer("tiny_seg", [inp]).as_numpy("person_probability")
    assert config["max_batch_size"] == 4
    assert config["parameters"]["siteveil.person_classes"]["string_value"] == "1"
    assert config["parameters"]["siteveil.model_family"]["string_value"] == "tiny-test"
    assert over_http.shape == (3, 1, 64, 64)
    np.testing.assert_allclose(over_http, expected, atol=1e-5)
    np.testing.assert_allclose(
        over_grpc, torch_runner(model, options)(inputs["random-0"]), atol=1e-5
    )
    assert 0.3 < (over_http[0] > 0.5).mean()  # the astronaut photo has "person" pixels
