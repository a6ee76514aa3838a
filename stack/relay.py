"""The event source + broker stand-in: SQS messages → CloudEvents POSTed with Knative delivery.

Production has Knative's IntegrationSource (`aws.sqs`) feed a Kafka broker whose Trigger POSTs
to the InferenceService. Locally this one process plays both parts, with the Trigger's delivery
semantics (Knative data-plane contract, `delivery` spec):
- each SQS message becomes one binary-mode CloudEvent, type `dev.knative.eventing.aws-sqs`,
  source the queue ARN, id the SQS message id (stable across redeliveries; moto gives every
  EventBridge event the same id, so that id is useless for dedupe);
- 2xx: delivered; delete the message; a 200 reply CloudEvent is appended to a JSONL file (the
  stand-in for "the reply goes back to the broker");
- 5xx, 404, 408, 409, 429, a timeout or no connection: retry with backoff, then dead-letter
  (Knative's data-plane contract retries those 4xx too, so the transformer never uses them for
  "do not retry");
- any other status (400, 410, 413, …): dead-letter at once, no retry;
- dead-letter = send the body to the DLQ with the reason as message attributes, then delete the
  original (in that order: a crash in between duplicates, never loses).
The SQS redrive policy stays the safety net when the relay dies mid-delivery.
"""

from __future__ import annotations

import argparse
import enum
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cloudevents.v1.conversion import to_json
from cloudevents.v1.exceptions import GenericException as CloudEventError
from cloudevents.v1.http import from_http

from stack.config import BackoffPolicy, Delivery
from transformer import logs

log = logging.getLogger("siteveil.relay")

# The type IntegrationSource aws.sqs emits (knative-extensions/eventing-integrations,
# aws-sqs-source/src/main/resources/application.properties); the chart's Trigger filters on it.
EVENT_TYPE = "dev.knative.eventing.aws-sqs"
# 4xx codes Knative's data-plane contract retries besides 5xx: not found, timeout, conflict, overload.
RETRYABLE_4XX = frozenset({404, 408, 409, 429})
_ERROR_DATA_MAX = 1024
_VISIBILITY_MARGIN_S = 10
_MAX_VISIBILITY_S = 12 * 3600


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD_LETTER = "dead-letter"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST's outcome: a status (None: no HTTP answer), the reply, or the transport error."""

    status: int | None
    headers: Mapping[str, str]
    body: bytes
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RelaySettings:
    queue_url: str
    dead_letter_queue_url: str
    source: str
    sink: str
    replies_path: Path
    delivery: Delivery = field(default_factory=Delivery)
    retryable_4xx: frozenset[int] = RETRYABLE_4XX
    max_in_flight: int = 4
    wait_time_s: int = 2
    event_type: str = EVENT_TYPE
    shadow_sinks: tuple[str, ...] = ()  # shadow subscribers (stack/fanout.py)


def verdict(status: int | None, retryable_4xx: frozenset[int] = RETRYABLE_4XX) -> Verdict:
    """What a subscriber's answer means for the message (Knative data-plane contract)."""
    if status is None or status >= 500 or status in retryable_4xx:
        return Verdict.RETRY
    if 200 <= status < 300:
        return Verdict.DELIVERED
    return Verdict.DEAD_LETTER


def backoff_s(policy: BackoffPolicy, delay_s: float, retry_index: int) -> float:
    """Knative's wait before retry number retry_index+1 (retry_index counts from 0)."""
    if policy == "exponential":
        return float(delay_s * (2**retry_index))
    return float(delay_s * (retry_index + 1))


