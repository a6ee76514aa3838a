"""The wiring a cluster needs: event path, ports and flags, shadow isolation, reply-loop safety."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
import yaml

from export.publish import storage_uri
from stack.relay import EVENT_TYPE as RELAY_EVENT_TYPE
from tests.charts.chart_support import (
    CHART_DIR,
    PROFILES,
    HelmFailed,
    Obj,
    container,
    env,
    flags,
    of_kind,
    one,
    render,
    template,
    trigger_matches,
)
from transformer import metrics as transformer_metrics
from transformer.config import parse_settings

VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
AWS = VALUES["aws"]
REPLY_TYPES = (
    "siteveil.image.anonymized",
    "siteveil.image.failed",
    "siteveil.shadow.anonymized",
    "siteveil.shadow.failed",
)
# The CloudEvent type each source emits, from its upstream source:
# - IntegrationSource aws.sqs: knative-extensions/eventing-integrations
#   aws-sqs-source/src/main/resources/application.properties, `ceOverride[ce-type]` default
#   `dev.knative.eventing.aws-sqs` (commit d7ce98e, Nov 2024, "Remove the connector.event prefix";
#   before it `dev.knative.connector.event.aws-sqs`, which the chart used to filter on);
# - TriggerMesh AWSEventBridgeSource: triggermesh/docs docs/sources/awseventbridge.md,
#   "Events produced have the following attributes: type com.amazon.events.event".
SOURCE_TYPES = {
    "IntegrationSource": "dev.knative.eventing.aws-sqs",
    "AWSEventBridgeSource": "com.amazon.events.event",
}
STALE_SQS_TYPE = "dev.knative.connector.event.aws-sqs"

Rendered = Callable[[str], list[Obj]]


def isvc_triggers(objs: list[Obj]) -> list[Obj]:
    return [
        t for t in of_kind(objs, "Trigger")
        if t["spec"]["subscriber"].get("ref", {}).get("kind") == "InferenceService"
    ]  # fmt: skip


# --- the InferenceService pod -------------------------------------------------------------


def test_inferenceservice_runs_in_knative_mode_and_scales_to_zero(rendered: Rendered) -> None:
    isvc = one(rendered("default"), "InferenceService")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    predictor = isvc["spec"]["predictor"]
    assert predictor["minReplicas"] == 0
    assert predictor["maxReplicas"] >= 1
    assert predictor["scaleMetric"] == "concurrency"
    assert predictor["scaleTarget"] >= 1 and predictor["containerConcurrency"] >= 1
    assert predictor["timeout"] >= 60
    assert [c["name"] for c in predictor["containers"]] == [
        "kserve-container", "transformer-container"
    ]  # fmt: skip


def test_triton_listens_beside_the_transformer_and_loads_the_published_model(
    rendered: Rendered,
) -> None:
    isvc = one(rendered("default"), "InferenceService")
    triton = container(isvc, "kserve-container")
    args = flags(triton["args"])
    assert args["--model-store"] == "/mnt/models"
    assert args["--http-port"] == "8085"
    assert args["--grpc-port"] == "9000"
    assert args["--allow-sagemaker"] == "false"
    assert "8080" not in {
        args.get("--http-port"),
        args.get("--grpc-port"),
        args.get("--metrics-port"),
    }
    assert "ports" not in triton, "only the transformer may declare a port"
    model = VALUES["model"]
    assert env(triton)["STORAGE_URI"] == storage_uri(
        AWS["modelStorageUri"], model["name"], int(model["version"])
    )
    assert triton["resources"]["limits"]["nvidia.com/gpu"] >= 1


def test_the_transformer_is_the_only_port_and_calls_triton_locally(rendered: Rendered) -> None:
    isvc = one(rendered("default"), "InferenceService")
    tr = container(isvc, "transformer-container")
    assert tr["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    args = flags(tr["args"])
    assert args["--predictor_host"] == "localhost:8085"
    assert args["--predictor_protocol"] == "v2"
    assert args["--http_port"] == "8080"
    assert args["--model_name"] == VALUES["model"]["name"]
    assert tr["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": 8080}
    assert tr["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": 8080}
    assert env(tr)["AWS_DEFAULT_REGION"] == AWS["region"]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_the_transformer_accepts_the_chart_flags(profile: str, rendered: Rendered) -> None:
    """The args are parsed by the transformer's own parser: what its container will run."""
    for isvc in of_kind(rendered(profile), "InferenceService"):
        settings = parse_settings(container(isvc, "transformer-container")["args"])
        assert settings.http_host == "0.0.0.0" and settings.http_port == 8080
        assert settings.predictor_host == "localhost:8085"
        # issue 14 §3: only the uploads bucket is a source of events
        assert settings.upload_buckets == (AWS["uploadsBucket"],)
        shadow = isvc["metadata"]["labels"]["app.kubernetes.io/component"] == "shadow"
        assert settings.shadow is shadow
        if shadow:
            assert settings.delete_original is False


