"""The real single-machine stack, started once per session for the end-to-end tests.

moto (S3 + EventBridge + SQS), Triton (nvidia-pytriton's tritonserver with the demo model), the
transformer under Gunicorn, the relay and the upload API: every part a real process on 127.0.0.1. The relay
retries quickly here (2 retries from 0.3 s) so that the dead-letter paths stay short.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.config import REPO_ROOT, Delivery, StackConfig
from stack.lifecycle import StackState, running_stack
from stack.triton import DEFAULT_VENV
from stack.uploads import StackClient

MODEL = REPO_ROOT / "model_repository" / "person_segmenter" / "1" / "model.onnx"
E2E_DELIVERY = Delivery(retry=2, backoff_policy="exponential", backoff_delay_s=0.3, timeout_s=60)


def require_stack_tools() -> None:
    if not MODEL.exists():
        pytest.skip(f"{MODEL} is missing: run `make model`")
    if not (DEFAULT_VENV / "bin" / "python").exists():
        pytest.skip(f"no Triton virtualenv at {DEFAULT_VENV}: run `make triton-venv`")


def e2e_config(state_dir: Path) -> StackConfig:
    return StackConfig(state_dir=state_dir, delivery=E2E_DELIVERY)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackState]:
    """The whole stack, up for the session."""
    require_stack_tools()
    with running_stack(e2e_config(tmp_path_factory.mktemp("e2e-stack"))) as state:
        yield state


@pytest.fixture(scope="session")
def client(stack: StackState) -> StackClient:
    return StackClient(stack)
