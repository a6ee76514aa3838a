"""PyTorch → ONNX for any segmentation ``nn.Module``.

The model is wrapped so that whatever it returns (a tensor, a dict such as torchvision's
``{"out": …}``, a tuple) becomes one segmentation output, checked to be logits N×C×H×W or labels
N×H×W, optionally with a head folded into the graph so Triton returns small outputs:

* ``none`` — the model's own output (``logits`` or ``labels``);
* ``argmax`` — per-pixel class ids, int32 N×H×W (``labels``);
* ``person`` — P(person) = sum of the softmax over the person classes (sigmoid for one channel),
  float N×1×H×W (``probability``).

Export uses ``torch.onnx.export`` (the torch.export-based exporter by default, TorchScript on
request) with a dynamic batch axis, then ``onnx.checker`` and optional onnxslim simplification.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx

from export.errors import ExportError, MissingFile, NotSegmentationOutput, UnsupportedOperator

Head = Literal["none", "argmax", "person"]
Exporter = Literal["dynamo", "torchscript"]
OutputKind = Literal["probability", "logits", "labels"]

MIN_OPSET = 17
DEFAULT_OPSET = 18  # the torch.export-based exporter's lowest native opset
BATCH_DIM = "batch"


@dataclass(frozen=True)
class TorchExportOptions:
    input_shape: tuple[int, ...]  # one image, without batch: (C, H, W) for NCHW
    head: Head = "none"
    person_classes: tuple[int, ...] = ()
    output_key: str | None = None  # dict key or tuple index of the segmentation output
    opset: int = DEFAULT_OPSET
    exporter: Exporter = "dynamo"
    simplify: bool = False
    max_batch: int = 64  # upper bound of the dynamic batch axis
    input_name: str = "image"
    output_name: str | None = None  # default: logits | labels | person_probability

    def __post_init__(self) -> None:
        if self.opset < MIN_OPSET:
            raise ExportError(f"opset {self.opset} is too old; use {MIN_OPSET} or newer")
        if self.head == "person" and not self.person_classes:
            raise ExportError("the person head needs --person-classes")


@dataclass(frozen=True)
class TorchExport:
    model: onnx.ModelProto
    output_kind: OutputKind
    input_name: str
    output_name: str
    input_dims: tuple[int, ...]  # without batch
    output_dims: tuple[int, ...]  # without batch
    output_dtype: str  # Triton data type, e.g. TYPE_FP32


def load_factory(ref: str) -> Callable[[], Any]:
    """``package.module:factory`` or ``path/to/file.py:factory`` → the callable."""
    target, _, attr = ref.partition(":")
    if not attr:
        raise ExportError(
            f"model reference {ref!r} must look like module:factory or file.py:factory"
        )
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise MissingFile(f"model source not found: {path}")
        spec = importlib.util.spec_from_file_location(f"siteveil_model_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ExportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    try:
        return getattr(module, attr)  # type: ignore[no-any-return]
    except AttributeError as exc:
        raise ExportError(f"{target} has no attribute {attr!r}") from exc


def load_model(ref: str, weights: Path | None = None) -> Any:
    """Build the module from its factory, load a state dict when given, switch to eval mode."""
    import torch

    model = load_factory(ref)()
    if not isinstance(model, torch.nn.Module):
        raise ExportError(f"{ref} returned {type(model).__name__}, not a torch.nn.Module")
    if weights is not None:
        if not weights.is_file():
            raise MissingFile(f"weights not found: {weights}")
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    return model.eval()


def _select(output: Any, key: str | None) -> Any:
    import torch

    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        if key is None:
            if "out" in output:
                return output["out"]
            if len(output) == 1:
                return next(iter(output.values()))
            raise NotSegmentationOutput(
                f"the model returns a dict with keys {sorted(output)}; choose one with --output-key"
            )
        if key not in output:
            raise NotSegmentationOutput(f"--output-key {key!r} is not among {sorted(output)}")
        return output[key]
    if isinstance(output, list | tuple):
        index = int(key) if key is not None else 0
        return output[index]
    raise NotSegmentationOutput(f"unsupported model output type {type(output).__name__}")


def segmentation_kind(shape: tuple[int, ...], is_float: bool) -> OutputKind:
    """What a raw model output is, or :class:`NotSegmentationOutput`."""
    if len(shape) == 4 and is_float and shape[1] >= 2:
        return "logits"
    if len(shape) == 3 and not is_float:
        return "labels"
    if len(shape) == 4 and is_float and shape[1] == 1:
        return "probability"  # one logit channel; the person head turns it into a probability
    raise NotSegmentationOutput(
        f"output of shape {tuple(shape)} ({'float' if is_float else 'integer'}) is not a "
        "segmentation output: expected logits N×C×H×W or labels N×H×W"
    )


def _make_wrapper(model: Any, options: TorchExportOptions) -> Any:
    import torch

    person = list(options.person_classes)

    class SegmentationWrapper(torch.nn.Module):
        """The model plus output selection and the optional head, as one traceable module."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = _select(self.model(x), options.output_key)
            if options.head == "argmax":
                return y.argmax(dim=1).to(torch.int32)
            if options.head == "person":
                if y.shape[1] == 1:
                    return torch.sigmoid(y)
                return torch.softmax(y, dim=1)[:, person].sum(dim=1, keepdim=True)
            return y

    return SegmentationWrapper().eval()