def test_gdpr_deletion_is_a_production_flag(rendered: Rendered) -> None:
    objs = rendered("everything")  # deleteOriginal: true
    prod = one(objs, "InferenceService", "siteveil")
    shadow = one(objs, "InferenceService", "siteveil-shadow")
    assert "--delete_original" in container(prod, "transformer-container")["args"]
    assert "--delete_original" not in container(shadow, "transformer-container")["args"]
    assert parse_settings(container(prod, "transformer-container")["args"]).delete_original


def test_pods_run_with_irsa_on_gpu_nodes(rendered: Rendered) -> None:
    objs = rendered("default")
    predictor = one(objs, "InferenceService")["spec"]["predictor"]
    sa = one(objs, "ServiceAccount", predictor["serviceAccountName"])
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == AWS["inferenceRoleArn"]
    assert predictor["nodeSelector"] == VALUES["inference"]["nodeSelector"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in predictor[
        "tolerations"
    ]
    priority = one(objs, "PriorityClass", predictor["priorityClassName"])
    assert priority["value"] > 0


# --- eventing -------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", list(PROFILES))
def test_events_flow_source_to_broker_to_trigger_to_inferenceservice(
    profile: str, rendered: Rendered
) -> None:
    objs = rendered(profile)
    broker = one(objs, "Broker")
    assert broker["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "Kafka"
    config = one(objs, "ConfigMap", broker["spec"]["config"]["name"])
    assert config["data"]["bootstrap.servers"] == AWS["mskBootstrapServers"]
    assert int(config["data"]["default.topic.replication.factor"]) >= 1
    auth = one(objs, "Secret", config["data"]["auth.secret.ref.name"])
    assert auth["stringData"]["sasl.mechanism"] == "OAUTHBEARER"

    sources = [o for o in objs if o["kind"] in SOURCE_TYPES]
    assert len(sources) == 1
    source = sources[0]
    assert source["spec"]["sink"]["ref"] == {
        "apiVersion": "eventing.knative.dev/v1", "kind": "Broker",
        "name": broker["metadata"]["name"],
    }  # fmt: skip
    source_event = {"type": SOURCE_TYPES[source["kind"]], "source": "aws"}

    isvc_names = {i["metadata"]["name"] for i in of_kind(objs, "InferenceService")}
    triggers = isvc_triggers(objs)
    assert {t["spec"]["subscriber"]["ref"]["name"] for t in triggers} == isvc_names
    sinks = {s["metadata"]["name"] for s in of_kind(objs, "KafkaSink")}
    for trigger in triggers:
        spec = trigger["spec"]
        assert spec["broker"] == broker["metadata"]["name"]
        assert spec["subscriber"]["ref"]["apiVersion"] == "serving.kserve.io/v1beta1"
        assert trigger_matches(trigger, source_event), "upload events must reach the model"
        delivery = spec["delivery"]
        assert delivery["backoffPolicy"] == "exponential" and delivery["retry"] >= 1
        assert delivery["deadLetterSink"]["ref"]["kind"] == "KafkaSink"
        assert delivery["deadLetterSink"]["ref"]["name"] in sinks
        assert _iso_seconds(delivery["timeout"]) >= 300, "room for a GPU cold start"


def _iso_seconds(duration: str) -> float:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", duration)
    assert match, duration
    h, m, s = (float(g or 0) for g in match.groups())
    return h * 3600 + m * 60 + s


def test_integration_source_polls_the_terraform_queue_with_irsa(rendered: Rendered) -> None:
    objs = rendered("default")
    source = one(objs, "IntegrationSource")
    sqs = source["spec"]["aws"]["sqs"]
    assert sqs["arn"] == AWS["queueArn"] and sqs["region"] == AWS["region"]
    assert "s3" not in source["spec"]["aws"], "aws.s3 mode would read and delete the uploads"
    sa = one(objs, "ServiceAccount", source["spec"]["aws"]["auth"]["serviceAccountName"])
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == AWS["eventSourceRoleArn"]


def test_triggermesh_source_matches_uploads_of_the_bucket_only(rendered: Rendered) -> None:
    source = one(rendered("triggermesh"), "AWSEventBridgeSource")
    pattern = json.loads(source["spec"]["eventPattern"])
    assert pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [AWS["uploadsBucket"]]},
            "object": {"key": [{"prefix": AWS["uploadsPrefix"]}]},
        },
    }
    assert source["spec"]["auth"]["iam"]["roleArn"] == AWS["eventSourceRoleArn"]


