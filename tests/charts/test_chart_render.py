"""`helm lint --strict` and `helm template` for the defaults and every toggle; core kinds strict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from tests.charts.chart_support import (
    CHART_DIR,
    NAMESPACE,
    PROFILES,
    RELEASE,
    Obj,
    lint,
    run_helm,
    validate_all,
)

CLUSTER_SCOPED = {"ClusterRole", "PriorityClass", "NodePool", "EC2NodeClass"}

# Kinds each profile must render, with their counts (kinds not listed may appear or not).
EXPECTED: dict[str, dict[str, int]] = {
    "default": {
        "InferenceService": 1, "Trigger": 1, "Broker": 1, "IntegrationSource": 1,
        "AWSEventBridgeSource": 0, "KafkaSink": 1, "ClusterRole": 1, "Secret": 1,
        "ConfigMap": 1, "ServiceAccount": 3, "PriorityClass": 1, "NodePool": 0,
        "PodMonitor": 0, "PrometheusRule": 0, "Deployment": 2, "CapacityBuffer": 0,
        "NetworkPolicy": 1, "Service": 2, "HorizontalPodAutoscaler": 1,
        "PodDisruptionBudget": 1, "Ingress": 0, "KafkaSource": 1,
    },
    "api": {
        "Deployment": 2, "Service": 2, "HorizontalPodAutoscaler": 0, "PodDisruptionBudget": 1,
        "NetworkPolicy": 1, "Ingress": 1, "ServiceAccount": 3,
    },
    "shadow": {"InferenceService": 2, "Trigger": 2, "ServiceAccount": 4},
    "shadow-report": {
        "InferenceService": 2, "CronJob": 1, "PrometheusRule": 1, "ServiceAccount": 5,
    },
    "triggermesh": {"AWSEventBridgeSource": 1, "IntegrationSource": 0, "Trigger": 1},
    "karpenter": {
        "NodePool": 1, "EC2NodeClass": 1, "Deployment": 3, "PriorityClass": 2,
        "NetworkPolicy": 2,
    },
    "capacity-buffer": {"CapacityBuffer": 1, "PodTemplate": 1, "Deployment": 2},
    "monitoring": {
        "PodMonitor": 1, "ServiceMonitor": 1, "Service": 3, "PrometheusRule": 1, "ConfigMap": 2,
    },
    "dashboard": {"Trigger": 3, "KafkaSink": 2},
    "everything": {
        "InferenceService": 2, "Trigger": 4, "KafkaSink": 2, "NodePool": 1, "EC2NodeClass": 1, "PodMonitor": 1,
        "ServiceMonitor": 1, "PrometheusRule": 1, "Deployment": 3, "NetworkPolicy": 3,
        "Ingress": 1,
    },
}  # fmt: skip


def test_every_profile_has_expectations() -> None:
    assert set(EXPECTED) == set(PROFILES)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_helm_lint_strict_passes(profile: str) -> None:
    out = lint(PROFILES[profile])
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("profile", list(PROFILES))
def test_template_renders_the_expected_kinds(
    profile: str, rendered: Callable[[str], list[Obj]]
) -> None:
    counts = Counter(o["kind"] for o in rendered(profile))
    for kind, n in EXPECTED[profile].items():
        assert counts[kind] == n, f"{profile}: {kind} x{counts[kind]}, expected {n}"


@pytest.mark.parametrize("profile", list(PROFILES))
def test_names_are_unique_and_namespaces_right(
    profile: str, rendered: Callable[[str], list[Obj]]
) -> None:
    objs = rendered(profile)
    keys = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert len(keys) == len(set(keys)), f"duplicate objects: {keys}"
    for o in objs:
        ns = o["metadata"].get("namespace")
        if o["kind"] in CLUSTER_SCOPED:
            assert ns is None, f"{o['kind']}/{o['metadata']['name']} is cluster-scoped"
        else:
            assert ns == NAMESPACE, f"{o['kind']}/{o['metadata']['name']} namespace {ns!r}"


@pytest.mark.parametrize("profile", list(PROFILES))
def test_core_kinds_pass_strict_kubernetes_validation(
    profile: str, rendered: Callable[[str], list[Obj]]
) -> None:
    # crds=None: core kinds are checked by kubernetes-validate --strict (custom resources are
    # checked against the real CRDs in test_chart_crd_validation.py).
    assert validate_all(rendered(profile), None) == []


@pytest.mark.parametrize("profile", ["default", "shadow", "triggermesh"])
def test_notes_describe_the_event_path(profile: str) -> None:
    args = ["install", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE, "--dry-run=client"]
    for path in PROFILES[profile]:
        args += ["-f", str(path)]
    notes = run_helm(args).split("NOTES:", 1)[1]
    assert f"installed in namespace {NAMESPACE}" in notes
    assert "InferenceService siteveil (model person_segmenter/1)" in notes
    assert ("InferenceService siteveil-shadow" in notes) is (profile == "shadow")
    event_type = (
        "com.amazon.events.event" if profile == "triggermesh" else ("dev.knative.eventing.aws-sqs")
    )
    assert f"type = {event_type}" in notes
    assert "Upload API: Service siteveil-api (port 80)" in notes
    assert "port-forward service/siteveil-api 8000:80" in notes