@dataclass(frozen=True)
class Wrapped:
    module: Any  # torch.nn.Module: the model + output selection + head
    kind: OutputKind
    output_dims: tuple[int, ...]  # of one image, after the head
    is_float: bool


def wrap(model: Any, options: TorchExportOptions) -> Wrapped:
    """The module that gets exported, and what its output is."""
    import torch

    sample = torch.zeros((2, *options.input_shape))
    with torch.no_grad():
        raw = _select(model(sample), options.output_key)
    if not isinstance(raw, torch.Tensor):
        raise NotSegmentationOutput(f"the selected output is a {type(raw).__name__}, not a tensor")
    kind = segmentation_kind(tuple(raw.shape), raw.is_floating_point())
    if kind == "probability" and options.head == "none":
        raise NotSegmentationOutput(
            "a one-channel output is ambiguous (logit or probability?): use --head person"
        )
    if options.head in ("argmax", "person") and kind == "labels":
        raise NotSegmentationOutput(f"--head {options.head} needs logits, the model returns labels")
    if options.head == "argmax" and raw.shape[1] < 2:
        raise NotSegmentationOutput("--head argmax needs at least two classes")
    head_kind: dict[str, OutputKind] = {"argmax": "labels", "person": "probability"}
    module = _make_wrapper(model, options)
    with torch.no_grad():
        out = module(sample)
    return Wrapped(
        module=module,
        kind=head_kind.get(options.head, kind),
        output_dims=tuple(int(d) for d in out.shape[1:]),
        is_float=bool(out.is_floating_point()),
    )


_DISPATCH = re.compile(r"No ONNX function found for <OpOverload\(op='([^']+)'")
_TS_UNSUPPORTED = re.compile(r"Exporting the operator '?([\w:.]+)'? to ONNX opset")


