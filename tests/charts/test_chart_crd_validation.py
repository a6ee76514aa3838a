"""Every rendered object against its schema: real CRDs (strict) and core kinds; seeded typos fail."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from tests.charts.chart_support import (
    CHART_DIR,
    KUBE_VERSION,
    PROFILES,
    CrdSchemas,
    Obj,
    custom_resources,
    of_kind,
    predictor_pod,
    render,
    strict_root_schema,
    strict_schema,
    validate_all,
    validate_object,
)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_rendered_object_validates(
    profile: str, crds: CrdSchemas, rendered: Callable[[str], list[Obj]]
) -> None:
    objs = rendered(profile)
    assert validate_all(objs, crds) == []
    crs = list(custom_resources(objs))
    assert crs, "the chart renders custom resources"
    missing = [
        (o["apiVersion"], o["kind"]) for o in crs if (o["apiVersion"], o["kind"]) not in crds
    ]
    assert missing == [], "custom resources without a CRD would go unchecked"


def test_every_custom_kind_of_the_chart_is_covered(
    crds: CrdSchemas, rendered: Callable[[str], list[Obj]]
) -> None:
    kinds = {(o["apiVersion"], o["kind"]) for p in PROFILES for o in custom_resources(rendered(p))}
    assert kinds == {
        ("serving.kserve.io/v1beta1", "InferenceService"),
        ("eventing.knative.dev/v1", "Broker"),
        ("eventing.knative.dev/v1", "Trigger"),
        ("eventing.knative.dev/v1alpha1", "KafkaSink"),
        ("sources.knative.dev/v1beta1", "KafkaSource"),  # the dead-letter recorder's feed
        ("sources.knative.dev/v1alpha1", "IntegrationSource"),
        ("sources.triggermesh.io/v1alpha1", "AWSEventBridgeSource"),
        ("karpenter.sh/v1", "NodePool"),
        ("karpenter.k8s.aws/v1", "EC2NodeClass"),
        ("autoscaling.x-k8s.io/v1beta1", "CapacityBuffer"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
    }
    assert all(k in crds for k in kinds)


def _render_mutated(tmp_path: Path, template: str, old: str, new: str, **kw: object) -> list[Obj]:
    """Render a copy of the chart with one seeded typo in one template."""
    chart = tmp_path / "siteveil"
    shutil.copytree(CHART_DIR, chart)
    path = chart / "templates" / template
    text = path.read_text()
    assert old in text, f"{old!r} not in {template}"
    path.write_text(text.replace(old, new, 1))
    return render(chart=chart, **kw)  # type: ignore[arg-type]


def test_seeded_typo_in_the_inferenceservice_fails(tmp_path: Path, crds: CrdSchemas) -> None:
    objs = _render_mutated(
        tmp_path, "inferenceservice.yaml", "containerConcurrency:", "containerConcurency:"
    )
    problems = validate_all(objs, crds)
    assert problems and all("InferenceService/siteveil" in p for p in problems)
    assert any("containerConcurency" in p for p in problems), problems


def test_seeded_typo_below_a_preserving_field_fails(tmp_path: Path, crds: CrdSchemas) -> None:
    # Trigger.spec and spec.delivery keep unknown fields; deadLetterSink does not.
    objs = _render_mutated(
        tmp_path,
        "triggers.yaml",
        "    deadLetterSink:\n      ref:",
        "    deadLetterSink:\n      reff:",
    )
    problems = validate_all(objs, crds)
    assert any("Trigger/" in p and "reff" in p for p in problems), problems


def test_seeded_bad_enum_in_the_nodepool_fails(tmp_path: Path, crds: CrdSchemas) -> None:
    objs = _render_mutated(
        tmp_path,
        "karpenter.yaml",
        "consolidationPolicy: WhenEmpty",
        "consolidationPolicy: WhenIdle",
        sets={"karpenter.enabled": "true"},
    )
    problems = validate_all(objs, crds)
    assert any("NodePool/" in p and "WhenIdle" in p for p in problems), problems


def test_seeded_typo_in_a_core_kind_fails(tmp_path: Path) -> None:
    objs = _render_mutated(
        tmp_path,
        "serviceaccounts.yaml",
        "automountServiceAccountToken:",
        "automountServiceAcountToken:",
    )
    problems = validate_all(objs, None)
    assert any("ServiceAccount/" in p and "automountServiceAcountToken" in p for p in problems)


def test_an_object_of_unknown_kind_is_a_problem(crds: CrdSchemas) -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert validate_object(widget, crds) != []


def test_typo_in_metadata_fails(crds: CrdSchemas, rendered: Callable[[str], list[Obj]]) -> None:
    isvc = dict(of_kind(rendered("default"), "InferenceService")[0])
    isvc["metadata"] = {**isvc["metadata"], "lables": {"a": "b"}}
    assert any("lables" in p for p in validate_object(isvc, crds))


def test_strict_schema_semantics() -> None:
    schema = strict_schema({
        "type": "object",
        "properties": {
            "closed": {"type": "object", "properties": {"a": {"type": "string"}}},
            "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "map": {"type": "object", "additionalProperties": {"type": "integer"}},
            "qty": {"x-kubernetes-int-or-string": True},
            "maybe": {"type": "string", "nullable": True},
        },
    })  # fmt: skip
    check = jsonschema.Draft4Validator(schema).is_valid
    assert check({"closed": {"a": "x"}, "open": {"anything": 1}, "map": {"k": 1}})
    assert not check({"closed": {"b": "x"}})
    assert not check({"extra": 1})
    assert not check({"map": {"k": "not an int"}})
    assert check({"qty": 1}) and check({"qty": "1Gi"}) and not check({"qty": [1]})
    assert check({"maybe": None}) and not check({"maybe": 1})


def test_root_schema_checks_object_meta() -> None:
    check = jsonschema.Draft4Validator(strict_root_schema({"type": "object"})).is_valid
    good = {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a", "labels": {"k": "v"}}}
    assert check(good)
    assert not check({**good, "metadata": {"name": "Not_A_Name"}})
    assert not check({**good, "metadata": {"name": "a", "annotatons": {}}})
    assert not check({**good, "spec": {}})  # the schema declares no spec


@pytest.mark.parametrize("profile", ["default", "everything"])
def test_the_inference_pod_is_a_valid_core_pod(
    profile: str, rendered: Callable[[str], list[Obj]]
) -> None:
    for isvc in of_kind(rendered(profile), "InferenceService"):
        kubernetes_validate.validate(predictor_pod(isvc), KUBE_VERSION, strict=True)


def test_cel_rules_of_the_crds_are_enforced(
    crds: CrdSchemas, rendered: Callable[[str], list[Obj]]
) -> None:
    buffer = of_kind(rendered("capacity-buffer"), "CapacityBuffer")[0]
    assert validate_object(buffer, crds) == []
    spec = {k: v for k, v in buffer["spec"].items() if k != "replicas"}
    problems = validate_object({**buffer, "spec": spec}, crds)
    assert any("replicas or limits must also be set" in p for p in problems), problems


def test_cel_extension_functions_behave_like_kubernetes(
    crds: CrdSchemas, rendered: Callable[[str], list[Obj]]
) -> None:
    """Rules using Kubernetes' regex `find` and the strings `split` extension are evaluated."""
    pool = of_kind(rendered("karpenter"), "NodePool")[0]
    labels = {**pool["spec"]["template"]["metadata"]["labels"], "karpenter.sh/custom": "x"}
    template = {**pool["spec"]["template"], "metadata": {"labels": labels}}
    problems = validate_object({**pool, "spec": {**pool["spec"], "template": template}}, crds)
    assert any('label domain "karpenter.sh" is restricted' in p for p in problems), problems

    node_class = of_kind(rendered("karpenter"), "EC2NodeClass")[0]
    spec = {**node_class["spec"], "amiSelectorTerms": [{"alias": "ubuntu@latest"}]}
    problems = validate_object({**node_class, "spec": spec}, crds)
    assert any("family is not supported" in p for p in problems), problems
