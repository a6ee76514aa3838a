"""The people pasted into evaluation scenes: images that installed packages ship, annotated once.

Each source is a person cut out of a picture by a hand-drawn body polygon, with the box of the
face (brow to chin, ear to ear as seen) in the same pixel coordinates. The annotations were drawn
on the images as scikit-image 0.26 and matplotlib 3.10 ship them (`skimage.data.astronaut()`,
`skimage.data.camera()`, `mpl-data/sample_data/grace_hopper.jpg`); the polygons follow the person
closely and leave props (the astronaut's helmet, the cameraman's camera and tripod) outside.

Portraits show a head and torso, so their face is large for their height. Distant people are
whole bodies with a small face (a seventh of their height or less): two photographs of whole
people from OpenCV's sample data as Debian's `opencv-doc` ships it (`messi5.jpg`, `basketball1.png`;
`evaluation.opencv_doc` fetches them pinned), annotated the same way, and drawn site workers:
`worker()` draws one (helmet, hi-vis vest, trousers, boots) around a real face from
scikit-image's `lfw_subset()` (the first 100 of its 200 25×25 crops are faces). The drawn workers
are a stress case, not people: no COCO-trained detector available here takes the drawing for a
person (`is_drawn()` tells them apart in the report).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from evaluation import opencv_doc

Point = tuple[int, int]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels


@dataclass(frozen=True, slots=True)
class Person:
    """One person ready to paste: RGB pixels, the person's pixel mask, the face box in them."""

    name: str
    rgb: np.ndarray  # H×W×3 uint8
    body: np.ndarray  # H×W bool
    face: Box

    def __post_init__(self) -> None:
        h, w = self.body.shape
        if self.rgb.shape != (h, w, 3) or self.rgb.dtype != np.uint8:
            raise ValueError(f"{self.name}: rgb must be {h}×{w}×3 uint8, got {self.rgb.shape}")
        x0, y0, x1, y1 = self.face
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise ValueError(f"{self.name}: face box {self.face} is not inside {w}×{h}")


@dataclass(frozen=True, slots=True)
class Portrait:
    """A person in a shipped picture: where to find the picture and the hand-drawn annotation."""

    name: str
    load: Callable[[], np.ndarray | None]  # RGB uint8, or None when the package is absent
    body: tuple[Point, ...]  # polygon, source pixels
    face: Box  # source pixels


def _astronaut() -> np.ndarray:
    from skimage import data

    return np.asarray(data.astronaut())


def _camera() -> np.ndarray:
    from skimage import data

    grey = np.asarray(data.camera())
    return np.stack([grey] * 3, axis=-1)


def _grace_hopper() -> np.ndarray | None:
    try:
        import matplotlib
    except ImportError:
        return None
    path = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# skimage.data.astronaut(), 512×512: Eileen Collins in an orange suit, helmet (a prop) bottom right.
ASTRONAUT = Portrait(
    name="astronaut",
    load=_astronaut,
    body=(
        (225, 12), (268, 18), (296, 50), (298, 100), (284, 140), (300, 160), (306, 200),
        (335, 215), (352, 250), (366, 330), (305, 350), (288, 400), (278, 511), (22, 511), (24, 380), (38, 295),
        (70, 240), (112, 205), (122, 168), (160, 150), (152, 95), (165, 40),
    ),
    face=(176, 66, 274, 170),
)  # fmt: skip

# skimage.data.camera(), 512×512 grey: a cameraman in profile; camera and tripod left out.
CAMERAMAN = Portrait(
    name="cameraman",
    load=_camera,
    body=(
        (188, 66), (240, 70), (262, 100), (256, 140), (258, 185), (300, 188), (326, 200),
        (322, 228), (288, 262), (238, 298), (165, 292), (152, 400), (152, 511), (0, 511),
        (0, 262), (30, 200), (70, 160), (120, 125), (158, 108), (164, 82),
    ),
    face=(176, 100, 258, 200),
)  # fmt: skip

