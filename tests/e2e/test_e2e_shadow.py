"""Shadow mode through the real stack: three candidates beside the live demo model, one upload
batch, one report per candidate.

- `identical` (the same ONNX and config): IoU 1.0 on every image, privacy loss 0 → promote;
- `dim` (its config scales the input 25× too small, so it sees near-black frames): the people the
  live model masks are left visible → reject, the reason naming privacy loss;
- `edge-fails` (Triton errors on images with a white top edge): → reject naming the failures,
  exactly the white-edged images.

And the shadows' side effects: results only under shadow/<candidate>/, originals kept, no reply
of theirs among the customer replies.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.metrics import Thresholds
from ops.records import ResultStore
from ops.shadow import ShadowReport, shadow_report
from stack.candidates import make_candidate
from stack.config import REPO_ROOT, StackConfig
from stack.lifecycle import StackState, running_stack
from stack.shadow_demo import shadow_samples, wait_for_shadow
from stack.uploads import StackClient, Upload, wait_for_outcomes
from tests.e2e.conftest import E2E_DELIVERY, require_stack_tools
from tests.e2e.e2e_support import read_jsonl

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

TENANT = "shadow-e2e"
IMAGES = 9
WHITE_TOP_EVERY = 3  # scenes 0, 3, 6 have a white top edge
CANDIDATES = {"identical": "cand-identical", "dim": "cand-dim", "edge-fails": "cand-edge-fails"}
THRESHOLDS = Thresholds(min_images=IMAGES)


class Run:
    def __init__(self, state: StackState, client: StackClient, uploads: list[Upload]) -> None:
        self.state = state
        self.client = client
        self.uploads = uploads
        self.since = datetime.now(UTC) - timedelta(minutes=10)

    def report(self, kind: str) -> ShadowReport:
        return shadow_report(
            ResultStore(self.client.s3, self.state.results_bucket),
            model=CANDIDATES[kind],
            version="1",
            tenant=TENANT,
            since=self.since,
            until=datetime.now(UTC) + timedelta(minutes=1),
            thresholds=THRESHOLDS,
        )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    require_stack_tools()
    root = tmp_path_factory.mktemp("shadow-e2e")
    source = REPO_ROOT / "model_repository" / "person_segmenter"
    shadows = tuple(
        make_candidate(source, root / "candidates", name, kind)  # type: ignore[arg-type]
        for kind, name in CANDIDATES.items()
    )
    config = StackConfig(state_dir=root / "stack", delivery=E2E_DELIVERY, shadows=shadows)
    with running_stack(config) as state:
        client = StackClient(state)
        samples = shadow_samples(IMAGES, white_top_every=WHITE_TOP_EVERY)
        uploads = [
            client.upload(s.data, tenant=TENANT, image_id=s.name, ext=s.ext) for s in samples
        ]
        outcomes = wait_for_outcomes(client, uploads, timeout_s=300)
        assert [o.status for o in outcomes] == ["anonymized"] * IMAGES, [o.reason for o in outcomes]
        for name in CANDIDATES.values():
            wait_for_shadow(client, name, "1", uploads, timeout_s=300)
        yield Run(state, client, uploads)


def test_identical_candidate_agrees_on_every_image_and_is_promoted(run: Run) -> None:
    report = run.report("identical")
    assert len(report.images) == IMAGES
    assert [i.masks.iou for i in report.images if i.masks] == [1.0] * IMAGES
    assert all(i.masks is not None and i.masks.privacy_loss == 0.0 for i in report.images)
    assert report.verdict.promote, report.verdict.reasons
    assert report.files["verdict.json"].startswith('{\n  "promote": true')


def test_dim_candidate_is_rejected_for_privacy_loss(run: Run) -> None:
    report = run.report("dim")
    assert not report.verdict.promote
    assert report.verdict.reasons[0].startswith("privacy loss"), report.verdict.reasons
    assert report.summary.privacy_loss is not None and report.summary.privacy_loss.p95 > 0.5
    # the images with people are the worst ones, shown with both masks in the HTML
    assert report.worst and report.worst[0].masks is not None
    assert report.worst[0].masks.privacy_loss > 0.5
    assert report.files["report.html"].count("data:image/jpeg;base64,") >= 2


def test_candidate_failing_on_some_images_is_rejected_naming_them(run: Run) -> None:
    report = run.report("edge-fails")
    white_top = {f"scene-{i:02d}" for i in range(0, IMAGES, WHITE_TOP_EVERY)}
    failed = {i.image_id for i in report.images if i.new_failure}
    assert failed == white_top
    assert not report.verdict.promote
    assert any(
        r.startswith(f"failures: the candidate failed or produced no result on {len(white_top)}")
        for r in report.verdict.reasons
    ), report.verdict.reasons
    # where it answered, it is the live model
    assert all(i.masks.iou == 1.0 for i in report.images if i.masks is not None)


def test_shadows_write_only_under_shadow_delete_nothing_and_never_reply(run: Run) -> None:
    client, state = run.client, run.state
    keys = client.list_keys(state.results_bucket, "")
    live = [k for k in keys if k.startswith(f"results/{TENANT}/")]
    shadow = [k for k in keys if k.startswith("shadow/")]
    assert sorted(live + shadow) == sorted(keys)
    # the live model's three files per image and its time-index entry, nothing of a shadow's
    index = [k for k in live if k.startswith(f"results/{TENANT}/_index/")]
    assert len(live) - len(index) == 3 * IMAGES
    assert len(index) == IMAGES
    for upload in run.uploads:
        record = client.record(upload)
        assert record is not None and record["model"]["name"] == "person_segmenter"
    allowed = tuple(f"shadow/{name}/1/{TENANT}/" for name in CANDIDATES.values())
    assert all(k.startswith(allowed) for k in shadow), shadow
    # every original is still there
    for upload in run.uploads:
        assert client.get(state.uploads_bucket, upload.key) is not None
    # one customer reply per image, every one from the live transformer
    replies = read_jsonl(Path(state.replies_path))
    assert len(replies) == IMAGES
    assert {r["type"] for r in replies} == {"siteveil.image.anonymized"}
    assert {r["source"] for r in replies} == {"siteveil/transformer/person_segmenter"}
