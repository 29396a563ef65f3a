"""Person cut-outs from real photographs, as BGRA sprites.

Each person is given by a hand-measured bounding box in its photo; `cv2.grabCut`, initialised
with that rectangle, separates the person from the background, and the mask is cleaned and
feathered into an alpha channel. Sprites are computed once per process (`functools.cache`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from tools.simulator.errors import SimulatorError

logger = logging.getLogger(__name__)

PHOTOS_DIR = Path(__file__).resolve().parent / "photos"


class SpriteKind(StrEnum):
    standing = "standing"  # head to feet
    seated = "seated"  # head to waist: an officer behind a counter


@dataclass(frozen=True)
class PersonBox:
    """One whole person in a photo, measured by hand (pixels; x1/y1 exclusive).

    `outline` is a rough hand-drawn polygon of the person inside the box: grabCut starts from the
    rectangle with the outline as "probably person" (its eroded core as "surely person") and only
    decides the few pixels around it, which keeps legs that resemble the background. `cover_y`
    (seated people only) is the photo row from which a counter should hide the person.
    """

    photo: str
    kind: SpriteKind
    box: tuple[int, int, int, int]
    outline: tuple[tuple[int, int], ...]
    cover_y: int | None = None
    fade: tuple[str, ...] = ()  # box sides ("left", "right") that cut through the person


# fmt: off
PERSON_BOXES: tuple[PersonBox, ...] = (
    # bus.jpg (810x1080): the man in the cream coat, head to shoes.
    PersonBox(
        "bus.jpg", SpriteKind.standing, (46, 396, 250, 906),
        ((106, 420), (118, 402), (150, 403), (158, 412), (155, 440), (158, 462), (172, 478),
         (192, 500), (205, 560), (198, 600), (196, 695), (182, 702), (183, 750), (190, 800),
         (198, 850), (206, 858), (238, 878), (238, 896), (176, 898), (174, 870), (176, 850),
         (158, 808), (146, 760), (130, 722), (126, 714), (122, 722), (106, 760), (96, 800),
         (90, 848), (102, 880), (104, 900), (52, 900), (52, 880), (60, 850), (68, 800), (75, 750),
         (76, 705), (60, 692), (60, 560), (65, 480), (100, 462), (112, 452)),
    ),
    # bus.jpg: the man in the black jacket, head to shoes.
    PersonBox(
        "bus.jpg", SpriteKind.standing, (224, 402, 348, 862),
        ((272, 418), (278, 405), (298, 406), (308, 420), (310, 458), (304, 470), (318, 482),
         (332, 500), (340, 540), (334, 565), (330, 600), (331, 700), (328, 720), (318, 745),
         (300, 770), (300, 815), (292, 838), (295, 858), (262, 858), (252, 850), (248, 800),
         (243, 740), (240, 700), (230, 695), (230, 600), (234, 520), (242, 490), (268, 472),
         (270, 445)),
    ),
    # zidane.jpg (1280x720): Zidane leaning forward, his pointing arm cut at the sleeve.
    PersonBox(
        "zidane.jpg", SpriteKind.seated, (126, 202, 704, 720),
        ((560, 205), (610, 215), (650, 260), (662, 330), (660, 365), (650, 400), (660, 412),
         (700, 415), (700, 522), (668, 525), (662, 720), (128, 720), (160, 600), (180, 480),
         (210, 400), (275, 325), (470, 310), (480, 270), (505, 225)),
        cover_y=600,
        fade=("right",),
    ),
    # zidane.jpg: Ancelotti; Zidane's hand in front of his chest stays below the counter.
    PersonBox(
        "zidane.jpg", SpriteKind.seated, (752, 40, 1136, 720),
        ((900, 110), (930, 60), (985, 44), (1040, 60), (1070, 115), (1062, 200), (1040, 260),
         (1030, 290), (1045, 318), (1080, 400), (1100, 520), (1130, 715), (757, 718), (759, 360),
         (790, 300), (815, 288), (895, 235), (905, 180)),
        cover_y=400,
    ),
    # astronaut.jpg (512x512): Eileen Collins; the helmet she holds stays below the counter.
    PersonBox(
        "astronaut.jpg", SpriteKind.seated, (20, 12, 368, 512),
        ((153, 69), (170, 30), (225, 15), (280, 28), (300, 62), (300, 90), (292, 120), (274, 134), (268, 150),
         (285, 165), (306, 200), (306, 250), (318, 272), (350, 292), (362, 320), (365, 345), (300, 370),
         (286, 430), (280, 512), (25, 512), (25, 375), (31, 325), (44, 269), (75, 225), (112, 190),
         (144, 156), (165, 150), (156, 106)),
        cover_y=330,
    ),
    # camera.jpg (512x512): the cameraman, whose back the photo's left border cuts; the tripod
    # stays below the counter.
    PersonBox(
        "camera.jpg", SpriteKind.seated, (0, 62, 334, 512),
        ((159, 102), (180, 75), (206, 64), (245, 72), (269, 109), (262, 140), (325, 140),
         (330, 190), (328, 200), (310, 245), (294, 284), (190, 298), (158, 350), (150, 380),
         (150, 512), (0, 512), (0, 246), (75, 134), (150, 106)),
        cover_y=310,
        fade=("left",),
    ),
)
# fmt: on

_PAD = 48  # background pixels around the box that grabCut uses to model the background
_SURE_CORE_PX = 9  # the outline eroded this much is surely the person
_UNSURE_BAND_PX = 5  # grabCut decides this far outside the outline; beyond it is background
_GRABCUT_ITERATIONS = 5


@dataclass(frozen=True)
class Sprite:
    """A person cropped to their own extent: `bgra[..., 3]` is the alpha (0-255).

    `cover_fraction` (seated sprites): the counter should hide the sprite from this fraction of its
    height downwards; 1.0 for standing people.
    """

    name: str
    kind: SpriteKind
    bgra: np.ndarray
    cover_fraction: float = 1.0

    @property
    def height(self) -> int:
        return int(self.bgra.shape[0])

    @property
    def width(self) -> int:
        return int(self.bgra.shape[1])

    @property
    def aspect(self) -> float:
        """width / height"""
        return self.width / self.height


@cache
def load_photo(name: str) -> np.ndarray:
    path = PHOTOS_DIR / name
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SimulatorError(f"cannot read photo {path}")
    return image


def cut_out(person: PersonBox) -> Sprite:
    """Segment one person with grabCut and return them as a feathered BGRA sprite."""
    photo = load_photo(person.photo)
    height, width = photo.shape[:2]
    bx0, by0, bx1, by1 = person.box
    if not (0 <= bx0 < bx1 <= width and 0 <= by0 < by1 <= height):
        raise SimulatorError(f"person box {person.box} lies outside {person.photo} ({width}x{height})")
    # Work on a padded crop: grabCut needs only the neighbourhood to model the background.
    cx0, cy0 = max(0, bx0 - _PAD), max(0, by0 - _PAD)
    cx1, cy1 = min(width, bx1 + _PAD), min(height, by1 + _PAD)
    crop = np.ascontiguousarray(photo[cy0:cy1, cx0:cx1])
    mask = _initial_mask(crop.shape[:2], person, (cx0, cy0))
    bgd_model = np.zeros((1, 65), np.float64)
    fgd_model = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    rect = (bx0 - cx0, by0 - cy0, bx1 - bx0, by1 - by0)
    cv2.grabCut(crop, mask, rect, bgd_model, fgd_model, _GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    foreground = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    foreground = _largest_component(_smooth(foreground))
    ys, xs = np.nonzero(foreground)
    if len(ys) == 0:
        raise SimulatorError(f"grabCut found nobody in {person.photo} {person.box}")
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    alpha = cv2.GaussianBlur(foreground.astype(np.float32), (5, 5), 1.2)
    for side in person.fade:  # a person cut by the box or photo fades out instead of ending sharply
        alpha *= _fade(alpha.shape, rect, side)
    bgra = np.dstack([crop, np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)])[y0:y1, x0:x1]
    cover = 1.0
    if person.cover_y is not None:
        cover = min(1.0, max(0.05, (person.cover_y - cy0 - y0) / (y1 - y0)))
    name = f"{Path(person.photo).stem}-{bx0}-{by0}"
    logger.debug("sprite %s: %dx%d from %s", name, x1 - x0, y1 - y0, person.photo)
    return Sprite(name=name, kind=person.kind, bgra=np.ascontiguousarray(bgra), cover_fraction=cover)


def _initial_mask(shape: tuple[int, int], person: PersonBox, origin: tuple[int, int]) -> np.ndarray:
    """Background outside the box; inside it, probably-background, then the outline as
    probably-person around a surely-person core."""
    ox, oy = origin
    outline = np.zeros(shape, np.uint8)
    points = np.array([[x - ox, y - oy] for x, y in person.outline], np.int32)
    cv2.fillPoly(outline, [points], 1)
    core = cv2.erode(outline, _disk(_SURE_CORE_PX))
    band = cv2.dilate(outline, _disk(_UNSURE_BAND_PX))
    box = np.zeros(shape, bool)
    bx0, by0, bx1, by1 = person.box
    box[by0 - oy : by1 - oy, bx0 - ox : bx1 - ox] = True
    mask = np.full(shape, cv2.GC_BGD, np.uint8)
    mask[box & (band > 0)] = cv2.GC_PR_BGD
    mask[box & (outline > 0)] = cv2.GC_PR_FGD
    mask[box & (core > 0)] = cv2.GC_FGD
    return mask


def _fade(shape: tuple[int, ...], rect: tuple[int, int, int, int], side: str, ramp: int = 24) -> np.ndarray:
    """Alpha factor falling to 0 over the last `ramp` pixels before one side of the rectangle."""
    x, _, w, _ = rect
    xs = np.arange(shape[1], dtype=np.float32)
    if side == "right":
        ramp_values = (x + w - xs) / ramp
    elif side == "left":
        ramp_values = (xs - x + 1) / ramp
    else:
        raise SimulatorError(f"no side {side!r} to fade")
    return np.broadcast_to(np.clip(ramp_values, 0.0, 1.0)[None, :], shape[:2])


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _smooth(mask: np.ndarray) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == biggest).astype(np.uint8)


@cache
def sprites(kind: SpriteKind) -> tuple[Sprite, ...]:
    """All sprites of one kind, in the fixed order of PERSON_BOXES."""
    found = tuple(cut_out(box) for box in PERSON_BOXES if box.kind is kind)
    if not found:
        raise SimulatorError(f"no {kind.value} sprites")
    return found