# matplotlib's sample_data/grace_hopper.jpg, 512 wide × 600 high: Grace Hopper in uniform and cap.
GRACE_HOPPER = Portrait(
    name="grace_hopper",
    load=_grace_hopper,
    body=(
        (240, 24), (322, 30), (352, 70), (372, 122), (366, 200), (356, 280), (342, 318),
        (420, 368), (490, 390), (511, 430), (511, 599), (14, 599), (20, 430), (60, 380),
        (150, 340), (184, 310), (164, 250), (154, 180), (170, 120), (176, 70),
    ),
    face=(160, 148, 370, 326),
)  # fmt: skip

PORTRAITS = (ASTRONAUT, CAMERAMAN, GRACE_HOPPER)


def _opencv_sample(name: str) -> Callable[[], np.ndarray | None]:
    def load() -> np.ndarray | None:
        path = opencv_doc.cached(name)
        bgr = None if path is None else cv2.imread(str(path), cv2.IMREAD_COLOR)
        return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    return load


# opencv-doc's messi5.jpg, 548×342: a footballer striking the ball, arms spread, 275 px tall
# from hair to boot; the face is a seventh of that. The ball and the crowd are left out.
FOOTBALLER = Portrait(
    name="footballer",
    load=_opencv_sample("messi5.jpg"),
    body=(
        (235, 61), (255, 67), (264, 85), (260, 100), (256, 112), (270, 111), (295, 120),
        (307, 132), (325, 147), (350, 156), (370, 157), (378, 165), (372, 170), (357, 175),
        (345, 172), (320, 162), (300, 155), (292, 172), (300, 210), (320, 222), (345, 235),
        (370, 238), (390, 240), (415, 252), (440, 262), (455, 277), (452, 287), (435, 285),
        (417, 275), (385, 264), (360, 265), (340, 260), (330, 272), (295, 275), (270, 287),
        (272, 300), (292, 312), (305, 325), (305, 334), (255, 335), (250, 325), (235, 315),
        (220, 295), (222, 280), (230, 260), (225, 235), (210, 195), (200, 160), (172, 146),
        (160, 145), (125, 122), (97, 110), (75, 97), (69, 90), (80, 87), (105, 95), (150, 112),
        (165, 116), (210, 112), (207, 90), (215, 70),
    ),
    face=(219, 94, 257, 134),
)  # fmt: skip

# opencv-doc's basketball1.png, 640×480 grey: the man on the left, standing, catching the ball
# (the ball left out), 400 px from hair to shoes; the face is an eighth of that.
CATCHER = Portrait(
    name="catcher",
    load=_opencv_sample("basketball1.png"),
    body=(
        (75, 82), (95, 80), (105, 90), (108, 115), (103, 135), (100, 145), (125, 155),
        (140, 150), (150, 140), (162, 148), (160, 165), (150, 170), (140, 200), (135, 215),
        (128, 240), (130, 290), (135, 330), (135, 380), (132, 445), (150, 455), (155, 468),
        (130, 472), (110, 465), (105, 420), (95, 330), (88, 330), (80, 420), (80, 470),
        (75, 480), (45, 480), (42, 470), (45, 380), (45, 290), (40, 260), (38, 200), (38, 160),
        (55, 148), (62, 140), (58, 115), (60, 92),
    ),
    face=(62, 90, 106, 140),
)  # fmt: skip

WHOLE_BODIES = (FOOTBALLER, CATCHER)
LFW_FACES = 100  # skimage.data.lfw_subset(): images 0..99 are faces, 100..199 are not
DRAWN_PREFIX = "worker-"  # the name of every drawn worker starts so


def is_drawn(source: str) -> bool:
    """Whether a placed person's source is a drawn worker rather than a photographed person."""
    return source.startswith(DRAWN_PREFIX)


# The drawn worker, on a 96×224 canvas: face box and the parts around it (pixels).
WORKER_SIZE = (96, 224)  # width, height
WORKER_FACE: Box = (32, 25, 64, 57)
_HELMETS = ((245, 245, 240), (250, 205, 30), (240, 120, 20), (40, 90, 200))
_VESTS = ((250, 120, 20), (210, 240, 40), (240, 90, 40))
_TROUSERS = ((40, 45, 60), (70, 60, 45), (30, 30, 30), (55, 70, 95))


