"""ONNX → TensorRT plan with the ``tensorrt`` Python API (GPU machines only).

One optimization profile over the batch axis (min/opt/max), a workspace limit, a persistent timing
cache, and FP16 the way each TensorRT major supports it: ``BuilderFlag.FP16`` on TensorRT 10, a
strongly typed FP16 ONNX made by NVIDIA ModelOpt AutoCast on TensorRT 11 (which removed the flag).
The plan is tied to the TensorRT version and GPU architecture it was built with, so a metadata JSON
is written beside it; ``polygraphy`` compares the plan with ONNX Runtime, and the equivalent
``trtexec`` command is printed for people who prefer it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from export.errors import ExportError, MissingFile, UnsupportedOperator
from export.fetch import sha256_file


@dataclass(frozen=True)
class EngineOptions:
    min_batch: int = 1
    opt_batch: int = 4
    max_batch: int = 8
    workspace_mib: int = 1024
    fp16: bool = True
    timing_cache: Path | None = None
    builder_optimization_level: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ExportError("need 1 <= min_batch <= opt_batch <= max_batch")


@dataclass(frozen=True)
class OnnxIO:
    inputs: tuple[tuple[str, tuple[int, ...]], ...]  # name, dims without batch
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class EngineBuild:
    plan_path: Path
    metadata_path: Path
    metadata: dict[str, Any]
    trtexec: str


def tensorrt_status() -> tuple[bool, str]:
    """(usable, reason): TensorRT importable and an NVIDIA GPU visible."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        return False, f"tensorrt is not importable ({exc}); install '.[tensorrt]' on a GPU machine"
    gpu = gpu_info()
    if not gpu:
        return False, f"TensorRT {trt.__version__} is installed but no NVIDIA GPU is visible"
    return True, f"TensorRT {trt.__version__} on {gpu.get('name', 'a GPU')}"


