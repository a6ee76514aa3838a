"""Render the chart with the real helm binary and validate every object offline.

Core kinds are checked with kubernetes-validate (strict: unknown fields rejected). Custom
resources are checked against the ``openAPIV3Schema`` of the real CRDs (read from
``SITEVEIL_CRDS_DIR``, default ``<repo>/../shared/crds``; never copied into the repo), made
strict the way the API server's pruning treats them: ``additionalProperties: false`` wherever a
schema neither preserves unknown fields nor describes a map, ``x-kubernetes-int-or-string``
honoured, ``nullable`` honoured, and the root's ``metadata`` checked as an ObjectMeta. The CRDs'
CEL rules (``x-kubernetes-validations``) are evaluated with cel-python, except transition rules
(``oldSelf``), which need a previous object.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "siteveil"
KUBE_VERSION = "1.35.0"
RELEASE = "siteveil"
NAMESPACE = "siteveil"

Obj = dict[str, Any]

# Every toggle the chart has, as the values files in charts/siteveil/ci/ (plus the defaults).
PROFILES: dict[str, tuple[Path, ...]] = {"default": ()} | {
    path.name.removesuffix("-values.yaml"): (path,)
    for path in sorted((CHART_DIR / "ci").glob("*-values.yaml"))
}


class HelmFailed(RuntimeError):
    """helm exited non-zero; the message carries its stderr."""

    def __init__(self, args: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"helm {' '.join(args)} exited {returncode}:\n{stderr.strip()}")
        self.stderr = stderr


def helm_binary() -> Path:
    return Path(os.environ.get("SITEVEIL_HELM", REPO_ROOT / ".tools" / "helm"))


def crds_dir() -> Path:
    return Path(os.environ.get("SITEVEIL_CRDS_DIR", REPO_ROOT.parent / "shared" / "crds"))


def run_helm(args: Sequence[str]) -> str:
    result = subprocess.run(
        [str(helm_binary()), *args], capture_output=True, text=True, check=False, timeout=120
    )
    if result.returncode != 0:
        raise HelmFailed(args, result.returncode, result.stderr)
    return result.stdout


def value_args(values_files: Iterable[Path] = (), sets: Mapping[str, str] = {}) -> list[str]:
    args: list[str] = []
    for path in values_files:
        args += ["-f", str(path)]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    return args


def template(
    values_files: Iterable[Path] = (),
    sets: Mapping[str, str] = {},
    chart: Path = CHART_DIR,
    extra: Sequence[str] = (),
) -> str:
    """`helm template` output (YAML text) for the chart with these values."""
    return run_helm([
        "template", RELEASE, str(chart), "--namespace", NAMESPACE,
        "--kube-version", KUBE_VERSION, *value_args(values_files, sets), *extra,
    ])  # fmt: skip


def lint(values_files: Iterable[Path] = (), sets: Mapping[str, str] = {}) -> str:
    return run_helm([
        "lint", "--strict", str(CHART_DIR), "--namespace", NAMESPACE,
        "--kube-version", KUBE_VERSION, *value_args(values_files, sets),
    ])  # fmt: skip


def parse(text: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render(values_files: Iterable[Path] = (), sets: Mapping[str, str] = {}, **kw: Any) -> list[Obj]:
    return parse(template(values_files, sets, **kw))


def of_kind(objs: Iterable[Obj], kind: str) -> list[Obj]:
    return [o for o in objs if o.get("kind") == kind]


def one(objs: Iterable[Obj], kind: str, name: str | None = None) -> Obj:
    found = [o for o in of_kind(objs, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


# --- strict CRD schemas --------------------------------------------------------------------

_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"

OBJECT_META: Obj = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": _DNS_SUBDOMAIN},
        "namespace": {"type": "string", "maxLength": 63, "pattern": _DNS_SUBDOMAIN},
        "labels": {
            "type": "object",
            "additionalProperties": {"type": "string", "maxLength": 63, "pattern": _LABEL_VALUE},
        },
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
    },
}

_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the KServe CRD alone is 2 MB


def strict_schema(node: Any) -> Any:
    """A copy of a structural OpenAPI v3 schema that rejects what the API server would prune."""
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: strict_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = strict_schema(value)
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [strict_schema(sub) for sub in value]
        else:
            out[key] = value
    if out.get("x-kubernetes-int-or-string") and not any(k in out for k in _SUBSCHEMA_LISTS):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        out.pop("type", None)
    if out.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault(
            "metadata", {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        )
    is_object = out.get("type") == "object" or "properties" in out
    if (
        is_object
        and not out.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in out
    ):
        out["additionalProperties"] = False
    if out.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def strict_root_schema(schema: Obj) -> Obj:
    root = strict_schema(schema)
    props = root.setdefault("properties", {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    props["metadata"] = copy.deepcopy(OBJECT_META)
    root["additionalProperties"] = False
    root["required"] = sorted({*root.get("required", []), "apiVersion", "kind", "metadata"})
    return root


# --- CEL rules (x-kubernetes-validations) ---------------------------------------------------


def _cel_find(value: Any, pattern: Any) -> celpy.celtypes.StringType:
    """Kubernetes' regex library: the first match of the pattern, or ""."""
    match = re.search(str(pattern), str(value))
    return celpy.celtypes.StringType(match.group(0) if match else "")