def _unsupported(exc: BaseException) -> UnsupportedOperator | None:
    text = str(exc)
    for cause in (exc.__cause__, exc.__context__):
        if cause is not None:
            text += "\n" + str(cause)
    match = _DISPATCH.search(text) or _TS_UNSUPPORTED.search(text)
    if match:
        return UnsupportedOperator(match.group(1), "no ONNX translation in torch.onnx")
    return None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter prints progress lines and warnings; keep the CLI output readable."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _export(wrapper: Any, options: TorchExportOptions, output_name: str) -> onnx.ModelProto:
    import torch

    sample = (torch.rand((2, *options.input_shape)),)
    input_names, output_names = [options.input_name], [output_name]
    try:
        with _quiet(), torch.no_grad():
            if options.exporter == "dynamo":
                batch = torch.export.Dim(BATCH_DIM, min=1, max=options.max_batch)
                program = torch.onnx.export(
                    wrapper,
                    sample,
                    dynamo=True,
                    opset_version=options.opset,
                    dynamic_shapes={"x": {0: batch}},
                    verbose=False,
                    input_names=input_names,
                    output_names=output_names,
                )
                return program.model_proto  # type: ignore[union-attr]
            buffer = io.BytesIO()
            torch.onnx.export(
                wrapper,
                sample,
                buffer,  # type: ignore[arg-type]  # a file object works
                dynamo=False,
                opset_version=options.opset,
                dynamic_axes={options.input_name: {0: BATCH_DIM}, output_name: {0: BATCH_DIM}},
                input_names=input_names,
                output_names=output_names,
            )
            return onnx.load_from_string(buffer.getvalue())
    except Exception as exc:
        unsupported = _unsupported(exc)
        if unsupported is not None:
            raise unsupported from exc
        raise ExportError(f"torch.onnx.export failed: {str(exc).strip().splitlines()[0]}") from exc


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    """onnxslim: constant folding, dead-node removal, fusions (shapes and outputs unchanged)."""
    import onnxslim

    with _quiet():
        return onnxslim.slim(model)  # type: ignore[no-any-return]


_TRITON_TYPES = {
    onnx.TensorProto.FLOAT: "TYPE_FP32",
    onnx.TensorProto.FLOAT16: "TYPE_FP16",
    onnx.TensorProto.INT32: "TYPE_INT32",
    onnx.TensorProto.INT64: "TYPE_INT64",
    onnx.TensorProto.UINT8: "TYPE_UINT8",
    onnx.TensorProto.BOOL: "TYPE_BOOL",
}


def _dims(value: onnx.ValueInfoProto) -> tuple[int | str, ...]:
    return tuple(d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim)


def _batch_is_dynamic(model: onnx.ModelProto) -> bool:
    values = [*model.graph.input, *model.graph.output]
    return all(isinstance(_dims(v)[0], str) for v in values)


def _pin_output_dims(model: onnx.ModelProto, dims: tuple[int, ...]) -> None:
    """Write the known per-image output dims (exporters may leave them symbolic)."""
    (out,) = model.graph.output
    shape = out.type.tensor_type.shape
    if len(shape.dim) != len(dims) + 1:
        raise NotSegmentationOutput(
            f"exported output has rank {len(shape.dim)}, expected {len(dims) + 1}"
        )
    for dim, value in zip(list(shape.dim)[1:], dims, strict=True):
        dim.Clear()
        dim.dim_value = value


def export_torch(model: Any, options: TorchExportOptions) -> TorchExport:
    """Export, check, optionally simplify; the batch axis stays dynamic."""
    wrapped = wrap(model, options)
    default_name = {"probability": "person_probability", "labels": "labels", "logits": "logits"}
    output_name = options.output_name or default_name[wrapped.kind]
    proto = _export(wrapped.module, options, output_name)
    if options.simplify:
        proto = simplify(proto)
    _pin_output_dims(proto, wrapped.output_dims)
    onnx.checker.check_model(proto, full_check=True)
    if not _batch_is_dynamic(proto):
        raise ExportError("the exported graph lost its dynamic batch axis")
    (out,) = proto.graph.output
    return TorchExport(
        model=proto,
        output_kind=wrapped.kind,
        input_name=options.input_name,
        output_name=output_name,
        input_dims=tuple(options.input_shape),
        output_dims=wrapped.output_dims,
        output_dtype=_TRITON_TYPES[out.type.tensor_type.elem_type],
    )


def torch_runner(model: Any, options: TorchExportOptions) -> Callable[[np.ndarray], np.ndarray]:
    """The source model (with the same head) as a ``batch -> output`` function, for parity."""
    import torch

    wrapper = wrap(model, options).module

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.asarray(wrapper(torch.from_numpy(np.ascontiguousarray(x))).numpy())

    return run
