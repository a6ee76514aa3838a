"""`dashboard.sink`: the reply events reach the dashboard through Triggers of their own, with their
own retries and dead letters, and never reach a model (the CRD and checkov checks cover every
profile, `ci/dashboard-values.yaml` included)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.charts.chart_support import (
    PROFILES,
    HelmFailed,
    Obj,
    of_kind,
    render,
    template,
    trigger_matches,
)

Rendered = Callable[[str], list[Obj]]
REPLIES = ("siteveil.image.anonymized", "siteveil.image.failed")
NOT_FOR_THE_DASHBOARD = (
    "siteveil.shadow.anonymized",
    "siteveil.shadow.failed",
    "dev.knative.connector.event.aws-sqs",
    "com.amazon.events.event",
)


def dashboard_triggers(objs: list[Obj]) -> list[Obj]:
    return [
        t
        for t in of_kind(objs, "Trigger")
        if t["metadata"]["labels"].get("app.kubernetes.io/component") == "dashboard"
    ]


def test_off_without_a_sink(rendered: Rendered) -> None:
    objs = rendered("default")
    assert dashboard_triggers(objs) == []
    assert not [s for s in of_kind(objs, "KafkaSink") if "dashboard" in s["metadata"]["name"]]


@pytest.mark.parametrize("profile", ["dashboard", "everything"])
def test_every_reply_and_nothing_else_reaches_the_sink(profile: str, rendered: Rendered) -> None:
    triggers = dashboard_triggers(rendered(profile))
    assert len(triggers) == 2
    for reply in REPLIES:
        assert sum(trigger_matches(t, {"type": reply}) for t in triggers) == 1, reply
    for other in NOT_FOR_THE_DASHBOARD:
        assert not any(trigger_matches(t, {"type": other}) for t in triggers), other


def test_a_knative_ref_sink_with_its_own_retries_and_dead_letters(rendered: Rendered) -> None:
    objs = rendered("dashboard")
    sinks = {s["metadata"]["name"]: s for s in of_kind(objs, "KafkaSink")}
    for trigger in dashboard_triggers(objs):
        spec = trigger["spec"]
        assert spec["subscriber"]["ref"] == {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "name": "siteveil-dashboard",
            "namespace": "dashboards",
        }
        delivery = spec["delivery"]
        assert delivery["retry"] == 5 and delivery["timeout"] == "PT30S"
        dead = sinks[delivery["deadLetterSink"]["ref"]["name"]]
        assert dead["spec"]["topic"] == "siteveil-dashboard-dead-letter"
        # not the model triggers' dead-letter topic: the two failure kinds stay apart
        model_dlq = next(s for s in sinks.values() if s["metadata"]["name"].endswith("-dead-letter")
                         and "dashboard" not in s["metadata"]["name"])  # fmt: skip
        assert model_dlq["spec"]["topic"] != dead["spec"]["topic"]


def test_a_uri_sink(rendered: Rendered) -> None:
    for trigger in dashboard_triggers(rendered("everything")):
        assert trigger["spec"]["subscriber"] == {
            "uri": "https://hooks.siteveil.example.com/replies"
        }


@pytest.mark.parametrize(
    "sets, message",
    [
        (
            {
                "dashboard.sink.uri": "https://a.example/x",
                "dashboard.sink.ref.apiVersion": "v1",
                "dashboard.sink.ref.kind": "Service",
                "dashboard.sink.ref.name": "d",
            },
            "not both",
        ),
        ({"dashboard.sink.uri": "hooks.example/x"}, "absolute"),
        ({"dashboard.sink.ref.name": "d"}, "apiVersion, kind and name"),
        (
            {
                "dashboard.sink.ref.apiVersion": "serving.kserve.io/v1beta1",
                "dashboard.sink.ref.kind": "InferenceService",
                "dashboard.sink.ref.name": "siteveil",
            },
            "reply loop",
        ),
    ],
    ids=["both", "relative-uri", "incomplete-ref", "inferenceservice"],
)
def test_bad_sinks_are_refused_by_the_template(sets: dict[str, str], message: str) -> None:
    with pytest.raises(HelmFailed, match=message):
        template(sets=sets, extra=["--skip-schema-validation"])
    with pytest.raises(HelmFailed):  # and by values.schema.json first
        template(sets=sets)


def test_profiles_include_the_dashboard_profile() -> None:
    assert "dashboard" in PROFILES
    assert dashboard_triggers(render(PROFILES["dashboard"]))
