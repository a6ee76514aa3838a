"""Helpers for the stack's tests: a real HTTP server standing in for the transformer (the network
boundary the relay talks to), and small handles on moto."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stack.aws import client
from stack.config import AwsLayout


@dataclass(frozen=True)
class Moto:
    endpoint: str
    layout: AwsLayout

    def client(self, service: str) -> Any:
        return client(service, self.endpoint, self.layout)


@dataclass(frozen=True)
class QueuePair:
    url: str
    arn: str
    dead_letter_url: str


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay_s: float = 0.0


class Subscriber:
    """Answers POSTs from a script (the last answer repeats) and records what it received."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = list(answers)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with subscriber._lock:
                    answers = subscriber.answers
                    answer = answers.pop(0) if len(answers) > 1 else answers[0]
                    subscriber.received.append(
                        Received(
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                            answer.status,
                        )
                    )
                time.sleep(answer.delay_s)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def reply_answer(data: dict[str, Any], *, delay_s: float = 0.0) -> Answer:
    """A 200 carrying a binary-mode reply CloudEvent, as the transformer answers."""
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "reply-1",
        "ce-type": "siteveil.image.anonymized",
        "ce-source": "siteveil/transformer/test",
        "ce-subject": "acme/img-1",
        "content-type": "application/json",
    }
    return Answer(200, headers, json.dumps(data).encode(), delay_s=delay_s)
