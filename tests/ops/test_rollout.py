"""Canary, promotion and rollback: the helm commands move the real chart where they say, and the
InferenceService's status is read the way KServe writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ops.errors import OpsError
from ops.rollout import (
    Cluster,
    ModelVersion,
    Release,
    canary_command,
    isvc_status,
    promote_command,
    rollback_command,
    shown,
)
from tests.charts.chart_support import CHART_DIR, crds_dir, helm_binary, of_kind, render

RELEASE = Release("siteveil", "siteveil", "charts/siteveil")
CANDIDATE = ModelVersion("person_segmenter", "2")
SHADOW_PROFILE = CHART_DIR / "ci" / "shadow-values.yaml"


def test_promote_command_is_exactly_this() -> None:
    assert shown(promote_command(RELEASE, CANDIDATE)) == (
        "helm upgrade siteveil charts/siteveil --namespace siteveil --reuse-values "
        "--set model.name=person_segmenter --set model.version=2 --set shadow.enabled=false "
        "--set inference.canaryTrafficPercent=100"
    )


def test_the_chart_readme_shows_the_promotion_ops_prints() -> None:
    readme = (CHART_DIR / "README.md").read_text().replace("\\\n  ", "")
    assert shown(promote_command(RELEASE, CANDIDATE)) in readme


def test_a_canary_takes_a_share_not_all_or_nothing() -> None:
    assert "inference.canaryTrafficPercent=10" in canary_command(RELEASE, CANDIDATE, 10)
    for percent in (0, 100):
        with pytest.raises(OpsError, match="1–99"):
            canary_command(RELEASE, CANDIDATE, percent)


def _sets(command: list[str]) -> dict[str, str]:
    pairs = [command[i + 1] for i, arg in enumerate(command) if arg == "--set"]
    return dict(pair.split("=", 1) for pair in pairs)


def _inference(objs: list[dict[str, Any]]) -> dict[str, Any]:
    (isvc,) = of_kind(objs, "InferenceService")  # the shadow is gone
    return isvc


def _storage_uri(isvc: dict[str, Any]) -> str:
    (triton,) = [
        c for c in isvc["spec"]["predictor"]["containers"] if c["name"] == "kserve-container"
    ]
    return next(e["value"] for e in triton["env"] if e["name"] == "STORAGE_URI")


@pytest.fixture(autouse=True)
def _helm() -> None:
    if not helm_binary().is_file():
        pytest.skip(f"helm not found at {helm_binary()}: run `make chart-tools`")


def test_promotion_renders_production_on_the_candidate_with_no_shadow() -> None:
    # --reuse-values on a release that runs the shadow profile: the same values plus the --sets
    objs = render([SHADOW_PROFILE], _sets(promote_command(RELEASE, CANDIDATE)))
    isvc = _inference(objs)
    assert _storage_uri(isvc).endswith("/person_segmenter/2")
    assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 100
    args = next(
        c["args"]
        for c in isvc["spec"]["predictor"]["containers"]
        if c["name"] == "transformer-container"
    )
    assert "--model_version=2" in args and "--shadow" not in args
    assert len(of_kind(objs, "Trigger")) == 1


def test_canary_then_rollback_render_the_split_and_the_previous_model() -> None:
    canary = _inference(render([SHADOW_PROFILE], _sets(canary_command(RELEASE, CANDIDATE, 10))))
    assert canary["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert _storage_uri(canary).endswith("/person_segmenter/2")
    back = _inference(
        render(
            [SHADOW_PROFILE],
            _sets(rollback_command(RELEASE, ModelVersion("person_segmenter", "1"))),
        )
    )
    assert _storage_uri(back).endswith("/person_segmenter/1")
    assert back["spec"]["predictor"]["canaryTrafficPercent"] == 100


# What KServe writes (status fields of serving.kserve.io_inferenceservices.yaml): a canary of
# revision 00002 at 10 % beside 00001.
CANARY_STATUS = {
    "metadata": {"name": "siteveil", "generation": 4},
    "status": {
        "observedGeneration": 4,
        "conditions": [{"type": "Ready", "status": "True"}],
        "components": {
            "predictor": {
                "latestCreatedRevision": "siteveil-predictor-00002",
                "latestReadyRevision": "siteveil-predictor-00002",
                "traffic": [
                    {"revisionName": "siteveil-predictor-00002", "percent": 10, "latestRevision": True, "tag": "latest"},
                    {"revisionName": "siteveil-predictor-00001", "percent": 90, "latestRevision": False, "tag": "prev"},
                ],
            }
        },
    },
}  # fmt: skip


def test_status_reads_readiness_and_the_traffic_split() -> None:
    status = isvc_status(CANARY_STATUS)
    assert status.ready and status.rolled_out
    assert [(t.revision, t.percent, t.latest) for t in status.traffic] == [
        ("siteveil-predictor-00002", 10, True),
        ("siteveil-predictor-00001", 90, False),
    ]


def test_a_new_revision_not_yet_ready_is_not_rolled_out() -> None:
    pending = yaml.safe_load(yaml.safe_dump(CANARY_STATUS))
    pending["metadata"]["generation"] = 5  # the controller has not seen the upgrade yet
    assert not isvc_status(pending).rolled_out
    pending["status"]["observedGeneration"] = 5
    pending["status"]["components"]["predictor"]["latestCreatedRevision"] = (
        "siteveil-predictor-00003"
    )
    assert not isvc_status(pending).rolled_out


def test_the_status_fields_read_exist_in_kserves_crd() -> None:
    path = crds_dir() / "serving.kserve.io_inferenceservices.yaml"
    if not path.is_file():
        pytest.skip(f"no KServe CRD at {path}: the status fields are not checked against it")
    crd = yaml.safe_load(path.read_text())
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    predictor = status["properties"]["components"]["additionalProperties"]["properties"]
    assert {"observedGeneration", "conditions", "components"} <= set(status["properties"])
    assert {"latestCreatedRevision", "latestReadyRevision", "traffic"} <= set(predictor)
    traffic = predictor["traffic"]["items"]["properties"]
    assert {"revisionName", "percent", "latestRevision"} <= set(traffic)


class _Api:
    """Stands in for kubernetes' CustomObjectsApi: answers a fixed sequence of objects."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def get_namespaced_custom_object(self, *args: str) -> dict[str, Any]:
        self.calls.append(args)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_wait_returns_once_the_new_revision_is_ready() -> None:
    pending = yaml.safe_load(yaml.safe_dump(CANARY_STATUS))
    pending["status"]["conditions"] = [{"type": "Ready", "status": "False", "message": "pulling"}]
    api = _Api([pending, pending, CANARY_STATUS])
    cluster = Cluster(api)
    status = cluster.wait_rolled_out("siteveil", "siteveil", timeout_s=60, sleep=lambda _: None)
    assert status.rolled_out and len(api.calls) == 3
    assert api.calls[0] == (
        "serving.kserve.io",
        "v1beta1",
        "siteveil",
        "inferenceservices",
        "siteveil",
    )


def test_wait_gives_up_with_the_reason() -> None:
    pending = yaml.safe_load(yaml.safe_dump(CANARY_STATUS))
    pending["status"]["conditions"] = [{"type": "Ready", "status": "False", "message": "pulling"}]
    ticks = iter(range(0, 1000, 10))
    cluster = Cluster(_Api([pending]))
    with pytest.raises(OpsError, match="not rolled out after 30 s: .*pulling"):
        cluster.wait_rolled_out(
            "siteveil",
            "siteveil",
            timeout_s=30,
            clock=lambda: float(next(ticks)),
            sleep=lambda _: None,
        )


def test_model_version_parsing() -> None:
    assert ModelVersion.parse("person_segmenter/2") == CANDIDATE
    with pytest.raises(OpsError):
        ModelVersion.parse("person_segmenter")


def test_chart_dir_is_the_one_the_commands_name() -> None:
    assert (Path(__file__).resolve().parents[2] / RELEASE.chart) == CHART_DIR
