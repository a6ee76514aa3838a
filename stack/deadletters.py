"""The local dead-letter consumer and the redrive: the relay's DLQ made visible and reversible.

The consumer peeks at the dead-letter queue (visibility 0: the letters stay there, for redrive
and for anyone who inspects the queue) and writes a `failed` record with the reason for each
upload a letter names, through the transformer's own `record_dead_letter`. `redrive` sends the
letters chosen (by image id, or all) back to the event queue and deletes them from the DLQ
(send first, then delete: a crash in between duplicates, never loses).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from cloudevents.v1.http import CloudEvent

from stack.relay import EVENT_TYPE, sqs_client
from transformer import logs
from transformer.config import Settings
from transformer.deadletters import record_dead_letter
from transformer.errors import StorageUnavailable, TransformerError
from transformer.events import ObjectCreated, objects_created
from transformer.storage import Storage

log = logging.getLogger("siteveil.deadletters")
SQS_REDRIVE_REASON = "received too often without a delivery (the queue's redrive policy)"


def letter_objects(message: dict[str, Any]) -> list[ObjectCreated]:
    """The uploads a dead letter names ([] when it names none: a malformed or foreign event)."""
    attributes = message.get("MessageAttributes", {})
    event_id = attributes.get("siteveil-message-id", {}).get("StringValue") or message["MessageId"]
    event = CloudEvent(
        {"type": EVENT_TYPE, "source": "siteveil/dead-letters", "id": event_id},
        str(message.get("Body", "")),
    )
    try:
        return objects_created(event)
    except TransformerError:
        return []


def letter_reason(message: dict[str, Any]) -> str:
    """Why it was dead-lettered: the relay's `siteveil-reason`, else the SQS redrive policy."""
    attributes = message.get("MessageAttributes", {})
    reason = attributes.get("siteveil-reason", {}).get("StringValue")
    return str(reason) if reason else SQS_REDRIVE_REASON


def peek(sqs: Any, queue_url: str, *, rounds: int = 5) -> list[dict[str, Any]]:
    """The messages of a queue, left there (received with visibility 0)."""
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):  # SQS samples its servers: a few receives see every message
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages = response.get("Messages", [])
        for message in messages:
            seen[message["MessageId"]] = message
        if not messages:
            break
    return list(seen.values())


@dataclass
class DeadLetterConsumer:
    sqs: Any
    storage: Storage
    settings: Settings
    dead_letter_queue_url: str

    def __post_init__(self) -> None:
        self._done: set[str] = set()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def consume_once(self) -> list[str]:
        """Record every letter not recorded yet; the image ids recorded."""
        recorded: list[str] = []
        for message in peek(self.sqs, self.dead_letter_queue_url):
            if message["MessageId"] in self._done:
                continue
            reason = letter_reason(message)
            try:
                for obj in letter_objects(message):
                    if obj.bucket not in self.settings.upload_buckets:
                        continue
                    if record_dead_letter(self.settings, self.storage, obj, reason):
                        recorded.append(obj.incoming.image_id)
            except StorageUnavailable as exc:
                log.warning("cannot record a dead letter yet", extra={"reason": exc.reason})
                continue
            self._done.add(message["MessageId"])
            log.info(
                "dead letter recorded", extra={"message_id": message["MessageId"], "reason": reason}
            )
        return recorded

    def run(self, interval_s: float = 1.0) -> None:
        log.info("dead-letter consumer started", extra={"queue": self.dead_letter_queue_url})
        while not self._stop.is_set():
            try:
                self.consume_once()
            except (BotoCoreError, ClientError) as exc:
                log.warning("receive failed; retrying", extra={"reason": str(exc)})
            self._stop.wait(interval_s)
        log.info("dead-letter consumer stopped")


def redrive(
    sqs: Any,
    dead_letter_queue_url: str,
    queue_url: str,
    chosen: Callable[[dict[str, Any]], bool],
) -> list[str]:
    """Send the chosen dead letters back to the event queue; their message ids."""
    moved = []
    for message in peek(sqs, dead_letter_queue_url, rounds=50):
        if not chosen(message):
            continue
        received = sqs.receive_message(
            QueueUrl=dead_letter_queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=30,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        # a receipt handle is needed to delete; take this message's from a fresh receive
        match = next((m for m in received if m["MessageId"] == message["MessageId"]), None)
        for other in received:
            if other is not match:
                sqs.change_message_visibility(
                    QueueUrl=dead_letter_queue_url,
                    ReceiptHandle=other["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
        if match is None:
            continue
        sqs.send_message(QueueUrl=queue_url, MessageBody=match["Body"])
        sqs.delete_message(QueueUrl=dead_letter_queue_url, ReceiptHandle=match["ReceiptHandle"])
        moved.append(str(match["MessageId"]))
    return moved


def choose(image_ids: Sequence[str], tenant: str | None) -> Callable[[dict[str, Any]], bool]:
    """A letter is chosen when it names one of the image ids (any, when none are given)."""
    wanted = set(image_ids)

    def chosen(message: dict[str, Any]) -> bool:
        objects = letter_objects(message)
        if tenant is not None and not any(o.incoming.tenant == tenant for o in objects):
            return False
        return not wanted or any(o.incoming.image_id in wanted for o in objects)

    return chosen


def describe_letter(message: dict[str, Any]) -> str:
    objects = letter_objects(message)
    names = ", ".join(f"{o.incoming.tenant}/{o.incoming.image_id}" for o in objects) or "-"
    return json.dumps(
        {"message_id": message["MessageId"], "uploads": names, "reason": letter_reason(message)}
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.deadletters", description=__doc__)
    parser.add_argument("--dead-letter-queue-url", required=True)
    parser.add_argument("--results-bucket", required=True)
    parser.add_argument("--upload-bucket", required=True)
    parser.add_argument("--model-name", default="person_segmenter")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between peeks")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logs.configure(args.log_level, fields=None)
    settings = Settings(
        model_name=args.model_name,
        predictor_host="-",
        results_bucket=args.results_bucket,
        upload_buckets=(args.upload_bucket,),
    )
    consumer = DeadLetterConsumer(sqs_client(), Storage(), settings, args.dead_letter_queue_url)

    def on_signal(signum: int, _: FrameType | None) -> None:
        consumer.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    consumer.run(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
