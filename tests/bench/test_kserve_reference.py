"""The two KServe SDK reference transformers of `make bench`, each run as the harness runs it.

Real processes: moto (S3), the real Triton with the person segmenter, and each variant started
from `.venv-kserve` as `python -m bench.kserve_reference` from the repository root. One upload
with people in it goes in as the relay's binary-mode CloudEvent; the answer must come after the
three results are written, and the pixels under the mask must be hidden.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image

from bench.load import Upload, cloudevent
from bench.procs import kserve_target
from stack.aws import client, start_moto
from stack.config import REPO_ROOT, AwsLayout
from stack.processes import free_port, spawn, stop, wait_http_ok
from stack.samples import composite
from stack.triton import DEFAULT_VENV, running_triton

pytestmark = pytest.mark.e2e

KSERVE_PYTHON = REPO_ROOT / ".venv-kserve" / "bin" / "python"
SEGMENTER = REPO_ROOT / "model_repository" / "person_segmenter"
UPLOADS, RESULTS = "siteveil-uploads", "siteveil-results"
# What the relay sends (stack/relay.py: cloudevent_headers, EVENT_TYPE)
EVENT_TYPE = "dev.knative.eventing.aws-sqs"


@dataclass(frozen=True)
class Moto:
    endpoint: str
    layout: AwsLayout

    def s3(self) -> Any:
        return client("s3", self.endpoint, self.layout)


def _require_tools() -> None:
    if not KSERVE_PYTHON.exists():
        pytest.skip(
            f"no KServe virtualenv at {KSERVE_PYTHON.parent.parent}: run `make kserve-venv`"
        )
    if not (SEGMENTER / "1" / "model.onnx").exists():
        pytest.skip(f"{SEGMENTER}/1/model.onnx is missing: run `make model`")
    if not (DEFAULT_VENV / "bin" / "python").exists():
        pytest.skip(f"no Triton virtualenv at {DEFAULT_VENV}: run `make triton-venv`")


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    _require_tools()
    port = free_port()
    pid = start_moto(Path(sys.executable), port, tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        found = Moto(f"http://127.0.0.1:{port}", AwsLayout())
        for bucket in (UPLOADS, RESULTS):
            found.s3().create_bucket(Bucket=bucket)
        yield found
    finally:
        stop(pid)


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real Triton serving the person segmenter alone (the bench's `--models`)."""
    _require_tools()
    repository = tmp_path_factory.mktemp("repository")
    (repository / SEGMENTER.name).symlink_to(SEGMENTER.resolve(), target_is_directory=True)
    with running_triton(repository, log_dir=tmp_path_factory.mktemp("triton")) as endpoints:
        yield endpoints.http