def _cel_split(value: Any, separator: Any) -> celpy.celtypes.ListType:
    """CEL's strings extension (Kubernetes enables it)."""
    parts = str(value).split(str(separator))
    return celpy.celtypes.ListType([celpy.celtypes.StringType(p) for p in parts])


_CEL = celpy.Environment()
_CEL_FUNCTIONS: dict[str, Any] = {"find": _cel_find, "split": _cel_split}


@functools.cache
def _cel_program(rule: str) -> celpy.Runner:
    return _CEL.program(_CEL.compile(rule), functions=_CEL_FUNCTIONS)


def cel_problems(schema: Any, value: Any, path: str) -> list[str]:
    """Broken CEL rules of ``schema`` (unmodified CRD schema) for ``value``, recursively."""
    if value is None or not isinstance(schema, dict):
        return []
    problems = []
    for rule in schema.get("x-kubernetes-validations") or []:
        if "oldSelf" in rule["rule"]:
            continue  # a transition rule: it compares with the previous object
        result: Any
        try:
            result = _cel_program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})
        except celpy.CELEvalError as exc:
            result = exc
        if isinstance(result, celpy.CELEvalError):
            problems.append(f"{path}: cannot evaluate {rule['rule']!r}: {result}")
        elif not bool(result):
            problems.append(f"{path}: {rule.get('message') or rule['rule']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            if key in props:
                problems += cel_problems(props[key], sub, f"{path}.{key}")
            elif isinstance(extra, dict):
                problems += cel_problems(extra, sub, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, sub in enumerate(value):
            problems += cel_problems(schema["items"], sub, f"{path}.{i}")
    return problems


@dataclass(frozen=True)
class CrdSchemas:
    """Validators keyed by (apiVersion, kind), one per served version of each CRD."""

    validators: Mapping[tuple[str, str], jsonschema.protocols.Validator]
    scopes: Mapping[tuple[str, str], str] = field(default_factory=dict)
    schemas: Mapping[tuple[str, str], Obj] = field(default_factory=dict)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self.validators


def load_crds(directory: Path) -> CrdSchemas:
    validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
    scopes: dict[tuple[str, str], str] = {}
    schemas: dict[tuple[str, str], Obj] = {}
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.load_all(path.read_text(), Loader=_FAST_LOADER):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                schema = version["schema"]["openAPIV3Schema"]
                validators[key] = jsonschema.Draft4Validator(strict_root_schema(schema))
                scopes[key] = spec["scope"]
                schemas[key] = schema
    return CrdSchemas(validators, scopes, schemas)


# --- validation of rendered objects ---------------------------------------------------------


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<root>"


def validate_object(obj: Obj, crds: CrdSchemas | None) -> list[str]:
    """Problems with one rendered object; [] when it is valid. Unknown kinds are problems."""
    api_kind = (obj.get("apiVersion", ""), obj.get("kind", ""))
    label = f"{api_kind[1]}/{obj.get('metadata', {}).get('name', '?')}"
    if crds is not None and api_kind in crds:
        errors = sorted(crds.validators[api_kind].iter_errors(obj), key=lambda e: e.path)
        problems = [f"{label}: {_path(e)}: {e.message}" for e in errors]
        return problems + [f"{label}: {p}" for p in cel_problems(crds.schemas[api_kind], obj, "")]
    try:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{label}: {_path(exc)}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        if crds is None:
            return []  # a custom resource, checked only where the CRDs are present
        return [f"{label}: no CRD in {crds_dir()} and no core schema: {exc.message}"]
    return []


def validate_all(objs: Iterable[Obj], crds: CrdSchemas | None) -> list[str]:
    return [problem for obj in objs for problem in validate_object(obj, crds)]


def custom_resources(objs: Iterable[Obj]) -> Iterator[Obj]:
    """Objects whose kind kubernetes-validate does not know (custom resources)."""
    for obj in objs:
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=False)
        except kubernetes_validate.SchemaNotFoundError:
            yield obj
        except kubernetes_validate.ValidationError:
            pass


# --- what a cluster would see ---------------------------------------------------------------

KSERVE_COMPONENT_FIELDS = frozenset({
    "minReplicas", "maxReplicas", "scaleMetric", "scaleMetricType", "scaleTarget",
    "containerConcurrency", "timeout", "canaryTrafficPercent", "logger", "batcher",
    "autoScaling", "deploymentStrategy", "storageUris", "annotations", "labels", "workerSpec",
    "model", "storageContainerName",
})  # fmt: skip


def predictor_pod(isvc: Obj) -> Obj:
    """The InferenceService's predictor as a Pod: what checkov and PodSpec validation can read."""
    predictor = isvc["spec"]["predictor"]
    meta = isvc["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{meta['name']}-predictor",
            "namespace": meta.get("namespace", NAMESPACE),
            "labels": {"serving.kserve.io/inferenceservice": meta["name"]},
            "annotations": {
                k: v for k, v in meta.get("annotations", {}).items() if k.startswith("checkov.io/")
            },
        },
        "spec": {k: v for k, v in predictor.items() if k not in KSERVE_COMPONENT_FIELDS},
    }


