"""``python -m bench.plan``: the latest bench report turned into pods, cores, GPUs, nodes and chart values.

The arithmetic is pure (frozen dataclasses in, frozen dataclasses out); reading the reports,
parsing flags and printing stay in :func:`main`. Every figure the plan rests on is printed as an
assumption with where it came from, so a reader can redo the sum or change the flag.

How a pod is sized (charts/siteveil/templates/inferenceservice.yaml): Triton and our transformer
share one pod, Triton takes ``inference.triton.resources`` (one GPU), and the transformer runs
``inference.transformer.workers`` Gunicorn sync workers. The chart derives both the pod's
``containerConcurrency`` and Knative's concurrency ``scaleTarget`` from that one value, so the
planner sets ``workers`` and reads the other two back from it.

Exit codes: 0 a plan was printed, 2 it was refused (reason on stderr).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

BENCH_SCHEMA = "siteveil.bench/1"
GPU_SCHEMA = "siteveil.bench-gpu/1"
SECONDS_PER_DAY = 86_400
# The chart's schema bounds inference.transformer.workers to 1..64 (values.schema.json).
MAX_WORKERS = 64
# Knative's default target utilization (config-autoscaler `container-concurrency-target-percentage`,
# 70): the autoscaler adds a pod when the average concurrency per pod reaches 70 % of the target
# (knative.dev/docs/serving/autoscaling/concurrency/, "Target utilization"). The planner sizes to
# the same figure and writes it on the revision, so the two agree.
KNATIVE_DEFAULT_UTILIZATION = 0.70
# What the chart's values.yaml gives Triton's container (inference.triton.resources.requests);
# tests/bench/test_plan.py holds these to the chart.
CHART_TRITON_CPU = 2.0
CHART_TRITON_MEMORY_GIB = 8.0
CHART_TRITON_GPUS = 1
CHART_GPU_FAMILY = "g6"  # karpenter.instanceFamilies' default

Serving = Literal["gpu", "cpu"]


class PlanRefused(Exception):
    """The plan cannot be made from these inputs (exit 2 with this message)."""


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_gib: int
    gpus: int
    gpu_name: str  # as Karpenter's karpenter.k8s.aws/instance-gpu-name label; "" for none

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]


def _family(
    family: str, gpu: str, sizes: Sequence[tuple[str, int, int, int]]
) -> tuple[InstanceType, ...]:
    return tuple(InstanceType(f"{family}.{s}", v, m, g, gpu) for s, v, m, g in sizes)


# vCPUs, memory (GiB) and GPUs per size. Source: AWS, "Amazon EC2 instance type specifications",
# docs.aws.amazon.com/ec2/latest/instancetypes/ac.html (accelerated computing: G5 = NVIDIA A10G,
# G6 = L4, G6e = L40S), co.html (compute optimized: C7i), gp.html (general purpose: M7i).
# The families are the ones our infrastructure allows: the chart's Karpenter NodePool takes GPU
# families from karpenter.instanceFamilies (default [g6]; its siteveil.gpuFamilies helper maps
# a10g→g5, l4→g6, l40s→g6e), Terraform's GPU node group defaults to g5.xlarge/g6.xlarge and its
# system nodes to m7i.large (terraform/modules/cluster/variables.tf); c7i/m7i serve CPU-only.
_GPU_SIZES = (
    ("xlarge", 4, 16, 1), ("2xlarge", 8, 32, 1), ("4xlarge", 16, 64, 1),
    ("8xlarge", 32, 128, 1), ("16xlarge", 64, 256, 1), ("12xlarge", 48, 192, 4),
    ("24xlarge", 96, 384, 4), ("48xlarge", 192, 768, 8),
)  # fmt: skip
_G6E_SIZES = (
    ("xlarge", 4, 32, 1), ("2xlarge", 8, 64, 1), ("4xlarge", 16, 128, 1),
    ("8xlarge", 32, 256, 1), ("16xlarge", 64, 512, 1), ("12xlarge", 48, 384, 4),
    ("24xlarge", 96, 768, 4), ("48xlarge", 192, 1536, 8),
)  # fmt: skip
_CPU_VCPUS = (
    ("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16), ("8xlarge", 32),
    ("12xlarge", 48), ("16xlarge", 64), ("24xlarge", 96), ("48xlarge", 192),
)  # fmt: skip
INSTANCE_TYPES: tuple[InstanceType, ...] = (
    _family("g5", "a10g", _GPU_SIZES)
    + _family("g6", "l4", _GPU_SIZES)
    + _family("g6e", "l40s", _G6E_SIZES)
    + _family("c7i", "", tuple((s, v, v * 2, 0) for s, v in _CPU_VCPUS))
    + _family("m7i", "", tuple((s, v, v * 4, 0) for s, v in _CPU_VCPUS))
)
DEFAULT_FAMILIES: Mapping[Serving, tuple[str, ...]] = {
    "gpu": ("g5", "g6", "g6e"),
    "cpu": ("c7i", "m7i"),
}


@dataclass(frozen=True)
class Measured:
    """siteveil's row of one resolution of a ``siteveil.bench/1`` report."""

    resolution: str
    images_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_image: float
    triton_cpu_ms_per_image: float
    peak_rss_mb_per_worker: float
    workers: int
    clients: int
    machine_cpus: int
    cpu_model: str
    created: str

    @property
    def per_worker_images_per_s(self) -> float:
        return self.images_per_s / self.workers


