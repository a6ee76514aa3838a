"""The chained PyTorch build: export → parity → Triton configs → a new repository version."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from export import samples
from export.demo_model import PYTHON_MODEL
from export.fetch import sha256_file
from export.parity import (
    DEFAULT_THRESHOLDS,
    OutputSpec,
    ParityReport,
    ParityThresholds,
    compare,
    onnx_runner,
)
from export.torch_to_onnx import TorchExport, TorchExportOptions, export_torch, torch_runner
from export.triton_config import (
    ModelSpec,
    PreprocessContract,
    ServingOptions,
    spec_from_onnx,
    write_configs,
)
from export.versions import VersionInfo, create_version


@dataclass(frozen=True)
class TorchBuild:
    export: TorchExport
    report: ParityReport
    spec: ModelSpec
    version: VersionInfo


def image_size(options: TorchExportOptions, contract: PreprocessContract) -> tuple[int, int]:
    shape = options.input_shape
    return (shape[1], shape[2]) if contract.input_layout == "NCHW" else (shape[0], shape[1])


def parity_inputs(
    options: TorchExportOptions, contract: PreprocessContract, random_count: int = 2, seed: int = 0
) -> dict[str, np.ndarray]:
    """Photos and random RGB images, preprocessed the way the transformer will feed the model."""
    size = image_size(options, contract)

    def tensor(rgb: np.ndarray) -> np.ndarray:
        return samples.to_tensor(
            rgb,
            size,
            layout=contract.input_layout,
            scale=contract.scale,
            mean=contract.mean,
            std=contract.std,
            bgr=contract.color_order == "BGR",
        )

    inputs = {name: tensor(samples.photo_rgb(name)) for name in samples.PHOTOS}
    rng = np.random.default_rng(seed)
    for i in range(random_count):
        inputs[f"random-{i}"] = tensor(rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    inputs["batch-of-3"] = np.concatenate([inputs[n] for n in samples.PHOTOS])
    return inputs


def output_spec(kind: str, contract: PreprocessContract) -> OutputSpec:
    return OutputSpec(kind=kind, person_classes=contract.person_classes, channel_axis=1)


def torch_parity(
    model: Any,
    onnx_model: Path | bytes,
    options: TorchExportOptions,
    contract: PreprocessContract,
    kind: str,
    thresholds: ParityThresholds = DEFAULT_THRESHOLDS,
) -> ParityReport:
    """The source PyTorch module (same head) vs ONNX Runtime."""
    return compare(
        torch_runner(model, options),
        onnx_runner(onnx_model),
        parity_inputs(options, contract),
        output_spec(kind, contract),
        thresholds,
    )


def build_from_torch(
    model: Any,
    options: TorchExportOptions,
    contract: PreprocessContract,
    *,
    repository: Path,
    name: str,
    source: dict[str, Any],
    thresholds: ParityThresholds = DEFAULT_THRESHOLDS,
    serving: ServingOptions | None = None,
) -> TorchBuild:
    """Export, refuse on failed parity, write the configs, add ``model.onnx`` as a new version."""
    exported = export_torch(model, options)
    data = exported.model.SerializeToString()
    report = torch_parity(model, data, options, contract, exported.output_kind, thresholds)
    report.raise_on_failure()
    if exported.output_kind != contract.output_kind:
        contract = PreprocessContract(**{**asdict(contract), "output_kind": exported.output_kind})
    model_dir = repository / name
    with tempfile.TemporaryDirectory(prefix="siteveil-export-") as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        onnx.save(exported.model, str(onnx_path))
        spec = spec_from_onnx(name, onnx_path, contract, serving)
        version = create_version(
            model_dir,
            {"model.onnx": onnx_path, "model.py": PYTHON_MODEL},
            source=source,
            options={
                "export": {k: v for k, v in asdict(options).items()},
                "contract": contract.parameters(),
                "parity": report.to_dict(),
            },
        )
    write_configs(model_dir, spec)
    return TorchBuild(export=exported, report=report, spec=spec, version=version)


def weights_source(model_ref: str, weights: Path | None) -> dict[str, Any]:
    source: dict[str, Any] = {"framework": "pytorch", "model": model_ref}
    if weights is not None:
        source["weights"] = str(weights)
        source["weights_sha256"] = sha256_file(weights)
    return source
