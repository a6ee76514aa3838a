"""`make demo`: start the local stack, upload images with the `siteveil` CLI through the upload
API, collect the results.

Writes demo-output/<name>/{original.*, anonymized.*, mask.png, result.json}, a before/after
demo-output/contact_sheet.png and demo-output/summary.json, prints a table, stops the stack, and
exits 1 if an image that should have been anonymized was not.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from siteveil_cli.client import ApiClient, ApiError
from stack.config import PRIVACY_MODELS, REPO_ROOT, StackConfig, model_list
from stack.customer import Uploaded, upload_through_api
from stack.errors import StackError
from stack.lifecycle import down, running_stack, viewer_url
from stack.report import Row, contact_sheet, table
from stack.samples import Sample, demo_samples
from stack.upload_api import dev_token, token_command
from stack.uploads import StackClient, dead_letter_for_image, letter_reason
from transformer.keys import IMAGE_EXTENSIONS

TENANT = "demo"
API_STATUS = {"done": "anonymized", "failed": "failed"}  # the API's names → the pipeline's


def image_id(name: str, taken: set[str]) -> str:
    """The demo's name for a file ([a-z0-9-]{1,64}: its output folder and upload file name),
    unique among those taken."""
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
            raise StackError(
                f"{output} is not empty and holds no earlier demo output; choose another --output"
            )
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)
    (output / _MARKER).write_text("written by `make demo`; the next demo replaces this folder\n")


def _rejection(sample: Sample) -> str | None:
    """Why a file is not uploaded at all (the API would refuse it), or None."""
    if sample.ext not in IMAGE_EXTENSIONS:
        return f"extension .{sample.ext} is not one of {', '.join(IMAGE_EXTENSIONS)}"
    if not sample.data:
        return "empty file"
    return None


def _stage(samples: Sequence[Sample], folder: Path) -> dict[Path, Sample]:
    """Write each sample as `<name>.<ext>`: the CLI sends that file name as the `filename`."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    staged = {}
    for sample in samples:
        path = (folder / f"{sample.name}.{sample.ext}").resolve()
        path.write_bytes(sample.data)
        staged[path] = sample
    return staged


def _outcome(
    uploaded: Uploaded, letters: Callable[[], list[dict[str, Any]]], timeout_s: float
) -> tuple[str, str | None]:
    """The demo's status and reason for one file, from the API's status (and the DLQ)."""
    if uploaded.status in API_STATUS:
        return API_STATUS[uploaded.status], uploaded.reason
    letter = dead_letter_for_image(TENANT, uploaded.image_id, letters())
    if letter is not None:
        return "dead-lettered", letter_reason(letter)
    return "timeout", f"no result after {timeout_s:.0f} s"


