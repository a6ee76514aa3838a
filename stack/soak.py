"""`make soak N=…`: many uploads through the real local path while faults hit it, then an exact
account of every upload.

Path: upload API (dev token) → presigned PUT → S3 event → EventBridge → SQS → relay →
transformer (Gunicorn) → Triton → results, with the transformer's S3 behind a fault-injecting
proxy. The fault schedule fires once each, at fixed shares of the uploads accounted for: kill -9
a Gunicorn worker mid-request, kill -9 Triton and start it again, S3 answering 503 and then
slowly for a while, SIGTERM the relay, kill -9 the relay, and deliver finished uploads again.
At the end every upload is anonymized, failed (with a reason) or dead-lettered (with a reason,
seen through the API as failed); lost must be 0, and the results bucket is checked for
consistency and for un-anonymized pixels. The table is printed and `<out>/report.json` written.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import requests
from PIL import Image
from skimage import data as samples

from stack.config import REPO_ROOT, StackConfig
from stack.faults import FaultProxy
from stack.deadletters import choose, redrive
from stack.lifecycle import (
    StackState,
    read_state,
    restart_component,
    running_stack,
    stop_component,
)
from stack.upload_api import dev_token
from stack.uploads import StackClient
from transformer.index import index_prefix, parse_entry_key
from transformer.keys import result_keys

TENANT = "soak"
OUTAGE = "Triton down longer than the retry budget: dead letters, then redrive"
OUTAGE_UPLOADS = 5


@dataclass(frozen=True)
class SoakOptions:
    n: int = 300
    width: int = 640
    height: int = 480
    concurrency: int = 8
    max_duration_s: float = 1800.0
    bad_share: float = 0.05
    faults: bool = True
    out_dir: Path = REPO_ROOT / "soak-output"
    state_dir: Path = REPO_ROOT / ".stack-soak"
    fault_hold_s: float = 5.0
    # Uploads wait while more than this many events are queued or in flight: cameras upload
    # at the rate the path drains, and moto's SQS costs O(queued messages) per call (a 10 000
    # message backlog slowed every S3 and SQS call of the run to seconds). 0: no bound.
    max_backlog: int = 400


@dataclass
class Sent:
    image_id: str
    key: str
    body: bytes
    ext: str
    bad: bool


@dataclass
class FaultLog:
    name: str
    at_s: float
    detail: str = ""


@dataclass
class Account:
    anonymized: int = 0
    failed: int = 0
    dead_lettered: int = 0
    lost: int = 0
    failed_reasons: Counter[str] = field(default_factory=Counter)
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def make_images(options: SoakOptions) -> list[tuple[bytes, str, bool]]:
    """Upload bodies: crops of scikit-image's astronaut (a person) and rocket (none), each a
    little different (so every etag differs), a few deliberately truncated (bad)."""
    rng = random.Random(14)
    bases = [samples.astronaut(), samples.rocket()]
    images = []
    for i in range(options.n):
        base = bases[i % 2]
        h, w = base.shape[:2]
        scale = rng.uniform(0.6, 1.0)
        ch, cw = int(h * scale), int(w * scale)
        y, x = rng.randint(0, h - ch), rng.randint(0, w - cw)
        crop = cv2.resize(
            np.ascontiguousarray(base[y : y + ch, x : x + cw]), (options.width, options.height)
        )
        crop[0, 0] = (i % 256, (i // 256) % 256, 7)
        fmt, ext = ("PNG", "png") if i % 5 == 4 else ("JPEG", "jpg")
        buffer = io.BytesIO()
        Image.fromarray(crop).save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        body = buffer.getvalue()
        bad = rng.random() < options.bad_share
        if bad:
            body = body[: len(body) // 3]
        images.append((body, ext, bad))
    return images


def upload_all(
    state: StackState,
    images: list[tuple[bytes, str, bool]],
    concurrency: int,
    sink: list[Sent],
    max_backlog: int = 0,
) -> None:
    """Each image through the API: POST /v1/uploads (dev JWT), then the presigned PUT."""
    token = dev_token(Path(state.api_keys_dir), TENANT)
    auth = {"Authorization": f"Bearer {token}"}
    content_types = {"jpg": "image/jpeg", "png": "image/png"}

    sqs = StackClient(state).sqs
    gate = threading.Lock()

    def wait_for_room() -> None:
        if max_backlog <= 0:
            return
        with gate:  # one poller at a time
            while True:
                attributes = sqs.get_queue_attributes(
                    QueueUrl=state.queue_url,
                    AttributeNames=[
                        "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesNotVisible",
                    ],
                )["Attributes"]
                if sum(int(v) for v in attributes.values()) < max_backlog:
                    return
                time.sleep(0.5)

    def one(item: tuple[bytes, str, bool]) -> Sent:
        body, ext, bad = item
        wait_for_room()
        request: dict[str, Any] = {"content_type": content_types[ext], "size": len(body)}
        for attempt in range(5):
            slot = requests.post(
                f"{state.api_url}/v1/uploads", json=request, headers=auth, timeout=30
            )
            if slot.status_code == 201:
                break
            time.sleep(1 + attempt)
        slot.raise_for_status()
        s = slot.json()
        put = requests.put(s["url"], data=body, headers=s["headers"], timeout=60)
        put.raise_for_status()
        return Sent(s["image_id"], s["key"], body, ext, bad)

    with ThreadPoolExecutor(concurrency) as pool:
        for sent in pool.map(one, images):
            sink.append(sent)  # list.append is atomic: the fault schedule reads it meanwhile


def finished(client: StackClient, state: StackState) -> set[str]:
    keys = client.list_keys(state.results_bucket, f"results/{TENANT}/")
    return {
        k.split("/")[2]
        for k in keys
        if k.endswith("/result.json") and not k.startswith(index_prefix(TENANT))
    }


def worker_pids(master: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


class FaultSchedule:
    """Each fault once, when its share of the uploads is accounted for."""

    def __init__(
        self,
        config: StackConfig,
        state: StackState,
        proxy: FaultProxy,
        client: StackClient,
        sent: list[Sent],
        options: SoakOptions,
    ) -> None:
        self.config, self.state, self.proxy, self.client = config, state, proxy, client
        self.sent, self.options = sent, options
        self.log: list[FaultLog] = []
        self.started = time.monotonic()
        hold = options.fault_hold_s
        self.plan: list[tuple[float, str, Callable[[], str]]] = [
            (0.05, "kill -9 a Gunicorn worker mid-request", self._kill_worker),
            (0.15, f"S3 answers 503 for {hold:.0f} s", lambda: self._s3("error")),
            (
                0.25,
                f"S3 answers {proxy.slow_s:.0f} s late for {hold:.0f} s",
                lambda: self._s3("slow"),
            ),
            (0.35, "kill -9 Triton, start it again", self._restart("triton", kill=True)),
            (0.50, "SIGTERM the relay, start it again", self._restart("relay", kill=False)),
            (0.65, "kill -9 the relay, start it again", self._restart("relay", kill=True)),
            (0.75, "deliver 20 finished uploads again", self._duplicates),
            # last, once every other upload is accounted for: only its own uploads are caught
            (1.0, OUTAGE, self._outage_beyond_budget),
        ]
        self.dead_letter_phase: dict[str, Any] = {}
        self.total = options.n

    def due(self, done: int) -> None:
        while self.plan and done >= self.plan[0][0] * self.total:
            _, name, action = self.plan.pop(0)
            at = time.monotonic() - self.started
            detail = action()
            self.log.append(FaultLog(name, round(at, 1), detail))
            print(f"  [{at:6.1f} s] fault: {name} ({detail})", flush=True)

    def _kill_worker(self) -> str:
        state = read_state(self.config) or self.state  # restarts change the pids
        pids = worker_pids(state.pids["transformer"])
        if not pids:
            return "no worker found"
        victim = pids[0]
        os.kill(victim, signal.SIGKILL)
        return f"worker pid {victim} killed; Gunicorn starts another"

    def _s3(self, mode: Any) -> str:
        before = sum(self.proxy.counts.values())
        with self.proxy.fault(mode):
            time.sleep(self.options.fault_hold_s)
        return f"{sum(self.proxy.counts.values()) - before} S3 requests hit it"

    def _restart(self, name: str, *, kill: bool) -> Callable[[], str]:
        def act() -> str:
            started = time.monotonic()
            pid = restart_component(self.config, name, kill=kill)
            return f"new pid {pid}, back after {time.monotonic() - started:.1f} s"

        return act

    def _outage_beyond_budget(self) -> str:
        """Uploads that outlive the retry budget end in the DLQ; the customer sees `failed`
        with the reason; once Triton is back, a redrive anonymizes them after all."""
        started = time.monotonic()
        stop_component(self.config, "triton")
        extra: list[Sent] = []
        good = [image for image in make_images(self.options) if not image[2]]
        upload_all(self.state, good[:OUTAGE_UPLOADS], 2, extra)
        ids = [x.image_id for x in extra]
        # the relay holds a slot through an event's backoff: rounds of max_in_flight events
        d = self.config.delivery
        rounds = -(-OUTAGE_UPLOADS // self.config.relay_max_in_flight)
        budget = rounds * (d.backoff_budget_s + (d.retry + 1) * 5.0) + 60

        def recorded() -> list[dict[str, Any]] | None:
            records = [self.client.record_of(TENANT, i) for i in ids]
            if all(r and (r.get("error") or {}).get("type") == "DeadLettered" for r in records):
                return records  # type: ignore[return-value]
            return None

        records = _wait(recorded, budget)
        token = dev_token(Path(self.state.api_keys_dir), TENANT)
        api = [
            requests.get(
                f"{self.state.api_url}/v1/images/{i}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ).json()
            for i in ids
        ]
        restart_component(self.config, "triton")
        moved = redrive(
            self.client.sqs,
            self.state.dead_letter_queue_url,
            self.state.queue_url,
            choose(ids, TENANT),
        )
        self.sent.extend(extra)  # accounted like the rest: anonymized after the redrive
        self.dead_letter_phase = {
            "uploads": len(ids),
            "recorded_dead_lettered": sum(1 for r in records or [] if r),
            "api_said_failed": sum(1 for a in api if a.get("status") == "failed"),
            "reasons": sorted(
                {(r or {}).get("error", {}).get("reason", "") for r in records or []}
            ),
            "redriven": len(moved),
            "seconds_until_recorded": round(time.monotonic() - started, 1),
        }
        return (
            f"{self.dead_letter_phase['recorded_dead_lettered']}/{len(ids)} recorded as "
            f"dead-lettered, API failed for {self.dead_letter_phase['api_said_failed']}, "
            f"{len(moved)} redriven"
        )

    def _duplicates(self) -> str:
        done = finished(self.client, self.state)
        again = [s for s in self.sent if s.image_id in done][:20]
        for s in again:
            body = {
                "source": "aws.s3",
                "detail-type": "Object Created",
                "detail": {
                    "bucket": {"name": self.state.uploads_bucket},
                    "object": {"key": s.key, "size": len(s.body)},
                },
            }
            self.client.sqs.send_message(
                QueueUrl=self.state.queue_url, MessageBody=json.dumps(body)
            )
        return f"{len(again)} events sent again"


def _wait(condition: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1.0)
    return None


def _decode(body: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"), dtype=np.int16)


def account(client: StackClient, state: StackState, sent: list[Sent]) -> Account:
    """Every upload exactly once, and the results bucket checked object by object."""
    result = Account()
    bucket = state.results_bucket
    everything = set(client.list_keys(bucket, f"results/{TENANT}/"))
    index = {k for k in everything if k.startswith(index_prefix(TENANT))}
    listed = everything - index
    token = dev_token(Path(state.api_keys_dir), TENANT)
    ids = {s.image_id for s in sent}
    by_image: dict[str, list[str]] = {}
    for key in listed:
        by_image.setdefault(key.split("/")[2], []).append(key)
        if key.split("/")[2] not in ids:
            result.problems.append(f"{key}: under results/ but no upload of this soak")
    for key in index:  # the time index (transformer/index.py): entries of this soak's images only
        entry = parse_entry_key(key)
        if entry is None or entry.image_id not in ids:
            result.problems.append(f"{key}: an index entry of no upload of this soak")
    for s in sent:
        record = client.record_of(TENANT, s.image_id)
        prefix = result_keys(TENANT, s.image_id, "x").prefix
        present = sorted(k for k in by_image.get(s.image_id, []) if k.startswith(prefix))
        api = requests.get(
            f"{state.api_url}/v1/images/{s.image_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        if record is None:
            result.lost += 1
            result.problems.append(f"{s.image_id}: lost (no record; API says {api.get('status')})")
            continue
        if record["status"] == "anonymized":
            result.anonymized += 1
            outputs = record["outputs"]
            expected = sorted([outputs["anonymized"], outputs["mask"], outputs["record"]])
            if present != expected:
                result.problems.append(f"{s.image_id}: objects {present}, record says {expected}")
                continue
            if s.bad:
                result.problems.append(f"{s.image_id}: a truncated upload was anonymized")
            if api.get("status") != "done":
                result.problems.append(f"{s.image_id}: anonymized, API says {api.get('status')}")
            _check_pixels(client, bucket, s, outputs, record, result)
            continue
        error = record.get("error") or {}
        if present != [prefix + "result.json"]:
            result.problems.append(f"{s.image_id}: failed record beside {present}")
        if api.get("status") != "failed":
            result.problems.append(f"{s.image_id}: failed, API says {api.get('status')}")
        if not error.get("reason"):
            result.problems.append(f"{s.image_id}: failed without a reason")
        if error.get("type") == "DeadLettered":
            result.dead_lettered += 1
            result.dead_letter_reasons[error["reason"][:120]] += 1
        else:
            result.failed += 1
            result.failed_reasons[f"{error.get('type')}: {error.get('reason', '')[:100]}"] += 1
            if not s.bad:
                result.problems.append(f"{s.image_id}: a good upload failed: {error}")
    return result


def _check_pixels(
    client: StackClient,
    bucket: str,
    s: Sent,
    outputs: dict[str, str],
    record: dict[str, Any],
    result: Account,
) -> None:
    """No un-anonymized pixel: under the mask the image must have changed, and no result
    object may be the uploaded bytes themselves."""
    anonymized = client.get(bucket, outputs["anonymized"]) or b""
    mask_bytes = client.get(bucket, outputs["mask"]) or b""
    if anonymized == s.body:
        result.problems.append(f"{s.image_id}: the anonymized image is the upload itself")
        return
    mask = np.asarray(Image.open(io.BytesIO(mask_bytes))) > 0
    if mask.sum() < 500:
        return
    diff = np.abs(_decode(anonymized) - _decode(s.body)).mean(axis=2)
    if float(diff[mask].mean()) < 3.0:
        result.problems.append(
            f"{s.image_id}: pixels under the mask look unchanged "
            f"(mean difference {float(diff[mask].mean()):.2f})"
        )


def run(options: SoakOptions) -> dict[str, Any]:
    config = StackConfig(state_dir=options.state_dir)
    started = time.monotonic()
    print(
        f"soak: {options.n} images of {options.width}×{options.height}, "
        f"concurrency {options.concurrency}; starting the stack ...",
        flush=True,
    )
    with running_stack(config) as state:
        proxy = FaultProxy(state.aws_endpoint).start()
        try:
            restart_component(config, "transformer", aws_endpoint=proxy.url)
            client = StackClient(state)
            images = make_images(options)
            t0 = time.monotonic()
            sent: list[Sent] = []
            uploader = threading.Thread(
                target=upload_all,
                args=(state, images, options.concurrency, sent, options.max_backlog),
                daemon=True,
            )
            uploader.start()
            schedule = FaultSchedule(config, state, proxy, client, sent, options)
            deadline = started + options.max_duration_s
            upload_s = 0.0
            while time.monotonic() < deadline:
                if not upload_s and not uploader.is_alive():
                    upload_s = time.monotonic() - t0
                    print(f"  uploaded {len(sent)} in {upload_s:.1f} s", flush=True)
                ids = {x.image_id for x in list(sent)}
                polled = time.monotonic()
                done = len(finished(client, state) & ids)
                # Listing every result is O(results) for the S3 server: at 10 000 uploads a
                # listing a second kept moto busy and slowed every upload and result write
                # (~15 images/min). Poll at most a tenth of the time.
                poll_pause_s = max(1.0, 9 * (time.monotonic() - polled))
                if options.faults:
                    schedule.due(done)
                if upload_s and done >= len(sent) and not (options.faults and schedule.plan):
                    break
                time.sleep(poll_pause_s)
            drained = time.monotonic() - t0
            time.sleep(3.0)  # let duplicates still in flight land before counting
            result = account(client, state, sent)
        finally:
            proxy.close()
    not_sent = options.n + (OUTAGE_UPLOADS if options.faults else 0) - len(sent)
    report = {
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        "uploads": len(sent),
        "uploads_not_sent": not_sent,
        "anonymized": result.anonymized,
        "failed": result.failed,
        "dead_lettered": result.dead_lettered,
        "lost": result.lost,
        "truncated_uploads_sent": sum(s.bad for s in sent),
        "failed_reasons": dict(result.failed_reasons),
        "dead_letter_reasons": dict(result.dead_letter_reasons),
        "problems": result.problems,
        "faults": [asdict(f) for f in schedule.log],
        "faults_not_fired": [name for _, name, _ in schedule.plan] if options.faults else [],
        "dead_letter_phase": schedule.dead_letter_phase,
        "s3_proxy_requests": dict(proxy.counts),
        "seconds": {
            "upload": round(upload_s, 1),
            "until_all_accounted": round(drained, 1),
            "total": round(time.monotonic() - started, 1),
        },
        "ok": (
            result.lost == 0
            and not result.problems
            and not (options.faults and schedule.plan)
            and not_sent == 0
            and report_dead_letters_ok(schedule.dead_letter_phase, options.faults)
        ),
    }
    options.out_dir.mkdir(parents=True, exist_ok=True)
    (options.out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    return report


def report_dead_letters_ok(phase: dict[str, Any], faults: bool) -> bool:
    if not faults:
        return True
    n = phase.get("uploads", -1)
    return (
        n
        == phase.get("recorded_dead_lettered")
        == phase.get("api_said_failed")
        == phase.get("redriven")
    )


def table(report: dict[str, Any]) -> str:
    rows = [
        ("uploads", report["uploads"]),
        ("anonymized", report["anonymized"]),
        ("failed (with reason)", report["failed"]),
        ("dead-lettered (failed via API)", report["dead_lettered"]),
        ("lost", report["lost"]),
        ("dead-lettered in the outage, then", report["dead_letter_phase"].get("uploads", 0)),
        ("  seen failed through the API", report["dead_letter_phase"].get("api_said_failed", 0)),
        ("  redriven (now anonymized)", report["dead_letter_phase"].get("redriven", 0)),
        ("consistency problems", len(report["problems"])),
        ("faults fired", len(report["faults"])),
        ("seconds until all accounted", report["seconds"]["until_all_accounted"]),
    ]
    lines = ["", "soak result", "-" * 44]
    lines += [f"{name:<34}{value:>10}" for name, value in rows]
    lines += ["-" * 44]
    for reason, count in {**report["failed_reasons"], **report["dead_letter_reasons"]}.items():
        lines.append(f"  {count:>4} × {reason}")
    for problem in report["problems"][:20]:
        lines.append(f"  PROBLEM {problem}")
    lines.append("OK" if report["ok"] else "NOT OK")
    return "\n".join(lines)


def _size(value: str) -> tuple[int, int]:
    w, _, h = value.lower().partition("x")
    return int(w), int(h)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.soak", description=__doc__)
    parser.add_argument("-n", "--images", type=int, default=300)
    parser.add_argument("--size", type=_size, default=(640, 480), help="WxH of every image")
    parser.add_argument("--concurrency", type=int, default=8, help="parallel uploads")
    parser.add_argument("--max-duration", type=float, default=1800.0, help="seconds, at most")
    parser.add_argument(
        "--max-backlog",
        type=int,
        default=SoakOptions().max_backlog,
        help="uploads wait while this many events are queued or in flight (0: no bound)",
    )
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--out", type=Path, default=SoakOptions().out_dir)
    parser.add_argument("--state-dir", type=Path, default=SoakOptions().state_dir)
    args = parser.parse_args(argv)
    options = SoakOptions(
        n=args.images,
        width=args.size[0],
        height=args.size[1],
        concurrency=args.concurrency,
        max_duration_s=args.max_duration,
        faults=not args.no_faults,
        max_backlog=args.max_backlog,
        out_dir=args.out,
        state_dir=args.state_dir,
    )
    return 0 if run(options)["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