def test_the_addressable_resolver_clusterrole(rendered: Rendered) -> None:
    role = one(rendered("default"), "ClusterRole", "inferenceservice-addressable-resolver")
    assert role["metadata"]["labels"]["duck.knative.dev/addressable"] == "true"
    assert role["rules"] == [{
        "apiGroups": ["serving.kserve.io"],
        "resources": ["inferenceservices", "inferenceservices/status"],
        "verbs": ["get", "list", "watch"],
    }]  # fmt: skip


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("reply_type", REPLY_TYPES)
def test_no_trigger_feeding_a_model_matches_a_reply(
    profile: str, reply_type: str, rendered: Rendered
) -> None:
    reply = {
        "type": reply_type,
        "source": "siteveil/transformer/person_segmenter",
        "subject": "tenant-a/image-1",
        "specversion": "1.0",
    }
    for trigger in isvc_triggers(rendered(profile)):
        assert not trigger_matches(trigger, reply), f"{trigger['metadata']['name']} loops"


def test_the_trigger_matcher_is_not_vacuous() -> None:
    open_trigger: Obj = {"spec": {"filter": {}}}
    prefix: Obj = {"spec": {"filters": [{"prefix": {"type": "siteveil."}}]}}
    assert trigger_matches(open_trigger, {"type": REPLY_TYPES[0]})
    assert trigger_matches(prefix, {"type": REPLY_TYPES[0]})
    assert not trigger_matches(prefix, {"type": SOURCE_TYPES["IntegrationSource"]})


@pytest.mark.parametrize("profile", list(PROFILES))
def test_the_trigger_filter_is_the_type_its_source_emits(profile: str, rendered: Rendered) -> None:
    objs = rendered(profile)
    (source,) = [o for o in objs if o["kind"] in SOURCE_TYPES]
    for trigger in isvc_triggers(objs):
        assert trigger["spec"]["filter"] == {"attributes": {"type": SOURCE_TYPES[source["kind"]]}}
        assert not trigger_matches(trigger, {"type": STALE_SQS_TYPE})


def test_the_filter_cannot_be_set_apart_from_the_source() -> None:
    """No value overrides the filter: one that differs from the source would process nothing."""
    with pytest.raises(HelmFailed, match="eventType"):
        template(sets={"trigger.eventType": "com.example.something-else"})


def test_the_local_relay_sends_what_the_production_source_sends(rendered: Rendered) -> None:
    """stack/relay.py stands in for the IntegrationSource: the chart's Trigger must match it."""
    (trigger,) = isvc_triggers(rendered("default"))
    assert trigger_matches(trigger, {"type": RELAY_EVENT_TYPE, "source": "arn:aws:sqs:q"})


# --- shadow and promotion -------------------------------------------------------------------


