"""Scene geometry and ground truth: people inside the frame, apart, of the asked heights, their masks
and face boxes where their pixels are; the same seed gives the same frames."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.scenes import (
    GAP_PX,
    HEIGHT_BINS,
    RESOLUTIONS,
    PlacedPerson,
    Scene,
    background,
    height_bin,
    make_scene,
    paste,
    scenes,
)
from evaluation.sources import (
    LFW_FACES,
    PORTRAITS,
    WHOLE_BODIES,
    WORKER_FACE,
    Person,
    is_drawn,
    portrait_person,
    worker,
)

heights = st.integers(min_value=40, max_value=800)


def apart(a: PlacedPerson, b: PlacedPerson) -> bool:
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a.box, b.box
    return ax1 + GAP_PX <= bx0 or bx1 + GAP_PX <= ax0 or ay1 + GAP_PX <= by0 or by1 + GAP_PX <= ay0


def check_ground_truth(scene: Scene) -> None:
    w, h = RESOLUTIONS[scene.resolution]
    assert scene.rgb.shape == (h, w, 3) and scene.rgb.dtype == np.uint8
    for i, person in enumerate(scene.people):
        x0, y0, x1, y1 = person.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, "inside the frame"
        assert person.body.shape == (y1 - y0, x1 - x0)
        # The box is the body's bounding rectangle (up to a pixel lost to scaling at each side).
        rows, cols = np.nonzero(person.body)
        assert rows.min() <= 1 and rows.max() >= person.body.shape[0] - 2
        assert cols.min() <= 1 and cols.max() >= person.body.shape[1] - 2
        fx0, fy0, fx1, fy1 = person.face
        assert x0 <= fx0 < fx1 <= x1 and y0 <= fy0 < fy1 <= y1, "face inside the body's box"
        face_on_body = person.body[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0].mean()
        assert face_on_body > 0.7, "the face box lies on the body"
        assert person.body_mask((h, w)).sum() == person.body.sum()
        for other in scene.people[i + 1 :]:
            assert apart(person, other), f"{person.box} and {other.box} overlap"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), wanted=st.lists(heights, min_size=1, max_size=6))
def test_people_are_inside_apart_and_as_tall_as_asked(seed: int, wanted: list[int]) -> None:
    scene = make_scene("s", "1080p", wanted, np.random.default_rng(seed))
    check_ground_truth(scene)
    got = sorted(p.height for p in scene.people)
    assert got, "at least the first (largest) person always fits an empty frame"
    remaining = list(wanted)
    for height in got:  # each placed person is one of the asked heights, exactly
        remaining.remove(height)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_a_generated_set_covers_every_bin_at_each_resolution(seed: int) -> None:
    found: dict[str, set[tuple[int, int]]] = {}
    frames = list(
        scenes(seed=seed, frames_per_resolution=2, person_free=1, resolutions=("540p", "1080p"))
    )
    assert [f.name for f in frames] == [
        "540p-people-000",
        "540p-people-001",
        "1080p-people-000",
        "1080p-people-001",
        "540p-empty-000",
    ]
    for frame in frames:
        check_ground_truth(frame)
        for person in frame.people:
            bounds = height_bin(person.height)
            assert bounds is not None
            found.setdefault(frame.resolution, set()).add(bounds)
    assert found["1080p"] == set(HEIGHT_BINS)
    assert frames[-1].people == ()


def test_the_same_seed_gives_the_same_frames_and_another_seed_others() -> None:
    def run(seed: int) -> list[Scene]:
        return list(scenes(seed=seed, frames_per_resolution=1, person_free=1, resolutions=["540p"]))

    first, again, other = run(7), run(7), run(8)
    for a, b in zip(first, again, strict=True):
        assert a.name == b.name and np.array_equal(a.rgb, b.rgb)
        assert [(p.box, p.face, p.source) for p in a.people] == [
            (p.box, p.face, p.source) for p in b.people
        ]
        assert all(np.array_equal(p.body, q.body) for p, q in zip(a.people, b.people, strict=True))
    assert not np.array_equal(first[0].rgb, other[0].rgb)


def test_pasting_writes_the_person_exactly_on_its_mask() -> None:
    rng = np.random.default_rng(3)
    frame = background(rng, (640, 360))
    before = frame.copy()
    person = portrait_person(PORTRAITS[0])
    assert person is not None
    scaled, box = paste(frame, person, 200, (50, 40))
    x0, y0, x1, y1 = box
    assert (y1 - y0) == 200 and scaled.body.shape == (200, x1 - x0)
    region, was = frame[y0:y1, x0:x1], before[y0:y1, x0:x1]
    assert np.array_equal(region[scaled.body], scaled.rgb[scaled.body])
    assert np.array_equal(region[~scaled.body], was[~scaled.body])
    outside = np.ones(frame.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(frame[outside], before[outside])


def test_person_free_frames_and_bad_requests() -> None:
    [empty] = scenes(seed=1, frames_per_resolution=0, person_free=1, resolutions=["540p"])
    assert empty.people == () and empty.rgb.std() > 5, "textured ground, not a flat frame"
    with pytest.raises(ValueError, match="resolution"):
        list(scenes(seed=1, frames_per_resolution=1, person_free=0, resolutions=["8k"]))
    with pytest.raises(ValueError, match="height"):
        make_scene("s", "1080p", [39], np.random.default_rng(0))
    with pytest.raises(ValueError, match="height"):
        make_scene("s", "540p", [600], np.random.default_rng(0))


@pytest.mark.parametrize("portrait", PORTRAITS, ids=lambda p: p.name)
def test_each_portrait_annotation_is_consistent(portrait: object) -> None:
    person = portrait_person(portrait)  # type: ignore[arg-type]
    if person is None:
        pytest.skip(f"{portrait} is not installed (matplotlib ships grace_hopper.jpg)")
    x0, y0, x1, y1 = person.face
    assert person.body[y0:y1, x0:x1].mean() > 0.9, "the face is on the body polygon"
    assert 0.1 < person.body.mean() < 0.95
    assert person.rgb[person.body].std() > 20, "real picture content, not a blank"


@pytest.mark.parametrize("photo", WHOLE_BODIES, ids=lambda p: p.name)
def test_each_whole_body_photograph_is_a_tall_person_with_a_small_face(photo: object) -> None:
    person = portrait_person(photo)  # type: ignore[arg-type]
    # `make test` fetches them (TEST_DEPS: .cache/eval/messi5.jpg, basketball1.png)
    assert person is not None, f"{photo} is not in .cache/eval: run `make test` or `make eval`"
    x0, y0, x1, y1 = person.face
    assert person.body[y0:y1, x0:x1].mean() > 0.9, "the face is on the body polygon"
    assert (y1 - y0) / person.body.shape[0] < 1 / 6, "a whole body: the face is small for it"
    assert y0 < person.body.shape[0] / 3, "the face is near the top"
    assert person.rgb[person.body].std() > 20, "real picture content, not a blank"


def test_a_set_pastes_portraits_whole_bodies_and_drawn_workers() -> None:
    sources = [p.source for s in scenes(seed=5, frames_per_resolution=3, person_free=0)
               for p in s.people]  # fmt: skip
    names = {p.name for p in WHOLE_BODIES}
    drawn = [s for s in sources if is_drawn(s)]
    whole = [s for s in sources if s in names]
    assert drawn and whole and len(drawn) + len(whole) < len(sources)
    assert not any(is_drawn(p.name) for p in PORTRAITS + WHOLE_BODIES)


def test_workers_wear_a_real_face_from_lfw() -> None:
    rng = np.random.default_rng(0)
    a, b = worker(0, rng), worker(1, rng)
    assert a.face == b.face
    assert a.face[2] - a.face[0] == WORKER_FACE[2] - WORKER_FACE[0]
    x0, y0, x1, y1 = a.face
    assert not np.array_equal(a.rgb[y0:y1, x0:x1], b.rgb[y0:y1, x0:x1])
    assert a.body[y0:y1, x0:x1].all()
    with pytest.raises(ValueError, match="LFW"):
        worker(LFW_FACES, rng)


def test_a_person_with_a_face_outside_it_is_refused() -> None:
    with pytest.raises(ValueError, match="face box"):
        Person("x", np.zeros((10, 10, 3), np.uint8), np.ones((10, 10), bool), (5, 5, 12, 8))


def test_kinds_choose_who_is_pasted_and_unknown_kinds_are_refused() -> None:
    only = [p.source for s in scenes(seed=5, frames_per_resolution=2, person_free=0,
                                     kinds=("drawn", "portrait")) for p in s.people]  # fmt: skip
    names = {p.name for p in WHOLE_BODIES}
    assert not any(s in names for s in only) and any(is_drawn(s) for s in only)
    with pytest.raises(ValueError, match="kinds"):
        next(scenes(seed=5, frames_per_resolution=1, person_free=0, kinds=("cartoon",)))
