"""The version matrix, and the facts found against upstream sources that the chart must follow.

Each floor below is the first upstream release with an API the rendered objects use; the chart
states them in `Chart.yaml` (annotation `siteveil.io/requires`) and in its README's "Version
matrix", and these tests hold the three together.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.charts.chart_support import (
    CHART_DIR,
    PROFILES,
    HelmFailed,
    Obj,
    container,
    flags,
    of_kind,
    one,
    render,
    template,
)

CHART = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
REQUIRES: dict[str, str] = yaml.safe_load(CHART["annotations"]["siteveil.io/requires"])

# component → (lowest release with what the chart uses, where that fact comes from)
UPSTREAM_FLOORS = {
    "kserve": (
        "0.16",
        "kserve/kserve pkg/constants/constants.go: DeploymentModeType `Knative` (the old "
        "`Serverless` is `LegacyServerless`), introduced in 0.16; 0.15 falls back to the default "
        "mode on `Knative` and then refuses every update that changes the mode",
    ),
    "knative-eventing": (
        "1.20",
        "knative/eventing #8731 (IntegrationSource spec.aws.auth.serviceAccountName, pod "
        "default credentials), commit 3f59df18d, first tag knative-v1.20.0",
    ),
    "eventing-kafka-broker": (
        "1.20",
        "knative-extensions/eventing-kafka-broker #4516 (MSK IAM, SASL OAUTHBEARER), commit "
        "150a9bd7b, first tag knative-v1.20.0",
    ),
    "karpenter": ("1.0", "karpenter.sh/v1 NodePool and karpenter.k8s.aws/v1 EC2NodeClass"),
    "karpenter-capacity-buffer": (
        "1.14",
        "kubernetes-sigs/karpenter #3028 (CapacityBuffer API), commit 82671c0b1, first tag "
        "v1.14.0; pkg/operator/options/options.go: feature gate CapacityBuffer=false by default",
    ),
    "prometheus-operator": (
        "0.79",
        "prometheus-operator/prometheus-operator #7150 (PodMonitor portNumber), commit "
        "20cc1a012, first tag v0.79.0",
    ),
}

README_NAMES = {
    "Kubernetes": "kubernetes",
    "KServe": "kserve",
    "Knative Serving": "knative-serving",
    "Knative Eventing": "knative-eventing",
    "eventing-kafka-broker": "eventing-kafka-broker",
    "Karpenter (AWS provider)": "karpenter",
    "Karpenter, `warmCapacity.mode=capacityBuffer`": "karpenter-capacity-buffer",
    "Prometheus Operator": "prometheus-operator",
}


def version(text: str) -> tuple[int, ...]:
    match = re.match(r"(\d+(?:\.\d+)*)", text)
    assert match, text
    return tuple(int(part) for part in match.group(1).split("."))


def readme_matrix() -> dict[str, str]:
    text = (CHART_DIR / "README.md").read_text()
    section = text.split("## Version matrix", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| ")]
    return {
        README_NAMES[cells[0].strip()]: cells[1].strip().split()[0]
        for cells in rows
        if cells[0].strip() in README_NAMES
    }


def test_the_readme_matrix_is_the_chart_annotation() -> None:
    assert readme_matrix() == REQUIRES


def test_kube_version_is_the_kubernetes_floor() -> None:
    assert CHART["kubeVersion"] == f">={REQUIRES['kubernetes']}.0-0"


@pytest.mark.parametrize("component", list(UPSTREAM_FLOORS))
def test_no_floor_is_below_its_upstream_fact(component: str) -> None:
    floor, source = UPSTREAM_FLOORS[component]
    assert version(REQUIRES[component]) >= version(floor), source


def _uses(objs: list[Obj]) -> set[str]:
    """The components whose floor the rendered objects depend on."""
    used: set[str] = set()
    for isvc in of_kind(objs, "InferenceService"):
        if isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative":
            used.add("kserve")
    for source in of_kind(objs, "IntegrationSource"):
        if source["spec"]["aws"].get("auth", {}).get("serviceAccountName"):
            used.add("knative-eventing")
    for secret in of_kind(objs, "Secret"):
        if secret.get("stringData", {}).get("sasl.mechanism") == "OAUTHBEARER":
            used.add("eventing-kafka-broker")
    if of_kind(objs, "NodePool"):
        used.add("karpenter")
    if of_kind(objs, "CapacityBuffer"):
        used.add("karpenter-capacity-buffer")
    for monitor in of_kind(objs, "PodMonitor"):
        if any("portNumber" in e for e in monitor["spec"]["podMetricsEndpoints"]):
            used.add("prometheus-operator")
    return used


def test_every_profile_uses_only_what_the_matrix_covers() -> None:
    used = set().union(*(_uses(render(files)) for files in PROFILES.values()))
    assert used == set(UPSTREAM_FLOORS), "a floor without a use, or a use without a floor"


def test_the_only_deployment_mode_offered_is_the_floors() -> None:
    """Values match the matrix: with KServe >= 0.16 the mode is `Knative`; `Serverless` is
    refused rather than rendered (on 0.15 it works once and then blocks every upgrade)."""
    with pytest.raises(HelmFailed, match="deploymentMode"):
        template(sets={"inference.deploymentMode": "Serverless"})


# --- Kafka: replication factor <= brokers (issue 12 #4) ----------------------------------------

THREE_BROKERS = "b-1.x:9098\\,b-2.x:9098\\,b-3.x:9098"


def _replication(objs: list[Obj]) -> tuple[int, int]:
    broker = one(objs, "Broker")
    config = one(objs, "ConfigMap", broker["spec"]["config"]["name"])
    sink = one(objs, "KafkaSink")
    return int(config["data"]["default.topic.replication.factor"]), sink["spec"][
        "replicationFactor"
    ]


def test_replication_follows_the_broker_count() -> None:
    """Kafka cannot create a topic with more replicas than brokers (InvalidReplicationFactor):
    the Broker and KafkaSink would never become Ready. The default bootstrap list (like
    terraform/examples/complete with two subnets) has two brokers."""
    assert _replication(render()) == (2, 2)
    three = render(sets={"aws.mskBootstrapServers": THREE_BROKERS})
    assert _replication(three) == (3, 3)
    four = "b-1.x:9098\\,b-2.x:9098\\,b-3.x:9098\\,b-4.x:9098"
    assert _replication(render(sets={"aws.mskBootstrapServers": four})) == (3, 3)


@pytest.mark.parametrize("key", ["broker.replicationFactor", "deadLetter.replicationFactor"])
def test_more_replicas_than_brokers_is_refused(key: str) -> None:
    with pytest.raises(HelmFailed, match="exceeds the 2 brokers"):
        template(sets={key: "3"})


# --- Concurrency follows the Gunicorn workers (issue 12 #7) ----------------------------------


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_pod_concurrency_is_the_number_of_sync_workers(workers: int) -> None:
    """transformer/server.py runs Gunicorn `sync` workers: one request each. A pod therefore
    serves `workers` events at once; containerConcurrency above it queues inside Gunicorn, where
    Knative's autoscaler (which counts requests in queue-proxy) cannot see them."""
    isvc = one(render(sets={"inference.transformer.workers": str(workers)}), "InferenceService")
    predictor = isvc["spec"]["predictor"]
    args = flags(container(isvc, "transformer-container")["args"])
    assert int(args["--workers"] or 0) == workers
    assert predictor["containerConcurrency"] == workers
    assert predictor["scaleMetric"] == "concurrency" and predictor["scaleTarget"] == workers


