"""ONNX → TensorRT plan with the ``tensorrt`` Python API (GPU machines only).

One optimization profile over the batch axis (min/opt/max), a workspace limit, a persistent timing
cache, and FP16 the way each TensorRT major supports it: ``BuilderFlag.FP16`` on TensorRT 10 (the
release the chart's Triton image runs, ``export.serving_image``), a strongly typed FP16 ONNX made by
NVIDIA ModelOpt AutoCast on TensorRT 11 (which removed the flag); that ONNX is kept beside the plan
so the printed ``trtexec`` line can be re-run. An FP32 build clears ``BuilderFlag.TF32`` so that it
really computes in FP32. The plan is tied to the TensorRT release and GPU architecture it was built
with, so ``<plan>.json`` records both (and the CUDA runtime, the driver, the serving image it was
meant for); ``polygraphy`` compares the plan with ONNX Runtime and times it per batch size.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import logging
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from export.cuda_runtime import cuda_runtime_version, make_cudart_findable
from export.errors import ExportError, MissingFile, UnsupportedOperator
from export.fetch import sha256_file
from export.gpu_driver import build_driver_verdict, query_gpus
from export.serving_image import SERVING, plan_problems, version_tuple

log = logging.getLogger(__name__)

MODELOPT_MIN = "0.31"  # ModelOpt AutoCast (modelopt.onnx.autocast) first shipped in 0.31


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
    input_dtypes: tuple[str, ...] = ()  # numpy dtype names, in the order of ``inputs``

    def random_feed(self, batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Inputs of ``batch`` images with each input's dtype: [0, 1) floats, 0..255 integers."""
        dtypes = self.input_dtypes or ("float32",) * len(self.inputs)
        feed = {}
        for (name, dims), dtype in zip(self.inputs, dtypes, strict=True):
            shape = (batch, *dims)
            if np.issubdtype(np.dtype(dtype), np.floating):
                feed[name] = rng.random(shape, dtype=np.float32).astype(dtype)
            elif np.dtype(dtype) == np.bool_:
                feed[name] = rng.random(shape) < 0.5
            else:
                feed[name] = rng.integers(0, 256, shape).astype(dtype)
        return feed


@dataclass(frozen=True)
class EngineBuild:
    plan_path: Path
    metadata_path: Path
    metadata: dict[str, Any]
    trtexec: str


@dataclass(frozen=True)
class Comparison:
    passed: bool
    atol: float
    rtol: float
    max_abs_error: dict[str, float] = field(default_factory=dict)  # per output, over all feeds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def trt_major(version: str) -> int:
    return version_tuple(version)[0]


def build_cuda_version() -> str | None:
    """``major.minor`` of the CUDA runtime the plan is built with (the wheel's ``libcudart``)."""
    return cuda_runtime_version()


def tensorrt_status() -> tuple[bool, str]:
    """(usable, reason): TensorRT importable, an NVIDIA GPU visible, a driver new enough."""
    try:
        import tensorrt as trt
    except (ImportError, OSError) as exc:  # OSError: the bindings without libnvinfer
        return False, (
            f"tensorrt is not importable ({exc}); `make engine` builds in its own virtualenv "
            f"(.venv-engine, from export/engine-requirements.txt: TensorRT "
            f"{SERVING.tensorrt_release} of {SERVING.image}) on a machine with an NVIDIA GPU"
        )
    gpus, why = query_gpus()
    if not gpus:
        return False, f"TensorRT {trt.__version__} is installed but {why}"
    cuda = build_cuda_version() or ("13" if trt_major(trt.__version__) >= 11 else "12")
    verdict = build_driver_verdict(gpus[0].driver, version_tuple(cuda)[0])
    if not verdict.ok:
        return False, verdict.message
    return True, (
        f"TensorRT {trt.__version__} on {gpus[0].name} (compute capability "
        f"{gpus[0].compute_capability}; {verdict.message})"
    )


