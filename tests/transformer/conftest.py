"""Fixtures for the transformer's unit tests: real encodings, a demo-model config, a fake predictor."""

from __future__ import annotations

import io
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import boto3
import numpy as np
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image
from skimage import data

from stack.processes import free_port
from transformer.model_contract import ModelContract, contract_from_config
from transformer.predictor import ServedModel

DEMO_CONFIG: dict[str, Any] = {
    "name": "person_segmenter",
    "max_batch_size": 8,
    "input": [{"name": "image", "data_type": "TYPE_FP32", "dims": [256, 256, 3]}],
    "output": [{"name": "person_probability", "data_type": "TYPE_FP32", "dims": [256, 256, 1]}],
    "parameters": {
        "siteveil.input_layout": {"string_value": "NHWC"},
        "siteveil.color_order": {"string_value": "RGB"},
        "siteveil.scale": {"string_value": "0.00392156862745098"},
        "siteveil.mean": {"string_value": "0,0,0"},
        "siteveil.std": {"string_value": "1,1,1"},
        "siteveil.output_kind": {"string_value": "probability"},
        "siteveil.resize": {"string_value": "stretch"},
    },
}


@pytest.fixture
def demo_contract() -> ModelContract:
    return contract_from_config(DEMO_CONFIG)


def encode_with_pillow(rgb: np.ndarray, fmt: str, **save: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt, **save)
    return buffer.getvalue()


@pytest.fixture
def astronaut() -> np.ndarray:
    return data.astronaut()


class SquarePredictor:
    """Stands in for Triton at the network boundary: 'sees' a person in a fixed square.

    `box` is (top, left, bottom, right) as fractions of the model input.
    """

    def __init__(
        self,
        contract: ModelContract,
        box: tuple[float, float, float, float] | None,
        version: str = "1",
    ) -> None:
        self.model = ServedModel("person_segmenter", version, contract)
        self.box = box
        self.calls = 0
        self.fail_with: Exception | None = None
        self.inputs: list[np.ndarray] = []

    def is_ready(self) -> bool:
        return self.fail_with is None

    def served_model(self) -> ServedModel:
        if self.fail_with is not None:
            raise self.fail_with
        return self.model

    def served_models(self) -> tuple[ServedModel, ...]:
        return (self.served_model(),)

    def infer_many(
        self, requests: Sequence[tuple[ServedModel, Iterable[np.ndarray]]]
    ) -> list[np.ndarray]:
        return [
            np.concatenate([self.infer(batch, model) for batch in batches])
            for model, batches in requests
        ]

    def infer(self, tensor: np.ndarray, model: ServedModel) -> np.ndarray:
        if self.fail_with is not None:
            raise self.fail_with
        self.calls += 1
        self.inputs.append(tensor)
        h, w = model.contract.height, model.contract.width
        prob = np.zeros((tensor.shape[0], h, w, 1), np.float32)
        if self.box is not None:
            top, left, bottom, right = self.box
            prob[:, int(top * h) : int(bottom * h), int(left * w) : int(right * w)] = 0.97
        return prob


@pytest.fixture
def square_predictor(demo_contract: ModelContract) -> SquarePredictor:
    return SquarePredictor(demo_contract, (0.25, 0.25, 0.75, 0.75))


@pytest.fixture
def make_predictor(demo_contract: ModelContract) -> Callable[..., SquarePredictor]:
    def make(box: tuple[float, float, float, float] | None, version: str = "1") -> SquarePredictor:
        return SquarePredictor(demo_contract, box, version)

    return make


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 in server mode, in a thread of the test process: real HTTP, so the transformer's
    own S3 transport (signing, URLs, XML) runs as it does against S3."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint: str) -> Iterator[Any]:
    """A boto3 client of a fresh moto S3 with the `uploads` and `results` buckets."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=10
    ).close()
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket="uploads")
    client.create_bucket(Bucket="results")
    yield client


@pytest.fixture
def put_upload(s3: Any) -> Callable[[bytes, str], tuple[str, str]]:
    def put(body: bytes, key: str = "incoming/acme/2026/11/22/img-1.jpg") -> tuple[str, str]:
        etag = s3.put_object(Bucket="uploads", Key=key, Body=body)["ETag"].strip('"')
        return key, etag

    return put
