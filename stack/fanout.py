"""Shadow fan-out: every event the relay takes also goes to the shadow subscribers.

In the cluster a second Trigger with the same filter feeds the shadow InferenceService; each
Trigger delivers on its own, with its own retries. Locally the relay plays the broker, so it
hands each event to the shadows as well, off the live path: the live delivery never waits for a
shadow, a shadow's reply is dropped (it is never a customer's), and a shadow that keeps failing
is logged, never dead-lettered into the live queue. The shadow report counts an image with no
shadow result as a candidate failure.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from stack.config import Delivery
from stack.relay import Attempt, HttpSink, Verdict, backoff_s, describe, verdict

log = logging.getLogger("siteveil.relay")
Post = Callable[[Mapping[str, str], bytes], Attempt]
_REMEMBERED = 10_000  # message ids already mirrored (a live retry is not mirrored again)


class ShadowFanout:
    """Mirrors each message once (by its id) to every shadow sink, on its own threads."""

    def __init__(
        self,
        sinks: Sequence[str],
        delivery: Delivery,
        *,
        max_in_flight: int = 4,
        posts: Sequence[Post] | None = None,
    ) -> None:
        self._sinks = list(sinks)
        self._delivery = delivery
        self._posts = (
            list(posts)
            if posts is not None
            else [HttpSink(url, delivery.timeout_s).post for url in sinks]
        )
        self._pool = ThreadPoolExecutor(max_in_flight * len(self._sinks) or 1, "shadow")
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def mirroring(self, post: Post) -> Post:
        """`post` to the live subscriber, with each new message handed to the shadows first."""

        def post_and_mirror(headers: Mapping[str, str], body: bytes) -> Attempt:
            self.submit(headers, body)
            return post(headers, body)

        return post_and_mirror

    def submit(self, headers: Mapping[str, str], body: bytes) -> None:
        message_id = str(headers.get("ce-id", ""))
        with self._lock:
            if message_id in self._seen:
                return
            self._seen[message_id] = None
            while len(self._seen) > _REMEMBERED:
                self._seen.popitem(last=False)
        for sink, post in zip(self._sinks, self._posts, strict=True):
            self._pool.submit(self._deliver, sink, post, dict(headers), body)

    def _deliver(self, sink: str, post: Post, headers: dict[str, str], body: bytes) -> None:
        d = self._delivery
        extra = {"message_id": headers.get("ce-id"), "sink": sink}
        attempt: Attempt | None = None
        for n in range(d.retry + 1):
            attempt = post(headers, body)
            outcome = verdict(attempt.status)
            if outcome is Verdict.DELIVERED:
                log.info("shadow delivered", extra={**extra, "attempt": n + 1})
                return  # the reply is the shadow's: never recorded as a customer reply
            if outcome is Verdict.DEAD_LETTER:
                break
            if n < d.retry and self._stop.wait(backoff_s(d.backoff_policy, d.backoff_delay_s, n)):
                break
        assert attempt is not None
        log.warning("shadow gave up", extra={**extra, "reason": describe(attempt)})

    def close(self) -> None:
        """Finish the shadow deliveries in flight (backoffs end at once)."""
        self._stop.set()
        self._pool.shutdown(wait=True)
