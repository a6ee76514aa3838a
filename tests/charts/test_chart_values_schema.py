"""values.schema.json is strict: helm refuses bad values before rendering anything."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import yaml

from tests.charts.chart_support import CHART_DIR, PROFILES, HelmFailed, template

SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())
VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text())


def test_default_values_match_the_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.Draft7Validator(SCHEMA).validate(VALUES)


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "default"])
def test_profiles_match_the_schema(profile: str) -> None:
    for path in PROFILES[profile]:
        merged = _merge(VALUES, yaml.safe_load(path.read_text()))
        jsonschema.Draft7Validator(SCHEMA).validate(merged)


def _merge(base: Any, over: Any) -> Any:
    """Helm's merge of a values file over the defaults (maps merge, everything else replaces)."""
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return over


def _object_nodes(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "object" or "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _object_nodes(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _object_nodes(value, f"{where}/{i}")


def test_every_object_in_the_schema_is_closed_or_a_typed_map() -> None:
    open_objects = [
        where for where, node in _object_nodes(SCHEMA)
        if "additionalProperties" not in node and where != "#/properties/inference/properties/podSecurityContext"
    ]  # fmt: skip
    assert open_objects == []


def test_every_default_value_is_described_in_the_schema() -> None:
    def walk(values: Any, schema: dict[str, Any], path: str) -> Iterator[str]:
        if "$ref" in schema:
            schema = SCHEMA["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
        if isinstance(values, dict) and "properties" in schema:
            for key, value in values.items():
                if key not in schema["properties"]:
                    yield f"{path}.{key}"
                else:
                    yield from walk(value, schema["properties"][key], f"{path}.{key}")

    assert list(walk(VALUES, SCHEMA, "")) == []


BAD_VALUES = [
    ({"inference.minReplicas": "-1"}, "/inference/minReplicas"),
    ({"shadow.minReplicas": "-1"}, "/shadow/minReplicas"),
    ({"warmCapacity.replicas": "-2"}, "/warmCapacity/replicas"),
    ({"inference.maxReplicas": "0"}, "/inference/maxReplicas"),
    ({"inferense.minReplicas": "1"}, "inferense"),
    ({"inference.minReplica": "1"}, "minReplica"),
    ({"aws.queueUrll": "x"}, "queueUrll"),
    ({"source.kind": "SQSSource"}, "/source/kind"),
    ({"broker.class": "MTChannelBasedBroker"}, "/broker/class"),
    ({"trigger.eventType": "siteveil.image.failed"}, "eventType"),
    ({"trigger.timeout": "10m"}, "/trigger/timeout"),
    ({"aws.queueArn": "siteveil-uploads"}, "/aws/queueArn"),
    ({"aws.inferenceRoleArn": "siteveil-inference"}, "/aws/inferenceRoleArn"),
    ({"aws.modelStorageUri": "gs://bucket/models"}, "/aws/modelStorageUri"),
    ({"inference.transformer.anonymizationMode": "erase"}, "anonymizationMode"),
    ({"inference.transformer.maskThreshold": "1.5"}, "maskThreshold"),
    ({"inference.transformer.extraArgs[0]": "--delete_original"}, "extraArgs"),
    ({"inference.triton.extraArgs[0]": "--http-port=8080"}, "extraArgs"),
    ({"inference.triton.metricsPort": "8080"}, "metricsPort"),
    ({"model.version": "latest"}, "/model/version"),
    ({"warmCapacity.mode": "always"}, "/warmCapacity/mode"),
    ({"aws.apiRoleArn": "siteveil-api"}, "/aws/apiRoleArn"),
    ({"aws.cognitoUserPoolId": "EXAMPLE01"}, "/aws/cognitoUserPoolId"),
    ({"api.uploadExpiresSeconds": "30"}, "/api/uploadExpiresSeconds"),
    ({"api.maxUploadBytes": "0"}, "/api/maxUploadBytes"),
    ({"api.logLevel": "verbose"}, "/api/logLevel"),
    ({"api.replica": "2"}, "replica"),
    ({"api.autoscaling.minReplicas": "0"}, "/api/autoscaling/minReplicas"),
    ({"api.networkPolicy.ingressFrom[0].namespace": "x"}, "namespace"),
]


@pytest.mark.parametrize(("sets", "where"), BAD_VALUES, ids=[next(iter(s)) for s, _ in BAD_VALUES])
def test_helm_rejects_bad_values(sets: dict[str, str], where: str) -> None:
    with pytest.raises(HelmFailed) as failed:
        template(sets=sets)
    assert "schema" in failed.value.stderr and where in failed.value.stderr, failed.value.stderr


def test_cross_field_rule_max_below_min_is_refused() -> None:
    with pytest.raises(HelmFailed, match="maxReplicas"):
        template(sets={"inference.minReplicas": "3", "inference.maxReplicas": "2"})


def test_api_hpa_max_below_min_is_refused() -> None:
    with pytest.raises(HelmFailed, match="api.autoscaling.maxReplicas"):
        template(sets={"api.autoscaling.minReplicas": "5", "api.autoscaling.maxReplicas": "3"})


def test_secret_auth_needs_a_secret_name() -> None:
    with pytest.raises(HelmFailed, match="existingSecret"):
        template(sets={"broker.auth.mode": "secret"})