def portrait_person(portrait: Portrait) -> Person | None:
    """The portrait's person cut to the polygon's bounding box, or None when not installed."""
    pixels = portrait.load()
    if pixels is None:
        return None
    h, w = pixels.shape[:2]
    polygon = np.array(portrait.body, dtype=np.int32)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [polygon], 1)
    x, y, bw, bh = cv2.boundingRect(polygon)
    fx0, fy0, fx1, fy1 = portrait.face
    return Person(
        name=portrait.name,
        rgb=np.ascontiguousarray(pixels[y : y + bh, x : x + bw]),
        body=mask[y : y + bh, x : x + bw].astype(bool),
        face=(fx0 - x, fy0 - y, fx1 - x, fy1 - y),
    )


@cache
def _lfw() -> np.ndarray:
    from skimage import data

    faces = np.asarray(data.lfw_subset()[:LFW_FACES])
    return (np.clip(faces, 0, 1) * 255).round().astype(np.uint8)


def worker(index: int, rng: np.random.Generator) -> Person:
    """A whole-body site worker drawn around LFW face `index` (0..99), colours from `rng`."""
    if not 0 <= index < LFW_FACES:
        raise ValueError(f"LFW face index must be in 0..{LFW_FACES - 1}, got {index}")
    w, h = WORKER_SIZE
    rgb = np.zeros((h, w, 3), np.uint8)
    body = np.zeros((h, w), np.uint8)

    skin = tuple(int(c) for c in rng.integers(90, 220, 3))
    vest = _VESTS[int(rng.integers(len(_VESTS)))]
    trousers = _TROUSERS[int(rng.integers(len(_TROUSERS)))]
    helmet = _HELMETS[int(rng.integers(len(_HELMETS)))]
    torso = np.array([(22, 60), (74, 60), (70, 132), (26, 132)], np.int32)
    cv2.fillPoly(rgb, [torso], vest)
    cv2.fillPoly(body, [torso], 1)
    rectangles: list[tuple[Point, Point, tuple[int, ...]]] = [
        *(((x0, 62), (x0 + 11, 128), vest) for x0 in (10, 74)),  # sleeves
        *(((x0, 128), (x0 + 11, 140), skin) for x0 in (10, 74)),  # hands
        *(((x0, 132), (x0 + 18, 210), trousers) for x0 in (27, 50)),
        *(((x0 - 2, 210), (x0 + 20, 223), (35, 35, 35)) for x0 in (27, 50)),  # boots
        ((42, 56), (54, 62), skin),  # neck
        ((24, 20), (72, 24), helmet),  # brim
    ]
    for top_left, bottom_right, colour in rectangles:
        cv2.rectangle(rgb, top_left, bottom_right, colour, -1)
        cv2.rectangle(body, top_left, bottom_right, 1, -1)
    cv2.ellipse(rgb, (48, 22), (20, 16), 0, 180, 360, helmet, -1)
    cv2.ellipse(body, (48, 22), (20, 16), 0, 180, 360, 1, -1)
    for y in (92, 112):  # reflective stripes
        cv2.rectangle(rgb, (22, y), (74, y + 5), (225, 225, 215), -1)
    fx0, fy0, fx1, fy1 = WORKER_FACE
    face = cv2.resize(_lfw()[index], (fx1 - fx0, fy1 - fy0), interpolation=cv2.INTER_CUBIC)
    rgb[fy0:fy1, fx0:fx1] = face[..., None]
    body[fy0:fy1, fx0:fx1] = 1
    # Cloth is not flat: a little noise keeps the segmenter and the metrics honest.
    noise = rng.normal(0, 6, (h, w, 1))
    outside_face = np.ones((h, w, 1), bool)
    outside_face[fy0:fy1, fx0:fx1] = False
    textured = np.clip(rgb + noise * outside_face, 0, 255).astype(np.uint8)
    x, y, bw, bh = cv2.boundingRect(body)  # crop to the body, as portraits are
    return Person(
        f"{DRAWN_PREFIX}lfw{index}",
        np.ascontiguousarray(textured[y : y + bh, x : x + bw]),
        body[y : y + bh, x : x + bw].astype(bool),
        (fx0 - x, fy0 - y, fx1 - x, fy1 - y),
    )
