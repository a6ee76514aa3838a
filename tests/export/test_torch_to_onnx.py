"""PyTorch → ONNX on a small segmentation model built by the test, and its parity checks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from export.errors import ExportError, MissingFile, NotSegmentationOutput, UnsupportedOperator
from export.parity import onnx_runner
from export.torch_pipeline import torch_parity
from export.torch_to_onnx import TorchExportOptions, export_torch, load_model, torch_runner
from export.triton_config import PreprocessContract

SHAPE = (3, 64, 64)
CONTRACT = PreprocessContract(
    input_layout="NCHW", color_order="RGB", scale=1 / 255, mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0), output_kind="logits", person_classes=(1,), model_family="tiny",
)  # fmt: skip
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tiny_ref: Callable[[str], str]) -> object:
    return load_model(tiny_ref("tiny_segmenter"))


@pytest.fixture(scope="module")
def logits_export(tiny: object) -> object:
    """The default path: the torch.export-based exporter, raw logits."""
    return export_torch(tiny, TorchExportOptions(input_shape=SHAPE))


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def test_logits_export_is_checked_with_a_dynamic_batch(logits_export: object) -> None:
    proto = logits_export.model  # type: ignore[attr-defined]
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version >= 17
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("image", "logits")
    assert isinstance(_dims(inp)[0], str) and _dims(inp)[1:] == [3, 64, 64]
    assert isinstance(_dims(out)[0], str) and _dims(out)[1:] == [3, 64, 64]
    assert logits_export.output_kind == "logits"  # type: ignore[attr-defined]


def test_logits_export_matches_torch_on_photos_and_random(
    tiny: object, logits_export: object
) -> None:
    report = torch_parity(
        tiny,
        logits_export.model.SerializeToString(),  # type: ignore[attr-defined]
        TorchExportOptions(input_shape=SHAPE),
        CONTRACT,
        "logits",
    )
    print(report.table())
    assert report.passed
    assert report.max_abs_error < 1e-4
    cases = {c.name: c for c in report.cases}
    assert cases["astronaut"].person_fraction > 0.3  # the masks compared are not trivial
    assert 0.2 < cases["random-0"].person_fraction < 0.8


def test_a_deliberately_broken_export_fails_parity(tiny: object, logits_export: object) -> None:
    broken = onnx.ModelProto()
    broken.CopyFrom(logits_export.model)  # type: ignore[attr-defined]
    conv_bias = next(
        i
        for i in broken.graph.initializer
        if numpy_helper.to_array(i).shape == (3,) and "pixel" in i.name
    )
    bias = numpy_helper.to_array(conv_bias).copy()
    bias[1] -= 2.0  # the person logit drifts: what a wrong export of a layer looks like
    conv_bias.CopyFrom(numpy_helper.from_array(bias, conv_bias.name))
    report = torch_parity(
        tiny, broken.SerializeToString(), TorchExportOptions(input_shape=SHAPE), CONTRACT, "logits"
    )
    print(report.table())
    assert not report.passed
    assert report.max_abs_error > 1.0
    assert report.min_iou < 0.99


@pytest.mark.parametrize(
    ("head", "kind", "name", "dims", "dtype"),
    [
        ("argmax", "labels", "labels", (64, 64), "TYPE_INT32"),
        ("person", "probability", "person_probability", (1, 64, 64), "TYPE_FP32"),
    ],
)
def test_folded_heads_give_small_outputs_equal_to_torch(
    tiny: object, head: str, kind: str, name: str, dims: tuple[int, ...], dtype: str
) -> None:
    options = TorchExportOptions(
        input_shape=SHAPE,
        head=head,  # type: ignore[arg-type]
        person_classes=(1,),
        exporter="torchscript",
    )
    exported = export_torch(tiny, options)
    assert (exported.output_kind, exported.output_name) == (kind, name)
    assert (exported.output_dims, exported.output_dtype) == (dims, dtype)
    x = np.random.default_rng(5).random((3, *SHAPE), dtype=np.float32)
    expected = torch_runner(tiny, options)(x)
    got = onnx_runner(exported.model.SerializeToString())(x)
    assert got.shape == (3, *dims)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    report = torch_parity(tiny, exported.model.SerializeToString(), options, CONTRACT, kind)
    assert report.passed, report.table()


def test_simplified_export_still_matches(tiny: object) -> None:
    options = TorchExportOptions(
        input_shape=SHAPE, exporter="torchscript", simplify=True, output_key="aux"
    )
    exported = export_torch(tiny, options)
    onnx.checker.check_model(exported.model)
    x = np.random.default_rng(2).random((2, *SHAPE), dtype=np.float32)
    np.testing.assert_allclose(
        onnx_runner(exported.model.SerializeToString())(x),
        torch_runner(tiny, options)(x),
        atol=1e-5,
    )


def test_classification_output_is_not_a_segmentation_output(tiny_ref: Callable[[str], str]) -> None:
    model = load_model(tiny_ref("classifier"))
    with pytest.raises(NotSegmentationOutput, match=r"shape \(2, 10\).*not a segmentation"):
        export_torch(model, TorchExportOptions(input_shape=(3, 32, 32)))


def test_an_op_without_onnx_translation_is_named(tiny_ref: Callable[[str], str]) -> None:
    model = load_model(tiny_ref("mystery_model"))
    with pytest.raises(UnsupportedOperator, match="siteveil_test.mystery") as info:
        export_torch(model, TorchExportOptions(input_shape=(3, 16, 16)))
    assert info.value.op == "siteveil_test.mystery"


def test_bad_inputs_are_clear_errors(tiny: object, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="opset 16 is too old"):
        TorchExportOptions(input_shape=SHAPE, opset=16)
    with pytest.raises(ExportError, match="needs --person-classes"):
        TorchExportOptions(input_shape=SHAPE, head="person")
    with pytest.raises(NotSegmentationOutput, match="not among"):
        export_torch(tiny, TorchExportOptions(input_shape=SHAPE, output_key="nope"))
    with pytest.raises(MissingFile):
        load_model(f"{tmp_path / 'absent.py'}:factory")
    with pytest.raises(MissingFile):
        load_model(
            f"{Path(__file__).with_name('tiny_models.py')}:tiny_segmenter", tmp_path / "absent.pt"
        )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "export", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_torch2onnx_then_parity_and_a_broken_export_exits_1(
    tiny_ref: Callable[[str], str], tmp_path: Path
) -> None:
    import torch

    common = [
        "--model",
        tiny_ref("tiny_segmenter"),
        "--input-shape",
        "3,64,64",
        "--exporter",
        "torchscript",
    ]
    onnx_path = tmp_path / "tiny.onnx"
    res = _cli("torch2onnx", *common, "--output", str(onnx_path))
    assert res.returncode == 0, res.stderr
    assert "dynamic batch, checked" in res.stdout
    contract = ["--mean", "0,0,0", "--std", "1,1,1", "--person-classes", "1"]
    res = _cli("parity-torch", *common, *contract, "--onnx", str(onnx_path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "PASSED" in res.stdout
    # the same ONNX against other weights: the export no longer says what the source says
    model = load_model(tiny_ref("tiny_segmenter"))
    state = {k: v + 0.3 if k.startswith("pixel") else v for k, v in model.state_dict().items()}
    weights = tmp_path / "other.pt"
    torch.save(state, weights)
    res = _cli(
        "parity-torch", *common, *contract, "--weights", str(weights), "--onnx", str(onnx_path)
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "FAILED" in res.stdout


def test_cli_non_segmentation_model_exits_2(tiny_ref: Callable[[str], str], tmp_path: Path) -> None:
    res = _cli(
        "torch2onnx",
        "--model",
        tiny_ref("classifier"),
        "--input-shape",
        "3,32,32",
        "--output",
        str(tmp_path / "c.onnx"),
    )
    assert res.returncode == 2
    assert "not a segmentation output" in res.stderr


def test_a_model_returning_labels_is_exported_as_labels(tiny_ref: Callable[[str], str]) -> None:
    model = load_model(tiny_ref("label_model"))
    options = TorchExportOptions(input_shape=SHAPE, exporter="torchscript")
    exported = export_torch(model, options)
    assert (exported.output_kind, exported.output_name) == ("labels", "labels")
    assert (exported.output_dims, exported.output_dtype) == ((64, 64), "TYPE_INT64")
    report = torch_parity(model, exported.model.SerializeToString(), options, CONTRACT, "labels")
    assert report.passed, report.table()
    with pytest.raises(NotSegmentationOutput, match="needs logits"):
        export_torch(model, TorchExportOptions(input_shape=SHAPE, head="argmax"))


def test_build_from_torch_writes_parsable_configs_and_new_versions(
    tiny: object, tmp_path: Path
) -> None:
    from tritonclient.grpc import model_config_pb2 as mc

    from export.torch_pipeline import build_from_torch
    from export.triton_config import read_config
    from export.versions import verify_version

    options = TorchExportOptions(
        input_shape=SHAPE, head="person", person_classes=(1,), exporter="torchscript"
    )
    builds = [
        build_from_torch(
            tiny, options, CONTRACT, repository=tmp_path, name="seg", source={"model": "tiny"}
        )
        for _ in range(2)
    ]
    assert [b.version.version for b in builds] == [1, 2]
    manifest = verify_version(tmp_path / "seg" / "2")
    assert manifest["options"]["export"]["head"] == "person"
    assert manifest["options"]["parity"]["passed"] is True
    for rel in ("config.pbtxt", "configs/onnx.pbtxt", "configs/cpu.pbtxt"):
        config = read_config(tmp_path / "seg" / rel)
        assert isinstance(config, mc.ModelConfig)
        (inp,), (out,) = config.input, config.output
        assert (inp.name, list(inp.dims)) == ("image", [3, 64, 64])
        assert (out.name, list(out.dims)) == ("person_probability", [1, 64, 64])
        params = {k: v.string_value for k, v in config.parameters.items()}
        assert params["siteveil.output_kind"] == "probability"  # what the head produces
        assert params["siteveil.input_layout"] == "NCHW"
        assert params["siteveil.person_classes"] == "1"
