"""The upload API in the chart: the image's user and port, its own settings parser, IRSA,
probes, Service, autoscaling, disruption budget, NetworkPolicy and Ingress."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import annotated_types
import pytest
import yaml
from pydantic import AliasChoices

from api.__main__ import _parser as api_cli_parser
from api.config import Settings, load_settings
from tests.charts.chart_support import (
    CHART_DIR,
    PROFILES,
    REPO_ROOT,
    HelmFailed,
    Obj,
    env,
    of_kind,
    one,
    render,
    template,
)

VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())
AWS = VALUES["aws"]
CHART_VERSION = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())["appVersion"]
CONTAINERFILE = (REPO_ROOT / "api" / "Containerfile").read_text()
API = "siteveil-api"
API_PROFILES = [p for p in PROFILES if p != "triggermesh"]  # one source kind is enough

Rendered = Callable[[str], list[Obj]]


def api_pod(objs: list[Obj]) -> Obj:
    return one(objs, "Deployment", API)["spec"]["template"]  # type: ignore[no-any-return]


def api_container(objs: list[Obj]) -> Obj:
    (container,) = api_pod(objs)["spec"]["containers"]
    return container  # type: ignore[no-any-return]


def settings_env_names() -> set[str]:
    """Every environment variable the API's Settings reads (aliases and prefixed fields)."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {c for c in alias.choices if isinstance(c, str)}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def settings_from(objs: list[Obj], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The API's own settings built from exactly the environment the chart gives its container."""
    for name in settings_env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in env(api_container(objs)).items():
        monkeypatch.setenv(name, value)
    return load_settings()


# --- the container -------------------------------------------------------------------------


def test_the_api_runs_its_image_as_the_image_user(rendered: Rendered) -> None:
    objs = rendered("default")
    pod = api_pod(objs)["spec"]
    container = api_container(objs)
    assert container["image"] == f"{VALUES['api']['image']['repository']}:{CHART_VERSION}"
    args = api_cli_parser().parse_args(container["args"])
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", 8000)
    # The uid and port the image (api/Containerfile) defines.
    uid = int(re.search(r"^USER (\d+)(?::\d+)?$", CONTAINERFILE, re.MULTILINE).group(1))  # type: ignore[union-attr]
    exposed = int(re.search(r"^EXPOSE (\d+)$", CONTAINERFILE, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert pod["securityContext"]["runAsUser"] == uid == 65532
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["ports"] == [{"name": "http", "containerPort": exposed, "protocol": "TCP"}]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["limits"]["memory"] and container["resources"]["requests"]["cpu"]


def test_probes_use_the_api_health_endpoints(rendered: Rendered) -> None:
    container = api_container(rendered("default"))
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    readiness = container["readinessProbe"]
    assert readiness["httpGet"] == {"path": "/readyz", "port": "http"}
    assert readiness["timeoutSeconds"] >= 5, "/readyz makes an S3 round trip"


def test_the_image_can_be_pinned_by_digest(rendered: Rendered) -> None:
    objs = rendered("api")
    digest = yaml.safe_load(PROFILES["api"][0].read_text())["api"]["image"]["digest"]
    assert api_container(objs)["image"] == f"ghcr.io/siteveil/api@{digest}"
    assert "annotations" not in one(objs, "Deployment", API)["metadata"], "no digest skip needed"


# --- settings: every variable the chart sets is one the API reads ----------------------------


@pytest.mark.parametrize("profile", API_PROFILES)
def test_every_env_var_is_read_by_the_api_settings(profile: str, rendered: Rendered) -> None:
    names = set(env(api_container(rendered(profile))))
    assert names - settings_env_names() == set(), "the API would ignore these"
    assert {
        "AWS_REGION", "SITEVEIL_API_UPLOADS_BUCKET", "SITEVEIL_API_RESULTS_BUCKET",
        "SITEVEIL_API_JWKS_URL", "SITEVEIL_API_ISSUER", "SITEVEIL_API_AUDIENCE",
        "SITEVEIL_API_RESOURCE_SERVER",
    } <= names  # fmt: skip


def test_the_api_settings_are_the_chart_values(
    rendered: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from(rendered("default"), monkeypatch)
    pool = AWS["cognitoUserPoolId"]
    issuer = f"https://cognito-idp.{AWS['region']}.amazonaws.com/{pool}"
    assert settings.region == AWS["region"]
    assert settings.uploads_bucket == AWS["uploadsBucket"]
    # Results land where the transformer writes them: the upload's bucket unless set.
    assert settings.results_bucket_name == (AWS["resultsBucket"] or AWS["uploadsBucket"])
    assert settings.state_bucket_name == AWS["uploadsBucket"]
    assert settings.s3_endpoint_url is None, "on AWS boto3 finds the endpoint itself"
    assert settings.jwt_enabled
    assert (settings.issuer, settings.jwks_url) == (issuer, f"{issuer}/.well-known/jwks.json")
    assert settings.audience == tuple(AWS["cognitoAppClientIds"])
    # Cognito client-credentials tokens carry the tenant only as a scope (issue 12 #9).
    assert settings.resource_server == AWS["cognitoResourceServer"] == "siteveil-upload-api"
    api = VALUES["api"]
    assert settings.tenant_claim == api["tenantClaim"]
    assert settings.upload_expires_s == api["uploadExpiresSeconds"]
    assert settings.download_expires_s == api["downloadExpiresSeconds"]
    assert settings.max_upload_bytes == api["maxUploadBytes"]


def test_a_user_pool_needs_its_resource_server() -> None:
    with pytest.raises(HelmFailed, match="cognitoResourceServer is required"):
        template(sets={"aws.cognitoResourceServer": ""})


def test_state_bucket_and_several_audiences(
    rendered: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = yaml.safe_load(PROFILES["api"][0].read_text())
    settings = settings_from(rendered("api"), monkeypatch)
    assert settings.state_bucket_name == values["aws"]["apiStateBucket"]
    assert settings.audience == tuple(values["aws"]["cognitoAppClientIds"])


def test_the_results_bucket_follows_aws_results_bucket(
    rendered: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = yaml.safe_load(PROFILES["everything"][0].read_text())
    settings = settings_from(rendered("everything"), monkeypatch)
    assert settings.results_bucket_name == everything["aws"]["resultsBucket"]


def test_a_pool_in_another_region_gets_its_own_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    objs = render(sets={"aws.cognitoUserPoolId": "us-east-2_Abc123XYZ"})
    settings = settings_from(objs, monkeypatch)
    assert settings.issuer == "https://cognito-idp.us-east-2.amazonaws.com/us-east-2_Abc123XYZ"


def test_without_a_user_pool_the_api_takes_api_keys_only(monkeypatch: pytest.MonkeyPatch) -> None:
    objs = render(sets={"aws.cognitoUserPoolId": ""})
    assert not {"SITEVEIL_API_JWKS_URL", "SITEVEIL_API_ISSUER"} & set(env(api_container(objs)))
    assert settings_from(objs, monkeypatch).jwt_enabled is False


def test_a_user_pool_needs_its_app_clients(tmp_path: Path) -> None:
    no_clients = tmp_path / "no-clients.yaml"
    no_clients.write_text("aws:\n  cognitoAppClientIds: []\n")
    with pytest.raises(HelmFailed, match="cognitoAppClientIds is required"):
        template([no_clients])
    template([no_clients], sets={"aws.cognitoUserPoolId": ""})  # API keys only: fine


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("uploadExpiresSeconds", "upload_expires_s"),
        ("downloadExpiresSeconds", "download_expires_s"),
        ("maxUploadBytes", "max_upload_bytes"),
    ],
)
def test_the_schema_bounds_are_the_api_bounds(value: str, field: str) -> None:
    """helm refuses what the API would refuse at start-up (and nothing it accepts)."""
    schema = SCHEMA["properties"]["api"]["properties"][value]
    bounds: dict[str, int] = {}
    for item in Settings.model_fields[field].metadata:
        if isinstance(item, annotated_types.Ge):
            bounds["minimum"] = int(item.ge)  # type: ignore[call-overload]
        elif isinstance(item, annotated_types.Gt):
            bounds["exclusiveMinimum"] = int(item.gt)  # type: ignore[call-overload]
        elif isinstance(item, annotated_types.Le):
            bounds["maximum"] = int(item.le)  # type: ignore[call-overload]
    assert bounds and {k: schema[k] for k in bounds} == bounds
    assert set(schema) - {"type"} == set(bounds)


# --- identity, Service, scaling, disruption ---------------------------------------------------


def test_the_api_has_its_own_irsa_role(rendered: Rendered) -> None:
    objs = rendered("default")
    pod = api_pod(objs)["spec"]
    sa = one(objs, "ServiceAccount", pod["serviceAccountName"])
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == AWS["apiRoleArn"]
    assert pod["automountServiceAccountToken"] is False
    roles = {
        s["metadata"]["name"]: s["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        for s in of_kind(objs, "ServiceAccount")
    }
    assert list(roles.values()).count(AWS["apiRoleArn"]) == 1, "no other pod gets the API's role"


def test_the_service_sends_port_80_to_the_api(rendered: Rendered) -> None:
    objs = rendered("default")
    service = one(objs, "Service", API)
    labels = api_pod(objs)["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == 80
    named = {p["name"]: p["containerPort"] for p in api_container(objs)["ports"]}
    assert named[port["targetPort"]] == 8000


def test_the_hpa_scales_the_deployment(rendered: Rendered) -> None:
    objs = rendered("default")
    deployment = one(objs, "Deployment", API)
    hpa = one(objs, "HorizontalPodAutoscaler", API)
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": API,
    }  # fmt: skip
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert "cpu" in api_container(objs)["resources"]["requests"], "utilization needs a request"


def test_fixed_replicas_without_the_hpa(rendered: Rendered) -> None:
    objs = rendered("api")
    assert one(objs, "Deployment", API)["spec"]["replicas"] == 3
    assert of_kind(objs, "HorizontalPodAutoscaler") == []


def test_the_disruption_budget_covers_the_api_pods(rendered: Rendered) -> None:
    objs = rendered("default")
    pdb = one(objs, "PodDisruptionBudget", API)
    labels = api_pod(objs)["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1
    assert one(objs, "Deployment", API)["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_api_is_optional() -> None:
    objs = render(sets={"api.enabled": "false"})
    assert [o for o in objs if o["metadata"]["name"] == API] == []
    assert "api" not in {
        s["metadata"]["labels"]["app.kubernetes.io/component"]
        for s in of_kind(objs, "ServiceAccount")
    }


# --- network ---------------------------------------------------------------------------------


def _selected(policy: Obj, labels: dict[str, str]) -> bool:
    return bool(policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items())


def test_the_network_policy_allows_port_8000_in_and_https_dns_out(rendered: Rendered) -> None:
    objs = rendered("default")
    policy = one(objs, "NetworkPolicy", API)
    assert _selected(policy, api_pod(objs)["metadata"]["labels"])
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": 8000, "protocol": "TCP"}]
    assert "from" not in ingress, "default: any source (a load balancer in IP mode)"
    egress = {
        (p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"]
    }
    assert egress == {(53, "UDP"), (53, "TCP"), (443, "TCP")}
    # It governs the API pods only.
    others = [
        o for o in of_kind(rendered("everything"), "Deployment") if o["metadata"]["name"] != API
    ]
    for other in others:
        assert not _selected(policy, other["spec"]["template"]["metadata"]["labels"])


def test_the_network_policy_can_restrict_the_sources(rendered: Rendered) -> None:
    (ingress,) = one(rendered("api"), "NetworkPolicy", API)["spec"]["ingress"]
    assert ingress["from"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}]


@pytest.mark.parametrize("profile", ["api", "everything"])
def test_the_ingress_routes_to_the_service(profile: str, rendered: Rendered) -> None:
    objs = rendered(profile)
    ingress = one(objs, "Ingress", API)
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "api.siteveil.example.com"
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": API, "port": {"name": "http"}}
    assert one(objs, "Service", API)["spec"]["ports"][0]["name"] == "http"
    if profile == "everything":
        assert ingress["spec"]["tls"] == [
            {"hosts": ["api.siteveil.example.com"], "secretName": "siteveil-api-tls"}
        ]
    else:
        assert ingress["spec"]["ingressClassName"] == "alb" and "tls" not in ingress["spec"]


def test_an_ingress_needs_a_host() -> None:
    with pytest.raises(HelmFailed, match=r"api\.ingress\.host is required"):
        template(sets={"api.ingress.enabled": "true"})