def container(isvc: Obj, name: str) -> Obj:
    found = [c for c in isvc["spec"]["predictor"]["containers"] if c["name"] == name]
    assert len(found) == 1, f"{isvc['metadata']['name']}: expected one container {name}"
    return found[0]


def flags(args: Sequence[str]) -> dict[str, str | None]:
    """`--key=value` / `--flag` arguments as a dict (value None for bare flags)."""
    out: dict[str, str | None] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        out[key] = value if sep else None
    return out


def env(c: Obj) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in c.get("env", [])}


# --- Knative trigger filters ----------------------------------------------------------------


class UnprovableFilter(ValueError):
    """A filter this evaluator cannot decide (CESQL), so it cannot be shown to be safe."""


def _dialect(expr: Mapping[str, Any], attrs: Mapping[str, str]) -> bool:
    ((name, arg),) = expr.items()  # one dialect per expression
    if name == "exact":
        return all(attrs.get(k) == v for k, v in arg.items())
    if name == "prefix":
        return all(attrs.get(k, "").startswith(v) for k, v in arg.items())
    if name == "suffix":
        return all(attrs.get(k, "").endswith(v) for k, v in arg.items())
    if name == "all":
        return all(_dialect(e, attrs) for e in arg)
    if name == "any":
        return any(_dialect(e, attrs) for e in arg)
    if name == "not":
        return not _dialect(arg, attrs)
    raise UnprovableFilter(f"cannot evaluate filter dialect {name!r}")


def trigger_matches(trigger: Obj, attrs: Mapping[str, str]) -> bool:
    """Knative Trigger semantics: `filters` (all must hold) override `filter.attributes`."""
    spec = trigger["spec"]
    if spec.get("filters"):
        return all(_dialect(expr, attrs) for expr in spec["filters"])
    wanted = (spec.get("filter") or {}).get("attributes") or {}
    return all(value == "" or attrs.get(key) == value for key, value in wanted.items())
