"""The local stack's settings: one typed object, built once by the CLI / demo / test fixtures."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

REPO_ROOT = Path(__file__).resolve().parents[1]

BackoffPolicy = Literal["exponential", "linear"]
# The Triton models the transformer runs on every image (`--models`); roles come from their configs.
# `make up`, `make demo` and `make eval` run all three; a StackConfig made in code (the tests'
# stacks) runs the segmenter alone unless it says otherwise: the detectors cost seconds of CPU
# per image here, where a GPU would take milliseconds.
PRIVACY_MODELS = ("person_segmenter", "person_detector", "face_detector")
SEGMENTER_ONLY = ("person_segmenter",)


def model_list(text: str) -> tuple[str, ...]:
    """`a,b,c` → ("a", "b", "c"): the form of `--models` on every command line."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True, slots=True)
class Delivery:
    """Knative `delivery` for the relay's subscriber: retry, backoffPolicy, backoffDelay, timeout.

    `retry` counts the attempts after the first one (Knative's meaning); exponential backoff
    waits backoff_delay_s * 2**n before retry n+1, linear waits backoff_delay_s * (n+1).
    The default waits 1+2+4+8+16+32 = 63 s in all before dead-lettering: longer than Triton
    or the transformer takes to restart (the old 3 × 0.5 s budget, 3.5 s, dead-lettered 10 of
    40 uploads during a 15 s Triton outage; issue 14).
    """

    retry: int = 6
    backoff_policy: BackoffPolicy = "exponential"
    backoff_delay_s: float = 1.0
    # per attempt: detectors on CPU need tens of seconds for a tiled 4K frame (a GPU needs one)
    timeout_s: float = 120.0

    @property
    def backoff_budget_s(self) -> float:
        """Seconds of backoff between the first attempt and the dead letter."""
        if self.backoff_policy == "exponential":
            return self.backoff_delay_s * (2**self.retry - 1)
        return self.backoff_delay_s * self.retry * (self.retry + 1) / 2

    def __post_init__(self) -> None:
        if self.retry < 0 or self.backoff_delay_s < 0 or self.timeout_s <= 0:
            raise ValueError("delivery needs retry >= 0, backoff_delay_s >= 0, timeout_s > 0")


@dataclass(frozen=True, slots=True)
class AwsLayout:
    """The emulated AWS resources: the same names and wiring the Terraform side creates."""

    region: str = "us-east-1"
    access_key_id: str = "siteveil-local"
    secret_access_key: str = "siteveil-local-secret"
    uploads_bucket: str = "siteveil-uploads"
    results_bucket: str = "siteveil-results"
    incoming_prefix: str = "incoming/"
    queue: str = "siteveil-uploads"
    dead_letter_queue: str = "siteveil-uploads-dlq"
    rule: str = "siteveil-uploads-object-created"
    # SQS redrive: a message received this often without being deleted goes to the DLQ (the
    # safety net when a relay dies mid-delivery; the relay dead-letters explicitly otherwise).
    max_receive_count: int = 5
    visibility_timeout_s: int = 60


@dataclass(frozen=True, slots=True)
class StackConfig:
    """Everything `up` needs. Port 0 means "pick a free port"."""

    state_dir: Path = REPO_ROOT / ".stack"
    model_repository: Path = REPO_ROOT / "model_repository"
    model_name: str = "person_segmenter"
    models: tuple[str, ...] = SEGMENTER_ONLY
    triton_config_name: str = "cpu"
    triton_venv: Path = REPO_ROOT / ".venv-triton"
    python: Path = Path(sys.executable)
    aws: AwsLayout = field(default_factory=AwsLayout)
    delivery: Delivery = field(default_factory=Delivery)
    relay_max_in_flight: int = 4
    relay_wait_time_s: int = 2
    transformer_workers: int = 2
    transformer_args: tuple[str, ...] = ()
    moto_port: int = 0
    triton_http_port: int = 0
    triton_grpc_port: int = 0
    transformer_port: int = 0
    api_port: int = 0
    startup_timeout_s: float = 180.0
    # Shadow candidates: Triton model directories (config.pbtxt, configs/, <version>/) served by
    # the same Triton beside the live models, each behind a `--shadow` transformer that the
    # relay feeds every event too (stack/shadow.py).
    shadows: tuple[Path, ...] = ()
    shadow_workers: int = 1

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def replies_path(self) -> Path:
        return self.state_dir / "replies.jsonl"

    @property
    def api_keys_dir(self) -> Path:
        """The upload API's dev signing key and JWKS (kept across `up`s, like `make api-dev-keys`)."""
        return self.state_dir / "api-keys"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "stack.json"