def onnx_io(onnx_path: Path, dims_override: dict[str, tuple[int, ...]] | None = None) -> OnnxIO:
    """Inputs (without initializers) and their non-batch dims; ``dims_override`` fills dynamic ones."""
    if not onnx_path.is_file():
        raise MissingFile(f"ONNX model not found: {onnx_path}")
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    overrides = dims_override or {}
    inputs, dtypes = [], []
    for value in graph.input:
        if value.name in initializers:
            continue
        dtypes.append(
            np.dtype(onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)).name
        )
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim]
        if value.name in overrides:
            given = tuple(overrides[value.name])
            fixed = [(i, d) for i, d in enumerate(dims[1:]) if d > 0]
            if len(given) != len(dims) - 1 or any(given[i] != d for i, d in fixed):
                raise ExportError(
                    f"--input-dims {value.name}:{'x'.join(map(str, given))} does not fit the "
                    f"ONNX input {dims} (batch first)"
                )
            inputs.append((value.name, given))
            continue
        if len(dims) < 2 or any(d <= 0 for d in dims[1:]):
            raise ExportError(
                f"input {value.name!r} needs static non-batch dims, got {dims}: pass "
                f"--input-dims {value.name}:<d1>x<d2>x… (the Triton config's dims)"
            )
        inputs.append((value.name, tuple(dims[1:])))
    return OnnxIO(
        inputs=tuple(inputs),
        outputs=tuple(o.name for o in graph.output),
        input_dtypes=tuple(dtypes),
    )


def profile_shapes(dims: Sequence[int], options: EngineOptions) -> tuple[tuple[int, ...], ...]:
    return tuple((b, *dims) for b in (options.min_batch, options.opt_batch, options.max_batch))


def autocast_onnx_path(plan_path: Path) -> Path:
    """Where TensorRT 11's AutoCast FP16 ONNX is kept (beside the plan, for ``trtexec``)."""
    return plan_path.with_name(plan_path.stem + ".autocast-fp16.onnx")


def trtexec_command(
    onnx_path: Path, plan_path: Path, io: OnnxIO, options: EngineOptions, major: int
) -> str:
    """The ``trtexec`` line that builds the same engine from ``onnx_path``; on TensorRT 11 with
    FP16 pass the AutoCast ONNX (:func:`autocast_onnx_path`), not the FP32 one."""

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
    if major >= 11:
        cmd.append("--stronglyTyped")  # what the Python build does there; precision is the ONNX's
    elif options.fp16:
        cmd.append("--fp16")
    else:
        cmd.append("--noTF32")
    return " ".join(cmd)


def autocast_command(onnx_path: Path, out_path: Path) -> str:
    """The ModelOpt step a ``trtexec`` user runs first on TensorRT 11 (what :func:`autocast_fp16`
    does in-process)."""
    return (
        'python -c "import onnx; from modelopt.onnx import autocast; onnx.save('
        f"autocast.convert_to_mixed_precision(onnx_path='{onnx_path}', low_precision_type='fp16', "
        f"keep_io_types=True), '{out_path}')\""
    )


def autocast_fp16(onnx_path: Path, out_path: Path) -> Path:
    """A strongly typed mixed-precision FP16 ONNX (ModelOpt AutoCast), inputs/outputs kept FP32."""
    try:
        modelopt_version = importlib.metadata.version("nvidia-modelopt")
    except importlib.metadata.PackageNotFoundError as exc:
        raise ExportError(
            f"TensorRT 11 FP16 needs NVIDIA ModelOpt AutoCast: pip install "
            f"'nvidia-modelopt[onnx]>={MODELOPT_MIN}' (or build with --fp32)"
        ) from exc
    if version_tuple(modelopt_version, 2) < version_tuple(MODELOPT_MIN, 2):
        raise ExportError(
            f"nvidia-modelopt {modelopt_version} has no AutoCast; it needs >= {MODELOPT_MIN}"
        )
    from modelopt.onnx import autocast

    model = autocast.convert_to_mixed_precision(
        onnx_path=str(onnx_path), low_precision_type="fp16", keep_io_types=True
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out_path))
    return out_path


def parser_error(code: str, desc: str, node_name: str = "", node_operator: str = "") -> ExportError:
    """One ONNX-parser error as our error: only ``UNSUPPORTED_NODE`` means the operator itself is
    unsupported; the other ``UNSUPPORTED_NODE_*`` codes reject an attribute, input, data type or
    shape of an operator TensorRT does have, and the rest are graph / model errors."""
    code = code.rsplit(".", 1)[-1].removeprefix("k")  # "ErrorCode.UNSUPPORTED_NODE" / "kUNSUP…"
    where = f"node {node_name!r} ({node_operator})" if node_name or node_operator else "the model"
    if code == "UNSUPPORTED_NODE" and node_operator:
        return UnsupportedOperator(node_operator, f"TensorRT's ONNX parser, {where}: {desc}")
    what = {
        "UNSUPPORTED_NODE_ATTR": "an attribute TensorRT does not support",
        "UNSUPPORTED_NODE_INPUT": "an input TensorRT does not support",
        "UNSUPPORTED_NODE_DATATYPE": "a data type TensorRT does not support",
        "UNSUPPORTED_NODE_DYNAMIC": "a dynamic shape TensorRT does not support",
        "UNSUPPORTED_NODE_SHAPE": "a shape TensorRT does not support",
        "UNSUPPORTED_NODE": "an operator TensorRT does not support",
    }.get(code)
    if what:
        return ExportError(f"TensorRT's ONNX parser: {where} uses {what} ({code}): {desc}")
    return ExportError(f"TensorRT could not parse the ONNX model: {code} in {where}: {desc}")


