"""`terraform apply` of the storage + events modules (examples/local) against a real moto server,
then the chain itself: an upload under `incoming/` reaches the SQS queue as an EventBridge
`Object Created` event; uploads elsewhere — another prefix, a look-alike prefix, another bucket —
do not. The queue and bucket are taken from the chart values Terraform writes, so the values a
release would get are the ones proven to work.

About 75 s (most of it the AWS provider waiting for S3 lifecycle and SQS attributes to settle),
hence the `slow` marker; `pytest -m "not slow"` leaves it out.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config

from tests.terraform.terraform_support import (
    REPO,
    Terraform,
    ToolMissing,
    copy_terraform_tree,
    output_json,
    start_moto,
)

pytestmark = pytest.mark.slow

REGION = "us-east-1"
MATCHING_KEY = "incoming/acme/2024/05/01/img-0001.jpg"


@dataclass(frozen=True)
class Applied:
    endpoint: str
    outputs: dict[str, Any]
    apply_log: str
    example: Path
    state: Path

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    @property
    def values(self) -> dict[str, Any]:
        return self.outputs["helm_values"]["aws"]


@pytest.fixture(scope="module")
def applied(tf: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Applied]:
    workdir = tmp_path_factory.mktemp("terraform-moto")
    try:
        moto = start_moto(workdir)
    except ToolMissing as missing:
        pytest.skip(f"SKIPPED moto chain: {missing}")
    try:
        example = copy_terraform_tree(workdir) / "examples" / "local"
        state = workdir / "local.tfstate"
        tf.init(example)
        result = tf.run(
            example,
            "apply",
            "-auto-approve",
            "-no-color",
            f"-state={state}",
            f"-var=aws_endpoint_url={moto.endpoint}",
            timeout=600,
        )
        yield Applied(
            endpoint=moto.endpoint,
            outputs=output_json(tf, example, state),
            apply_log=result.stdout,
            example=example,
            state=state,
        )
    finally:
        moto.stop()


def drain(sqs: Any, queue_url: str, until_key: str, deadline_s: float = 30) -> list[dict[str, Any]]:
    """Every message in the queue, waiting (long polls) until one for `until_key` has come."""
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + deadline_s
    seen_target = False
    while True:
        wait = 1 if seen_target else 5
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
        )
        messages = response.get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            bodies.append(body)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if body.get("detail", {}).get("object", {}).get("key") == until_key:
                seen_target = True
        if seen_target and not messages:
            return bodies
        if time.monotonic() > deadline:
            return bodies


def test_apply_creates_everything_with_no_error(applied: Applied) -> None:
    assert "Apply complete!" in applied.apply_log
    assert "Error" not in applied.apply_log


def test_upload_under_incoming_reaches_the_queue_and_nothing_else_does(applied: Applied) -> None:
    s3 = applied.client("s3")
    sqs = applied.client("sqs")
    uploads = applied.values["uploadsBucket"]
    results = applied.values["resultsBucket"]
    queue_url = applied.values["queueUrl"]
    image = b"\xff\xd8\xff\xe0 not really a jpeg"

    # Uploads that must NOT produce an event, put first so that they would be in the queue
    # before the one that must.
    s3.put_object(Bucket=uploads, Key="elsewhere/acme/img-0002.jpg", Body=image)
    s3.put_object(Bucket=uploads, Key="incoming-archive/acme/img-0003.jpg", Body=image)
    s3.put_object(Bucket=uploads, Key="api/images/acme/img-0004.json", Body=b"{}")
    s3.put_object(Bucket=results, Key="incoming/acme/2024/05/01/img-0005.jpg", Body=image)
    s3.put_object(Bucket=uploads, Key=MATCHING_KEY, Body=image)

    bodies = drain(sqs, queue_url, until_key=MATCHING_KEY)

    keys = [(b["detail"]["bucket"]["name"], b["detail"]["object"]["key"]) for b in bodies]
    assert keys == [(uploads, MATCHING_KEY)], f"queue held {keys}"
    (event,) = bodies
    # The EventBridge envelope the transformer accepts (DESIGN.md §3).
    assert event["source"] == "aws.s3"
    assert event["detail-type"] == "Object Created"
    assert event["detail"]["object"]["size"] == len(image)


def test_queue_dead_letters_after_max_receives(applied: Applied) -> None:
    sqs = applied.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=applied.outputs["queue_url"], AttributeNames=["All"]
    )["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=applied.outputs["dead_letter_queue_url"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) == 5
    assert int(attributes["VisibilityTimeout"]) == 360  # 3 x the 120 s processing budget
    assert int(attributes["ReceiveMessageWaitTimeSeconds"]) == 20

    # A message nobody manages to process moves to the dead-letter queue.
    queue_url = applied.outputs["queue_url"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "0"})
    try:
        sqs.send_message(QueueUrl=queue_url, MessageBody='{"poison": true}')
        for _ in range(6):
            sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        dead = sqs.receive_message(
            QueueUrl=applied.outputs["dead_letter_queue_url"], WaitTimeSeconds=5
        ).get("Messages", [])
        assert [json.loads(m["Body"]) for m in dead] == [{"poison": True}]
    finally:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "360"})


def test_buckets_are_private_encrypted_and_expire_originals(applied: Applied) -> None:
    s3 = applied.client("s3")
    kms_arns = set()
    for key in ("uploadsBucket", "resultsBucket"):
        bucket = applied.values[key]
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()), f"{bucket}: {block}"
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ][0]
        default = rule["ApplyServerSideEncryptionByDefault"]
        assert default["SSEAlgorithm"] == "aws:kms"
        kms_arns.add(default["KMSMasterKeyID"])
    assert len(kms_arns) == 1
    key_arn = kms_arns.pop()
    assert applied.client("kms").get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"]

    rules = s3.get_bucket_lifecycle_configuration(Bucket=applied.values["uploadsBucket"])["Rules"]
    expire = next(r for r in rules if r["ID"] == "expire-originals")
    assert expire["Filter"]["Prefix"] == "incoming/"
    assert expire["Expiration"]["Days"] == 1
    models = applied.outputs["models_bucket_name"]
    assert s3.get_bucket_versioning(Bucket=models)["Status"] == "Enabled"
    assert "Status" not in s3.get_bucket_versioning(Bucket=applied.values["uploadsBucket"])
    cors = s3.get_bucket_cors(Bucket=applied.values["uploadsBucket"])["CORSRules"][0]
    assert sorted(cors["AllowedMethods"]) == ["POST", "PUT"]
    assert cors["AllowedOrigins"] == ["http://localhost:8000"]


def test_chart_values_from_terraform_pass_the_chart_schema(applied: Applied) -> None:
    """`terraform output -json helm_values` merged over the chart's defaults is a valid release."""
    jsonschema = pytest.importorskip("jsonschema")
    chart = REPO / "charts" / "siteveil"
    if not (chart / "values.schema.json").is_file():
        pytest.skip("SKIPPED: charts/siteveil is absent; nothing to validate the values against")
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    schema = json.loads((chart / "values.schema.json").read_text())
    merged = {**defaults, "aws": {**defaults["aws"], **applied.values}}
    jsonschema.validate(merged, schema)
    assert applied.values["uploadsPrefix"] == "incoming/"
    assert (
        applied.values["modelStorageUri"]
        == f"s3://{applied.outputs['models_bucket_name']}/repositories"
    )


def test_make_target_writes_the_chart_values_file(
    applied: Applied, tf: Terraform, tmp_path: Path
) -> None:
    """`make terraform-helm-values` turns `terraform output -json` into a values file for
    `helm -f` (JSON is YAML) holding the chart's `aws` block."""
    written = tmp_path / "aws-values.json"
    result = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(REPO),
            "terraform-helm-values",
            f"TF_DIR={applied.example}",
            f"TF_STATE={applied.state}",
            f"HELM_VALUES={written}",
            f"TF={tf.binary}",
        ],
        env=tf.env,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values = yaml.safe_load(written.read_text())
    assert values == {"aws": applied.values}
    assert values["aws"]["queueUrl"] == applied.outputs["queue_url"]