# --- Smaller upstream facts (issue 12 #8) -----------------------------------------------------


def _requests(containers: list[Obj], resource: str) -> list[str]:
    return [c["resources"]["requests"].get(resource) for c in containers]


def test_the_capacity_buffer_keeps_room_for_the_whole_inference_pod() -> None:
    """The buffer's pod template must ask for what one inference pod asks for: Triton's requests
    AND the transformer's, or the kept room is too small for the pod it is kept for."""
    objs = render(PROFILES["capacity-buffer"])
    template_ = one(objs, "PodTemplate")["template"]["spec"]["containers"]
    isvc = one(objs, "InferenceService")["spec"]["predictor"]["containers"]
    for resource in ("cpu", "memory", "nvidia.com/gpu"):
        wanted = sorted(str(v) for v in _requests(isvc, resource) if v is not None)
        kept = sorted(str(v) for v in _requests(template_, resource) if v is not None)
        assert kept == wanted, resource


def test_the_revision_lets_a_delivery_attempt_run_its_whole_timeout() -> None:
    """Knative's `delivery.timeout` bounds each attempt; the revision's `timeoutSeconds` cuts
    the request first if it is shorter, so a cold start would fail every attempt."""
    objs = render()
    predictor = one(objs, "InferenceService")["spec"]["predictor"]
    (trigger,) = of_kind(objs, "Trigger")
    match = re.fullmatch(
        r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", trigger["spec"]["delivery"]["timeout"]
    )
    assert match
    h, m, s = (int(g or 0) for g in match.groups())
    assert predictor["timeout"] >= h * 3600 + m * 60 + s