def gpu_info() -> dict[str, str]:
    """Name, compute capability and driver of GPU 0, from nvidia-smi (empty when there is none)."""
    if shutil.which("nvidia-smi") is None:
        return {}
    query = [
        "nvidia-smi",
        "--query-gpu=name,compute_cap,driver_version",
        "--format=csv,noheader",
        "--id=0",
    ]
    result = subprocess.run(query, capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0 or not result.stdout.strip():
        return {}
    name, cc, driver = (part.strip() for part in result.stdout.strip().split(",", 2))
    return {"name": name, "compute_capability": cc, "driver": driver}


def trt_major(version: str) -> int:
    return int(version.split(".", 1)[0])


def onnx_io(onnx_path: Path) -> OnnxIO:
    if not onnx_path.is_file():
        raise MissingFile(f"ONNX model not found: {onnx_path}")
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    inputs = []
    for value in graph.input:
        if value.name in initializers:
            continue
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        if len(dims) < 2 or any(d <= 0 for d in dims[1:]):
            raise ExportError(f"input {value.name!r} needs static non-batch dims, got {dims}")
        inputs.append((value.name, tuple(dims[1:])))
    return OnnxIO(inputs=tuple(inputs), outputs=tuple(o.name for o in graph.output))


def profile_shapes(dims: Sequence[int], options: EngineOptions) -> tuple[tuple[int, ...], ...]:
    return tuple((b, *dims) for b in (options.min_batch, options.opt_batch, options.max_batch))


def trtexec_command(
    onnx_path: Path, plan_path: Path, io: OnnxIO, options: EngineOptions, major: int
) -> str:
    """The ``trtexec`` line that builds the same engine (for TensorRT 11, on the AutoCast ONNX)."""

    def shapes(index: int) -> str:
        return ",".join(
            f"{name}:" + "x".join(str(d) for d in profile_shapes(dims, options)[index])
            for name, dims in io.inputs
        )

    cmd = [
        "trtexec", f"--onnx={onnx_path}", f"--saveEngine={plan_path}",
        f"--minShapes={shapes(0)}", f"--optShapes={shapes(1)}", f"--maxShapes={shapes(2)}",
        f"--memPoolSize=workspace:{options.workspace_mib}M",
        f"--builderOptimizationLevel={options.builder_optimization_level}",
    ]  # fmt: skip
    if options.timing_cache is not None:
        cmd.append(f"--timingCacheFile={options.timing_cache}")
    if options.fp16 and major < 11:
        cmd.append("--fp16")
    return " ".join(cmd)


def autocast_fp16(onnx_path: Path, out_path: Path) -> Path:
    """A strongly typed mixed-precision FP16 ONNX (ModelOpt AutoCast), inputs/outputs kept FP32."""
    from modelopt.onnx import autocast

    model = autocast.convert_to_mixed_precision(
        onnx_path=str(onnx_path), low_precision_type="fp16", keep_io_types=True
    )
    onnx.save(model, str(out_path))
    return out_path


def _parse_errors(parser: Any) -> ExportError:
    errors = [parser.get_error(i) for i in range(parser.num_errors)]
    for error in errors:
        op = error.node_operator() if hasattr(error, "node_operator") else ""
        if op:
            return UnsupportedOperator(op, f"TensorRT's ONNX parser: {error.desc()}")
    text = "; ".join(str(e) for e in errors) or "unknown error"
    return ExportError(f"TensorRT could not parse the ONNX model: {text}")


def build_engine(
    onnx_path: Path, plan_path: Path, options: EngineOptions = EngineOptions()
) -> EngineBuild:
    """Build ``plan_path`` from ``onnx_path``; write ``<plan>.json`` metadata beside it."""
    import tensorrt as trt

    usable, reason = tensorrt_status()
    if not usable:
        raise ExportError(reason)
    io = onnx_io(onnx_path)
    major = trt_major(trt.__version__)
    with tempfile.TemporaryDirectory(prefix="siteveil-trt-") as tmp:
        source, precision = onnx_path, "fp32"
        if options.fp16 and major >= 11:
            source, precision = (
                autocast_fp16(onnx_path, Path(tmp) / "model.fp16.onnx"),
                "fp16 (ModelOpt AutoCast, strongly typed)",
            )
        elif options.fp16:
            precision = "fp16 (BuilderFlag.FP16)"
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        flags = 0
        if major >= 11:  # always strongly typed there; the flag is accepted and documents it
            flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(str(source)):
            raise _parse_errors(parser)
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
        config.builder_optimization_level = options.builder_optimization_level
        if options.fp16 and major < 11:
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        for name, dims in io.inputs:
            low, opt, high = profile_shapes(dims, options)
            profile.set_shape(name, low, opt, high)
        config.add_optimization_profile(profile)
        blob = b""
        if options.timing_cache is not None and options.timing_cache.is_file():
            blob = options.timing_cache.read_bytes()
        config.set_timing_cache(config.create_timing_cache(blob), False)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ExportError("TensorRT failed to build the engine (see its log above)")
        plan_path.parent.mkdir(parents=True, exist_ok=True)
        plan_path.write_bytes(bytes(serialized))
        if options.timing_cache is not None:
            options.timing_cache.parent.mkdir(parents=True, exist_ok=True)
            options.timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    trtexec = trtexec_command(onnx_path, plan_path, io, options, major)
    metadata = {
        "tensorrt_version": trt.__version__,
        "gpu": gpu_info(),
        "precision": precision,
        "profile": {
            name: dict(zip(("min", "opt", "max"), profile_shapes(dims, options), strict=True))
            for name, dims in io.inputs
        },
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "onnx_sha256": sha256_file(onnx_path),
        "plan_sha256": sha256_file(plan_path),
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "trtexec_equivalent": trtexec,
        "note": "serve with a Triton image whose TensorRT version equals tensorrt_version, "
        "on a GPU of the same compute capability",
    }
    metadata_path = plan_path.with_name(plan_path.name + ".json")
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
    return EngineBuild(
        plan_path=plan_path, metadata_path=metadata_path, metadata=metadata, trtexec=trtexec
    )


def compare_with_polygraphy(
    onnx_path: Path,
    plan_path: Path,
    feeds: Sequence[dict[str, np.ndarray]],
    *,
    atol: float,
    rtol: float,
) -> bool:
    """Polygraphy: ONNX Runtime (CPU) vs the TensorRT plan on the same feeds, within tolerances."""
    from polygraphy.backend.onnxrt import OnnxrtRunner, SessionFromOnnx
    from polygraphy.backend.trt import EngineFromBytes, TrtRunner
    from polygraphy.comparator import Comparator, CompareFunc

    runners = [
        OnnxrtRunner(SessionFromOnnx(str(onnx_path))),
        TrtRunner(EngineFromBytes(plan_path.read_bytes())),
    ]
    results = Comparator.run(runners, data_loader=list(feeds))
    accuracy = Comparator.compare_accuracy(
        results, compare_func=CompareFunc.simple(atol=atol, rtol=rtol)
    )
    return bool(accuracy)