def cloudevent_headers(
    message: Mapping[str, Any], *, source: str, event_type: str
) -> dict[str, str]:
    """Binary-mode CloudEvent headers for one SQS message (its body is the event data)."""
    attributes = message.get("Attributes", {})
    headers = {
        "ce-specversion": "1.0",
        "ce-id": str(message["MessageId"]),
        "ce-source": source,
        "ce-type": event_type,
        "content-type": "application/json",
        # We record reply events, so we say so (Knative data-plane contract, "Prefer: reply").
        "prefer": "reply",
    }
    sent = attributes.get("SentTimestamp")
    if sent and str(sent).isdigit():
        when = time.gmtime(int(sent) / 1000)
        headers["ce-time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", when)
    return headers


def reply_line(attempt: Attempt) -> str | None:
    """The reply CloudEvent in structured JSON (one line), or None when the 200 carries none."""
    if attempt.status != 200 or not attempt.body:
        return None
    try:
        event = from_http(dict(attempt.headers), attempt.body)
    except (CloudEventError, ValueError):
        return None
    return to_json(event).decode("utf-8")


def dead_letter_attributes(
    reason: str, attempt: Attempt | None, *, sink: str, attempts: int, message_id: str
) -> dict[str, dict[str, str]]:
    """SQS message attributes for a dead letter: Knative's knativeerror* names + our own."""

    def text(value: str) -> dict[str, str]:
        return {"DataType": "String", "StringValue": value}

    attributes = {
        "knativeerrordest": text(sink),
        "siteveil-reason": text(reason),
        "siteveil-attempts": {"DataType": "Number", "StringValue": str(attempts)},
        "siteveil-message-id": text(message_id),
    }
    if attempt is not None and attempt.status is not None:
        attributes["knativeerrorcode"] = {"DataType": "Number", "StringValue": str(attempt.status)}
    if attempt is not None and attempt.body:
        data = attempt.body[:_ERROR_DATA_MAX].decode("utf-8", errors="replace")
        if data.strip():
            attributes["knativeerrordata"] = text(data)
    return attributes


def describe(attempt: Attempt) -> str:
    if attempt.status is None:
        return f"no answer: {attempt.error}"
    return f"HTTP {attempt.status}"