@dataclass(frozen=True)
class GpuMeasured:
    """What the planner takes from a ``siteveil.bench-gpu/1`` report (or the assumption flag)."""

    gpu: str
    images_per_s: float  # Triton's best images/s over the batch sizes measured
    workers_for_90pct: int | None
    source: str
    # the images/s at which `make bench-gpu` saw SM activity reach 90 %; the planner divides it
    # by its own per-worker rate (same resolution as the plan), so prefers it to the report's
    # workers_for_90pct (computed from one resolution's workers)
    images_per_s_for_90pct: float | None = None


@dataclass(frozen=True)
class Demand:
    images_per_day: float
    peak_factor: float
    p99_ms: float

    @property
    def peak_images_per_s(self) -> float:
        return self.images_per_day / SECONDS_PER_DAY * self.peak_factor


@dataclass(frozen=True)
class Assumptions:
    serving: Serving = "gpu"
    utilization: float = KNATIVE_DEFAULT_UTILIZATION
    cpu_headroom: float = 0.25  # on top of the measured transformer CPU, for decode spikes
    memory_headroom: float = 0.25
    triton_cpu: float = CHART_TRITON_CPU  # GPU serving: Triton's request, not measured here
    triton_memory_gib: float = CHART_TRITON_MEMORY_GIB
    gpus_per_pod: int = CHART_TRITON_GPUS
    gpu_busy_target: float = 0.90
    node_reserved_cpu: float = 0.5  # kubelet, system daemons, DaemonSets per node
    node_reserved_memory_gib: float = 1.5
    workers: int | None = None  # CPU serving: workers per pod; None = the bench's


@dataclass(frozen=True)
class NodeFit:
    instance: InstanceType
    pods_per_node: int
    nodes: int
    why: str  # what limits pods_per_node, or why nothing fits


@dataclass(frozen=True)
class Plan:
    demand: Demand
    measured: Measured
    gpu: GpuMeasured | None
    assumptions: Assumptions
    workers_per_pod: int
    pod_images_per_s: float  # at 100 % busy workers
    pods: int
    total_workers: int
    transformer_cpu_per_pod: float
    transformer_memory_gib_per_pod: float
    triton_cpu_per_pod: float
    triton_memory_gib_per_pod: float
    cores: float  # requested by all pods at peak
    gpus: int
    gpu_busy_at_peak: float | None  # share of each GPU's capacity the peak uses
    nodes: tuple[NodeFit, ...]
    recommended: NodeFit | None
    notes: tuple[str, ...]

    @property
    def cpu_per_pod(self) -> float:
        return self.transformer_cpu_per_pod + self.triton_cpu_per_pod

    @property
    def memory_gib_per_pod(self) -> float:
        return self.transformer_memory_gib_per_pod + self.triton_memory_gib_per_pod


