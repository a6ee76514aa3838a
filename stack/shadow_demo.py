"""`make shadow-demo`: the local stack with the demo model live and a candidate in shadow mode,
at least 30 images sent once, the shadow report written to shadow-output/ and its verdict printed.

The candidate is made from the demo model (`stack.candidates`): `identical` by default (promoted),
or `--candidate dim|blind|edge-fails` to watch a regression being caught. Exit status: 0 when the
verdict is promote, 3 when it is reject, 1 when something else went wrong.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from ops.cli import REJECT_EXIT, print_report
from ops.metrics import Thresholds
from ops.records import ResultStore
from ops.shadow import ShadowReport, shadow_report, write_local
from stack.candidates import KINDS, make_candidate
from stack.config import REPO_ROOT, StackConfig
from stack.errors import StackError
from stack.lifecycle import StackState, log_path, running_stack
from stack.samples import Sample
from stack.uploads import StackClient, Upload, wait_for_outcomes
from transformer.keys import result_keys

TENANT = "shadow-demo"
CANDIDATE = "person_segmenter_candidate"


def _jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def _rgb(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels[..., :3]


def _fit(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR))


def shadow_samples(count: int = 32, *, white_top_every: int = 0, size: int = 320) -> list[Sample]:
    """`count` small scenes made from scikit-image's bundled pictures: a portrait (astronaut or
    cameraman) of varying size and place on varying backgrounds, every fifth scene without one.

    `white_top_every=k` gives every k-th scene a white top edge (what the `edge-fails`
    candidate fails on).
    """
    rng = np.random.default_rng(13)
    people = [_rgb(data.astronaut()), _rgb(data.camera())]
    grounds = [_rgb(data.rocket()), _rgb(data.coffee()), _rgb(data.grass()), _rgb(data.brick())]
    samples = []
    for index in range(count):
        frame = _fit(grounds[index % len(grounds)], size, size * 3 // 4).copy()
        person = index % 5 != 4
        if person:
            portrait = people[index % 2]
            side = int(rng.integers(size // 3, size * 3 // 4))
            pasted = _fit(portrait, side, side)
            if index % 3 == 1:
                pasted = pasted[:, ::-1]
            top = int(rng.integers(0, frame.shape[0] - side + 1))
            left = int(rng.integers(0, frame.shape[1] - side + 1))
            frame[top : top + side, left : left + side] = pasted
        if white_top_every and index % white_top_every == 0:
            frame[: frame.shape[0] // 12] = 255
        samples.append(Sample(f"scene-{index:02d}", _jpeg(frame), "jpg", person))
    return samples


def _gave_up(state: StackState, sink: str) -> int:
    """Shadow deliveries to `sink` the relay gave up on (its log says so, one line each)."""
    path = Path(state.logs_dir) / "relay.log"
    count = 0
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") == "shadow gave up" and entry.get("sink") == sink:
            count += 1
    return count


def wait_for_shadow(
    client: StackClient,
    candidate: str,
    version: str,
    uploads: Sequence[Upload],
    *,
    timeout_s: float,
) -> int:
    """Wait until the candidate has a record of, or the relay gave up on, every upload; the
    number of records."""
    sink = client.state.shadows[candidate] + "/"
    deadline = time.monotonic() + timeout_s
    while True:
        records = sum(
            client.get(
                client.state.results_bucket,
                result_keys(u.tenant, u.image_id, "x", shadow_model=(candidate, version)).record,
            )
            is not None
            for u in uploads
        )
        if records + _gave_up(client.state, sink) >= len(uploads) or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


def send_and_report(
    state: StackState,
    samples: Sequence[Sample],
    *,
    thresholds: Thresholds,
    tenant: str = TENANT,
    candidate: str = CANDIDATE,
    timeout_s: float = 300.0,
) -> ShadowReport:
    """Upload each sample once, wait for the live and shadow results, compare them."""
    client = StackClient(state)
    since = datetime.now(UTC) - timedelta(seconds=1)
    uploads = [client.upload(s.data, tenant=tenant, image_id=s.name, ext=s.ext) for s in samples]
    outcomes = wait_for_outcomes(client, uploads, timeout_s=timeout_s)
    late = [o.upload.image_id for o in outcomes if o.status == "timeout"]
    if late:
        raise StackError(f"no live result for {', '.join(late)} within {timeout_s:.0f} s")
    wait_for_shadow(client, candidate, "1", uploads, timeout_s=timeout_s)
    return shadow_report(
        ResultStore(client.s3, state.results_bucket),
        model=candidate,
        version="1",
        tenant=tenant,
        since=since,
        until=datetime.now(UTC) + timedelta(seconds=1),
        thresholds=thresholds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.shadow_demo", description=__doc__)
    parser.add_argument("--candidate", choices=KINDS, default="identical")
    parser.add_argument("--images", type=int, default=32, help="at least 30 (default 32)")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "shadow-output")
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".stack-shadow")
    args = parser.parse_args(argv)
    if args.images < 30:
        parser.error("--images must be at least 30 (the report's default minimum)")
    source = REPO_ROOT / "model_repository" / "person_segmenter"
    candidate = make_candidate(source, args.state_dir / "candidates", CANDIDATE, args.candidate)
    config = StackConfig(state_dir=args.state_dir, shadows=(candidate,))
    samples = shadow_samples(
        args.images, white_top_every=4 if args.candidate == "edge-fails" else 0
    )
    print(
        f"starting the local stack with {CANDIDATE} ({args.candidate} copy of the demo model) in "
        f"shadow mode; logs in {config.logs_dir}/ ...",
        flush=True,
    )
    try:
        with running_stack(config) as state:
            print(f"sending {len(samples)} images once (tenant {TENANT!r}) ...", flush=True)
            report = send_and_report(state, samples, thresholds=Thresholds())
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(f"(logs: {log_path(config, 'relay').parent}/)", file=sys.stderr)
        return 1
    print_report(report)
    for path in write_local(report, args.output):
        print(f"wrote {path}")
    return 0 if report.verdict.promote else REJECT_EXIT


if __name__ == "__main__":
    sys.exit(main())
