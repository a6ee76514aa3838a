"""Contract between `python -m export publish` and the chart: the InferenceService serves
exactly the repository that publishing version V of model N wrote, and asks for version V."""

from __future__ import annotations

import pytest

from export.publish import storage_uri
from tests.charts.chart_support import HelmFailed, container, env, flags, one, render, template

CASES = [
    ("s3://siteveil-models-example/models", "person_segmenter", 1),
    ("s3://models-bucket/deep/prefix/", "person_segmenter", 2),
    ("s3://models-bucket", "my_segmenter", 17),
]


def _served(sets: dict[str, str], name: str) -> tuple[str, str | None]:
    isvc = one(render(sets=sets), "InferenceService", name)
    uri = env(container(isvc, "kserve-container"))["STORAGE_URI"]
    return uri, flags(container(isvc, "transformer-container")["args"]).get("--model_version")


@pytest.mark.parametrize(("base", "name", "version"), CASES)
def test_production_serves_what_publish_wrote(base: str, name: str, version: int) -> None:
    uri, model_version = _served(
        {"aws.modelStorageUri": base, "model.name": name, "model.version": str(version)},
        "siteveil",
    )
    assert uri == storage_uri(base, name, version)
    assert model_version == str(version)


@pytest.mark.parametrize(("base", "name", "version"), CASES)
def test_the_shadow_serves_its_own_published_version(base: str, name: str, version: int) -> None:
    sets = {
        "aws.modelStorageUri": base,
        "model.name": name,
        "model.version": str(version),
        "shadow.enabled": "true",
        "shadow.model.name": name,
        "shadow.model.version": str(version + 1),
    }
    prod_uri, _ = _served(sets, "siteveil")
    shadow_uri, shadow_version = _served(sets, "siteveil-shadow")
    assert shadow_uri == storage_uri(base, name, version + 1)
    assert shadow_version == str(version + 1)
    assert prod_uri != shadow_uri, "one repository per version: neither loads the other's"


def test_an_explicit_repository_path_still_wins() -> None:
    uri, model_version = _served(
        {"model.repositoryPath": "/shared/repo/", "model.version": "3"}, "siteveil"
    )
    assert uri == "s3://siteveil-models-example/models/shared/repo"
    assert model_version == "3"


def test_without_a_version_the_repository_path_is_required() -> None:
    with pytest.raises(HelmFailed, match=r"model\.version is required"):
        template(sets={"model.version": ""})
    with pytest.raises(HelmFailed, match=r"shadow\.model\.version is required"):
        template(sets={"shadow.enabled": "true", "shadow.model.version": ""})


def test_a_version_publish_cannot_write_is_refused_by_the_schema() -> None:
    with pytest.raises(HelmFailed, match="/model/version"):
        template(sets={"model.version": "01"})