# --- reading the reports (the edges) -------------------------------------------------------------


def _number(obj: Mapping[str, Any], key: str, where: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanRefused(f"{where}: {key!r} is missing or not a number (got {value!r})")
    return float(value)


def parse_bench_report(report: Mapping[str, Any], resolution: str, source: str) -> Measured:
    """siteveil's figures at ``resolution`` from a ``siteveil.bench/1`` report, or PlanRefused."""
    schema = report.get("schema")
    if schema != BENCH_SCHEMA:
        raise PlanRefused(f"{source}: schema is {schema!r}, this planner reads {BENCH_SCHEMA!r}")
    res = report.get("resolutions", {}).get(resolution)
    if not isinstance(res, Mapping):
        have = sorted(report.get("resolutions", {}))
        raise PlanRefused(f"{source}: no {resolution!r} results (it has {have})")
    row = res.get("transformers", {}).get("siteveil")
    where = f"{source} resolutions.{resolution}.transformers.siteveil"
    if not isinstance(row, Mapping):
        raise PlanRefused(f"{where}: missing")
    if row.get("errors") or row.get("anonymized") != row.get("images"):
        raise PlanRefused(
            f"{where}: the run had errors or unanonymized images "
            f"(images {row.get('images')}, anonymized {row.get('anonymized')}, errors "
            f"{row.get('errors')}); a plan from it would not be sound"
        )
    settings = report.get("settings", {})
    machine = report.get("machine", {})
    measured = Measured(
        resolution=resolution,
        images_per_s=_number(row, "images_per_s", where),
        p50_ms=_number(row, "p50_ms", where),
        p99_ms=_number(row, "p99_ms", where),
        cpu_ms_per_image=_number(row, "cpu_ms_per_image", where),
        triton_cpu_ms_per_image=_number(row, "triton_cpu_ms_per_image", where),
        peak_rss_mb_per_worker=_number(row, "peak_rss_mb_per_worker", where),
        workers=int(_number(settings, "workers", f"{source} settings")),
        clients=int(_number(settings, "clients", f"{source} settings")),
        machine_cpus=int(_number(machine, "cpus", f"{source} machine")),
        cpu_model=str(machine.get("cpu_model", "?")),
        created=str(report.get("created", "?")),
    )
    if measured.images_per_s <= 0 or measured.workers < 1:
        raise PlanRefused(f"{where}: images_per_s and settings.workers must be positive")
    return measured


def parse_gpu_report(report: Mapping[str, Any], source: str) -> GpuMeasured:
    schema = report.get("schema")
    if schema != GPU_SCHEMA:
        raise PlanRefused(f"{source}: schema is {schema!r}, this planner reads {GPU_SCHEMA!r}")
    batches = report.get("batches")
    if not isinstance(batches, list) or not batches:
        raise PlanRefused(f"{source}: no batches measured")
    best = max(_number(b, "images_per_s", f"{source} batches[]") for b in batches)
    workers = report.get("workers_for_90pct")
    rate = report.get("gpu_images_per_s_for_90pct")
    return GpuMeasured(
        gpu=str(report.get("gpu", "?")),
        images_per_s=best,
        workers_for_90pct=int(workers) if isinstance(workers, int) and workers > 0 else None,
        source=source,
        images_per_s_for_90pct=float(rate) if isinstance(rate, int | float) and rate > 0 else None,
    )


def load_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise PlanRefused(f"no {what} at {path}")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PlanRefused(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PlanRefused(f"{path}: expected a JSON object")
    return data


# --- the arithmetic (pure) -----------------------------------------------------------------------


def workers_to_feed_gpu(
    gpu_images_per_s: float, per_worker_images_per_s: float, busy: float
) -> int:
    """Sync workers whose images keep a GPU ``busy`` (0..1) of its measured capacity."""
    if gpu_images_per_s <= 0 or per_worker_images_per_s <= 0 or not 0 < busy <= 1:
        raise ValueError("images/s must be positive and busy in (0, 1]")
    return max(1, math.ceil(busy * gpu_images_per_s / per_worker_images_per_s))


def _round_up(value: float, step: float) -> float:
    return round(math.ceil(value / step - 1e-9) * step, 3)


def fit_nodes(
    instance: InstanceType, pods: int, cpu: float, memory_gib: float, gpus: int, a: Assumptions
) -> NodeFit:
    """How many of ``pods`` (each cpu, memory, gpus) one ``instance`` node holds, and how many
    nodes the pods need."""
    free_cpu = instance.vcpus - a.node_reserved_cpu
    free_mem = instance.memory_gib - a.node_reserved_memory_gib
    limits = {
        "vCPU": math.floor(free_cpu / cpu + 1e-9),
        "memory": math.floor(free_mem / memory_gib),
    }
    if gpus:
        limits["GPU"] = instance.gpus // gpus
    per_node = min(limits.values())
    if per_node < 1:
        short = ", ".join(k for k, v in limits.items() if v < 1)
        return NodeFit(instance, 0, 0, f"a pod does not fit ({short})")
    bound = min(limits, key=lambda k: limits[k])
    return NodeFit(instance, per_node, math.ceil(pods / per_node), f"bound by {bound}")


def make_plan(
    demand: Demand,
    measured: Measured,
    gpu: GpuMeasured | None,
    assumptions: Assumptions,
    instances: Sequence[InstanceType],
) -> Plan:
    """The capacity for ``demand`` from the measured figures; PlanRefused when impossible."""
    a = assumptions
    if demand.p99_ms < measured.p99_ms:
        raise PlanRefused(
            f"the p99 goal {demand.p99_ms:g} ms is below what the bench measured for one image "
            f"({measured.p99_ms:g} ms at {measured.resolution}, {measured.workers} workers, "
            f"{measured.clients} clients): more pods do not make one image faster. Make the "
            "transformer faster (and re-run `make bench`) or relax --p99-ms"
        )
    notes: list[str] = []
    per_worker = measured.per_worker_images_per_s
    gpu_busy: float | None = None
    if a.serving == "gpu":
        if gpu is None:
            raise PlanRefused(
                "GPU serving needs Triton's GPU throughput: pass --gpu-report (from `make "
                "bench-gpu`) or state it with --gpu-images-per-s, or plan --serving cpu"
            )
        if gpu.images_per_s_for_90pct:
            feed = workers_to_feed_gpu(gpu.images_per_s_for_90pct, per_worker, 1.0)
        else:
            feed = gpu.workers_for_90pct or workers_to_feed_gpu(
                gpu.images_per_s, per_worker, a.gpu_busy_target
            )
        workers = feed
        needed = math.ceil(demand.peak_images_per_s / (per_worker * a.utilization) - 1e-9)
        if needed < workers:
            workers = max(1, needed)
            if workers <= MAX_WORKERS:
                notes.append(
                    f"the whole peak needs {needed} workers, fewer than the {feed} that keep one "
                    f"GPU {a.gpu_busy_target:.0%} busy: one pod sized to the peak, its GPU "
                    "partly idle"
                )
        if workers > MAX_WORKERS:
            purpose = (
                "for the peak" if workers < feed else f"to keep a GPU {a.gpu_busy_target:.0%} busy"
            )
            notes.append(
                f"{workers} workers per pod would be needed {purpose}, but the chart allows at "
                f"most {MAX_WORKERS}: capped, so each GPU idles more and more pods (GPUs) are "
                "needed; a faster transformer is what helps here"
            )
            workers = MAX_WORKERS
        pod_rate = min(workers * per_worker, gpu.images_per_s)
        triton_cpu = a.triton_cpu
        gpus_per_pod = a.gpus_per_pod
    else:
        workers = min(a.workers or measured.workers, MAX_WORKERS)
        pod_rate = workers * per_worker
        # Triton's CPU on CPU serving is measured: the model runs there.
        triton_cpu = _round_up(
            pod_rate * measured.triton_cpu_ms_per_image / 1000 * (1 + a.cpu_headroom), 0.1
        )
        gpus_per_pod = 0
    pods = max(1, math.ceil(demand.peak_images_per_s / (pod_rate * a.utilization) - 1e-9))
    transformer_cpu = _round_up(
        workers * per_worker * measured.cpu_ms_per_image / 1000 * (1 + a.cpu_headroom), 0.1
    )
    transformer_mem = _round_up(
        workers * measured.peak_rss_mb_per_worker / 1024 * (1 + a.memory_headroom), 0.25
    )
    triton_mem = a.triton_memory_gib
    if gpu is not None and a.serving == "gpu":
        gpu_busy = demand.peak_images_per_s / (pods * gpu.images_per_s)
    cpu_per_pod = transformer_cpu + triton_cpu
    mem_per_pod = transformer_mem + triton_mem
    fits = tuple(
        fit_nodes(i, pods, cpu_per_pod, mem_per_pod, gpus_per_pod, a)
        for i in instances
        if (i.gpus > 0) == (a.serving == "gpu")
    )
    usable = [f for f in fits if f.nodes]
    # No prices here: fewest GPUs bought, then fewest vCPUs, stand in for cost; on a tie the
    # chart's default family (karpenter.instanceFamilies: [g6]) and then fewer nodes.
    recommended = min(
        usable,
        key=lambda f: (
            f.nodes * f.instance.gpus,
            f.nodes * f.instance.vcpus,
            f.instance.family != CHART_GPU_FAMILY,
            f.nodes,
        ),
        default=None,
    )
    if recommended is None:
        notes.append("no instance type listed holds one pod: see the per-type reasons")
    return Plan(
        demand=demand,
        measured=measured,
        gpu=gpu if a.serving == "gpu" else None,
        assumptions=a,
        workers_per_pod=workers,
        pod_images_per_s=pod_rate,
        pods=pods,
        total_workers=pods * workers,
        transformer_cpu_per_pod=transformer_cpu,
        transformer_memory_gib_per_pod=transformer_mem,
        triton_cpu_per_pod=triton_cpu,
        triton_memory_gib_per_pod=triton_mem,
        cores=round(pods * cpu_per_pod, 3),
        gpus=pods * gpus_per_pod,
        gpu_busy_at_peak=gpu_busy,
        nodes=fits,
        recommended=recommended,
        notes=tuple(notes),
    )


def _quantity(cpu: float) -> str:
    return f"{round(cpu * 1000)}m"


def _gib(value: float) -> str:
    return f"{round(value * 1024)}Mi"


def chart_values(plan: Plan) -> dict[str, str]:
    """``helm --set`` paths of charts/siteveil/values.yaml and their values for this plan.

    ``containerConcurrency`` and the Knative ``scaleTarget`` are not keys of their own: the chart
    renders both from ``inference.transformer.workers`` (templates/inferenceservice.yaml)."""
    a = plan.assumptions
    t_cpu = plan.transformer_cpu_per_pod
    values = {
        "inference.maxReplicas": str(plan.pods),
        "inference.transformer.workers": str(plan.workers_per_pod),
        "inference.transformer.resources.requests.cpu": _quantity(t_cpu),
        # A sync worker bursts to one core while it decodes/encodes: the limit lets each do so.
        "inference.transformer.resources.limits.cpu": _quantity(
            max(t_cpu, float(plan.workers_per_pod))
        ),
        "inference.transformer.resources.requests.memory": _gib(
            plan.transformer_memory_gib_per_pod
        ),
        "inference.transformer.resources.limits.memory": _gib(
            plan.transformer_memory_gib_per_pod * 1.5
        ),
        "inference.annotations.autoscaling\\.knative\\.dev/target-utilization-percentage": str(
            round(a.utilization * 100)
        ),
    }
    if a.serving == "gpu":
        if plan.recommended is not None:
            fit = plan.recommended
            values["karpenter.enabled"] = "true"
            values["karpenter.instanceFamilies"] = "{" + fit.instance.family + "}"
            values["karpenter.gpuLimit"] = str(fit.nodes * fit.instance.gpus)
            values["model.gpuName"] = fit.instance.gpu_name
    else:
        triton = plan.triton_cpu_per_pod
        values["inference.triton.resources.requests.cpu"] = _quantity(triton)
        values["inference.triton.resources.limits.cpu"] = _quantity(triton * 2)
    return values


def helm_set_args(values: Mapping[str, str]) -> list[str]:
    """``--set-string`` for the annotation (Kubernetes wants a string), ``--set`` for the rest."""
    args: list[str] = []
    for key, value in values.items():
        flag = "--set-string" if key.startswith("inference.annotations.") else "--set"
        args += [flag, f"{key}={value}"]
    return args


def render(plan: Plan, namespace: str = "siteveil") -> str:
    """The plan as the text the command prints: inputs, assumptions, results, values."""
    m, d, a = plan.measured, plan.demand, plan.assumptions
    lines = [
        f"Capacity plan ({a.serving.upper()} serving, {m.resolution} images)",
        "",
        "Demand:",
        f"  {d.images_per_day:,.0f} images/day = {d.images_per_day / SECONDS_PER_DAY:.2f} images/s "
        f"on average; x {d.peak_factor:g} peak factor = {d.peak_images_per_s:.2f} images/s at peak",
        f"  p99 goal {d.p99_ms:g} ms",
        "",
        "Assumptions (each a flag; measured figures name their report):",
        f"  - bench report {m.created}: {m.machine_cpus} CPUs ({m.cpu_model}), {m.workers} workers, "
        f"{m.clients} clients; siteveil at {m.resolution}: {m.images_per_s:g} images/s, "
        f"p50 {m.p50_ms:g} ms, p99 {m.p99_ms:g} ms, transformer CPU {m.cpu_ms_per_image:g} ms/img, "
        f"Triton CPU {m.triton_cpu_ms_per_image:g} ms/img, peak RSS "
        f"{m.peak_rss_mb_per_worker:g} MB/worker",
        f"  - one sync worker does {m.per_worker_images_per_s:.2f} images/s (the bench's "
        f"images/s / workers; conservative: on the bench machine Triton and S3 shared its cores)",
        f"  - p99 at {a.utilization:.0%} busy workers is no worse than the bench's "
        f"{m.p99_ms:g} ms (the bench drove its workers fully busy)",
        f"  - Knative keeps workers {a.utilization:.0%} busy on average (target utilization; "
        "Knative's default is 70 %): pods = peak / (workers per pod x images/s per worker x it)",
        f"  - transformer CPU request = busy workers' measured CPU + {a.cpu_headroom:.0%}; memory "
        f"= workers x peak RSS + {a.memory_headroom:.0%}",
        f"  - per node {a.node_reserved_cpu:g} vCPU and {a.node_reserved_memory_gib:g} GiB kept "
        "for kubelet, system daemons and DaemonSets",
    ]
    if a.serving == "gpu" and plan.gpu is not None:
        g = plan.gpu
        lines += [
            f"  - GPU: {g.gpu}, Triton {g.images_per_s:g} images/s at its best batch ({g.source})",
            f"  - workers per pod: enough to keep the GPU {a.gpu_busy_target:.0%} busy "
            + (
                f"(= ceil({g.images_per_s_for_90pct:g} images/s, where {g.source} saw SM "
                "activity reach 90 %, / images/s per worker)"
                if g.images_per_s_for_90pct
                else f"(workers_for_90pct from {g.source})"
                if g.workers_for_90pct
                else f"(= ceil({a.gpu_busy_target:g} x GPU images/s / images/s per worker))"
            ),
            f"  - Triton's container: {a.triton_cpu:g} CPU, {a.triton_memory_gib:g} GiB, "
            f"{a.gpus_per_pod} GPU (the chart's inference.triton.resources.requests; the CPU "
            "bench's Triton CPU is ONNX Runtime on CPU and does not apply on a GPU)",
        ]
    else:
        lines += [
            f"  - workers per pod: {plan.workers_per_pod} (--workers, default the bench's)",
            f"  - Triton on CPU: measured {m.triton_cpu_ms_per_image:g} ms/img + "
            f"{a.cpu_headroom:.0%}; memory {a.triton_memory_gib:g} GiB (the chart's request)",
        ]
    lines += [
        "",
        "Result at peak:",
        f"  transformer pods (InferenceService replicas): {plan.pods}  "
        f"({plan.workers_per_pod} workers each, {plan.pod_images_per_s:.2f} images/s per pod "
        f"fully busy; {plan.total_workers} workers in all)",
        f"  per pod: transformer {plan.transformer_cpu_per_pod:g} CPU / "
        f"{plan.transformer_memory_gib_per_pod:g} GiB, Triton {plan.triton_cpu_per_pod:g} CPU / "
        f"{plan.triton_memory_gib_per_pod:g} GiB",
        f"  cores requested: {plan.cores:g}  (transformer "
        f"{plan.pods * plan.transformer_cpu_per_pod:g}, Triton {plan.pods * plan.triton_cpu_per_pod:g})",
        f"  GPUs: {plan.gpus}"
        + (
            f"  (each {plan.gpu_busy_at_peak:.0%} of its measured capacity at peak)"
            if plan.gpu_busy_at_peak is not None
            else ""
        ),
        "",
        "Nodes per instance type:",
    ]
    for fit in plan.nodes:
        i = fit.instance
        best = "fewest GPUs, then vCPUs" if a.serving == "gpu" else "fewest vCPUs"
        mark = f"  <- {best}" if fit is plan.recommended else ""
        gpu = f", {i.gpus} GPU ({i.gpu_name})" if i.gpus else ""
        if fit.nodes:
            lines.append(
                f"  {i.name:<13} ({i.vcpus} vCPU, {i.memory_gib} GiB{gpu}): {fit.nodes} nodes, "
                f"{fit.pods_per_node} pods/node ({fit.why}){mark}"
            )
        else:
            lines.append(f"  {i.name:<13} ({i.vcpus} vCPU, {i.memory_gib} GiB{gpu}): {fit.why}")
    values = chart_values(plan)
    lines += [
        "",
        "Chart values (charts/siteveil; containerConcurrency and Knative's scaleTarget are both",
        "rendered from inference.transformer.workers):",
        *(f"  {k}={v}" for k, v in values.items()),
        # on top of the release Terraform's values installed (terraform/README.md): the IRSA
        # roles trust only the release's namespace
        f"  helm upgrade siteveil charts/siteveil --namespace {namespace} --reuse-values "
        + " ".join(helm_set_args(values)),
    ]
    if a.serving == "gpu" and plan.recommended is not None:
        fit = plan.recommended
        lines.append(
            f"  Karpenter: the NodePool's limits hold only nvidia.com/gpu (karpenter.gpuLimit = "
            f"{fit.nodes} nodes x {fit.instance.gpus}); the chart has no cpu limit key — those "
            f"nodes bring {fit.nodes * fit.instance.vcpus} vCPU"
        )
    if a.serving == "cpu":
        lines.append(
            "  CPU serving: the chart's Karpenter NodePool is for GPU nodes only (keep "
            "karpenter.enabled=false); run these pods on a CPU node group of the types above, "
            "with inference.nodeSelector/tolerations and Triton's GPU request changed to match, "
            "and a model version published with the CPU config (model_repository/*/configs/cpu.pbtxt)"
        )
    lines += [f"Note: {n}" for n in plan.notes]
    return "\n".join(lines)


# --- the command (the edges) ---------------------------------------------------------------------


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from exc
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def _at_least_one(text: str) -> float:
    value = _positive(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"a peak factor is at least 1, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _positive(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.plan", description=__doc__.split("\n")[0])
    p.add_argument("--images-per-day", type=_positive, required=True)
    p.add_argument("--peak-factor", type=_at_least_one, required=True, help="peak / mean rate")
    p.add_argument("--p99-ms", type=_positive, required=True, help="end-to-end p99 goal")
    p.add_argument("--report", type=Path, default=Path("bench-output/report.json"))
    p.add_argument(
        "--gpu-report",
        type=Path,
        default=Path("gpu-bench-output/report.json"),
        help="`make bench-gpu`'s report; used when the file exists",
    )
    p.add_argument("--gpu-images-per-s", type=_positive, help="assume this Triton GPU throughput")
    p.add_argument("--resolution", choices=("1080p", "4k"), default="1080p")
    p.add_argument("--serving", choices=("gpu", "cpu"), default="gpu")
    p.add_argument(
        "--instance-types",
        nargs="+",
        metavar="TYPE_OR_FAMILY",
        help="e.g. g6 or g6.2xlarge c7i (default: g5 g6 g6e for GPU, c7i m7i for CPU)",
    )
    p.add_argument("--utilization", type=_fraction, default=KNATIVE_DEFAULT_UTILIZATION)
    p.add_argument("--cpu-headroom", type=float, default=0.25)
    p.add_argument("--triton-cpu", type=_positive, default=CHART_TRITON_CPU)
    p.add_argument("--triton-memory-gib", type=_positive, default=CHART_TRITON_MEMORY_GIB)
    p.add_argument("--workers", type=int, help="CPU serving: workers per pod")
    p.add_argument(
        "--namespace", default="siteveil", help="the release's namespace (the IRSA roles trust it)"
    )
    p.add_argument("--json", action="store_true", help="print the chart values as JSON only")
    return p


def select_instances(names: Sequence[str] | None, serving: Serving) -> tuple[InstanceType, ...]:
    wanted = list(names or DEFAULT_FAMILIES[serving])
    chosen = [i for i in INSTANCE_TYPES if i.name in wanted or i.family in wanted]
    unknown = [n for n in wanted if not any(n in (i.name, i.family) for i in INSTANCE_TYPES)]
    if unknown:
        known = sorted({i.family for i in INSTANCE_TYPES})
        raise PlanRefused(f"unknown instance types {unknown} (families known: {known})")
    return tuple(chosen)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        measured = parse_bench_report(
            load_json(args.report, "bench report (run `make bench`)"),
            args.resolution,
            str(args.report),
        )
        gpu: GpuMeasured | None = None
        if args.gpu_images_per_s is not None:
            gpu = GpuMeasured(
                "assumed", args.gpu_images_per_s, None, "--gpu-images-per-s, an assumption"
            )
        elif args.serving == "gpu" and args.gpu_report.is_file():
            gpu = parse_gpu_report(load_json(args.gpu_report, "GPU report"), str(args.gpu_report))
        if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
            raise PlanRefused(f"--workers must be 1..{MAX_WORKERS} (the chart's bound)")
        assumptions = Assumptions(
            serving=args.serving,
            utilization=args.utilization,
            cpu_headroom=args.cpu_headroom,
            triton_cpu=args.triton_cpu,
            triton_memory_gib=args.triton_memory_gib,
            workers=args.workers,
        )
        plan = make_plan(
            Demand(args.images_per_day, args.peak_factor, args.p99_ms),
            measured,
            gpu,
            assumptions,
            select_instances(args.instance_types, args.serving),
        )
    except PlanRefused as exc:
        print(f"plan refused: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(chart_values(plan), indent=2))
    else:
        print(render(plan, args.namespace))
    return 0


if __name__ == "__main__":
    sys.exit(main())
