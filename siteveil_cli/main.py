"""`siteveil upload PATH… [--batch] [--wait] [--out DIR]`: upload images, wait, fetch the results."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import AwareDatetime, TypeAdapter, ValidationError
from tqdm import tqdm

from siteveil_cli.client import ApiClient, ApiError
from siteveil_cli.files import LocalImage, UsageError, collect, exif_captured_at, result_path

BATCH_LIMIT = 1000
EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE, EXIT_API = 0, 1, 2, 3
RESULTS_FILE = "siteveil-results.json"

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Tracked:
    image: LocalImage
    image_id: str
    batch_id: str | None = None
    status: str = "pending"
    reason: str | None = None
    anonymized_url: str | None = field(default=None, repr=False)
    output: Path | None = None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siteveil", description="siteveil customer CLI")
    parser.add_argument(
        "--api-url",
        default=os.environ.get("SITEVEIL_API_URL", "http://127.0.0.1:8000"),
        help="the upload API (env SITEVEIL_API_URL)",
    )
    parser.add_argument("--token", help="a JWT (better: env SITEVEIL_TOKEN)")
    parser.add_argument("--api-key", help="an API key (better: env SITEVEIL_API_KEY)")
    commands = parser.add_subparsers(dest="command", required=True)
    upload = commands.add_parser("upload", help="upload image files or folders of images")
    upload.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    upload.add_argument("--batch", action="store_true", help="one batch per 1 000 images")
    upload.add_argument("--wait", action="store_true", help="wait until every image is processed")
    upload.add_argument("--out", type=Path, help="download anonymized images here (implies --wait)")
    upload.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait (default 600)"
    )
    upload.add_argument("--poll", type=float, default=2.0, help="seconds between status polls")
    upload.add_argument("--parallel", type=int, default=8, help="concurrent transfers (default 8)")
    upload.add_argument("--method", choices=("PUT", "POST"), default="PUT")
    upload.add_argument(
        "--camera",
        metavar="ID",
        help="camera id recorded with every image (1-64 of A-Z a-z 0-9 . : -)",
    )
    upload.add_argument(
        "--captured-at",
        metavar="TIME",
        type=_rfc3339,
        help="when the frames were taken, RFC 3339 with an offset (e.g. 2026-12-01T08:00:00Z); "
        "default: each file's EXIF DateTimeOriginal (UTC unless OffsetTimeOriginal says), if any",
    )
    upload.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=_label,
        help="a customer label recorded with every image (repeatable, up to 10)",
    )
    return parser


_TIME: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def _rfc3339(text: str) -> datetime:
    try:
        return _TIME.validate_python(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an RFC 3339 time with an offset (e.g. 2026-12-01T08:00:00Z)"
        ) from None


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pmap(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1))) as pool:
        return list(pool.map(fn, items))


@dataclass(frozen=True, slots=True)
class Metadata:
    """What `--camera`, `--captured-at` and `--label` say, sent with every image's slot."""

    camera_id: str | None = None
    captured_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)


def _request_item(image: LocalImage, method: str, meta: Metadata) -> dict[str, Any]:
    item: dict[str, Any] = {
        "content_type": image.content_type,
        "size": image.size,
        "method": method,
        "filename": str(image.relative),
    }
    if meta.camera_id:
        item["camera_id"] = meta.camera_id
    captured = meta.captured_at or exif_captured_at(image.path)
    if captured is not None:
        item["captured_at"] = captured.isoformat()
    if meta.labels:
        item["labels"] = meta.labels
    return item


def _create_slots(
    client: ApiClient,
    images: Sequence[LocalImage],
    *,
    batch: bool,
    method: str,
    workers: int,
    meta: Metadata | None = None,
) -> list[tuple[Tracked, dict[str, Any]]]:
    meta = meta or Metadata()
    if not batch:
        slots = _pmap(
            lambda i: client.create_upload(_request_item(i, method, meta)), images, workers
        )
        return [(Tracked(i, s["image_id"]), s) for i, s in zip(images, slots, strict=True)]
    pairs: list[tuple[Tracked, dict[str, Any]]] = []
    for chunk in _chunks(images, BATCH_LIMIT):
        created = client.create_batch([_request_item(i, method, meta) for i in chunk])
        for image, slot in zip(chunk, created["uploads"], strict=True):
            pairs.append((Tracked(image, slot["image_id"], created["batch_id"]), slot))
        print(f"batch {created['batch_id']}: {len(chunk)} images", file=sys.stderr)
    return pairs