def test_shadow_writes_only_to_the_shadow_prefix(rendered: Rendered) -> None:
    objs = rendered("shadow")
    prod = one(objs, "InferenceService", "siteveil")
    shadow = one(objs, "InferenceService", "siteveil-shadow")
    prod_args = container(prod, "transformer-container")["args"]
    shadow_args = container(shadow, "transformer-container")["args"]
    assert "--shadow" in shadow_args and "--delete_original" not in shadow_args
    assert "--shadow" not in prod_args
    candidate = yaml.safe_load((CHART_DIR / "ci" / "shadow-values.yaml").read_text())["shadow"]
    assert flags(shadow_args)["--model_version"] == candidate["model"]["version"]
    assert env(container(shadow, "kserve-container"))["STORAGE_URI"] == storage_uri(
        AWS["modelStorageUri"], candidate["model"]["name"], int(candidate["model"]["version"])
    )
    assert env(container(shadow, "kserve-container")) != env(container(prod, "kserve-container"))
    assert shadow["spec"]["predictor"]["minReplicas"] == 0
    # Its own identity: an IAM role that can write only under shadow/.
    sa = one(objs, "ServiceAccount", shadow["spec"]["predictor"]["serviceAccountName"])
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == AWS["shadowRoleArn"]
    assert sa["metadata"]["name"] != prod["spec"]["predictor"]["serviceAccountName"]
    # Same events as production.
    filters = {
        t["spec"]["subscriber"]["ref"]["name"]: t["spec"]["filter"]
        for t in of_kind(objs, "Trigger")
    }
    assert filters["siteveil-shadow"] == filters["siteveil"]


def test_shadow_refuses_delete_original_smuggled_in_extra_args() -> None:
    with pytest.raises(HelmFailed, match="delete_original"):
        template(
            sets={
                "shadow.enabled": "true",
                "inference.transformer.extraArgs[0]": "--delete_original",
            }
        )


def _readme_upgrades() -> list[dict[str, str]]:
    """The `--set` flags of each `helm upgrade` in the chart README, in order."""
    readme = (CHART_DIR / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL):
        for command in block.replace("\\\n", " ").splitlines():
            if "helm upgrade" in command:
                commands.append(dict(re.findall(r"--set (\S+?)=(\S+)", command)))
    return commands


def test_the_readme_shadow_and_promotion_commands_work() -> None:
    """Run the README's upgrades (with --reuse-values, so their --set flags accumulate)."""
    install, shadow_step, promote_step = _readme_upgrades()
    assert install == {}
    shadowed = render(sets=shadow_step)
    candidate = one(shadowed, "InferenceService", "siteveil-shadow")
    assert "--shadow" in container(candidate, "transformer-container")["args"]

    promoted = render(sets={**shadow_step, **promote_step})
    prod = one(promoted, "InferenceService", "siteveil")
    assert of_kind(promoted, "InferenceService") == [prod], "the shadow is gone"
    assert isvc_triggers(promoted) == [one(promoted, "Trigger", "siteveil")]
    assert env(container(prod, "kserve-container")) == env(container(candidate, "kserve-container"))
    prod_args = flags(container(prod, "transformer-container")["args"])
    candidate_args = flags(container(candidate, "transformer-container")["args"])
    assert prod_args["--model_version"] == candidate_args["--model_version"]
    assert "--shadow" not in prod_args
    assert prod["metadata"]["annotations"]["siteveil.io/model"] == (
        f"{VALUES['model']['name']}/{promote_step['model.version']}"
    )


# --- scaling helpers ------------------------------------------------------------------------


def test_karpenter_nodes_fit_the_inference_pods(rendered: Rendered) -> None:
    objs = rendered("karpenter")
    predictor = one(objs, "InferenceService")["spec"]["predictor"]
    pool = one(objs, "NodePool")
    template_spec = pool["spec"]["template"]
    labels = template_spec["metadata"]["labels"]
    assert predictor["nodeSelector"].items() <= labels.items()
    for taint in template_spec["spec"]["taints"]:
        assert any(
            t["key"] == taint["key"] and t["effect"] == taint["effect"]
            for t in predictor["tolerations"]
        ), f"inference pods do not tolerate {taint}"
    ref = template_spec["spec"]["nodeClassRef"]
    node_class = one(objs, "EC2NodeClass", ref["name"])
    assert ref["group"] == "karpenter.k8s.aws"
    assert node_class["spec"]["role"] == AWS["karpenterNodeRoleName"]
    assert node_class["spec"]["metadataOptions"]["httpTokens"] == "required"
    assert "nvidia.com/gpu" in pool["spec"]["limits"]


