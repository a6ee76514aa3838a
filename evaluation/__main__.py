"""`make eval`: generate scenes with ground truth, run them through the real stack for each model
set, and report how many faces came out unrecognisable per person height, how much of each body
the mask covers, how much of person-free frames is masked, and the CPU each model costs.

Writes <output>/report.json and <output>/recall.png and prints a table. Exits 0 when the report
is written (1 on an error; with --require-goals also 1 when a goal is missed).
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from evaluation.external import load_frames
from evaluation.report import build, plot, table
from evaluation.runner import (
    DEFAULT_MODELS,
    EvalError,
    check_models,
    encode_frame,
    run_model_set,
    stack_config,
)
from evaluation.scenes import DEFAULT_RESOLUTIONS, RESOLUTIONS, scenes
from stack.config import REPO_ROOT
from stack.errors import StackError


def _model_set(value: str) -> tuple[str, ...]:
    models = tuple(m.strip() for m in value.split(",") if m.strip())
    if not models or len(set(models)) != len(models):
        raise argparse.ArgumentTypeError(f"{value!r}: expected distinct model names a,b,c")
    return models


def _positive(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return number


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m evaluation",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--frames", type=_positive, default=4, help="frames with people per resolution")
    p.add_argument("--person-free", type=_positive, default=4, help="frames without anybody")
    p.add_argument("--people-per-frame", type=_positive, default=8)
    p.add_argument(
        "--resolutions", nargs="+", choices=list(RESOLUTIONS), default=list(DEFAULT_RESOLUTIONS)
    )
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument(
        "--model-sets",
        nargs="+",
        type=_model_set,
        default=[DEFAULT_MODELS],
        metavar="A[,B,...]",
        help="each a comma-separated set of Triton models run per image; one stack run per set, "
        "in order (e.g. person_segmenter person_segmenter,person_detector)",
    )
    p.add_argument(
        "--scenes",
        type=Path,
        metavar="ANNOTATIONS.json",
        help="evaluate frames annotated elsewhere instead of generated ones (format: "
        "evaluation/external.py); the generator's options are then ignored",
    )
    p.add_argument(
        "--transformer-args",
        type=shlex.split,
        default=[],
        metavar='"--flag value ..."',
        help='extra transformer flags for every model set, e.g. "--min_person_px 40" '
        "(python -m transformer --help)",
    )
    p.add_argument("--output", type=Path, default=REPO_ROOT / "eval-output")
    p.add_argument(
        "--state-dir",
        type=Path,
        default=REPO_ROOT / ".stack" / "eval",
        help="the eval stack's own pid files and logs (apart from `make up` and the demo)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds to wait for all results of one model set (default: 120 + 90 per frame: detectors on CPU take a minute or more per 4K frame)",
    )
    p.add_argument(
        "--keep-images",
        action="store_true",
        help="also write each frame as uploaded and as returned (with its mask) under "
        "<output>/frames/ and <output>/<model set>/ (4K frames: about 2 MB each)",
    )
    p.add_argument(
        "--require-goals", action="store_true", help="exit 1 when any privacy goal is missed"
    )
    return p


def _interrupted(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.scenes is None and args.frames == 0 and args.person_free == 0:
        parser().error("nothing to evaluate: --frames and --person-free are both 0")
    signal.signal(signal.SIGTERM, _interrupted)
    try:  # every model set must be runnable before any scene is made or stack started
        for models in args.model_sets:
            check_models(models, stack_config(models, args.state_dir).model_repository)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()
    try:
        if args.scenes is not None:
            print(f"reading the annotated frames of {args.scenes} ...", flush=True)
            frames = load_frames(args.scenes)
            resolutions = sorted({f.resolution for f in frames})
            source: dict[str, object] = {"scenes": str(args.scenes)}
        else:
            print(f"generating scenes (seed {args.seed}) ...", flush=True)
            frames = [
                encode_frame(scene)
                for scene in scenes(
                    seed=args.seed,
                    frames_per_resolution=args.frames,
                    person_free=args.person_free,
                    resolutions=args.resolutions,
                    people_per_frame=args.people_per_frame,
                )
            ]
            resolutions = list(args.resolutions)
            source = {
                "seed": args.seed,
                "frames_per_resolution": args.frames,
                "person_free": args.person_free,
                "people_per_frame": args.people_per_frame,
            }
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    settings = {
        **source,
        "resolutions": resolutions,
        "model_sets": [list(m) for m in args.model_sets],
        "transformer_args": list(args.transformer_args),
    }
    people = sum(len(f.people) for f in frames)
    print(f"{len(frames)} frame(s), {people} people, in {time.monotonic() - started:.0f} s")
    if args.keep_images:
        (args.output / "frames").mkdir(parents=True, exist_ok=True)
        for frame in frames:
            (args.output / "frames" / f"{frame.name}.{frame.ext}").write_bytes(frame.data)
    timeout = args.timeout if args.timeout is not None else 120.0 + 90.0 * len(frames)
    runs = []
    try:
        for models in args.model_sets:
            runs.append(
                run_model_set(
                    frames,
                    models,
                    state_dir=args.state_dir,
                    timeout_s=timeout,
                    log=lambda line: print(line, flush=True),
                    keep_dir=args.output / "+".join(models) if args.keep_images else None,
                    stack_options={"transformer_args": tuple(args.transformer_args)},
                )
            )
    except (EvalError, StackError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"interrupted ({exc or 'SIGINT'}); the eval's stack is stopped", file=sys.stderr)
        return 130
    report = build(runs, settings)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    written = [str(args.output / "report.json")]
    try:
        plot(report, args.output / "recall.png")
        written.append(str(args.output / "recall.png"))
    except ImportError:
        print("no plot: matplotlib is missing (pip install '.[eval]')", file=sys.stderr)
    print()
    print(table(report))
    print(f"\nwrote {', '.join(written)} in {time.monotonic() - started:.0f} s")
    if args.require_goals and not report["passed"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
