"""The images the chart deploys, run through the real local stack: each image's own entrypoint,
started with `buildah run --isolation chroot` on the host's network, against moto and Triton."""

from __future__ import annotations

import io
import json
import time
import uuid
from pathlib import Path

import boto3
import numpy as np
import pytest
import requests
from PIL import Image as PILImage
from skimage import data

from stack.lifecycle import StackState
from stack.processes import free_port
from stack.relay import EVENT_TYPE
from tests.images.images_support import Image, run, serving, working_container
from transformer.events import ANONYMIZED_TYPE
from transformer.keys import result_keys

pytestmark = pytest.mark.e2e

# What the chart runs the pods as (charts/siteveil/values.yaml, podSecurityContext) must not be
# root; the images themselves default to the same non-root user.
NON_ROOT = "65532:65532"


def jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


def s3(stack: StackState):  # noqa: ANN201 - a boto3 client
    env = stack.env()
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )


@pytest.mark.parametrize(
    "name, packages",
    [
        ("transformer", ("siteveil==", "gunicorn==", "opencv-python-headless==", "tritonclient==")),
        ("api", ("fastapi==", "uvicorn==", "boto3==", "PyJWT==")),
    ],
)
def test_each_image_is_non_root_small_and_carries_its_lock(
    images: dict[str, Image], name: str, packages: tuple[str, ...]
) -> None:
    image = images[name]
    assert image.config.get("User") == NON_ROOT
    assert image.entrypoint[:2] == ["python", "-m"]
    print(f"{image.ref}: {image.size_bytes / 1e6:.0f} MB")
    assert image.size_bytes < {"transformer": 600e6, "api": 250e6}[name]
    with working_container(image) as ctr:
        lock = run(ctr, ["cat", "/opt/venv/share/siteveil/requirements.lock"])
        assert run(ctr, ["id", "-u"]).strip() == "65532"
    pins = [line for line in lock.splitlines() if line.strip()]
    assert all("==" in line for line in pins), "every package pinned to one version"
    for package in packages:
        assert any(line.startswith(package) for line in pins), package


def test_the_transformer_image_anonymizes_an_upload_with_triton(
    images: dict[str, Image], stack: StackState, tmp_path: Path
) -> None:
    """The image's entrypoint with the chart's flags (charts/siteveil, siteveil.transformerArgs)
    against moto and the stack's Triton: a real upload in, results out."""
    client = s3(stack)
    bucket = f"image-smoke-{uuid.uuid4().hex[:8]}"  # not wired to EventBridge: only we post
    client.create_bucket(Bucket=bucket)
    key = "incoming/acme/2026/01/02/img-smoke-1.jpg"
    body = jpeg(data.astronaut())
    put = client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="image/jpeg")
    port = free_port()
    triton = stack.triton_http.removeprefix("http://")
    args = [
        f"--model_name={stack.model_name}", f"--predictor_host={triton}",
        "--predictor_protocol=v2", "--http_host=127.0.0.1", f"--http_port={port}",
        "--workers=1", "--anonymization_mode=blur",
    ]  # fmt: skip
    image = images["transformer"]
    url = f"http://127.0.0.1:{port}"
    with (
        working_container(image) as ctr,
        serving(ctr, [*image.entrypoint, *args], stack.env(), url + "/v2/health/ready",
                tmp_path / "transformer.log"),
    ):  # fmt: skip
        event = {
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created",
            "source": "aws.s3", "region": stack.region,
            "detail": {"bucket": {"name": bucket},
                       "object": {"key": key, "size": len(body), "etag": put["ETag"]}},
        }  # fmt: skip
        headers = {
            "ce-specversion": "1.0", "ce-id": "image-smoke-1", "ce-type": EVENT_TYPE,
            "ce-source": stack.queue_arn, "content-type": "application/json",
        }  # fmt: skip
        response = requests.post(url + "/", headers=headers, data=json.dumps(event), timeout=120)
    assert response.status_code == 200, response.text
    assert response.headers["ce-type"] == ANONYMIZED_TYPE
    keys = result_keys("acme", "img-smoke-1", "jpg")
    record = json.loads(client.get_object(Bucket=bucket, Key=keys.record)["Body"].read())
    assert record["status"] == "anonymized"
    assert record["model"]["name"] == stack.model_name
    assert 0.02 < record["person_fraction"] < 0.9, "the astronaut is found and hidden"
    anonymized = client.get_object(Bucket=bucket, Key=keys.anonymized)["Body"].read()
    assert anonymized != body and anonymized[:2] == b"\xff\xd8"


def test_the_api_image_hands_out_an_upload_the_stack_anonymizes(
    images: dict[str, Image], stack: StackState, tmp_path: Path
) -> None:
    """The API image's entrypoint: create an API key with its CLI, serve, get a presigned PUT,
    upload through it; the stack (relay → transformer → Triton) processes it and the image's
    API reports it done with result links."""
    image = images["api"]
    env = {
        **stack.env(),
        "SITEVEIL_API_UPLOADS_BUCKET": stack.uploads_bucket,
        "SITEVEIL_API_RESULTS_BUCKET": stack.results_bucket,
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with working_container(image) as ctr:
        api_key = run(ctr, [*image.entrypoint, "create-key", "--tenant", "acme"], env).split()[-1]
        serve = [*image.entrypoint, "serve", "--host", "127.0.0.1", "--port", str(port)]
        with serving(ctr, serve, env, url + "/healthz", tmp_path / "api.log"):
            auth = {"X-API-Key": api_key}
            body = jpeg(data.astronaut())
            slot = requests.post(
                url + "/v1/uploads",
                json={"content_type": "image/jpeg", "size": len(body)},
                headers=auth,
                timeout=30,
            )
            assert slot.status_code == 201, slot.text
            upload = slot.json()
            assert upload["key"].startswith("incoming/acme/")
            put = requests.put(upload["url"], data=body, headers=upload["headers"], timeout=30)
            assert put.status_code == 200, put.text
            status = wait_for_done(url + f"/v1/images/{upload['image_id']}", auth)
    assert status["status"] == "done"
    assert isinstance(status["anonymized_url"], str)
    anonymized = requests.get(status["anonymized_url"], timeout=30)
    assert anonymized.status_code == 200 and anonymized.content[:2] == b"\xff\xd8"


def wait_for_done(url: str, headers: dict[str, str]) -> dict[str, object]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status = requests.get(url, headers=headers, timeout=30).json()
        if status.get("status") != "pending":
            return status
        time.sleep(0.5)
    raise AssertionError(f"{url} still pending after 180 s")