@pytest.mark.parametrize(
    ("alias", "device"), [("bottlerocket@latest", "/dev/xvdb"), ("al2023@v20250101", "/dev/xvda")]
)
def test_the_large_volume_is_where_images_live(alias: str, device: str) -> None:
    node_class = one(
        render(sets={"karpenter.enabled": "true", "karpenter.amiAlias": alias}), "EC2NodeClass"
    )
    (mapping,) = node_class["spec"]["blockDeviceMappings"]
    assert mapping["deviceName"] == device
    assert mapping["ebs"]["encrypted"] is True


def test_placeholders_yield_to_inference_pods(rendered: Rendered) -> None:
    objs = rendered("karpenter")
    predictor = one(objs, "InferenceService")["spec"]["predictor"]
    placeholder = one(objs, "Deployment", "siteveil-gpu-warm")["spec"]["template"]["spec"]
    inference_priority = one(objs, "PriorityClass", predictor["priorityClassName"])
    placeholder_priority = one(objs, "PriorityClass", placeholder["priorityClassName"])
    assert placeholder_priority["value"] < 0 < inference_priority["value"]
    assert inference_priority["preemptionPolicy"] == "PreemptLowerPriority"
    gpu = placeholder["containers"][0]["resources"]["requests"]["nvidia.com/gpu"]
    assert (
        gpu
        == container(
            {"spec": {"predictor": predictor}, "metadata": {"name": "x"}}, "kserve-container"
        )["resources"]["requests"]["nvidia.com/gpu"]
    )
    assert placeholder["nodeSelector"] == predictor["nodeSelector"]


