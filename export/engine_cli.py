"""``python -m export.engine_cli`` (also ``python -m export engine``): ONNX → TensorRT plan.

It runs in the engine's own virtualenv (``.venv-engine``, ``make engine``), which holds only what
``export/engine-requirements.txt`` pins: TensorRT, Polygraphy, ONNX, ONNX Runtime (CPU), NumPy.
So this module imports nothing else of ``export`` at start-up beyond the TensorRT step itself.

Exit codes: 0 ok, 1 the comparison with ONNX Runtime failed, 2 any other error (no GPU, no
TensorRT, an old driver, a parser error, …), always with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from export.errors import ExportError


def _dims(text: str) -> tuple[str, tuple[int, ...]]:
    name, sep, shape = text.rpartition(":")
    try:
        dims = tuple(int(d) for d in shape.lower().split("x"))
    except ValueError:
        dims = ()
    if not sep or not name or not dims or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"expected NAME:D1xD2x… (no batch), got {text!r}")
    return name, dims


def _batches(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected batch sizes like 1,4,8, got {text!r}") from exc
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"batch sizes must be positive, got {text!r}")
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--onnx", type=Path, required=True)
    p.add_argument("--output", type=Path, required=True, help="the plan (metadata: <plan>.json)")
    p.add_argument("--min-batch", type=int, default=1)
    p.add_argument("--opt-batch", type=int, default=4)
    p.add_argument("--max-batch", type=int, default=8)
    p.add_argument("--workspace-mib", type=int, default=1024)
    p.add_argument("--fp32", action="store_true", help="no FP16 (and no TF32)")
    p.add_argument("--timing-cache", type=Path, help="read and update this timing cache")
    p.add_argument(
        "--input-dims",
        type=_dims,
        action="append",
        default=[],
        metavar="NAME:D1xD2x…",
        help="non-batch dims of an input the ONNX leaves dynamic (the Triton config's dims)",
    )
    p.add_argument("--compare", action="store_true", help="polygraphy: ONNX Runtime vs the plan")
    p.add_argument("--atol", type=float, default=2e-2)
    p.add_argument("--rtol", type=float, default=2e-2)
    p.add_argument(
        "--throughput",
        type=_batches,
        metavar="B1,B2,…",
        help="time the plan at these batch sizes (within the profile)",
    )
    p.add_argument("--report", type=Path, help="write build metadata + comparison + timings here")


def run(args: argparse.Namespace) -> int:
    from export.tensorrt_build import (
        EngineOptions,
        build_engine,
        compare_with_polygraphy,
        measure_throughput,
        onnx_io,
        tensorrt_status,
        trtexec_command,
    )

    options = EngineOptions(
        min_batch=args.min_batch,
        opt_batch=args.opt_batch,
        max_batch=args.max_batch,
        workspace_mib=args.workspace_mib,
        fp16=not args.fp32,
        timing_cache=args.timing_cache,
    )
    dims = dict(args.input_dims)
    io = onnx_io(args.onnx, dims)
    usable, reason = tensorrt_status()
    if not usable:
        print(
            "equivalent trtexec (TensorRT 10):",
            trtexec_command(args.onnx, args.output, io, options, 10),
        )
        raise ExportError(f"cannot build a TensorRT engine here: {reason}")
    build = build_engine(args.onnx, args.output, options, dims)
    meta = build.metadata
    print(f"wrote {build.plan_path} and {build.metadata_path}")
    print(
        f"TensorRT {meta['tensorrt_version']}, CUDA {meta['cuda_version']}, GPU "
        f"{meta['gpu'].get('name')} (cc {meta['gpu'].get('compute_capability')}), "
        f"{meta['precision']}, built in {meta['build_seconds']} s"
    )
    if "autocast_equivalent" in meta:
        print("equivalent AutoCast step:", meta["autocast_equivalent"])
    print("equivalent trtexec:", build.trtexec)
    for problem in meta["serving_image_problems"]:
        print(f"warning: {problem}", file=sys.stderr)
    report: dict[str, Any] = {"metadata": meta}
    code = 0
    if args.compare:
        import numpy as np

        rng = np.random.default_rng(0)
        feeds = [io.random_feed(b, rng) for b in sorted({options.min_batch, options.max_batch})]
        comparison = compare_with_polygraphy(
            args.onnx, args.output, feeds, atol=args.atol, rtol=args.rtol
        )
        report["comparison"] = comparison.to_dict()
        print(
            f"polygraphy ONNX Runtime vs TensorRT: {'PASSED' if comparison.passed else 'FAILED'} "
            f"(atol {args.atol}, rtol {args.rtol}; max |diff| {comparison.max_abs_error})"
        )
        code = 0 if comparison.passed else 1
    if args.throughput:
        outside = [b for b in args.throughput if not options.min_batch <= b <= options.max_batch]
        if outside:
            raise ExportError(f"batch sizes {outside} are outside the profile")
        report["throughput"] = measure_throughput(args.output, io, args.throughput)
        for row in report["throughput"]:
            print(
                f"batch {row['batch']}: {row['images_per_s']} images/s "
                f"({row['median_ms']} ms per call)"
            )
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.engine_cli", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