def _parse_errors(parser: Any) -> ExportError:
    errors = [parser.get_error(i) for i in range(parser.num_errors)]
    if not errors:
        return ExportError("TensorRT could not parse the ONNX model (no parser error reported)")
    first = errors[0]
    error = parser_error(
        getattr(first.code(), "name", str(first.code())),
        first.desc(),
        first.node_name() if hasattr(first, "node_name") else "",
        first.node_operator() if hasattr(first, "node_operator") else "",
    )
    if len(errors) > 1:
        error.args = (f"{error.args[0]} (and {len(errors) - 1} more parser errors)",)
    return error


def _apply_timing_cache(config: Any, cache_path: Path | None) -> str:
    """Load the timing cache if it fits this TensorRT/GPU, else start a fresh one; say which."""
    blob = b""
    if cache_path is not None and cache_path.is_file():
        blob = cache_path.read_bytes()
    try:
        cache = config.create_timing_cache(blob)
    except Exception as exc:  # noqa: BLE001 - TensorRT raises its own RuntimeError types
        log.warning("timing cache %s is unreadable (%s); starting a fresh one", cache_path, exc)
        cache = None
    if cache is not None and config.set_timing_cache(cache, False):
        return "loaded" if blob else "new"
    log.warning(
        "timing cache %s does not match this TensorRT / GPU; starting a fresh one", cache_path
    )
    if not config.set_timing_cache(config.create_timing_cache(b""), False):
        raise ExportError("TensorRT refused an empty timing cache")
    return "replaced (stale)"


def build_engine(
    onnx_path: Path,
    plan_path: Path,
    options: EngineOptions = EngineOptions(),
    dims_override: dict[str, tuple[int, ...]] | None = None,
) -> EngineBuild:
    """Build ``plan_path`` from ``onnx_path``; write ``<plan>.json`` metadata beside it."""
    import tensorrt as trt

    usable, reason = tensorrt_status()
    if not usable:
        raise ExportError(reason)
    io = onnx_io(onnx_path, dims_override)
    major = trt_major(trt.__version__)
    source, precision = onnx_path, "fp32 (TF32 off)"
    if options.fp16 and major >= 11:
        source = autocast_fp16(onnx_path, autocast_onnx_path(plan_path))
        precision = "fp16 (ModelOpt AutoCast, strongly typed)"
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
    tf32 = getattr(trt.BuilderFlag, "TF32", None)
    if not options.fp16 and tf32 is not None:
        config.clear_flag(tf32)  # on by default: FP32 parity must not run convolutions in TF32
    profile = builder.create_optimization_profile()
    for name, dims in io.inputs:
        low, opt, high = profile_shapes(dims, options)
        profile.set_shape(name, low, opt, high)
    config.add_optimization_profile(profile)
    timing_cache = _apply_timing_cache(config, options.timing_cache)
    started = time.monotonic()
    serialized = builder.build_serialized_network(network, config)
    build_seconds = time.monotonic() - started
    if serialized is None:
        raise ExportError("TensorRT failed to build the engine (see its log above)")
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    plan_path.write_bytes(bytes(serialized))
    if options.timing_cache is not None:
        options.timing_cache.parent.mkdir(parents=True, exist_ok=True)
        options.timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    trtexec = trtexec_command(source, plan_path, io, options, major)
    gpus, _ = query_gpus()
    metadata: dict[str, Any] = {
        "tensorrt_version": trt.__version__,
        "cuda_version": build_cuda_version(),
        "gpu": gpus[0].to_dict() if gpus else {},
        "precision": precision,
        "profile": {
            name: dict(zip(("min", "opt", "max"), profile_shapes(dims, options), strict=True))
            for name, dims in io.inputs
        },
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
        "onnx_sha256": sha256_file(onnx_path),
        "plan_sha256": sha256_file(plan_path),
        "timing_cache": timing_cache,
        "build_seconds": round(build_seconds, 1),
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "trtexec_equivalent": trtexec,
        "serving_image": SERVING.image,
        "note": "loads only in a Triton whose TensorRT release equals tensorrt_version, on a GPU "
        "of the same compute capability",
    }
    if source != onnx_path:
        metadata["autocast_onnx"] = {"path": str(source), "sha256": sha256_file(source)}
        metadata["autocast_equivalent"] = autocast_command(onnx_path, source)
    metadata["serving_image_problems"] = plan_problems(metadata)
    metadata_path = plan_path.with_name(plan_path.name + ".json")
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
    return EngineBuild(
        plan_path=plan_path, metadata_path=metadata_path, metadata=metadata, trtexec=trtexec
    )


