"""person_detector served by the project's real local Triton (stack/triton.py, CPU config)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as thttp
from skimage import data as skdata

from export.person_detector import CONTRACT, NAME, TOP_K, box_iou, photo_tensor

REPO_ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = REPO_ROOT / "model_repository"
ASTRONAUT_BOX = np.array([20, 10, 365, 512]) / 512

triton = pytest.importorskip("stack.triton", reason="stack/triton.py is not in this checkout")


def test_person_detector_is_served_with_its_role_and_boxes_people(tmp_path: Path) -> None:
    try:
        triton.find_install()
    except triton.TritonUnavailable as exc:
        pytest.skip(f"local Triton unavailable: {exc}")
    onnx_path = REPOSITORY / NAME / "1" / "model.onnx"
    assert onnx_path.is_file(), "build it with `make model`"
    batch = np.concatenate([photo_tensor(skdata.astronaut()), photo_tensor(skdata.rocket())])
    with triton.running_triton(REPOSITORY, log_dir=tmp_path) as endpoints:
        client = thttp.InferenceServerClient(endpoints.http)
        assert client.is_model_ready(NAME)
        config = client.get_model_config(NAME)
        inp = thttp.InferInput("image", list(batch.shape), "FP32")
        inp.set_data_from_numpy(batch, binary_data=True)
        served = client.infer(NAME, [inp]).as_numpy("detections")
    params = {k: v["string_value"] for k, v in config["parameters"].items()}
    assert params["siteveil.role"] == "person_detector"
    assert params["siteveil.output_kind"] == "boxes"
    assert float(params["siteveil.score_threshold"]) == CONTRACT.score_threshold
    assert int(params["siteveil.min_object_px"]) == CONTRACT.min_object_px
    assert params["ort_intra_op_threads"] == "1"
    assert config["max_batch_size"] == 32
    assert served.shape == (2, TOP_K, 5)
    local = ort.InferenceSession(str(onnx_path)).run(None, {"image": batch})[0]
    np.testing.assert_allclose(served, local, atol=1e-5)
    astronaut, rocket = served
    people = astronaut[astronaut[:, 4] >= CONTRACT.score_threshold]
    assert len(people) >= 1
    assert max(box_iou(row[:4], ASTRONAUT_BOX) for row in people) > 0.5
    assert not np.any(rocket[:, 4] >= CONTRACT.score_threshold)  # no one on the launch pad
