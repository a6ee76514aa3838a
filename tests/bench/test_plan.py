"""The capacity planner (``python -m bench.plan``): what a user sees from its figures and values.

The bench report here is a fixture in the contract's ``siteveil.bench/1`` schema with the
figures issue 11 measured (1080p: 21.6 images/s, p99 249 ms, 53.6 ms transformer CPU per image).
The chart checks render charts/siteveil with the real helm binary (.tools/helm, as tests/charts).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import plan
from tests.charts import chart_support

DATA = Path(__file__).parent / "data"
REPORT = DATA / "plan_bench_report.json"
GPU_REPORT = DATA / "plan_gpu_report.json"
VALUES = chart_support.CHART_DIR / "values.yaml"


def measured(resolution: str = "1080p") -> plan.Measured:
    return plan.parse_bench_report(json.loads(REPORT.read_text()), resolution, str(REPORT))


def gpu() -> plan.GpuMeasured:
    return plan.parse_gpu_report(json.loads(GPU_REPORT.read_text()), str(GPU_REPORT))


def make(images_per_day: float, serving: plan.Serving = "gpu", **kw: Any) -> plan.Plan:
    return plan.make_plan(
        plan.Demand(images_per_day, kw.pop("peak_factor", 3.0), kw.pop("p99_ms", 1000.0)),
        measured(kw.pop("resolution", "1080p")),
        gpu() if serving == "gpu" else None,
        plan.Assumptions(serving=serving, **kw),
        plan.select_instances(None, serving),
    )


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = plan.main(["--report", str(REPORT), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- the figures -----------------------------------------------------------------------------


@pytest.mark.parametrize("serving", ["gpu", "cpu"])
def test_doubling_images_per_day_doubles_pods_cores_and_gpus(serving: plan.Serving) -> None:
    one, two = make(50_000_000, serving), make(100_000_000, serving)
    assert one.pods >= 4, "the fixture demand should need several pods"
    assert abs(two.pods - 2 * one.pods) <= 1
    assert two.workers_per_pod == one.workers_per_pod
    assert two.cores == pytest.approx(2 * one.cores, rel=1 / one.pods)
    assert two.gpus == (two.pods if serving == "gpu" else 0)


def test_peak_factor_scales_like_images_per_day() -> None:
    assert make(20_000_000, peak_factor=4).pods == make(40_000_000, peak_factor=2).pods


def test_pods_carry_the_peak_at_knatives_target_utilization() -> None:
    p = make(50_000_000)
    capacity = p.pods * p.pod_images_per_s * p.assumptions.utilization
    assert capacity >= p.demand.peak_images_per_s
    # one pod fewer would not carry it: no slack beyond rounding
    assert (p.pods - 1) * p.pod_images_per_s * p.assumptions.utilization < (
        p.demand.peak_images_per_s
    )


def test_4k_images_need_more_pods_than_1080p() -> None:
    assert make(20_000_000, resolution="4k").pods > make(20_000_000).pods


def test_transformer_cores_follow_the_measured_cpu_per_image() -> None:
    p = make(50_000_000)
    m = p.measured
    busy_cores = p.workers_per_pod * m.per_worker_images_per_s * m.cpu_ms_per_image / 1000
    assert p.transformer_cpu_per_pod >= busy_cores * (1 + p.assumptions.cpu_headroom) - 0.1
    assert p.transformer_cpu_per_pod < busy_cores * (1 + p.assumptions.cpu_headroom) + 0.1


def test_workers_to_feed_gpu_keeps_it_ninety_percent_busy() -> None:
    # 1000 images/s on the GPU, 10 per worker: 90 workers give 900 images/s = 90 %
    assert plan.workers_to_feed_gpu(1000, 10, 0.9) == 90
    assert plan.workers_to_feed_gpu(1000, 10.5, 0.9) == 86  # 86 x 10.5 = 903 >= 900
    with pytest.raises(ValueError):
        plan.workers_to_feed_gpu(0, 10, 0.9)


def test_workers_per_gpu_come_from_the_rate_that_kept_it_90_percent_busy() -> None:
    # 1450 images/s at 93 % SM activity in the GPU report; 4K workers are slower, so more of
    # them are needed to keep the same GPU busy (the planner divides by its own resolution's)
    g = gpu()
    assert g.images_per_s_for_90pct == 1450
    assert (
        plan.make_plan(
            plan.Demand(1e9, 1, 1000), measured(), g, plan.Assumptions(), plan.INSTANCE_TYPES
        )
        .notes[0]
        .startswith("135 workers per pod would be needed to keep a GPU 90% busy")
    )
    four_k = measured("4k")
    needed = math.ceil(1450 / four_k.per_worker_images_per_s)
    assert needed > 135
    notes = plan.make_plan(
        plan.Demand(1e9, 1, 1000), four_k, g, plan.Assumptions(), plan.INSTANCE_TYPES
    ).notes
    assert notes[0].startswith(f"{needed} workers per pod would be needed")


def test_small_demand_gets_one_pod_sized_to_the_peak() -> None:
    p = make(1_000_000)  # 34.7 images/s at peak
    assert p.pods == 1 and p.gpus == 1
    assert p.workers_per_pod == math.ceil(34.72 / (10.8 * 0.7))
    assert any("one pod sized to the peak" in n for n in p.notes)


def test_a_gpu_needing_more_workers_than_the_chart_allows_is_capped_and_said() -> None:
    p = make(50_000_000)  # the fixture's GPU wants ceil(1450 / 10.8) = 135 workers
    assert p.workers_per_pod == plan.MAX_WORKERS
    assert any("at most 64" in n for n in p.notes)


def test_nodes_hold_the_pods_and_the_gpu_count() -> None:
    p = make(50_000_000)
    for fit in p.nodes:
        if not fit.nodes:
            continue
        i = fit.instance
        assert fit.nodes * fit.pods_per_node >= p.pods
        assert fit.pods_per_node * p.cpu_per_pod <= i.vcpus
        assert fit.pods_per_node <= i.gpus
    assert p.recommended is not None and p.recommended.nodes > 0


def test_instance_table_matches_aws_for_the_types_we_deploy() -> None:
    # AWS "Amazon EC2 instance type specifications" (ac.html / co.html / gp.html).
    table = {i.name: (i.vcpus, i.memory_gib, i.gpus, i.gpu_name) for i in plan.INSTANCE_TYPES}
    assert table["g5.xlarge"] == (4, 16, 1, "a10g")
    assert table["g6.xlarge"] == (4, 16, 1, "l4")
    assert table["g6.12xlarge"] == (48, 192, 4, "l4")
    assert table["g6e.xlarge"] == (4, 32, 1, "l40s")
    assert table["g6e.48xlarge"] == (192, 1536, 8, "l40s")
    assert table["c7i.2xlarge"] == (8, 16, 0, "")
    assert table["m7i.large"] == (2, 8, 0, "")


def test_gpu_families_and_names_agree_with_the_chart_and_terraform() -> None:
    helpers = (chart_support.CHART_DIR / "templates" / "_helpers.tpl").read_text()
    for family, gpu_name in {"g5": "a10g", "g6": "l4", "g6e": "l40s"}.items():
        assert f'"{gpu_name}" "{family}"' in helpers
        assert {i.gpu_name for i in plan.INSTANCE_TYPES if i.family == family} == {gpu_name}
    tf = (chart_support.REPO_ROOT / "terraform/modules/cluster/variables.tf").read_text()
    for name in ("g5.xlarge", "g6.xlarge", "m7i.large"):
        assert f'"{name}"' in tf
        assert name in {i.name for i in plan.INSTANCE_TYPES}


def test_triton_defaults_are_the_charts() -> None:
    triton = yaml.safe_load(VALUES.read_text())["inference"]["triton"]["resources"]["requests"]
    assert float(triton["cpu"]) == plan.CHART_TRITON_CPU
    assert triton["memory"] == f"{plan.CHART_TRITON_MEMORY_GIB:g}Gi"
    assert triton["nvidia.com/gpu"] == plan.CHART_TRITON_GPUS
    karpenter = yaml.safe_load(VALUES.read_text())["karpenter"]
    assert karpenter["instanceFamilies"] == [plan.CHART_GPU_FAMILY]


# --- refusals ----------------------------------------------------------------------------------


def test_a_p99_goal_tighter_than_measured_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "--images-per-day", "1e6", "--peak-factor", "3", "--p99-ms", "200",
        "--gpu-images-per-s", "800",
    )  # fmt: skip
    assert code == 2 and out == ""
    assert "p99 goal 200 ms is below what the bench measured" in err
    assert "249 ms" in err


def test_a_missing_report_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = plan.main([
        "--report", str(tmp_path / "nope.json"), "--images-per-day", "1e6",
        "--peak-factor", "2", "--p99-ms", "1000", "--gpu-images-per-s", "800",
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "no bench report" in err and "make bench" in err


def test_a_report_of_another_schema_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / "report.json"
    other.write_text(json.dumps({"schema": "siteveil.eval/1", "resolutions": {}}))
    code = plan.main([
        "--report", str(other), "--images-per-day", "1e6", "--peak-factor", "2",
        "--p99-ms", "1000", "--gpu-images-per-s", "800",
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "'siteveil.eval/1'" in err and plan.BENCH_SCHEMA in err


def test_a_run_with_unanonymized_images_is_refused(tmp_path: Path) -> None:
    report = json.loads(REPORT.read_text())
    report["resolutions"]["1080p"]["transformers"]["siteveil"]["anonymized"] = 299
    with pytest.raises(plan.PlanRefused, match="unanonymized"):
        plan.parse_bench_report(report, "1080p", "r")


def test_gpu_serving_without_a_gpu_figure_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run_cli(
        capsys, "--images-per-day", "1e6", "--peak-factor", "2", "--p99-ms", "1000",
        "--gpu-report", str(tmp_path / "absent.json"),
    )  # fmt: skip
    assert code == 2 and "--gpu-images-per-s" in err and "make bench-gpu" in err


def test_bad_flags_are_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (["--peak-factor", "0.5"], ["--images-per-day", "-3"], ["--p99-ms", "x"]):
        args = {"--images-per-day": "1e6", "--peak-factor": "2", "--p99-ms": "1000"}
        args[bad[0]] = bad[1]
        with pytest.raises(SystemExit) as exc:
            plan.main(["--report", str(REPORT), *[x for kv in args.items() for x in kv]])
        assert exc.value.code == 2
    assert "peak factor is at least 1" in capsys.readouterr().err


# --- what is printed -----------------------------------------------------------------------------


def test_the_printed_plan_names_its_assumptions_and_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_cli(
        capsys, "--images-per-day", "5e7", "--peak-factor", "3", "--p99-ms", "1000",
        "--gpu-report", str(GPU_REPORT),
    )  # fmt: skip
    assert code == 0
    for text in (
        "1736.11 images/s at peak",  # 5e7 / 86400 x 3
        "21.6 images/s",
        "53.6 ms/img",
        "NVIDIA L4",
        "Knative's default is 70 %",
        "inference.transformer.workers=64",
        "karpenter.gpuLimit=",
        "containerConcurrency",
        "helm upgrade siteveil charts/siteveil --namespace siteveil --reuse-values",
    ):
        assert text in out, text


# --- the chart values are real and render ----------------------------------------------------


def _has_path(tree: dict[str, Any], key: str) -> bool:
    parts = key.replace("\\.", "\0").split(".")
    node: Any = tree
    for part in parts[:-1]:
        part = part.replace("\0", ".")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    last = parts[-1].replace("\0", ".")
    # a map the chart leaves open for user keys (annotations) takes any key
    return isinstance(node, dict) and (last in node or node == {})


@pytest.mark.parametrize("serving", ["gpu", "cpu"])
def test_chart_value_paths_exist_in_values_yaml(serving: plan.Serving) -> None:
    tree = yaml.safe_load(VALUES.read_text())
    for key in plan.chart_values(make(50_000_000, serving)):
        assert _has_path(tree, key), f"{key} is not a key of {VALUES}"


@pytest.fixture(scope="module")
def helm() -> Path:
    binary = chart_support.helm_binary()
    if not binary.is_file():
        pytest.skip(f"helm not found at {binary}: run `make chart-tools` (or set SITEVEIL_HELM)")
    return binary


@pytest.mark.parametrize("images_per_day", [1_000_000, 50_000_000])
def test_printed_gpu_values_render_with_helm(helm: Path, images_per_day: int) -> None:
    p = make(images_per_day)
    values = plan.chart_values(p)
    objs = chart_support.parse(chart_support.template(extra=plan.helm_set_args(values)))
    isvc = chart_support.one(objs, "InferenceService")
    predictor = isvc["spec"]["predictor"]
    # the one value the chart derives containerConcurrency and the scale target from
    assert predictor["containerConcurrency"] == p.workers_per_pod
    assert predictor["scaleTarget"] == p.workers_per_pod
    assert predictor["maxReplicas"] == p.pods
    annotations = isvc["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/target-utilization-percentage"] == "70"
    transformer = chart_support.container(isvc, "transformer-container")
    assert f"--workers={p.workers_per_pod}" in transformer["args"]
    assert (
        transformer["resources"]["requests"]["cpu"]
        == values["inference.transformer.resources.requests.cpu"]
    )
    nodepool = chart_support.one(objs, "NodePool")
    assert p.recommended is not None
    assert nodepool["spec"]["limits"]["nvidia.com/gpu"] == p.recommended.nodes * (
        p.recommended.instance.gpus
    )
    assert nodepool["spec"]["limits"]["nvidia.com/gpu"] >= p.gpus
    families = nodepool["spec"]["template"]["spec"]["requirements"][0]["values"]
    assert families == [p.recommended.instance.family]
    crds = chart_support.crds_dir()
    if crds.is_dir():  # the rendered objects as the API server would take them (the real CRDs)
        schemas = chart_support.load_crds(crds)
        assert chart_support.validate_all([isvc, nodepool], schemas) == []


def test_printed_cpu_values_render_with_helm(helm: Path) -> None:
    p = make(20_000_000, "cpu", workers=4)
    objs = chart_support.parse(
        chart_support.template(extra=plan.helm_set_args(plan.chart_values(p)))
    )
    isvc = chart_support.one(objs, "InferenceService")
    assert isvc["spec"]["predictor"]["containerConcurrency"] == 4
    triton = chart_support.container(isvc, "kserve-container")
    assert triton["resources"]["requests"]["cpu"] == f"{round(p.triton_cpu_per_pod * 1000)}m"
