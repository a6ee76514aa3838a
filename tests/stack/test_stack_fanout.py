"""Shadow fan-out in the relay against a real moto SQS and real HTTP subscribers: every event also
reaches the shadow, once, off the live path; a shadow's reply is never a customer's and its
failures never reach the live dead-letter queue."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stack.aws import aws_env
from stack.config import Delivery
from stack.fanout import ShadowFanout
from stack.relay import HttpSink, Relay, RelaySettings
from tests.stack.stack_support import Answer, Moto, QueuePair, Subscriber, reply_answer

FAST = Delivery(retry=2, backoff_policy="exponential", backoff_delay_s=0.2, timeout_s=5.0)


def settings(queues: QueuePair, sink: str, tmp_path: Path, delivery: Delivery) -> RelaySettings:
    return RelaySettings(
        queue_url=queues.url,
        dead_letter_queue_url=queues.dead_letter_url,
        source=queues.arn,
        sink=sink,
        replies_path=tmp_path / "replies.jsonl",
        delivery=delivery,
        max_in_flight=2,
        wait_time_s=1,
    )


def wait_until(condition: Callable[[], object], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(0.1)


def send(moto: Moto, queues: QueuePair) -> str:
    body = json.dumps({"detail-type": "Object Created", "source": "aws.s3"})
    return str(moto.client("sqs").send_message(QueueUrl=queues.url, MessageBody=body)["MessageId"])


def queue_depth(moto: Moto, url: str) -> int:
    attrs = moto.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def dead_letters(moto: Moto, queues: QueuePair) -> list[object]:
    response = moto.client("sqs").receive_message(
        QueueUrl=queues.dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    )
    return list(response.get("Messages", []))


def shadow_reply(delay_s: float = 0.0) -> Answer:
    answer = reply_answer({"status": "anonymized", "image_id": "img-1"}, delay_s=delay_s)
    return Answer(
        200, {**answer.headers, "ce-type": "siteveil.shadow.anonymized"}, answer.body, delay_s
    )


@contextmanager
def relay_with_shadow(relay_settings: RelaySettings, moto: Moto, shadow: str) -> Iterator[None]:
    fanout = ShadowFanout([shadow], relay_settings.delivery)
    post = fanout.mirroring(HttpSink(relay_settings.sink, relay_settings.delivery.timeout_s).post)
    relay = Relay(relay_settings, moto.client("sqs"), post=post)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        relay.stop()
        thread.join(timeout=30)
        fanout.close()


def test_the_relay_process_feeds_the_shadow_every_event_and_records_only_live_replies(
    moto: Moto, queues: QueuePair, subscriber_factory: Callable[..., Subscriber], tmp_path: Path
) -> None:
    live = subscriber_factory(reply_answer({"status": "anonymized", "image_id": "img-1"}))
    shadow = subscriber_factory(shadow_reply(delay_s=1.0))  # a slow candidate
    ids = {send(moto, queues) for _ in range(3)}
    argv = [
        sys.executable, "-m", "stack.relay", "--queue-url", queues.url,
        "--dead-letter-queue-url", queues.dead_letter_url, "--source", queues.arn,
        "--sink", live.url, "--shadow-sink", shadow.url,
        "--replies", str(tmp_path / "replies.jsonl"), "--wait-time", "1",
    ]  # fmt: skip
    env = {**os.environ, **aws_env(moto.endpoint, moto.layout)}
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(live.received) == 3 and len(shadow.received) == 3)
        wait_until(lambda: queue_depth(moto, queues.url) == 0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert {r.headers["ce-id"] for r in live.received} == ids
    assert {r.headers["ce-id"] for r in shadow.received} == ids
    # the live path did not wait for the slow shadow (it answers 1 s after each request): every
    # live delivery arrived before the shadow had answered even its first one
    assert max(r.at for r in live.received) < min(r.at for r in shadow.received) + 1.0
    replies = [json.loads(line) for line in (tmp_path / "replies.jsonl").read_text().splitlines()]
    assert [r["type"] for r in replies] == ["siteveil.image.anonymized"] * 3
    logs = [json.loads(line) for line in proc.stderr.read().splitlines() if line.startswith("{")]
    assert sum(entry["message"] == "shadow delivered" for entry in logs) == 3


def test_a_live_retry_does_not_send_the_event_to_the_shadow_again(
    moto: Moto, queues: QueuePair, subscriber_factory: Callable[..., Subscriber], tmp_path: Path
) -> None:
    live = subscriber_factory(Answer(503), reply_answer({"ok": True}))
    shadow = subscriber_factory(shadow_reply())
    send(moto, queues)
    with relay_with_shadow(settings(queues, live.url, tmp_path, FAST), moto, shadow.url):
        wait_until(lambda: len(live.received) == 2 and queue_depth(moto, queues.url) == 0)
    assert len(shadow.received) == 1


def test_a_failing_shadow_is_retried_then_given_up_never_dead_lettered(
    moto: Moto,
    queues: QueuePair,
    subscriber_factory: Callable[..., Subscriber],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    live = subscriber_factory(reply_answer({"ok": True}))
    shadow = subscriber_factory(Answer(503))
    send(moto, queues)
    with caplog.at_level(logging.INFO, logger="siteveil.relay"):
        with relay_with_shadow(settings(queues, live.url, tmp_path, FAST), moto, shadow.url):
            wait_until(lambda: len(shadow.received) == FAST.retry + 1)
            wait_until(lambda: any(r.message == "shadow gave up" for r in caplog.records))
    assert len(live.received) == 1 and queue_depth(moto, queues.url) == 0
    assert dead_letters(moto, queues) == []
    assert len((tmp_path / "replies.jsonl").read_text().splitlines()) == 1
