"""The relay against a real moto SQS and a real HTTP subscriber: Knative Trigger delivery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stack.aws import aws_env
from stack.config import Delivery
from stack.relay import (
    EVENT_TYPE,
    Relay,
    RelaySettings,
    Verdict,
    backoff_s,
    verdict,
)
from tests.stack.stack_support import Answer, Moto, QueuePair, Subscriber, reply_answer

FAST = Delivery(retry=2, backoff_policy="exponential", backoff_delay_s=0.2, timeout_s=2.0)
BODY = json.dumps({"detail-type": "Object Created", "source": "aws.s3", "id": "same-for-all"})


def settings(
    queues: QueuePair, sink: str, tmp_path: Path, delivery: Delivery = FAST
) -> RelaySettings:
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


@contextmanager
def running_relay(relay_settings: RelaySettings, moto: Moto) -> Iterator[Relay]:
    relay = Relay(relay_settings, moto.client("sqs"))
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        relay.stop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "relay did not stop"


def wait_until(condition: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout_s} s")


def queue_depth(moto: Moto, url: str) -> int:
    attrs = moto.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def dead_letters(moto: Moto, queues: QueuePair) -> list[dict[str, Any]]:
    response = moto.client("sqs").receive_message(
        QueueUrl=queues.dead_letter_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=1,
        MessageAttributeNames=["All"],
        VisibilityTimeout=0,
    )
    return list(response.get("Messages", []))


def send(moto: Moto, queues: QueuePair, body: str = BODY) -> str:
    return str(moto.client("sqs").send_message(QueueUrl=queues.url, MessageBody=body)["MessageId"])


def attr(message: dict[str, Any], name: str) -> str:
    return str(message["MessageAttributes"][name]["StringValue"])


# --- pure rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Verdict.DELIVERED),
        (202, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (400, Verdict.DEAD_LETTER),
        (410, Verdict.DEAD_LETTER),
        (413, Verdict.DEAD_LETTER),
        (404, Verdict.RETRY),
        (409, Verdict.RETRY),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (503, Verdict.RETRY),
        (None, Verdict.RETRY),
        (302, Verdict.DEAD_LETTER),
    ],
)
def test_verdict_follows_the_trigger_delivery_rules(status: int | None, expected: Verdict) -> None:
    assert verdict(status) is expected


def test_backoff_grows_exponentially_or_linearly() -> None:
    assert [backoff_s("exponential", 0.5, n) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert [backoff_s("linear", 0.5, n) for n in range(4)] == [0.5, 1.0, 1.5, 2.0]


# --- against moto and a real subscriber -----------------------------------------------------


def test_delivers_a_binary_cloudevent_records_the_reply_and_deletes_the_message(
    moto: Moto, queues: QueuePair, subscriber_factory: Callable[..., Subscriber], tmp_path: Path
) -> None:
    subscriber = subscriber_factory(reply_answer({"status": "anonymized", "image_id": "img-1"}))
    message_id = send(moto, queues)
    with running_relay(settings(queues, subscriber.url, tmp_path), moto):
        wait_until(lambda: (tmp_path / "replies.jsonl").exists())
        wait_until(lambda: queue_depth(moto, queues.url) == 0)

    [post] = subscriber.received
    assert post.headers["ce-specversion"] == "1.0"
    assert post.headers["ce-type"] == EVENT_TYPE
    assert post.headers["ce-source"] == queues.arn
    assert post.headers["ce-id"] == message_id
    assert post.headers["content-type"] == "application/json"
    assert post.body == BODY.encode()
    [line] = (tmp_path / "replies.jsonl").read_text().splitlines()
    reply = json.loads(line)
    assert reply["type"] == "siteveil.image.anonymized"
    assert reply["subject"] == "acme/img-1"
    assert reply["data"] == {"status": "anonymized", "image_id": "img-1"}
    assert dead_letters(moto, queues) == []


def test_retries_5xx_with_the_same_event_id_and_growing_backoff(
    moto: Moto, queues: QueuePair, subscriber_factory: Callable[..., Subscriber], tmp_path: Path
) -> None:
    subscriber = subscriber_factory(Answer(503), Answer(500), Answer(202))
    message_id = send(moto, queues)
    with running_relay(settings(queues, subscriber.url, tmp_path), moto):
        wait_until(lambda: queue_depth(moto, queues.url) == 0)

    assert [r.headers["ce-id"] for r in subscriber.received] == [message_id] * 3
    gaps = [b.at - a.at for a, b in zip(subscriber.received, subscriber.received[1:])]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # backoffDelay 0.2 s, exponential
    assert dead_letters(moto, queues) == []
    assert not (tmp_path / "replies.jsonl").exists()  # a 202 carries no reply


def test_dead_letters_after_the_retries_run_out(
    moto: Moto, queues: QueuePair, subscriber_factory: Callable[..., Subscriber], tmp_path: Path
) -> None:
    subscriber = subscriber_factory(
        Answer(503, {"content-type": "application/json"}, b'{"error": "PredictorUnavailable"}')
    )
    message_id = send(moto, queues)
    with running_relay(settings(queues, subscriber.url, tmp_path), moto):
        [letter] = wait_until(lambda: dead_letters(moto, queues))
        wait_until(lambda: queue_depth(moto, queues.url) == 0)

    assert len(subscriber.received) == FAST.retry + 1
    assert letter["Body"] == BODY
    assert attr(letter, "knativeerrorcode") == "503"
    assert attr(letter, "siteveil-attempts") == "3"
    assert attr(letter, "siteveil-message-id") == message_id
    assert "retries exhausted" in attr(letter, "siteveil-reason")
    assert "PredictorUnavailable" in attr(letter, "knativeerrordata")
    assert attr(letter, "knativeerrordest") == subscriber.url


def test_a_400_is_dead_lettered_at_once_without_retry(
    moto: Moto, queues: QueuePair, subscriber_factory: Callable[..., Subscriber], tmp_path: Path
) -> None:
    subscriber = subscriber_factory(Answer(400, {}, b'{"error": "InvalidEvent"}'), Answer(200))
    send(moto, queues, body="not an S3 event")
    with running_relay(settings(queues, subscriber.url, tmp_path), moto):
        [letter] = wait_until(lambda: dead_letters(moto, queues))
        wait_until(lambda: queue_depth(moto, queues.url) == 0)
        time.sleep(1.0)  # would a retry come? (backoff is 0.2 s)

    assert len(subscriber.received) == 1
    assert attr(letter, "knativeerrorcode") == "400"
    assert attr(letter, "siteveil-attempts") == "1"
    assert "not retryable" in attr(letter, "siteveil-reason")


def test_429_is_retried(
    moto: Moto, queues: QueuePair, subscriber_factory: Callable[..., Subscriber], tmp_path: Path
) -> None:
    subscriber = subscriber_factory(Answer(429), Answer(200))
    send(moto, queues)
    with running_relay(settings(queues, subscriber.url, tmp_path), moto):
        wait_until(lambda: queue_depth(moto, queues.url) == 0)
    assert len(subscriber.received) == 2
    assert dead_letters(moto, queues) == []


def test_no_listener_and_timeouts_are_retried_then_dead_lettered(
    moto: Moto, queues: QueuePair, subscriber_factory: Callable[..., Subscriber], tmp_path: Path
) -> None:
    slow = subscriber_factory(Answer(200, delay_s=1.5))
    delivery = Delivery(retry=1, backoff_delay_s=0.1, timeout_s=0.5)
    send(moto, queues)
    with running_relay(settings(queues, slow.url, tmp_path, delivery), moto):
        [letter] = wait_until(lambda: dead_letters(moto, queues))
    assert len(slow.received) == 2
    assert "timeout" in attr(letter, "siteveil-reason")
    assert "knativeerrorcode" not in letter["MessageAttributes"]

    closed = slow.url
    slow.close()  # nothing listens on its port any more
    send(moto, queues)
    with running_relay(settings(queues, closed, tmp_path, delivery), moto):
        letters = wait_until(
            lambda: [
                m
                for m in dead_letters(moto, queues)
                if "ConnectionError" in attr(m, "siteveil-reason")
            ]
        )
    assert len(letters) == 1


def test_every_message_ends_delivered_or_dead_lettered(
    moto: Moto, queues: QueuePair, subscriber_factory: Callable[..., Subscriber], tmp_path: Path
) -> None:
    answers = [Answer(200), Answer(400), Answer(503), Answer(200), Answer(503), Answer(503)]
    subscriber = subscriber_factory(*answers, Answer(200))
    sent = {send(moto, queues, body=json.dumps({"n": n})) for n in range(8)}
    with running_relay(settings(queues, subscriber.url, tmp_path), moto):
        wait_until(lambda: queue_depth(moto, queues.url) == 0)
        letters = dead_letters(moto, queues)
    delivered = {r.headers["ce-id"] for r in subscriber.received if 200 <= r.answered < 300}
    dead = {attr(m, "siteveil-message-id") for m in letters}
    assert len(letters) == len(dead)  # one dead letter per message, never two
    assert delivered | dead == sent
    assert not delivered & dead


def test_sigterm_finishes_the_delivery_in_flight_and_exits_cleanly(
    moto: Moto, queues: QueuePair, subscriber_factory: Callable[..., Subscriber], tmp_path: Path
) -> None:
    subscriber = subscriber_factory(reply_answer({"ok": True}, delay_s=1.5))
    send(moto, queues)
    env = {**os.environ, **aws_env(moto.endpoint, moto.layout)}
    argv = [
        sys.executable,
        "-m",
        "stack.relay",
        "--queue-url",
        queues.url,
        "--dead-letter-queue-url",
        queues.dead_letter_url,
        "--source",
        queues.arn,
        "--sink",
        subscriber.url,
        "--replies",
        str(tmp_path / "replies.jsonl"),
        "--wait-time",
        "1",
    ]
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(
            lambda: subscriber.received or proc.poll() is not None
        )  # the POST is in flight (answer takes 1.5 s)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert queue_depth(moto, queues.url) == 0
    assert len((tmp_path / "replies.jsonl").read_text().splitlines()) == 1
    logs = [json.loads(line) for line in proc.stderr.read().splitlines() if line.startswith("{")]
    assert any(entry["message"] == "relay stopped" for entry in logs)