def test_capacity_buffer_points_at_its_pod_template(rendered: Rendered) -> None:
    objs = rendered("capacity-buffer")
    buffer = one(objs, "CapacityBuffer")
    pod_template = one(objs, "PodTemplate", buffer["spec"]["podTemplateRef"]["name"])
    assert buffer["spec"]["replicas"] == 2
    pod = pod_template["template"]["spec"]
    assert pod["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] >= 1
    assert pod["nodeSelector"] == VALUES["inference"]["nodeSelector"]


# --- monitoring -----------------------------------------------------------------------------


def test_monitors_scrape_both_containers(rendered: Rendered) -> None:
    objs = rendered("monitoring")
    isvc = one(objs, "InferenceService")
    triton_port = int(flags(container(isvc, "kserve-container")["args"])["--metrics-port"] or 0)
    pod_monitor = one(objs, "PodMonitor")
    pod_ip = "10.1.2.3"
    assert set(scraped_addresses(isvc, pod_monitor, pod_ip)) == {
        f"{pod_ip}:8080",
        f"{pod_ip}:{triton_port}",
    }
    selector = pod_monitor["spec"]["selector"]["matchExpressions"][0]
    assert selector["key"] == "serving.kserve.io/inferenceservice"
    assert isvc["metadata"]["name"] in selector["values"]
    service = one(objs, "Service", "siteveil-metrics")
    assert {p["targetPort"] for p in service["spec"]["ports"]} == {8080, triton_port}
    monitor = one(objs, "ServiceMonitor")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    for obj in (pod_monitor, monitor, one(objs, "PrometheusRule")):
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def scraped_addresses(isvc: Obj, pod_monitor: Obj, pod_ip: str) -> list[str]:
    """What Prometheus scrapes for a PodMonitor, as its Kubernetes pod discovery works: one
    target per DECLARED container port (the PodMonitor CRD, `portNumber`: "The Pod must declare
    the specified Port in its spec or the target will be dropped by Prometheus. This cannot be
    used to enable scraping of an undeclared port"), kept when the port matches, then the
    endpoint's `replace` relabelings applied."""
    declared = [
        port["containerPort"]
        for c in isvc["spec"]["predictor"]["containers"]
        for port in c.get("ports", [])
    ]
    addresses = []
    for endpoint in pod_monitor["spec"]["podMetricsEndpoints"]:
        for port in declared:
            if port != endpoint["portNumber"]:
                continue
            labels = {"__address__": f"{pod_ip}:{port}", "__meta_kubernetes_pod_ip": pod_ip}
            for rule in endpoint.get("relabelings", []):
                assert rule.get("action", "replace") == "replace", rule
                value = ";".join(labels.get(name, "") for name in rule.get("sourceLabels", []))
                match = re.fullmatch(rule.get("regex", "(.*)"), value)
                if match:
                    replacement = rule.get("replacement", "$1")
                    labels[rule["targetLabel"]] = re.sub(
                        r"\$\{?(\d+)\}?", lambda m: match.group(int(m.group(1))) or "", replacement
                    )
            addresses.append(labels["__address__"])
    return addresses


SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def _transformer_metric_names() -> set[str]:
    """Series names the transformer exports (what its /metrics shows)."""
    names = set()
    for metric in (
        transformer_metrics.EVENTS,
        transformer_metrics.REQUEST_SECONDS,
        transformer_metrics.STAGE_SECONDS,
        transformer_metrics.PERSON_FRACTION,
    ):
        for family in metric.describe():
            names |= {family.name + suffix for suffix in SAMPLE_SUFFIXES[family.type]}
    return names


def _siteveil_metrics_in(text: str) -> set[str]:
    return set(re.findall(r"\b(siteveil_[a-z_]+)\b", text))


def test_alerts_cover_latency_errors_dead_letters_and_queue_age(rendered: Rendered) -> None:
    rule = one(rendered("monitoring"), "PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    assert set(alerts) == {
        "SiteveilHighP99Latency", "SiteveilHighErrorRate", "SiteveilDeadLettersGrowing",
        "SiteveilUploadQueueOld",
    }  # fmt: skip
    exprs = json.dumps(rule["spec"])
    used = _siteveil_metrics_in(exprs)
    assert used and used <= _transformer_metric_names(), used - _transformer_metric_names()
    assert VALUES["deadLetter"]["topic"] in alerts["SiteveilDeadLettersGrowing"]["expr"]
    queue_name = AWS["queueArn"].rsplit(":", 1)[-1]
    assert queue_name in alerts["SiteveilUploadQueueOld"]["expr"]


def test_dashboard_is_grafana_json_over_real_metrics(rendered: Rendered) -> None:
    config_map = one(rendered("monitoring"), "ConfigMap", "siteveil-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config_map["data"]["siteveil.json"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 6
    used = set().union(*(_siteveil_metrics_in(e) for e in exprs))
    assert used and used <= _transformer_metric_names(), used - _transformer_metric_names()
    assert any("nv_inference_queue_duration_us" in e for e in exprs)
    assert any("DCGM_FI_PROF_SM_ACTIVE" in e for e in exprs)


def test_several_models_per_image_reach_the_transformer() -> None:
    """issue 10: which models run is a chart value; the transformer's own parser reads it."""
    objs = render(
        sets={
            "inference.transformer.models": "{person_segmenter,person_detector,face_detector}",
            "inference.transformer.minFacePx": "12",
        }
    )
    isvc = one(objs, "InferenceService")
    settings = parse_settings(container(isvc, "transformer-container")["args"])
    assert settings.served_model_names == ("person_segmenter", "person_detector", "face_detector")
    assert (settings.min_person_px, settings.min_face_px, settings.max_detector_tiles) == (
        64,
        12,
        400,
    )
    default = parse_settings(
        container(one(render(), "InferenceService"), "transformer-container")["args"]
    )
    assert default.served_model_names == (VALUES["model"]["name"],)


def test_a_model_list_without_the_served_model_fails_to_render() -> None:
    with pytest.raises(HelmFailed, match="must include model.name"):
        render(sets={"inference.transformer.models": "{face_detector}"})