class HttpSink:
    """POSTs events to the subscriber, one requests.Session per thread."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self._url = url
        self._timeout = (min(5.0, timeout_s), timeout_s)
        self._local = threading.local()

    def post(self, headers: Mapping[str, str], body: bytes) -> Attempt:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            response = session.post(
                self._url, headers=dict(headers), data=body, timeout=self._timeout
            )
        except requests.Timeout as exc:
            return Attempt(None, {}, b"", error=f"timeout: {type(exc).__name__}")
        except requests.RequestException as exc:
            return Attempt(None, {}, b"", error=f"{type(exc).__name__}")
        return Attempt(response.status_code, dict(response.headers), response.content)


class Relay:
    """Polls the queue and delivers each message; `run` returns after `stop` is set."""

    def __init__(
        self,
        settings: RelaySettings,
        sqs: Any,
        *,
        post: Callable[[Mapping[str, str], bytes], Attempt] | None = None,
    ) -> None:
        self._s = settings
        self._sqs = sqs
        self._post = post or HttpSink(settings.sink, settings.delivery.timeout_s).post
        self._replies_lock = threading.Lock()
        self._slots = threading.Semaphore(settings.max_in_flight)
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        log.info("relay started", extra={"queue": self._s.queue_url, "sink": self._s.sink})
        with ThreadPoolExecutor(self._s.max_in_flight, thread_name_prefix="deliver") as pool:
            while not self._stop.is_set():
                taken = self._take_slots()
                if not taken:
                    continue
                messages = self._receive(taken)
                for _ in range(taken - len(messages)):
                    self._slots.release()
                for message in messages:
                    pool.submit(self._deliver_and_release, message)
            log.info("relay stopping: finishing deliveries in flight")
        log.info("relay stopped")

    def _take_slots(self) -> int:
        if not self._slots.acquire(timeout=0.5):
            return 0
        taken = 1
        while taken < min(10, self._s.max_in_flight) and self._slots.acquire(blocking=False):
            taken += 1
        return taken

    def _receive(self, count: int) -> list[dict[str, Any]]:
        try:
            response = self._sqs.receive_message(
                QueueUrl=self._s.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=self._s.wait_time_s,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except (BotoCoreError, ClientError) as exc:
            log.warning("receive failed; retrying", extra={"reason": str(exc)})
            self._stop.wait(1.0)
            return []
        return list(response.get("Messages", []))

    def _deliver_and_release(self, message: dict[str, Any]) -> None:
        try:
            self.deliver(message)
        except Exception:
            log.exception(
                "delivery crashed; the message stays queued (redrive applies)",
                extra={"message_id": message.get("MessageId")},
            )
        finally:
            self._slots.release()

    def deliver(self, message: dict[str, Any]) -> Verdict | None:
        """Deliver one message with retries; None when a stop interrupted it (left queued)."""
        d = self._s.delivery
        message_id = str(message["MessageId"])
        headers = cloudevent_headers(message, source=self._s.source, event_type=self._s.event_type)
        body = str(message["Body"]).encode("utf-8")
        attempt: Attempt | None = None
        for n in range(d.retry + 1):
            self._keep_invisible(
                message, d.timeout_s + backoff_s(d.backoff_policy, d.backoff_delay_s, n)
            )
            attempt = self._post(headers, body)
            outcome = verdict(attempt.status, self._s.retryable_4xx)
            extra = {
                "message_id": message_id,
                "attempt": n + 1,
                "status": attempt.status,
                "outcome": outcome.value,
            }
            if outcome is Verdict.DELIVERED:
                self._record_reply(attempt)
                self._delete(message)
                log.info("delivered", extra=extra)
                return outcome
            if outcome is Verdict.DEAD_LETTER:
                log.warning("not retryable", extra={**extra, "reason": describe(attempt)})
                self._dead_letter(message, f"not retryable: {describe(attempt)}", attempt, n + 1)
                return outcome
            log.warning("delivery failed", extra={**extra, "reason": describe(attempt)})
            if n < d.retry:
                wait = backoff_s(d.backoff_policy, d.backoff_delay_s, n)
                if self._stop.wait(wait):
                    self._release(message)
                    log.info(
                        "stopped during backoff; message left queued",
                        extra={"message_id": message_id},
                    )
                    return None
        assert attempt is not None
        reason = f"retries exhausted after {d.retry + 1} attempts: {describe(attempt)}"
        self._dead_letter(message, reason, attempt, d.retry + 1)
        return Verdict.DEAD_LETTER

    def _record_reply(self, attempt: Attempt) -> None:
        line = reply_line(attempt)
        if line is None:
            if attempt.status == 200 and attempt.body:
                log.warning("200 reply is not a CloudEvent; not recorded")
            return
        with self._replies_lock:
            self._s.replies_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._s.replies_path, "a", encoding="utf-8") as replies:
                replies.write(line + "\n")

    def _dead_letter(
        self, message: dict[str, Any], reason: str, attempt: Attempt | None, attempts: int
    ) -> None:
        message_id = str(message["MessageId"])
        self._sqs.send_message(
            QueueUrl=self._s.dead_letter_queue_url,
            MessageBody=message["Body"],
            MessageAttributes=dead_letter_attributes(
                reason, attempt, sink=self._s.sink, attempts=attempts, message_id=message_id
            ),
        )
        self._delete(message)
        log.warning("dead-lettered", extra={"message_id": message_id, "reason": reason})

    def _delete(self, message: dict[str, Any]) -> None:
        self._sqs.delete_message(QueueUrl=self._s.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _keep_invisible(self, message: dict[str, Any], seconds: float) -> None:
        """Keep the message hidden from other consumers for the coming attempt and backoff."""
        timeout = min(_MAX_VISIBILITY_S, math.ceil(seconds) + _VISIBILITY_MARGIN_S)
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._s.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=timeout,
            )
        except (BotoCoreError, ClientError) as exc:
            log.warning(
                "cannot extend visibility",
                extra={"message_id": message["MessageId"], "reason": str(exc)},
            )

    def _release(self, message: dict[str, Any]) -> None:
        """Make an abandoned message visible again at once (for the next relay)."""
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._s.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
        except (BotoCoreError, ClientError):
            pass  # it becomes visible when its timeout runs out anyway


def sqs_client() -> Any:
    """SQS client from the standard AWS environment (AWS_ENDPOINT_URL points at moto locally)."""
    return boto3.session.Session().client(
        "sqs", config=Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=30)
    )


def parse_args(argv: Sequence[str] | None = None) -> RelaySettings:
    parser = argparse.ArgumentParser(
        prog="python -m stack.relay",
        description="SQS -> CloudEvents HTTP relay with Knative Trigger delivery semantics",
    )
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--dead-letter-queue-url", required=True)
    parser.add_argument("--source", required=True, help="ce-source: the queue ARN")
    parser.add_argument("--sink", required=True, help="subscriber URL (the transformer)")
    parser.add_argument("--replies", type=Path, required=True, help="JSONL file of reply events")
    default = Delivery()
    parser.add_argument(
        "--retry", type=int, default=default.retry, help="attempts after the first one"
    )
    parser.add_argument(
        "--backoff-policy", choices=["exponential", "linear"], default=default.backoff_policy
    )
    parser.add_argument(
        "--backoff-delay", type=float, default=default.backoff_delay_s, help="seconds"
    )
    parser.add_argument(
        "--timeout", type=float, default=default.timeout_s, help="seconds per attempt"
    )
    parser.add_argument(
        "--retry-4xx",
        default=",".join(str(c) for c in sorted(RETRYABLE_4XX)),
        help="comma list of 4xx statuses that are retried like 5xx",
    )
    parser.add_argument("--max-in-flight", type=int, default=4)
    parser.add_argument("--wait-time", type=int, default=2, help="SQS long-poll seconds (<= 20)")
    parser.add_argument(
        "--shadow-sink",
        action="append",
        default=[],
        help="a shadow subscriber that gets every event too (repeatable; stack/fanout.py)",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if not 1 <= args.max_in_flight <= 64 or not 0 <= args.wait_time <= 20:
        parser.error("--max-in-flight must be in 1..64 and --wait-time in 0..20")
    try:
        retryable_4xx = frozenset(int(c) for c in args.retry_4xx.split(",") if c.strip())
    except ValueError:
        parser.error("--retry-4xx must be a comma list of status codes")
    try:
        delivery = Delivery(
            retry=args.retry,
            backoff_policy=args.backoff_policy,
            backoff_delay_s=args.backoff_delay,
            timeout_s=args.timeout,
        )
    except ValueError as exc:
        parser.error(str(exc))
    logs.configure(args.log_level, fields=None)
    return RelaySettings(
        queue_url=args.queue_url,
        dead_letter_queue_url=args.dead_letter_queue_url,
        source=args.source,
        sink=args.sink,
        replies_path=args.replies,
        delivery=delivery,
        retryable_4xx=retryable_4xx,
        max_in_flight=args.max_in_flight,
        wait_time_s=args.wait_time,
        shadow_sinks=tuple(args.shadow_sink),
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    from stack.fanout import ShadowFanout  # imports this module: import it once we run

    fanout = None
    post = None
    if settings.shadow_sinks:
        fanout = ShadowFanout(
            settings.shadow_sinks, settings.delivery, max_in_flight=settings.max_in_flight
        )
        post = fanout.mirroring(HttpSink(settings.sink, settings.delivery.timeout_s).post)
    relay = Relay(settings, sqs_client(), post=post)

    def on_signal(signum: int, _: FrameType | None) -> None:
        log.info("signal received", extra={"signal": signal.Signals(signum).name})
        relay.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    relay.run()
    if fanout is not None:
        fanout.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
