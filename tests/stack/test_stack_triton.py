"""running_triton: the wheel's tritonserver serves a repository on free 127.0.0.1 ports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import requests
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from stack.processes import http_status
from stack.triton import running_triton


def test_serves_the_cpu_config_over_http_and_grpc(
    triton_venv: Path, doubler_repository: Path, tmp_path: Path
) -> None:
    with running_triton(doubler_repository, log_dir=tmp_path, venv=triton_venv) as triton:
        assert triton.http.startswith("127.0.0.1:") and triton.grpc.startswith("127.0.0.1:")
        config = requests.get(f"{triton.http_url}/v2/models/doubler/config", timeout=5).json()
        # configs/cpu.pbtxt was chosen (not an auto-completed config) and its parameters survive.
        assert config["max_batch_size"] == 4
        assert config["parameters"]["siteveil.scale"]["string_value"] == "0.5"

        x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]], dtype=np.float32)
        http_in = httpclient.InferInput("x", list(x.shape), "FP32")
        http_in.set_data_from_numpy(x, binary_data=True)
        result = httpclient.InferenceServerClient(triton.http).infer("doubler", [http_in])
        np.testing.assert_array_equal(result.as_numpy("y"), x * 2)

        grpc_in = grpcclient.InferInput("x", list(x.shape), "FP32")
        grpc_in.set_data_from_numpy(x)
        result = grpcclient.InferenceServerClient(triton.grpc).infer("doubler", [grpc_in])
        np.testing.assert_array_equal(result.as_numpy("y"), x * 2)
        http_url = triton.http_url

    # Stopped on exit: nothing answers on its port any more.
    assert http_status(f"{http_url}/v2/health/live", timeout=1) is None
    assert "successfully loaded 'doubler'" in (tmp_path / "tritonserver.log").read_text()
