"""`make demo`: start the local stack, upload images through presigned URLs, collect the results.

Writes demo-output/<name>/{original.*, anonymized.*, mask.png, result.json}, a before/after
demo-output/contact_sheet.png and demo-output/summary.json, prints a table, stops the stack, and
exits 1 if an image that should have been anonymized was not.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from stack.config import REPO_ROOT, StackConfig
from stack.errors import StackError
from stack.lifecycle import down, running_stack
from stack.report import Row, contact_sheet, table
from stack.samples import Sample, demo_samples
from stack.uploads import Outcome, StackClient, Upload, wait_for_outcomes
from transformer.keys import IMAGE_EXTENSIONS

TENANT = "demo"


def image_id(name: str, taken: set[str]) -> str:
    """A key-safe id ([a-z0-9-]{1,64}) from a file name, unique among those taken."""
    base = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:56] or "image"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def user_samples(paths: Sequence[Path]) -> list[Sample]:
    taken: set[str] = set()
    samples = []
    for path in paths:
        ext = path.suffix.lower().lstrip(".")
        samples.append(Sample(image_id(path.stem, taken), path.read_bytes(), ext))
    return samples


_MARKER = ".siteveil-demo"


def _prepare_output(output: Path) -> None:
    """Start from an empty folder, but only ever delete an earlier demo's output (marked)."""
    if output.exists() and any(output.iterdir()):
        if not (output / _MARKER).exists():
            raise StackError(f"{output} is not empty and holds no earlier demo output; "
                             "choose another --output")
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    (output / _MARKER).write_text("written by `make demo`; the next demo replaces this folder\n")


def _collect(
    client: StackClient, outcome: Outcome, sample: Sample, folder: Path
) -> tuple[Row, bytes | None]:
    """Write the image's files; its summary row and the anonymized bytes (None when failed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"original.{sample.ext}").write_bytes(sample.data)
    anonymized = None
    record = outcome.record
    if record is not None:
        (folder / "result.json").write_text(json.dumps(record, indent=2) + "\n")
        outputs = record.get("outputs") or {}
        if record["status"] == "anonymized" and outputs:
            anonymized = client.get(outputs["bucket"], outputs["anonymized"])
            mask = client.get(outputs["bucket"], outputs["mask"])
            if anonymized is not None:
                ext = outputs["anonymized"].rsplit(".", 1)[-1]
                (folder / f"anonymized.{ext}").write_bytes(anonymized)
            if mask is not None:
                (folder / "mask.png").write_bytes(mask)
    fraction = record.get("person_fraction") if record else None
    row = Row(sample.name, outcome.status, fraction, outcome.latency_ms, outcome.reason)
    return row, anonymized


def run(samples: list[Sample], *, output: Path, config: StackConfig, timeout_s: float) -> int:
    _prepare_output(output)
    leftovers = down(config)  # the demo owns its state dir: clear what a killed run left behind
    if leftovers:
        print(f"stopped leftovers of an earlier demo: {', '.join(leftovers)}")
    rows: list[Row] = []
    sheet_items: list[tuple[Row, bytes | None, bytes | None]] = []
    print(f"starting the local stack (moto, Triton, transformer, relay; logs in "
          f"{config.logs_dir}) ...", flush=True)
    started = time.monotonic()
    with running_stack(config) as state:
        print(f"stack ready in {time.monotonic() - started:.1f} s; uploading "
              f"{len(samples)} image(s) through presigned PUT URLs ...", flush=True)
        client = StackClient(state)
        uploaded: list[tuple[Sample, Upload]] = []
        for sample in samples:
            if sample.ext not in IMAGE_EXTENSIONS:
                reason = f"extension .{sample.ext} is not one of {', '.join(IMAGE_EXTENSIONS)}"
                rows.append(Row(sample.name, "rejected", None, None, reason))
                sheet_items.append((rows[-1], sample.data, None))
                continue
            upload = client.upload(sample.data, tenant=TENANT, image_id=sample.name,
                                   ext=sample.ext)
            uploaded.append((sample, upload))
        outcomes = wait_for_outcomes(client, [u for _, u in uploaded], timeout_s=timeout_s)
        for (sample, _), outcome in zip(uploaded, outcomes, strict=True):
            row, anonymized = _collect(client, outcome, sample, output / sample.name)
            rows.append(row)
            sheet_items.append((row, sample.data, anonymized))
        print("stopping the stack ...", flush=True)

    order = {s.name: i for i, s in enumerate(samples)}
    rows.sort(key=lambda r: order[r.name])
    sheet_items.sort(key=lambda item: order[item[0].name])
    (output / "summary.json").write_text(
        json.dumps([r.as_json() for r in rows], indent=2) + "\n")
    (output / "contact_sheet.png").write_bytes(contact_sheet(sheet_items))
    print()
    print(table(rows))
    print()
    print(f"wrote {output}/<image>/{{original.*, anonymized.*, mask.png, result.json}}, "
          f"{output}/contact_sheet.png and {output}/summary.json")
    failed = [r.name for r in rows if r.status != "anonymized"]
    if failed:
        print(f"NOT anonymized: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _interrupted(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", nargs="+", type=Path, metavar="FILE",
                        help="your own JPEG / PNG / WebP files instead of the samples")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "demo-output")
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".stack" / "demo",
                        help="the demo stack's own pid files and logs (apart from `make up`)")
    parser.add_argument("--timeout", type=float, default=180.0,
                        help="seconds to wait for all results")
    args = parser.parse_args(argv)
    # `kill` / CI cancellation: unwind through running_stack so the stack is stopped too.
    signal.signal(signal.SIGTERM, _interrupted)
    if args.images:
        missing = [str(p) for p in args.images if not p.is_file()]
        if missing:
            parser.error(f"no such file: {', '.join(missing)}")
        samples = user_samples(args.images)
    else:
        samples = demo_samples()
    try:
        return run(samples, output=args.output, config=StackConfig(state_dir=args.state_dir),
                   timeout_s=args.timeout)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"interrupted ({exc or 'SIGINT'}); the demo's stack is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
