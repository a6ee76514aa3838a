"""Fixtures for the stack's tests: a tiny Triton model repository made on the spot, a real moto
server, fresh queues, and real HTTP subscribers."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stack.aws import start_moto
from stack.config import AwsLayout
from stack.processes import free_port, stop
from stack.triton import DEFAULT_VENV
from tests.stack.stack_support import Answer, Moto, QueuePair, Subscriber

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


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """One real moto server (S3 + EventBridge + SQS) for the stack tests of this session."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    pid = start_moto(Path(sys.executable), port, log)
    try:
        yield Moto(f"http://127.0.0.1:{port}", AwsLayout())
    finally:
        stop(pid)


@pytest.fixture
def queues(moto: Moto) -> QueuePair:
    """A fresh queue and dead-letter queue for one test."""
    sqs = moto.client("sqs")
    name = f"q-{uuid.uuid4().hex[:12]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return QueuePair(url=url, arn=arn["Attributes"]["QueueArn"], dead_letter_url=dlq)


@pytest.fixture
def subscriber_factory() -> Iterator[Callable[..., Subscriber]]:
    made: list[Subscriber] = []

    def make(*answers: Answer) -> Subscriber:
        subscriber = Subscriber(list(answers))
        made.append(subscriber)
        return subscriber

    yield make
    for subscriber in made:
        subscriber.close()
