"""End to end with Triton gone: the transformer answers 503, the relay retries, then dead-letters.

A stack of its own (so the session's stack keeps its Triton), with Triton stopped after start.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from skimage import data

from stack.lifecycle import StackState, running_stack, stop_component
from stack.uploads import StackClient, wait_for_outcomes
from tests.e2e.conftest import E2E_DELIVERY, e2e_config, require_stack_tools
from tests.e2e.e2e_support import attempts_for, encode, unique_id, wait_until
from transformer.keys import result_keys

pytestmark = pytest.mark.e2e
TENANT = "e2e"


@pytest.fixture(scope="module")
def stack_without_triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackState]:
    require_stack_tools()
    config = e2e_config(tmp_path_factory.mktemp("e2e-no-triton"))
    with running_stack(config) as state:
        assert stop_component(config, "triton")
        yield state


def test_predictor_down_means_503_retries_then_a_dead_letter(
    stack_without_triton: StackState,
) -> None:
    stack = stack_without_triton
    client = StackClient(stack)
    ready = requests.get(f"{stack.transformer_url}/v2/health/ready", timeout=30)
    assert ready.status_code == 503

    body = encode(data.astronaut(), "JPEG", quality=90)
    upload = client.upload(body, tenant=TENANT, image_id=unique_id("no-triton"), ext="jpg")
    [outcome] = wait_for_outcomes(client, [upload], timeout_s=120)

    assert outcome.status == "dead-lettered"
    [letter] = [
        m
        for m in client.dead_letters()
        if json.loads(m["Body"])["detail"]["object"]["key"] == upload.key
    ]
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes["knativeerrorcode"] == "503"
    assert attributes["siteveil-attempts"] == str(E2E_DELIVERY.retry + 1)
    assert "retries exhausted" in attributes["siteveil-reason"]
    message_id = attributes["siteveil-message-id"]
    attempts = attempts_for(stack, message_id)
    assert [a["status"] for a in attempts] == [503] * (E2E_DELIVERY.retry + 1)

    # The customer sees `failed` with the reason (the dead-letter consumer's record), no image
    # or mask was written, and the upload itself is still there for a redrive (issue 14 §7).
    prefix = result_keys(TENANT, upload.image_id, "x").prefix
    record = wait_until(lambda: client.record(upload), what="the dead letter's record")
    assert record["status"] == "failed" and record["error"]["type"] == "DeadLettered"
    assert "retries exhausted" in record["error"]["reason"]
    assert client.list_keys(stack.results_bucket, prefix) == [prefix + "result.json"]
    assert client.get(stack.uploads_bucket, upload.key) == body
    wait_until(lambda: client.queue_depth() == 0, what="the event queue drains")
