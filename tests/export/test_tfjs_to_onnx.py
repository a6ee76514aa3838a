"""The TF.js graph-model → ONNX converter, op by op on tiny graphs (numpy references written from
TensorFlow's documented semantics), plus one tiny graph checked against TensorFlow.js itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from export.errors import ExportError, UnsupportedOperator
from export.tfjs_runtime import node_status, run_tfjs
from export.tfjs_to_onnx import convert, parse_graph, read_graph_model
from tests.export.tiny_tfjs import conv_attrs, graph, ints, model_json, node, placeholder, s, write

RNG = np.random.default_rng(7)
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "export"


def run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def tf_same_pad(x: np.ndarray, k: int, stride: int, value: float = 0.0) -> np.ndarray:
    """TensorFlow SAME: out = ceil(in / stride), the odd pixel of padding at the end."""
    pads = []
    for size in x.shape[1:3]:
        out = -(-size // stride)
        total = max((out - 1) * stride + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=value)


def conv_ref(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    k = w.shape[0]
    xp = tf_same_pad(x, k, stride)
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    return np.einsum("nhwcij,ijco->nhwo", win, w)


def depthwise_ref(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    k, _, c, m = w.shape
    xp = tf_same_pad(x, k, stride)
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    out = np.einsum("nhwcij,ijcm->nhwcm", win, w)
    return out.reshape(*out.shape[:3], c * m)  # channel c * M + m, as TF orders it


@pytest.mark.parametrize("stride", [1, 2])
def test_fused_conv_with_bias_and_relu6_matches_tf_same_padding(stride: int) -> None:
    x = RNG.standard_normal((2, 8, 8, 3)).astype(np.float32)
    w = RNG.standard_normal((3, 3, 3, 5)).astype(np.float32)
    bias = RNG.standard_normal(5).astype(np.float32)
    g = graph(
        [
            placeholder("x", (1, 8, 8, 3)),
            node(
                "y",
                "_FusedConv2D",
                ["x", "w", "b"],
                **conv_attrs(stride, fused=["BiasAdd", "Relu6"]),
            ),
        ],
        {"w": w, "b": bias},
        ["y"],
    )
    model = convert(g)
    (y,) = run(model, x)
    expected = np.clip(conv_ref(x, w, stride) + bias, 0, 6)
    assert y.shape == expected.shape == (2, 8 // stride, 8 // stride, 5)
    np.testing.assert_allclose(y, expected, atol=1e-4)


def test_depthwise_with_channel_multiplier_keeps_tf_channel_order() -> None:
    x = RNG.standard_normal((1, 7, 7, 3)).astype(np.float32)
    w = RNG.standard_normal((3, 3, 3, 2)).astype(np.float32)
    g = graph(
        [
            placeholder("x", (1, 7, 7, 3)),
            node("y", "DepthwiseConv2dNative", ["x", "w"], **conv_attrs(2)),
        ],
        {"w": w},
        ["y"],
    )
    (y,) = run(convert(g), x)
    np.testing.assert_allclose(y, depthwise_ref(x, w, 2), atol=1e-4)


def test_max_pool_same_pads_with_minus_infinity() -> None:
    x = -np.abs(RNG.standard_normal((1, 6, 6, 2))).astype(np.float32) - 1.0  # all negative
    attrs = {"ksize": ints([1, 3, 3, 1]), "strides": ints([1, 2, 2, 1]), "padding": s("SAME")}
    g = graph([placeholder("x", (1, 6, 6, 2)), node("y", "MaxPool", ["x"], **attrs)], {}, ["y"])
    (y,) = run(convert(g), x)
    xp = tf_same_pad(x, 3, 2, value=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(1, 2))[:, ::2, ::2]
    np.testing.assert_allclose(y, win.max(axis=(-2, -1)), atol=1e-6)


def test_elementwise_constants_of_every_rank_broadcast_in_nchw() -> None:
    """Activations run NCHW inside; scalar, per-channel and full constants must follow."""
    x = RNG.standard_normal((2, 4, 4, 3)).astype(np.float32)
    w = RNG.standard_normal((1, 1, 3, 3)).astype(np.float32)
    per_channel = np.array([1.0, 2.0, 3.0], np.float32)
    full = RNG.standard_normal((1, 4, 4, 3)).astype(np.float32)
    g = graph(
        [
            placeholder("x", (1, 4, 4, 3)),
            node("c", "Conv2D", ["x", "w"], **conv_attrs()),
            node("m", "Mul", ["per_channel", "c"]),
            node("a", "AddV2", ["m", "full"]),
            node("h", "Add", ["a", "three"]),
            node("r", "Relu6", ["h"]),
            node("y", "Sub", ["r", "x"]),  # an NCHW and an NHWC activation
        ],
        {"w": w, "per_channel": per_channel, "full": full, "three": np.float32(3.0)},
        ["y"],
    )
    model = convert(g)
    (y,) = run(model, x)
    c = conv_ref(x, w, 1)
    expected = np.clip(per_channel * c + full + 3.0, 0, 6) - x
    np.testing.assert_allclose(y, expected, atol=1e-4)
    transposes = [n for n in model.graph.node if n.op_type == "Transpose"]
    assert len(transposes) <= 3  # the input once, x back for Sub... not one per op


def test_mean_concat_and_resize_bilinear_asymmetric() -> None:
    x = RNG.standard_normal((1, 4, 4, 2)).astype(np.float32)
    w = RNG.standard_normal((1, 1, 2, 2)).astype(np.float32)
    g = graph(
        [
            placeholder("x", (1, 4, 4, 2)),
            node("c", "Conv2D", ["x", "w"], **conv_attrs()),
            node("mean", "Mean", ["c", "axes"], keep_dims={"b": True}),
            node("scaled", "Mul", ["c", "mean"]),
            node(
                "up", "ResizeBilinear", ["scaled", "size"],
                align_corners={"b": False}, half_pixel_centers={"b": False},
            ),
            node("y", "ConcatV2", ["up", "up", "axis"], N={"i": "2"}),
        ],
        {"w": w, "axes": np.array([1, 2], np.int32), "size": np.array([8, 8], np.int32),
         "axis": np.array(-1, np.int32)},
        ["y"],
    )  # fmt: skip
    (y,) = run(convert(g), x)
    c = conv_ref(x, w, 1)
    scaled = c * c.mean(axis=(1, 2), keepdims=True)
    # TF ResizeBilinear (no half-pixel): source = dst * in / out, clamped at the last pixel.
    src = np.arange(8) * 4 / 8
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, 3)
    f = (src - lo)[None, :, None, None]
    rows = scaled[:, lo] * (1 - f) + scaled[:, hi] * f
    f = (src - lo)[None, None, :, None]
    up = rows[:, :, lo] * (1 - f) + rows[:, :, hi] * f
    np.testing.assert_allclose(y, np.concatenate([up, up], axis=-1), atol=1e-4)


def test_integer_floor_div_and_floor_mod_round_toward_minus_infinity() -> None:
    g = graph(
        [
            placeholder("x", (1, 6)),
            node("i", "Cast", ["x"], SrcT={"type": "DT_FLOAT"}, DstT={"type": "DT_INT32"}),
            node("q", "FloorDiv", ["i", "d"]),
            node("r", "FloorMod", ["i", "d"]),
            node("fq", "FloorDiv", ["x", "fd"]),
            node("fr", "FloorMod", ["x", "fd"]),
        ],
        {"d": np.array(4, np.int32), "fd": np.float32(4.0)},
        ["q", "r", "fq", "fr"],
    )
    x = np.array([[-9, -4, -1, 0, 5, 13]], np.float32)
    q, r, fq, fr = run(convert(g), x)
    i = x.astype(np.int32)
    np.testing.assert_array_equal(q, np.floor_divide(i, 4))
    np.testing.assert_array_equal(r, np.mod(i, 4))
    np.testing.assert_array_equal(fq, np.floor_divide(x, 4.0))
    np.testing.assert_array_equal(fr, np.mod(x, 4.0))


def test_strided_slice_masks_top_k_gather_and_expand_dims() -> None:
    g = graph(
        [
            placeholder("x", (1, 10, 3)),
            node("col", "StridedSlice", ["x", "b", "end", "st"], begin_mask={"i": "3"},
                 end_mask={"i": "3"}, shrink_axis_mask={"i": "4"}),
            node("top", "TopKV2", ["col", "k"], sorted={"b": True}),
            node("rows", "GatherV2", ["flat", "top:1", "axis"], batch_dims={"i": "0"}),
            node("flat", "Reshape", ["x", "shape"]),
            node("e", "ExpandDims", ["top", "dim"]),
        ],
        {"b": np.array([0, 0, 1], np.int32), "end": np.array([0, 0, 2], np.int32),
         "st": np.array([1, 1, 1], np.int32), "k": np.array(4, np.int32),
         "axis": np.array(0, np.int32), "shape": np.array([-1, 3], np.int32),
         "dim": np.array(-1, np.int32)},
        ["top", "top:1", "rows", "e"],
    )  # fmt: skip
    x = RNG.permutation(30).astype(np.float32).reshape(1, 10, 3)
    values, indices, rows, expanded = run(convert(g, dynamic_batch=False), x)
    col = x[0, :, 1]
    order = np.argsort(-col)[:4]
    np.testing.assert_array_equal(values[0], col[order])
    assert indices.dtype == np.int32
    np.testing.assert_array_equal(indices[0], order)
    np.testing.assert_array_equal(rows, x[0][order][None])
    assert expanded.shape == (1, 4, 1)


@pytest.mark.parametrize("mode", ["float16", "uint8"])
def test_quantised_weights_are_dequantised(mode: str) -> None:
    w = RNG.standard_normal((1, 1, 2, 2)).astype(np.float32)
    g = graph(
        [placeholder("x", (1, 2, 2, 2)), node("y", "Conv2D", ["x", "w"], **conv_attrs())],
        {"w": w},
        ["y"],
        quantize={"w": mode},
    )
    stored = g.weights["w"]
    assert stored.dtype == np.float32
    tolerance = 1e-3 if mode == "float16" else (w.max() - w.min()) / 255
    np.testing.assert_allclose(stored, w, atol=tolerance)
    model = convert(g)
    assert {i.data_type for i in model.graph.initializer} == {onnx.TensorProto.FLOAT}
    x = RNG.standard_normal((1, 2, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(run(model, x)[0], conv_ref(x, stored, 1), atol=1e-5)


def test_batch_axis_is_dynamic_and_names_follow_the_caller() -> None:
    w = RNG.standard_normal((3, 3, 3, 4)).astype(np.float32)
    g = graph(
        [placeholder("in", (1, 8, 8, 3)), node("y", "Conv2D", ["in", "w"], **conv_attrs(2))],
        {"w": w},
        ["y"],
    )
    model = convert(g, input_names=["image"], output_names=["features"])
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ("image", "features")
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == [
        "batch",
        8,
        8,
        3,
    ]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == [
        "batch",
        4,
        4,
        4,
    ]
    x = RNG.standard_normal((3, 8, 8, 3)).astype(np.float32)
    (y,) = run(model, x)
    singles = np.concatenate([run(model, x[i : i + 1])[0] for i in range(3)])
    np.testing.assert_allclose(y, singles, atol=1e-5)
    assert model.opset_import[0].version == 17
    assert all(n.domain in ("", "ai.onnx") for n in model.graph.node)


def test_an_unknown_op_is_an_error_naming_it() -> None:
    g = graph(
        [placeholder("x", (1, 4)), node("y", "Softplus", ["x"]), node("z", "Relu", ["y"])],
        {},
        ["z"],
    )
    with pytest.raises(UnsupportedOperator, match="Softplus"):
        convert(g)


def test_unknown_ops_outside_the_requested_outputs_are_pruned() -> None:
    g = graph(
        [placeholder("x", (1, 4)), node("y", "Relu", ["x"]), node("z", "Softplus", ["x"])],
        {},
        ["y", "z"],
    )
    model = convert(g, outputs=["y"])
    np.testing.assert_array_equal(
        run(model, np.array([[-1, 2, -3, 4]], np.float32))[0], [[0, 2, 0, 4]]
    )


def test_fused_ops_it_cannot_translate_are_refused() -> None:
    g = graph(
        [
            placeholder("x", (1, 4, 4, 1)),
            node("y", "_FusedConv2D", ["x", "w", "b"], **conv_attrs(fused=["BiasAdd", "Prelu"])),
        ],
        {"w": np.ones((1, 1, 1, 1), np.float32), "b": np.zeros(1, np.float32)},
        ["y"],
    )
    with pytest.raises(UnsupportedOperator, match="Prelu"):
        convert(g)


def test_shards_shorter_than_the_manifest_are_refused() -> None:
    spec, data = model_json(
        [placeholder("x", (1, 2)), node("y", "Mul", ["x", "w"])],
        {"w": np.ones(2, np.float32)},
        ["y"],
    )
    with pytest.raises(ExportError, match="end before 'w'"):
        parse_graph(spec, data[:-1])


def test_missing_shard_file_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, [placeholder("x", (1, 2)), node("y", "Mul", ["x", "w"])],
                 {"w": np.ones(2, np.float32)}, ["y"])  # fmt: skip
    (tmp_path / "group1-shard1of1.bin").unlink()
    with pytest.raises(ExportError, match="weight shard not found"):
        read_graph_model(path)


def test_a_tiny_graph_matches_tensorflow_js_itself(tmp_path: Path) -> None:
    """The semantics the numpy references encode, checked once against the real runtime."""
    ok, reason = node_status()
    if not ok:
        pytest.skip(reason)
    w = RNG.standard_normal((3, 3, 3, 4)).astype(np.float32)
    dw = RNG.standard_normal((3, 3, 4, 1)).astype(np.float32)
    nodes = [
        placeholder("x", (1, 10, 10, 3)),
        node("c", "_FusedConv2D", ["x", "w", "b"], **conv_attrs(2, fused=["BiasAdd", "Relu"])),
        node(
            "d", "FusedDepthwiseConv2dNative", ["c", "dw", "db"], **conv_attrs(2, fused=["BiasAdd"])
        ),
        node(
            "up",
            "ResizeBilinear",
            ["d", "size"],
            align_corners={"b": False},
            half_pixel_centers={"b": False},
        ),
        node("se", "Mean", ["up", "axes"], keep_dims={"b": True}),
        node("m", "Mul", ["up", "se"]),
        node(
            "p",
            "MaxPool",
            ["m"],
            ksize=ints([1, 3, 3, 1]),
            strides=ints([1, 1, 1, 1]),
            padding=s("SAME"),
        ),
        node("y", "Sigmoid", ["p"]),
    ]
    weights = {
        "w": w, "b": RNG.standard_normal(4).astype(np.float32), "dw": dw,
        "db": RNG.standard_normal(4).astype(np.float32), "size": np.array([5, 5], np.int32),
        "axes": np.array([1, 2], np.int32),
    }  # fmt: skip
    path = write(tmp_path / "tiny", nodes, weights, ["y"], quantize={"w": "float16"})
    x = RNG.standard_normal((1, 10, 10, 3)).astype(np.float32)
    reference = run_tfjs(path, [x], ["y"], CACHE / "tfjs-runtime").outputs[0][0]
    (ours,) = run(convert(read_graph_model(path)), x)
    assert ours.shape == reference.shape == (1, 5, 5, 4)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "export", *args],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_converts_a_model_json_and_names_an_unknown_op(tmp_path: Path) -> None:
    w = RNG.standard_normal((1, 1, 2, 3)).astype(np.float32)
    good = write(
        tmp_path / "good",
        [placeholder("x", (1, 4, 4, 2)), node("y", "Conv2D", ["x", "w"], **conv_attrs())],
        {"w": w},
        ["y"],
    )
    out = tmp_path / "good.onnx"
    res = _cli("tfjs2onnx", str(good), str(out), "--input-name", "image")
    assert res.returncode == 0, res.stderr
    model = onnx.load(out)
    assert model.graph.input[0].name == "image"
    bad = write(
        tmp_path / "bad", [placeholder("x", (1, 4)), node("y", "Softplus", ["x"])], {}, ["y"]
    )
    res = _cli("tfjs2onnx", str(bad), str(tmp_path / "bad.onnx"))
    assert res.returncode == 2
    assert "unsupported operator Softplus" in res.stderr
    assert not (tmp_path / "bad.onnx").exists()
