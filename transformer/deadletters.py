"""The dead-letter recorder: an upload whose event ended in the dead-letter sink gets a `failed`
record with the reason, so `GET /v1/images/{id}` says `failed` instead of `pending` forever.

In the cluster it is a small HTTP service fed by a KafkaSource on the dead-letter topic (the
events arrive as Knative dead-lettered them, with `knativeerrorcode` / `knativeerrordata`);
locally `stack.deadletters` calls `record_dead_letter` for each message of the relay's DLQ.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify, request

from transformer import __version__, outputs
from transformer.config import Settings, comma_list
from transformer.errors import TransformerError, bounded
from transformer.events import (
    ObjectCreated,
    objects_created,
    parse_cloudevent,
    require_source_bucket,
)
from transformer.keys import result_keys
from transformer.results import FAILED, Anonymization, Failure, ModelRef, ResultRecord, SourceObject
from transformer.storage import Storage

log = logging.getLogger("siteveil.deadletters")


def record_dead_letter(
    settings: Settings,
    storage: Storage,
    obj: ObjectCreated,
    reason: str,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ResultRecord | None:
    """Write the `failed` record of a dead-lettered upload; None when it already has a result.

    A complete record of the same upload wins (the transformer may have finished after the
    broker gave up on its answer). The original is never deleted: a redrive needs it.
    """
    bucket = settings.results_bucket or obj.bucket
    keys = result_keys(obj.incoming.tenant, obj.incoming.image_id, "img")
    if outputs.previous_record(storage, bucket, keys, obj) is not None:
        return None
    record = ResultRecord(
        status=FAILED,
        image_id=obj.incoming.image_id,
        tenant=obj.incoming.tenant,
        event_id=obj.event_id,
        source=SourceObject(bucket=obj.bucket, key=obj.key, etag=obj.etag, size=obj.size),
        model=ModelRef(name=settings.model_name, version=None),
        anonymization=Anonymization(
            mode=settings.anonymization_mode,
            threshold=settings.mask_threshold,
            dilation_px=settings.mask_dilation_px or 0,
        ),
        transformer_version=__version__,
        processed_at=now(),
        original_deleted=False,
        error=Failure(type=outputs.DEAD_LETTERED, reason=bounded(f"dead-lettered: {reason}")),
    )
    outputs.write_record(storage, bucket, keys, record)
    outputs.remove_stale_outputs(storage, bucket, keys, record)
    return record


def knative_reason(attributes: dict[str, Any]) -> str:
    """The reason Knative's dead-letter extensions give (knativeerrorcode / knativeerrordata)."""
    code = attributes.get("knativeerrorcode")
    data = attributes.get("knativeerrordata")
    parts = [f"HTTP {code}" if code else "delivery failed after every retry"]
    if data:
        parts.append(str(data))
    return bounded(": ".join(parts))


def create_app(settings: Settings, *, storage: Storage | None = None) -> Flask:
    storage = storage or Storage()
    app = Flask("siteveil-deadletters")
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="alive")

    @app.post("/")
    def dead_letter() -> Any:
        try:
            event = parse_cloudevent(dict(request.headers), request.get_data(cache=False))
            objects = objects_created(event)
            for obj in objects:
                require_source_bucket(obj, settings.upload_buckets, settings.results_bucket)
        except TransformerError as exc:
            log.warning("dead letter names no upload", extra={"reason": exc.reason})
            return jsonify(error=exc.kind, reason=exc.reason), 400
        reason = knative_reason(event.get_attributes())  # type: ignore[arg-type]
        recorded = [
            r.image_id for o in objects if (r := record_dead_letter(settings, storage, o, reason))
        ]
        log.info("dead letter recorded", extra={"recorded": recorded, "reason": reason})
        return jsonify(recorded=recorded)

    return app


def parse_settings(argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python -m transformer.deadletters",
        description="record a `failed` result for each dead-lettered upload event",
    )
    parser.add_argument("--results_bucket", required=True)
    parser.add_argument("--upload_buckets", type=comma_list("bucket names"), required=True)
    parser.add_argument("--model_name", default="person_segmenter", help="named in the record")
    parser.add_argument("--http_host", default="127.0.0.1")
    parser.add_argument("--http_port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log_level", default="INFO")
    args = parser.parse_args(argv)
    return Settings(predictor_host="-", **vars(args))


def main(argv: Sequence[str] | None = None) -> int:
    from gunicorn.app.base import BaseApplication

    from transformer import logs
    from transformer.server import gunicorn_options

    settings = parse_settings(argv)
    logs.configure(settings.log_level)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in gunicorn_options(settings).items():
                if key != "child_exit":
                    self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(settings)

    Server().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