def test_triggermesh_manages_its_own_service_account() -> None:
    """TriggerMesh's controller creates the receive adapter's ServiceAccount, named by
    `spec.auth.iam.serviceAccount` and annotated `eks.amazonaws.com/role-arn` from
    `spec.auth.iam.roleArn`, when it is missing, and keeps it in sync only while it carries
    `app.kubernetes.io/managed-by: triggermesh-controller`; one made by someone else is left as it
    is (triggermesh/triggermesh@68d43c1a, pkg/reconciler/reconcile.go
    getOrCreateAdapterServiceAccount / syncAdapterServiceAccount; pkg/apis/common/v1alpha1/
    aws_types.go ServiceAccountOptions). So the chart leaves the account to TriggerMesh (owned by
    the source, deleted with it) and gives the source the role, rather than rendering one of the
    same name that TriggerMesh would then never annotate or own."""
    objs = render(PROFILES["triggermesh"])
    source = one(objs, "AWSEventBridgeSource")
    name = source["spec"]["auth"]["iam"]["serviceAccount"]
    assert source["spec"]["auth"]["iam"]["roleArn"].startswith("arn:aws:iam::")
    assert name not in {sa["metadata"]["name"] for sa in of_kind(objs, "ServiceAccount")}
    # The IntegrationSource has no controller of its own for it: the chart makes it.
    default = render()
    sa_name = one(default, "IntegrationSource")["spec"]["aws"]["auth"]["serviceAccountName"]
    assert sa_name in {sa["metadata"]["name"] for sa in of_kind(default, "ServiceAccount")}


# --- TensorRT plans and GPU types (issue 12 #5) -----------------------------------------------

# Karpenter's `karpenter.k8s.aws/instance-gpu-name` of each family (aws/karpenter-provider-aws,
# website/content/en/preview/reference/instance-types.md). A TensorRT plan built without
# hardware compatibility loads only on the GPU type it was built on.
GPU_OF_FAMILY = {"g5": "a10g", "g6": "l4", "g6e": "l40s"}
GPU_LABEL = "karpenter.k8s.aws/instance-gpu-name"


def _gpu_types_a_pod_can_get(objs: list[Obj], isvc_name: str) -> set[str]:
    pool = one(objs, "NodePool")
    families = next(
        r["values"]
        for r in pool["spec"]["template"]["spec"]["requirements"]
        if r["key"] == "karpenter.k8s.aws/instance-family"
    )
    offered = {GPU_OF_FAMILY[f] for f in families}
    selector = one(objs, "InferenceService", isvc_name)["spec"]["predictor"].get("nodeSelector", {})
    return offered & {selector[GPU_LABEL]} if GPU_LABEL in selector else offered


@pytest.mark.parametrize("profile", ["karpenter", "everything"])
def test_every_model_version_lands_on_one_gpu_type(profile: str) -> None:
    objs = render(PROFILES[profile])
    for isvc in of_kind(objs, "InferenceService"):
        name = isvc["metadata"]["name"]
        assert len(_gpu_types_a_pod_can_get(objs, name)) == 1, name


def test_a_pinned_model_goes_to_its_gpu_type_and_so_does_warm_capacity() -> None:
    objs = render(
        PROFILES["everything"],
        sets={
            "karpenter.instanceFamilies": "{g5,g6,g6e}",
            "model.gpuName": "l40s",
            "shadow.model.gpuName": "a10g",
        },
    )
    assert _gpu_types_a_pod_can_get(objs, "siteveil") == {"l40s"}
    assert _gpu_types_a_pod_can_get(objs, "siteveil-shadow") == {"a10g"}
    warm = one(objs, "Deployment", "siteveil-gpu-warm")["spec"]["template"]["spec"]
    assert warm["nodeSelector"][GPU_LABEL] == "l40s"


def test_a_mix_of_gpu_types_without_a_pin_is_refused() -> None:
    with pytest.raises(HelmFailed, match="TensorRT plan loads only on the type"):
        template(PROFILES["karpenter"], sets={"karpenter.instanceFamilies": "{g5,g6,g6e}"})
    with pytest.raises(HelmFailed, match="no node could run the plan"):
        template(PROFILES["karpenter"], sets={"model.gpuName": "a10g"})