@pytest.fixture(scope="module")
def frame() -> bytes:
    """The demo's 1920×1080 composite: twelve people from 760 px down to 40 px."""
    buffer = io.BytesIO()
    Image.fromarray(composite()).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def start_reference(
    variant: str, moto: Moto, triton: str, log_path: Path, *, workers: int
) -> tuple[int, str]:
    """The harness's own command line (bench.procs.kserve_target), from the repository root."""
    target = kserve_target(
        variant,
        triton_http=triton,
        workers=workers,
        results_bucket=RESULTS,
        venv=KSERVE_PYTHON.parents[1],
    )
    port, argv = target.port, list(target.argv)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}} | {
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_ACCESS_KEY_ID": moto.layout.access_key_id,
        "AWS_SECRET_ACCESS_KEY": moto.layout.secret_access_key,
        "AWS_DEFAULT_REGION": moto.layout.region,
    }
    proc = spawn(argv, log_path=log_path, env=env, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(
            f"{url}/v2/health/ready",
            name=f"kserve {variant}",
            timeout_s=120,
            pid=proc.pid,
            log_path=log_path,
        )
    except BaseException:
        stop(proc.pid)
        raise
    return proc.pid, url


@pytest.mark.parametrize(("variant", "workers"), [("shipped", 1), ("tuned", 2)])
def test_a_reference_anonymizes_an_upload_as_the_harness_drives_it(
    variant: str, workers: int, moto: Moto, triton: str, frame: bytes, tmp_path: Path
) -> None:
    s3 = moto.s3()
    image_id = f"{variant}-{uuid.uuid4().hex[:8]}"
    key = f"incoming/bench/2026/12/01/{image_id}.jpg"
    s3.put_object(Bucket=UPLOADS, Key=key, Body=frame)
    log = tmp_path / f"{variant}.log"
    pid, url = start_reference(variant, moto, triton, log, workers=workers)
    try:
        # KServe's own server binds 0.0.0.0; ours is told 127.0.0.1
        assert listening_addresses(int(url.rsplit(":", 1)[1])) == {"127.0.0.1"}

        headers, body = cloudevent(Upload(image_id, UPLOADS, key, "e", len(frame)))
        answer = requests.post(
            f"{url}/v1/models/person_segmenter:predict", headers=headers, data=body, timeout=60
        )
        assert answer.status_code == 200, (answer.text, log.read_text()[-3000:])
        prefix = f"results/bench/{image_id}/"
        assert answer.json() == {
            "outputs": {
                "image": prefix + "anonymized.jpg",
                "mask": prefix + "mask.png",
                "record": prefix + "result.json",
            }
        }
        anonymized = _image(s3, prefix + "anonymized.jpg", "RGB").astype(np.int16)
        mask = _image(s3, prefix + "mask.png", "L") > 0
        record = json.loads(
            s3.get_object(Bucket=RESULTS, Key=prefix + "result.json")["Body"].read()
        )
        original = np.asarray(Image.open(io.BytesIO(frame)).convert("RGB"), dtype=np.int16)

        assert mask.shape == original.shape[:2]
        assert 0.05 < mask.mean() < 0.6, mask.mean()  # the composite's people, not all or none
        assert record["source"] == {"bucket": UPLOADS, "key": key}
        assert record["mask_fraction"] == pytest.approx(mask.mean(), abs=1e-3)
        change = np.abs(anonymized - original).mean(axis=2)
        # hidden under the mask; outside it only the JPEG re-encoding differs
        assert change[mask].mean() > 8 * change[~mask].mean(), (
            change[mask].mean(),
            change[~mask].mean(),
        )
        assert change[~mask].mean() < 3

        bad = requests.post(
            f"{url}/v1/models/person_segmenter:predict",
            headers=headers,
            data=json.dumps({"detail-type": "Object Created", "source": "aws.s3"}),
            timeout=30,
        )
        assert bad.status_code == 400, bad.text
        assert "bucket and key" in bad.text
    finally:
        stop(pid)


def listening_addresses(port: int) -> set[str]:
    """The local addresses TCP sockets listen on at `port` (/proc/net/tcp and tcp6, Linux)."""
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                found.add(
                    ".".join(str(b) for b in reversed(raw)) if len(raw) == 4 else f"v6:{address}"
                )
    return found


def _image(s3: Any, key: str, mode: str) -> np.ndarray:
    data = s3.get_object(Bucket=RESULTS, Key=key)["Body"].read()
    return np.asarray(Image.open(io.BytesIO(data)).convert(mode))


# A model server on the references' `LoopbackModelServer` whose spawned workers each take
# SLOW_S to unpickle their model, as the references' workers take up to 8 s to import and unpickle
# theirs when two start together on the loaded bench machine.
SLOW_START = """
import os
import re
import sys
import time
import time

from kserve import Model

from bench.kserve_reference.server import LoopbackModelServer

SLOW_S = 7.0


class SlowToStart(Model):
    def load(self):
        self.home_pid = os.getpid()
        self.ready = True
        return self.ready

    def __setstate__(self, state):
        if os.getpid() != state["home_pid"]:  # unpickled in a spawned worker
            time.sleep(SLOW_S)
        self.__dict__.update(state)


if __name__ == "__main__":
    model = SlowToStart("slow")
    model.load()
    LoopbackModelServer(http_port=int(sys.argv[1]), workers=2).start([model])
"""


def test_kserve_supervisor_still_declares_a_worker_dead_after_a_5_s_ping() -> None:
    """The fact `StartupGraceSupervisor` works around (kserve 0.21.0,
    kserve/protocol/rest/multiprocess/server.py): the parent pings each worker 0.5 s after
    spawning it and kills one that has not answered within 5 s, with no flag to change it."""
    if not KSERVE_PYTHON.exists():
        pytest.skip(
            f"no KServe virtualenv at {KSERVE_PYTHON.parent.parent}: run `make kserve-venv`"
        )
    (source,) = (KSERVE_PYTHON.parent.parent / "lib").glob(
        "python3*/site-packages/kserve/protocol/rest/multiprocess/server.py"
    )
    text = source.read_text()
    assert "def is_alive(self, timeout: float = 5) -> bool:" in text
    assert "await asyncio.sleep(0.5)\n            await self.keep_subprocess_alive(sockets)" in text
    assert "if not process.is_alive():\n                process.kill()" in text


def test_workers_slower_to_start_than_kserve_s_ping_are_not_killed(tmp_path: Path) -> None:
    """Plain `kserve.ModelServer` kills and respawns such workers over and over ("Child process
    [N] died"); the references' server waits for each worker's first answer."""
    if not KSERVE_PYTHON.exists():
        pytest.skip(
            f"no KServe virtualenv at {KSERVE_PYTHON.parent.parent}: run `make kserve-venv`"
        )
    (tmp_path / "slow_start.py").write_text(SLOW_START)
    log = tmp_path / "slow_start.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV"}} | {
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO_ROOT}"
    }
    proc = spawn(
        [str(KSERVE_PYTHON), str(tmp_path / "slow_start.py"), str(port)],
        log_path=log,
        env=env,
        cwd=REPO_ROOT,
    )
    try:
        wait_http_ok(
            f"http://127.0.0.1:{port}/v2/health/ready",
            name="slow-starting kserve",
            timeout_s=120,
            pid=proc.pid,
            log_path=log,
        )
        started = set(re.findall(r"Started child process \[(\d+)\]", log.read_text()))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answered = set(re.findall(r"Child process \[(\d+)\] answered", log.read_text()))
            if answered >= started:
                break
            time.sleep(0.5)
        text = log.read_text()
        assert len(started) == 2, text[-3000:]
        assert answered == started, text[-3000:]
        assert "died" not in text, text[-3000:]
    finally:
        stop(proc.pid)