def _compare_func(atol: float, rtol: float) -> Any:
    """Polygraphy's tolerance check: ``SimpleCompareFunc`` where it exists (0.53+), since
    ``CompareFunc.simple`` is deprecated there and goes in 0.60."""
    from polygraphy import comparator

    simple = getattr(comparator, "SimpleCompareFunc", None)
    if simple is not None:
        return simple(atol=atol, rtol=rtol)
    return comparator.CompareFunc.simple(atol=atol, rtol=rtol)


def compare_with_polygraphy(
    onnx_path: Path,
    plan_path: Path,
    feeds: Sequence[dict[str, np.ndarray]],
    *,
    atol: float,
    rtol: float,
) -> Comparison:
    """Polygraphy: ONNX Runtime (CPU) vs the TensorRT plan on the same feeds, within tolerances."""
    make_cudart_findable()
    from polygraphy.backend.onnxrt import OnnxrtRunner, SessionFromOnnx
    from polygraphy.backend.trt import EngineFromBytes, TrtRunner

    runners = [
        OnnxrtRunner(SessionFromOnnx(str(onnx_path), providers=["CPUExecutionProvider"])),
        TrtRunner(EngineFromBytes(plan_path.read_bytes())),
    ]
    return compare_runners(runners, feeds, atol=atol, rtol=rtol)


def compare_runners(
    runners: Sequence[Any], feeds: Sequence[dict[str, np.ndarray]], *, atol: float, rtol: float
) -> Comparison:
    """Run Polygraphy ``runners`` on ``feeds``; the tolerance verdict and the largest absolute
    difference per output."""
    from polygraphy.comparator import Comparator

    results = Comparator.run(list(runners), data_loader=list(feeds))
    accuracy = Comparator.compare_accuracy(results, compare_func=_compare_func(atol, rtol))
    errors: dict[str, float] = {}
    # Polygraphy < 0.53 returns one AccuracyResult (runner pair -> iterations), 0.53+ a list of
    # them (AccuracyResults, one per comparison function).
    groups = [accuracy] if hasattr(accuracy, "values") else list(accuracy)
    for iterations in (its for group in groups for its in group.values()):
        for iteration in iterations:
            for name, result in iteration.items():
                value = float(getattr(result, "max_absdiff", math.nan))
                errors[name] = max(errors.get(name, 0.0), value)
    return Comparison(passed=bool(accuracy), atol=atol, rtol=rtol, max_abs_error=errors)


def measure_throughput(
    plan_path: Path, io: OnnxIO, batches: Sequence[int], *, seconds: float = 1.0
) -> list[dict[str, Any]]:
    """Images per second of the plan per batch size (polygraphy ``TrtRunner``: each call sets the
    shapes, copies the inputs to the GPU, runs and copies the outputs back)."""
    make_cudart_findable()
    from polygraphy.backend.trt import EngineFromBytes, TrtRunner

    rng = np.random.default_rng(0)
    rows = []
    with TrtRunner(EngineFromBytes(plan_path.read_bytes())) as runner:
        for batch in batches:
            feed = io.random_feed(batch, rng)
            for _ in range(3):
                runner.infer(feed)
            times: list[float] = []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline or len(times) < 5:
                runner.infer(feed)
                times.append(runner.last_inference_time())
            median = statistics.median(times)
            rows.append(
                {
                    "batch": batch,
                    "calls": len(times),
                    "median_ms": round(median * 1e3, 3),
                    "images_per_s": round(batch / median, 1),
                }
            )
    return rows