def _collect(
    stack: StackClient,
    api: ApiClient,
    uploaded: Uploaded,
    status: str,
    reason: str | None,
    sample: Sample,
    folder: Path,
) -> tuple[Row, bytes | None]:
    """Write the image's files; its summary row and the anonymized bytes (None when failed).

    The anonymized image is what the CLI downloaded, the mask comes through the API's presigned
    link; result.json is the pipeline's own record, read from the results bucket (the API
    reports its content but does not serve the file).
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"original.{sample.ext}").write_bytes(sample.data)
    record = stack.record_of(TENANT, uploaded.image_id)
    if record is not None:
        (folder / "result.json").write_text(json.dumps(record, indent=2) + "\n")
    anonymized = None
    if status == "anonymized" and uploaded.anonymized is not None:
        target = folder / f"anonymized{uploaded.anonymized.suffix}"
        shutil.move(uploaded.anonymized, target)
        anonymized = target.read_bytes()
        if uploaded.mask_url:
            api.download(uploaded.mask_url, folder / "mask.png")
    row = Row(sample.name, status, uploaded.person_fraction, uploaded.latency_ms, reason)
    return row, anonymized


def _show_viewer(api_url: str, keys_dir: Path, *, keep_open: bool) -> None:
    """Where to see the results in a browser while this stack runs (and, asked to, wait)."""
    print(
        f"results viewer: {viewer_url(api_url)} - sign in with a dev token of tenant "
        f"{TENANT!r}: {token_command(Path(sys.executable), str(keys_dir), TENANT)}",
        flush=True,
    )
    if keep_open:
        print("the stack stays up for the viewer: press Ctrl-C to stop it", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print(flush=True)


def run(
    samples: list[Sample],
    *,
    output: Path,
    config: StackConfig,
    timeout_s: float,
    keep_open: bool = False,
) -> int:
    _prepare_output(output)
    leftovers = down(config)  # the demo owns its state dir: clear what a killed run left behind
    if leftovers:
        print(f"stopped leftovers of an earlier demo: {', '.join(leftovers)}")
    rows: list[Row] = []
    sheet_items: list[tuple[Row, bytes | None, bytes | None]] = []
    for sample in samples:
        reason = _rejection(sample)
        if reason is not None:
            rows.append(Row(sample.name, "rejected", None, None, reason))
            sheet_items.append((rows[-1], sample.data, None))
    staged = _stage([s for s in samples if _rejection(s) is None], config.state_dir / "upload")
    downloads = config.state_dir / "downloads"
    shutil.rmtree(downloads, ignore_errors=True)
    print(
        f"starting the local stack (moto, Triton, transformer, relay, upload API; logs in "
        f"{config.logs_dir}) ...",
        flush=True,
    )
    started = time.monotonic()
    with running_stack(config) as state:
        print(f"stack ready in {time.monotonic() - started:.1f} s", flush=True)
        token = dev_token(Path(state.api_keys_dir), TENANT)
        results: dict[Path, Uploaded] = {}
        if staged:
            print(
                f"siteveil upload: {len(staged)} image(s) as tenant {TENANT!r} (dev token) "
                f"through the upload API at {state.api_url}: one batch, presigned PUTs, "
                "waiting, downloads through presigned links ...",
                flush=True,
            )
            results = upload_through_api(
                list(staged),
                api_url=state.api_url,
                token=token,
                out=downloads,
                log_path=config.logs_dir / "siteveil-cli.log",
                timeout_s=timeout_s,
                cwd=REPO_ROOT,
            )
        _show_viewer(state.api_url, Path(state.api_keys_dir), keep_open=False)
        stack, api = StackClient(state), ApiClient(state.api_url, token=token)
        letters = functools.cache(stack.dead_letters)
        for path, sample in staged.items():
            uploaded = results[path]
            status, reason = _outcome(uploaded, letters, timeout_s)
            row, anonymized = _collect(
                stack, api, uploaded, status, reason, sample, output / sample.name
            )
            rows.append(row)
            sheet_items.append((row, sample.data, anonymized))
        if keep_open:
            _show_viewer(state.api_url, Path(state.api_keys_dir), keep_open=True)
        print("stopping the stack ...", flush=True)

    order = {s.name: i for i, s in enumerate(samples)}
    rows.sort(key=lambda r: order[r.name])
    sheet_items.sort(key=lambda item: order[item[0].name])
    (output / "summary.json").write_text(json.dumps([r.as_json() for r in rows], indent=2) + "\n")
    (output / "contact_sheet.png").write_bytes(contact_sheet(sheet_items))
    print()
    print(table(rows))
    print()
    print(
        f"wrote {output}/<image>/{{original.*, anonymized.*, mask.png, result.json}}, "
        f"{output}/contact_sheet.png and {output}/summary.json"
    )
    failed = [r.name for r in rows if r.status != "anonymized"]
    if failed:
        print(f"NOT anonymized: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _interrupted(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stack.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--images",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="your own JPEG / PNG / WebP files instead of the samples",
    )
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "demo-output")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=REPO_ROOT / ".stack" / "demo",
        help="the demo stack's own pid files and logs (apart from `make up`)",
    )
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds to wait for all results"
    )
    parser.add_argument(
        "--models",
        type=model_list,
        default=PRIVACY_MODELS,
        help="Triton models the transformer runs on every image (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-open",
        action="store_true",
        help="keep the stack up after the results, for the results viewer, until Ctrl-C",
    )
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
        return run(
            samples,
            output=args.output,
            config=StackConfig(state_dir=args.state_dir, models=args.models),
            timeout_s=args.timeout,
            keep_open=args.keep_open,
        )
    except (StackError, ApiError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"interrupted ({exc or 'SIGINT'}); the demo's stack is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
