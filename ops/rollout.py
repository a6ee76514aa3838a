"""Canary, promotion and rollback: the exact `helm upgrade` for each, and the InferenceService's
readiness and traffic split read back with the `kubernetes` client.

Helm stays the one way values change: these commands only move `model.*`, `shadow.enabled` and
`inference.canaryTrafficPercent` (charts/siteveil/values.yaml), with `--reuse-values` so that
everything else of the release stays as it is. KServe routes `canaryTrafficPercent` of the
traffic to the revision an update creates and the rest to the previous one; 100 sends it all to
the new revision (KServe's canary rollout).
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ops.errors import OpsError

KSERVE_GROUP = "serving.kserve.io"
KSERVE_VERSION = "v1beta1"
KSERVE_PLURAL = "inferenceservices"


@dataclass(frozen=True, slots=True)
class Release:
    name: str
    namespace: str
    chart: str
    helm: str = "helm"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    version: str

    @classmethod
    def parse(cls, text: str) -> ModelVersion:
        """`<model>/<version>` as verdict.json writes it."""
        name, _, version = text.partition("/")
        if not name or not version or "/" in version:
            raise OpsError(f"{text!r} is not <model>/<version>")
        return cls(name, version)

    def __str__(self) -> str:
        return f"{self.name}/{self.version}"


def _upgrade(release: Release, sets: Sequence[str]) -> list[str]:
    command = [
        release.helm,
        "upgrade",
        release.name,
        release.chart,
        "--namespace",
        release.namespace,
        "--reuse-values",
    ]
    for item in sets:
        command += ["--set", item]
    return command


def canary_command(release: Release, candidate: ModelVersion, percent: int) -> list[str]:
    """Serve the candidate to `percent` of the traffic; the shadow goes (it is the canary now)."""
    if not 1 <= percent <= 99:
        raise OpsError(f"a canary takes 1–99 % of the traffic, not {percent}")
    return _upgrade(
        release,
        [
            f"model.name={candidate.name}",
            f"model.version={candidate.version}",
            "shadow.enabled=false",
            f"inference.canaryTrafficPercent={percent}",
        ],
    )


def promote_command(release: Release, candidate: ModelVersion) -> list[str]:
    """Serve the candidate to all traffic and turn the shadow off."""
    return _upgrade(
        release,
        [
            f"model.name={candidate.name}",
            f"model.version={candidate.version}",
            "shadow.enabled=false",
            "inference.canaryTrafficPercent=100",
        ],
    )


def rollback_command(release: Release, previous: ModelVersion) -> list[str]:
    """Serve the previous model to all traffic again (from a canary or after a promotion)."""
    return _upgrade(
        release,
        [
            f"model.name={previous.name}",
            f"model.version={previous.version}",
            "shadow.enabled=false",
            "inference.canaryTrafficPercent=100",
        ],
    )


def shown(command: Sequence[str]) -> str:
    return shlex.join(command)


def run_helm(command: Sequence[str]) -> None:
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise OpsError(f"{command[0]} not found (install helm or pass --helm)") from exc
    if done.returncode != 0:
        raise OpsError(
            f"helm failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
        )


@dataclass(frozen=True, slots=True)
class Traffic:
    revision: str
    percent: int
    latest: bool


@dataclass(frozen=True, slots=True)
class IsvcStatus:
    name: str
    ready: bool
    reason: str
    latest_created: str | None
    latest_ready: str | None
    traffic: tuple[Traffic, ...]
    up_to_date: bool  # the controller has seen the newest spec (observedGeneration)

    @property
    def rolled_out(self) -> bool:
        """Ready, on the newest spec, and the newest revision is the ready one."""
        return (
            self.ready
            and self.up_to_date
            and self.latest_created is not None
            and self.latest_created == self.latest_ready
        )


def isvc_status(obj: dict[str, Any]) -> IsvcStatus:
    """Readiness and traffic of an InferenceService object (its predictor component)."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    conditions: list[dict[str, Any]] = status.get("conditions") or []
    ready: dict[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    predictor = (status.get("components") or {}).get("predictor") or {}
    traffic = tuple(
        Traffic(
            revision=str(t.get("revisionName", "")),
            percent=int(t.get("percent") or 0),
            latest=bool(t.get("latestRevision")),
        )
        for t in predictor.get("traffic") or []
    )
    generation = meta.get("generation")
    return IsvcStatus(
        name=str(meta.get("name", "")),
        ready=ready.get("status") == "True",
        reason=str(ready.get("message") or ready.get("reason") or ""),
        latest_created=predictor.get("latestCreatedRevision"),
        latest_ready=predictor.get("latestReadyRevision"),
        traffic=traffic,
        up_to_date=generation is None or status.get("observedGeneration") == generation,
    )


def describe_status(status: IsvcStatus) -> str:
    split = ", ".join(
        f"{t.revision} {t.percent}%{' (latest)' if t.latest else ''}" for t in status.traffic
    )
    state = "Ready" if status.ready else f"not ready ({status.reason or 'no reason given'})"
    return (
        f"{status.name}: {state}; latest created {status.latest_created}, latest ready "
        f"{status.latest_ready}; traffic: {split or 'none reported'}"
    )


class Cluster:
    """InferenceServices through the Kubernetes API (kubeconfig, or the pod's service account)."""

    def __init__(self, api: Any) -> None:
        self._api = api

    @classmethod
    def connect(cls, context: str | None = None) -> Cluster:
        try:
            from kubernetes import client, config
            from kubernetes.config.config_exception import ConfigException
        except ImportError as exc:
            raise OpsError("the kubernetes client is missing: pip install 'siteveil[ops]'") from exc
        try:
            config.load_kube_config(context=context)
        except (ConfigException, OSError):
            try:
                config.load_incluster_config()
            except ConfigException as exc:
                raise OpsError(
                    f"no reachable cluster: no kubeconfig and not in a pod ({exc})"
                ) from exc
        return cls(client.CustomObjectsApi())

    def get(self, namespace: str, name: str) -> IsvcStatus:
        try:
            obj = self._api.get_namespaced_custom_object(
                KSERVE_GROUP, KSERVE_VERSION, namespace, KSERVE_PLURAL, name
            )
        except Exception as exc:  # noqa: BLE001 — ApiException, urllib3 errors: all "cannot read"
            raise OpsError(f"cannot read InferenceService {namespace}/{name}: {exc}") from exc
        return isvc_status(obj)

    def wait_rolled_out(
        self,
        namespace: str,
        name: str,
        *,
        timeout_s: float,
        poll_s: float = 5.0,
        report: Callable[[IsvcStatus], None] = lambda _: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> IsvcStatus:
        """Wait until the newest revision is Ready; OpsError with the last status on timeout."""
        deadline = clock() + timeout_s
        while True:
            status = self.get(namespace, name)
            report(status)
            if status.rolled_out:
                return status
            if clock() >= deadline:
                raise OpsError(f"not rolled out after {timeout_s:.0f} s: {describe_status(status)}")
            sleep(poll_s)
