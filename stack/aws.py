"""The emulated AWS side: moto in server mode, and the buckets, rule and queues siteveil needs.

The wiring is production's (DESIGN.md §1): the uploads bucket sends EventBridge notifications, a
rule on `Object Created` for that bucket and the incoming/ prefix targets an SQS queue whose
redrive policy moves a message to the dead-letter queue after max_receive_count receives.
moto sends an extra "Object Tags Added" event per put and gives every event the same `id`
(DESIGN.md §4): the rule filters on detail-type, and nobody may dedupe on the EventBridge id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from stack.config import AwsLayout
from stack.processes import spawn, stop, wait_http_ok


@dataclass(frozen=True, slots=True)
class Queues:
    """URLs and ARNs of the event queue and its dead-letter queue."""

    url: str
    arn: str
    dead_letter_url: str
    dead_letter_arn: str


def aws_env(endpoint: str, layout: AwsLayout) -> dict[str, str]:
    """The standard AWS environment variables that point an SDK at the emulator."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": layout.access_key_id,
        "AWS_SECRET_ACCESS_KEY": layout.secret_access_key,
        "AWS_DEFAULT_REGION": layout.region,
        "AWS_REGION": layout.region,
    }


def client(service: str, endpoint: str, layout: AwsLayout) -> Any:
    """A boto3 client for the emulator (path-style S3, so presigned URLs hit 127.0.0.1)."""
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=layout.region,
        aws_access_key_id=layout.access_key_id,
        aws_secret_access_key=layout.secret_access_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


def start_moto(python: Path, port: int, log_path: Path, *, timeout_s: float = 60.0) -> int:
    """Start `moto_server` of the given interpreter's environment on 127.0.0.1:port; its pid."""
    moto_server = python.parent / "moto_server"
    argv = [str(moto_server), "-H", "127.0.0.1", "-p", str(port)]
    proc = spawn(argv, log_path=log_path)
    try:
        wait_http_ok(
            f"http://127.0.0.1:{port}/moto-api/",
            name="moto_server",
            timeout_s=timeout_s,
            pid=proc.pid,
            log_path=log_path,
        )
    except BaseException:
        stop(proc.pid)
        raise
    return proc.pid


def event_pattern(layout: AwsLayout) -> dict[str, Any]:
    """EventBridge pattern: S3 Object Created in the uploads bucket under the incoming/ prefix."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [layout.uploads_bucket]},
            "object": {"key": [{"prefix": layout.incoming_prefix}]},
        },
    }


def _create_bucket(s3: Any, name: str, region: str) -> None:
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def provision(endpoint: str, layout: AwsLayout) -> Queues:
    """Create the buckets, queues and rule (idempotent on a fresh emulator)."""
    s3 = client("s3", endpoint, layout)
    sqs = client("sqs", endpoint, layout)
    events = client("events", endpoint, layout)

    for bucket in (layout.uploads_bucket, layout.results_bucket):
        _create_bucket(s3, bucket, layout.region)
    s3.put_bucket_notification_configuration(
        Bucket=layout.uploads_bucket,
        NotificationConfiguration={"EventBridgeConfiguration": {}},
    )

    dlq_url = sqs.create_queue(
        QueueName=layout.dead_letter_queue,
        Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)},
    )["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(layout.max_receive_count)}
    queue_url = sqs.create_queue(
        QueueName=layout.queue,
        Attributes={
            "RedrivePolicy": json.dumps(redrive),
            "VisibilityTimeout": str(layout.visibility_timeout_s),
        },
    )["QueueUrl"]
    queue_arn = _queue_arn(sqs, queue_url)

    events.put_rule(
        Name=layout.rule,
        EventPattern=json.dumps(event_pattern(layout)),
        State="ENABLED",
        Description="siteveil: uploads to incoming/ -> SQS",
    )
    events.put_targets(Rule=layout.rule, Targets=[{"Id": "uploads-queue", "Arn": queue_arn}])
    return Queues(url=queue_url, arn=queue_arn, dead_letter_url=dlq_url, dead_letter_arn=dlq_arn)