def _upload_all(
    client: ApiClient, pairs: Sequence[tuple[Tracked, dict[str, Any]]], workers: int
) -> None:
    total = sum(t.image.size for t, _ in pairs)
    with tqdm(total=total, unit="B", unit_scale=True, desc="uploading", disable=None) as bar:

        def one(pair: tuple[Tracked, dict[str, Any]]) -> None:
            tracked, slot = pair
            client.upload(slot, tracked.image.path)
            bar.update(tracked.image.size)

        _pmap(one, pairs, workers)


def _apply(tracked: Tracked, status: dict[str, Any]) -> Tracked:
    error = status.get("error") or {}
    return replace(
        tracked,
        status=status["status"],
        reason=error.get("reason"),
        anonymized_url=status.get("anonymized_url"),
    )


def _poll(client: ApiClient, tracked: list[Tracked], workers: int) -> list[Tracked]:
    by_id = {t.image_id: t for t in tracked}
    batch_ids = sorted({t.batch_id for t in tracked if t.batch_id and t.status == "pending"})
    for batch_id in batch_ids:
        for image in client.batch(batch_id)["images"]:
            if image["image_id"] in by_id:
                by_id[image["image_id"]] = _apply(by_id[image["image_id"]], image)
    singles = [t for t in by_id.values() if t.batch_id is None and t.status == "pending"]
    for status in _pmap(lambda t: client.image(t.image_id), singles, workers):
        by_id[status["image_id"]] = _apply(by_id[status["image_id"]], status)
    return [by_id[t.image_id] for t in tracked]


def _wait(
    client: ApiClient, tracked: list[Tracked], *, timeout: float, poll: float, workers: int
) -> list[Tracked]:
    deadline = time.monotonic() + timeout
    with tqdm(total=len(tracked), unit="img", desc="anonymizing", disable=None) as bar:
        while True:
            tracked = _poll(client, tracked, workers)
            finished = sum(t.status != "pending" for t in tracked)
            bar.update(finished - bar.n)
            if finished == len(tracked) or time.monotonic() >= deadline:
                return tracked
            time.sleep(poll)


def _download(client: ApiClient, tracked: list[Tracked], out: Path, workers: int) -> list[Tracked]:
    def one(t: Tracked) -> Tracked:
        if t.status != "done" or not t.anonymized_url:
            return t
        dest = result_path(out, t.image, t.anonymized_url)
        client.download(t.anonymized_url, dest)
        return replace(t, output=dest)

    with tqdm(total=len(tracked), unit="img", desc="downloading", disable=None) as bar:

        def counted(t: Tracked) -> Tracked:
            result = one(t)
            bar.update(1)
            return result

        return _pmap(counted, tracked, workers)


def _report(tracked: Sequence[Tracked], out: Path | None) -> None:
    rows = [
        {
            "file": str(t.image.path),
            "image_id": t.image_id,
            "batch_id": t.batch_id,
            "status": t.status,
            "reason": t.reason,
            "output": str(t.output) if t.output else None,
        }
        for t in tracked
    ]
    for t in tracked:
        fields = [t.status, t.image_id, str(t.image.path)]
        fields += [str(t.output)] if t.output else []
        fields += [f"reason: {t.reason}"] if t.reason else []
        print("\t".join(fields))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / RESULTS_FILE).write_text(json.dumps(rows, indent=2) + "\n")
    counts = {s: sum(t.status == s for t in tracked) for s in ("done", "failed", "pending")}
    print(
        f"{len(tracked)} uploaded: {counts['done']} done, {counts['failed']} failed, "
        f"{counts['pending']} pending",
        file=sys.stderr,
    )


def upload(args: argparse.Namespace) -> int:
    images = collect(args.paths)
    token = args.token or os.environ.get("SITEVEIL_TOKEN")
    api_key = args.api_key or os.environ.get("SITEVEIL_API_KEY")
    if not token and not api_key:
        raise UsageError("give a token (SITEVEIL_TOKEN) or an API key (SITEVEIL_API_KEY)")
    client = ApiClient(args.api_url, token=token, api_key=api_key)
    meta = Metadata(args.camera, args.captured_at, dict(args.label))
    pairs = _create_slots(
        client, images, batch=args.batch, method=args.method, workers=args.parallel, meta=meta
    )
    _upload_all(client, pairs, args.parallel)
    tracked = [t for t, _ in pairs]
    if args.wait or args.out:
        tracked = _wait(
            client, tracked, timeout=args.timeout, poll=args.poll, workers=args.parallel
        )
        if args.out:
            tracked = _download(client, tracked, args.out, args.parallel)
        _report(tracked, args.out)
        return EXIT_OK if all(t.status == "done" for t in tracked) else EXIT_INCOMPLETE
    _report(tracked, None)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return upload(args)
    except UsageError as exc:
        print(f"siteveil: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ApiError as exc:
        print(f"siteveil: {exc}", file=sys.stderr)
        return EXIT_API
    except KeyboardInterrupt:
        return 130
