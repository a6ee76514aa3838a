"""Serve the Flask app with real Gunicorn (sync workers: the work per request is CPU-bound)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from transformer.config import Settings


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "bind": f"{settings.http_host}:{settings.http_port}",
        "workers": settings.workers,
        "worker_class": "sync",
        # Triton may be slow on a cold GPU: give a request the predictor timeout plus decode/S3.
        "timeout": int(settings.predictor_timeout) + 60,
        "graceful_timeout": 30,
        "keepalive": 5,
        "control_socket_disable": True,  # gunicorn 27 would otherwise write ~/.gunicorn
        "accesslog": None,
        "post_fork": _post_fork,
        "child_exit": _child_exit,
    }


class TransformerServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self._settings).items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from transformer.app import create_app

        return create_app(self._settings)


def _post_fork(server: Any, worker: Any) -> None:
    import cv2
    import gevent

    cv2.setNumThreads(1)  # one request per worker; threads would only fight between workers
    # The master read the models' contracts through tritonclient (gevent's resolver threads)
    # before forking: without reinit a worker's first getaddrinfo can hang (gevent.reinit docs).
    gevent.reinit()


def _child_exit(server: Any, worker: Any) -> None:
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def serve(settings: Settings) -> None:
    TransformerServer(settings).run()
