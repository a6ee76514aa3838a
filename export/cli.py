"""``python -m export <step> …``: each model-build step on its own, or the demo chain."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from export.errors import ExportError, MissingFile, ParityFailed
from export.parity import ParityThresholds

DEFAULT_REPOSITORY = Path("model_repository")
DEFAULT_CACHE = Path(".cache/export")

Command = Callable[[argparse.Namespace], int]


def _thresholds_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("parity thresholds")
    g.add_argument("--max-abs-error", type=float, default=ParityThresholds.max_abs_error,
                   help="largest allowed |source - export| (default %(default)g)")
    g.add_argument("--min-iou", type=float, default=ParityThresholds.min_iou,
                   help="smallest allowed person-mask IoU (default %(default)g)")
    g.add_argument("--mask-threshold", type=float, default=ParityThresholds.mask_threshold,
                   help="probability that counts as person (default %(default)g)")
    g.add_argument("--report", type=Path, help="also write the parity report as JSON here")
    return p


def _thresholds(args: argparse.Namespace) -> ParityThresholds:
    return ParityThresholds(max_abs_error=args.max_abs_error, min_iou=args.min_iou,
                            mask_threshold=args.mask_threshold)


def _write_report(args: argparse.Namespace, report: object) -> None:
    if getattr(args, "report", None):
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report.to_dict(), indent=2) + "\n")  # type: ignore[attr-defined]


def cmd_fetch(args: argparse.Namespace) -> int:
    from export.fetch import SELFIE_SEGMENTATION, fetch

    print(fetch(SELFIE_SEGMENTATION, args.cache_dir))
    return 0


def cmd_tflite2onnx(args: argparse.Namespace) -> int:
    import onnx

    from export.tflite_to_onnx import convert

    if not args.source.is_file():
        raise MissingFile(f"TFLite model not found: {args.source}")
    model = convert(args.source.read_bytes(), input_names=args.input_name or None,
                    output_names=args.output_name or None, opset=args.opset)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, args.output)
    print(f"wrote {args.output} ({len(model.graph.node)} nodes, opset {args.opset}, checked)")
    return 0


def cmd_parity_tflite(args: argparse.Namespace) -> int:
    from export.demo_model import check_parity

    report = check_parity(args.tflite, args.onnx, _thresholds(args))
    print(report.table())
    _write_report(args, report)
    return 0 if report.passed else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from export.demo_model import build_demo

    build = build_demo(args.repository, args.cache_dir, _thresholds(args))
    print(build.report.table())
    _write_report(args, build.report)
    print(f"wrote {build.onnx_path}")
    return 0


def cmd_configs(args: argparse.Namespace) -> int:
    from export.triton_config import PERSON_SEGMENTER, write_configs

    for path in write_configs(args.repository / PERSON_SEGMENTER.name, PERSON_SEGMENTER):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m export", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="STEP")
    thresholds = _thresholds_parser()

    p = sub.add_parser("fetch", help="download + verify the pinned demo TFLite model")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("tflite2onnx", help="convert a float TFLite model to ONNX")
    p.add_argument("source", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--input-name", action="append", help="rename graph inputs (in order)")
    p.add_argument("--output-name", action="append", help="rename graph outputs (in order)")
    p.add_argument("--opset", type=int, default=17)
    p.set_defaults(func=cmd_tflite2onnx)

    p = sub.add_parser("parity-tflite", parents=[thresholds],
                       help="compare an ONNX export with its TFLite source (ai-edge-litert)")
    p.add_argument("tflite", type=Path)
    p.add_argument("onnx", type=Path)
    p.set_defaults(func=cmd_parity_tflite)

    p = sub.add_parser("demo", parents=[thresholds],
                       help="build person_segmenter: fetch, convert, parity, write the repository")
    p.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("configs", help="(re)write person_segmenter's Triton configs")
    p.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    p.set_defaults(func=cmd_configs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ParityFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
