"""The Flask app: CloudEvents in on `POST /`, KServe health paths, Prometheus metrics."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, jsonify, request

from transformer import metrics
from transformer.config import Settings
from transformer.errors import TransformerError
from transformer.events import (
    objects_created,
    parse_cloudevent,
    reply_event,
    require_source_bucket,
)
from transformer.pipeline import Outcome, Pipeline
from transformer.predictor import Predictor, TritonPredictor
from transformer.storage import Storage

log = logging.getLogger("siteveil.transformer")
MAX_EVENT_BYTES = 1024 * 1024  # events name images; they never carry them


def create_app(
    settings: Settings,
    *,
    storage: Storage | None = None,
    predictor: Predictor | None = None,
) -> Flask:
    storage = storage or Storage()
    predictor = predictor or TritonPredictor(settings)
    pipeline = Pipeline(settings, storage, predictor)
    app = Flask("siteveil-transformer")
    app.config["MAX_CONTENT_LENGTH"] = MAX_EVENT_BYTES

    @app.get("/")
    def alive() -> Any:
        return jsonify(status="alive")

    @app.get("/v2/health/live")
    def live() -> Any:
        return jsonify(live=True)

    @app.get("/v2/health/ready")
    def ready() -> Any:
        is_ready = predictor.is_ready()
        return jsonify(ready=is_ready), 200 if is_ready else 503

    @app.get("/v2/models/<name>/ready")
    def model_ready(name: str) -> Any:
        if name != settings.model_name:
            return _error(404, "ModelNotFound", f"model {name!r} is not served here")
        is_ready = predictor.is_ready()
        return jsonify(name=name, ready=is_ready), 200 if is_ready else 503

    @app.get("/metrics")
    def prometheus() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    @app.post("/")
    def handle_event() -> Any:
        started = time.perf_counter()
        try:
            event = parse_cloudevent(dict(request.headers), request.get_data(cache=False))
            objects = objects_created(event)
            for obj in objects:
                require_source_bucket(obj, settings.upload_buckets, settings.results_bucket)
            outcomes = [_process(pipeline, obj) for obj in objects]
        except TransformerError as exc:
            outcome = "rejected" if not exc.retryable else "error"
            metrics.EVENTS.labels(outcome).inc()
            log.warning(
                "event not processed",
                extra={
                    "outcome": outcome,
                    "status": exc.status,
                    "reason": exc.reason,
                    "event_id": request.headers.get("ce-id"),
                },
            )
            return _error(exc.status, exc.kind, exc.reason)
        finally:
            metrics.REQUEST_SECONDS.observe(time.perf_counter() - started)
        if len(outcomes) == 1:
            headers, body = reply_event(
                outcomes[0].record.model_dump(mode="json"),
                failed=outcomes[0].failed,
                shadow=settings.shadow,
                model_name=settings.model_name,
            )
            return Response(body, status=200, headers=headers)
        return jsonify(results=[o.record.model_dump(mode="json") for o in outcomes])

    @app.errorhandler(413)
    def too_large(_: Exception) -> Any:
        return _error(413, "InvalidEvent", f"event is larger than {MAX_EVENT_BYTES} bytes")

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Any:
        return _error(405, "MethodNotAllowed", "method not allowed on this path")

    @app.errorhandler(404)
    def not_found(_: Exception) -> Any:
        return _error(404, "NotFound", "no such path")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unexpected error while handling a request")
        metrics.EVENTS.labels("error").inc()
        return _error(500, "InternalError", f"unexpected {type(exc).__name__}; will be retried")

    return app


def _process(pipeline: Pipeline, obj: Any) -> Outcome:
    outcome = pipeline.process(obj)
    record = outcome.record
    label = "duplicate" if outcome.duplicate else record.status
    metrics.EVENTS.labels(label).inc()
    if not outcome.duplicate:
        for stage, ms in record.timings_ms.items():
            metrics.STAGE_SECONDS.labels(stage).observe(ms / 1000)
        if record.person_fraction is not None:
            metrics.PERSON_FRACTION.observe(record.person_fraction)
    log.info(
        "image processed",
        extra={
            "event_id": obj.event_id,
            "tenant": record.tenant,
            "image_id": record.image_id,
            "outcome": label,
            "model_version": record.model.version,
            "person_fraction": record.person_fraction,
            "timings_ms": record.timings_ms,
            "reason": record.error.reason if record.error else None,
        },
    )
    return outcome


def _error(status: int, kind: str, reason: str) -> Any:
    return jsonify(error=kind, reason=reason), status
