"""The model contract is read from Triton's config; incomplete configs are refused clearly."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from transformer.errors import ModelContractError
from transformer.model_contract import contract_from_config

from .conftest import DEMO_CONFIG


def test_demo_config_from_http_json() -> None:
    c = contract_from_config(DEMO_CONFIG)
    assert (c.input_name, c.output_name) == ("image", "person_probability")
    assert (c.layout, c.height, c.width, c.batched) == ("NHWC", 256, 256, True)
    assert c.input_dtype == np.float32 and c.triton_dtype == "FP32"
    assert c.scale == pytest.approx(1 / 255) and c.output_kind == "probability"


def test_grpc_json_shape_with_string_dims_and_camel_case() -> None:
    """tritonclient.grpc get_model_config(as_json=True): {"config": …}, int64 as strings."""
    grpc_like = copy.deepcopy(DEMO_CONFIG)
    grpc_like["input"][0]["dims"] = ["256", "256", "3"]
    grpc_like["max_batch_size"] = "8"
    grpc_like["parameters"] = {
        k: {"stringValue": v["string_value"]} for k, v in DEMO_CONFIG["parameters"].items()
    }
    c = contract_from_config({"config": grpc_like})
    assert (c.height, c.width, c.batched) == (256, 256, True)


def test_nchw_logits_model_with_person_classes() -> None:
    cfg: dict[str, Any] = {
        "max_batch_size": 0,
        "input": [{"name": "pixel_values", "data_type": "TYPE_FP16", "dims": [1, 3, 512, 384]}],
        "output": [{"name": "logits", "data_type": "TYPE_FP32", "dims": [1, 41, 512, 384]}],
        "parameters": {
            "siteveil.input_layout": {"string_value": "NCHW"},
            "siteveil.color_order": {"string_value": "BGR"},
            "siteveil.scale": {"string_value": "1"},
            "siteveil.mean": {"string_value": "123.675,116.28,103.53"},
            "siteveil.std": {"string_value": "58.395,57.12,57.375"},
            "siteveil.output_kind": {"string_value": "logits"},
            "siteveil.person_classes": {"string_value": "12, 13"},
        },
    }
    c = contract_from_config(cfg)
    assert (c.layout, c.height, c.width, c.batched) == ("NCHW", 512, 384, False)
    assert c.person_classes == (12, 13) and c.input_dtype == np.float16
    assert c.mean == (123.675, 116.28, 103.53)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["parameters"].pop("siteveil.input_layout"), "input_layout"),
        (
            lambda c: c["parameters"].__setitem__(
                "siteveil.output_kind", {"string_value": "boxes"}
            ),
            "output_kind",
        ),
        (
            lambda c: c["parameters"].__setitem__("siteveil.role", {"string_value": "car_finder"}),
            "role",
        ),
        (
            lambda c: c["parameters"].__setitem__(
                "siteveil.output_kind", {"string_value": "logits"}
            ),
            "person_classes",
        ),
        (lambda c: c["input"].append(c["input"][0]), "exactly one input"),
        (lambda c: c["input"][0].__setitem__("dims", [256, 256]), "three"),
        (lambda c: c["input"][0].__setitem__("dims", [-1, -1, 3]), "fixed-size"),
        (lambda c: c["input"][0].__setitem__("data_type", "TYPE_STRING"), "not supported"),
        (lambda c: c["parameters"].__setitem__("siteveil.mean", {"string_value": "1,2"}), "1 or 3"),
        (lambda c: c.pop("output"), "exactly one output"),
    ],
)
def test_incomplete_contracts_are_refused(mutate: Any, message: str) -> None:
    cfg = copy.deepcopy(DEMO_CONFIG)
    mutate(cfg)
    with pytest.raises(ModelContractError, match=message):
        contract_from_config(cfg)


def detector(**overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "max_batch_size": 32,
        "input": [{"name": "input.1", "data_type": "TYPE_FP32", "dims": [3, 512, 512]}],
        "output": [{"name": "detections", "data_type": "TYPE_FP32", "dims": [100, 5]}],
        "parameters": {
            "siteveil.role": {"string_value": "face_detector"},
            "siteveil.input_layout": {"string_value": "NCHW"},
            "siteveil.color_order": {"string_value": "BGR"},
            "siteveil.output_kind": {"string_value": "boxes"},
            "siteveil.score_threshold": {"string_value": "0.45"},
            "siteveil.min_object_px": {"string_value": "14"},
            "siteveil.max_object_px": {"string_value": "400"},
        },
    }
    for key, value in overrides.items():
        if key.startswith("siteveil."):
            cfg["parameters"][key] = {"string_value": value}
        else:
            cfg[key] = value
    return cfg


def test_a_face_detector_declares_its_role_and_what_it_finds() -> None:
    c = contract_from_config(detector())
    assert c.role == "face_detector" and c.is_detector and c.output_kind == "boxes"
    assert (c.height, c.width, c.max_batch_size) == (512, 512, 32)
    assert (c.score_threshold, c.min_object_px, c.max_object_px) == (0.45, 14.0, 400.0)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"siteveil.output_kind": "probability"}, "output_kind"),
        ({"output": [{"name": "d", "data_type": "TYPE_FP32", "dims": [100, 4]}]}, "K×5 boxes"),
        ({"max_batch_size": 0, "input": [{"name": "i", "dims": [1, 3, 512, 512]}]}, "must batch"),
        ({"siteveil.min_object_px": "0"}, "min_object_px"),
        ({"siteveil.max_object_px": "10"}, "min_object_px"),
        ({"siteveil.score_threshold": "1.5"}, "score_threshold"),
    ],
)
def test_a_detector_with_a_wrong_contract_is_refused(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ModelContractError, match=message):
        contract_from_config(detector(**overrides))


def test_a_segmenter_cannot_claim_boxes() -> None:
    cfg = copy.deepcopy(DEMO_CONFIG)
    cfg["parameters"]["siteveil.role"] = {"string_value": "segmenter"}
    cfg["parameters"]["siteveil.output_kind"] = {"string_value": "boxes"}
    with pytest.raises(ModelContractError, match="output_kind"):
        contract_from_config(cfg)
