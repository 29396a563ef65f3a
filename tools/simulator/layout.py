"""Where people may stand in a camera's frame: pure geometry shared by the script (how many people
fit in a zone) and the renderer (where exactly they go).

Standing people are placed in one horizontal row near the front (bottom) of their zone, so that
every person stays individually visible: boxes overlap by at most `MAX_OVERLAP` of a width. A
person's foot point (bottom-centre of their box) keeps `margin` pixels inside their own zone and
away from every other zone, desk zones included.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.config import CameraConfig, ZoneConfig, ZoneKind

MAX_QUEUE = 5
MAX_SELF_SERVICE = 2
MAX_STANDING_ASPECT = 0.40  # width / height of the widest standing sprite (checked by the tests)
MAX_OVERLAP = 0.10  # of the narrower person's width; kept well under the 15 % that is still detectable
MARGIN_FRACTION = 0.03  # of the frame height: how far foot points keep inside their zone
STANDING_HEIGHT_FAR = 0.32  # of the frame height, for feet at FAR_Y
STANDING_HEIGHT_NEAR = 0.42  # for feet at the bottom of the frame
FAR_Y = 0.55


@dataclass(frozen=True)
class Row:
    """Feet of a zone's people go on row `y`, with foot x anywhere in [x0, x1]."""

    y: int
    x0: int
    x1: int
    person_height: int

    @property
    def length(self) -> int:
        return self.x1 - self.x0


def zone_points(zone: ZoneConfig, width: int, height: int) -> np.ndarray:
    """The zone polygon in pixels, int32 Nx2."""
    return np.array([[round(x * width), round(y * height)] for x, y in zone.polygon], np.int32)


def zone_mask(zone: ZoneConfig, width: int, height: int) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [zone_points(zone, width, height)], 1)
    return mask


def margin_px(height: int) -> int:
    return max(2, round(MARGIN_FRACTION * height))


def standing_height(foot_y: float, height: int) -> int:
    """People nearer the camera (lower feet) look taller: 32 % of the frame height far, 42 % near."""
    depth = min(1.0, max(0.0, (foot_y / height - FAR_Y) / (1.0 - FAR_Y)))
    return round((STANDING_HEIGHT_FAR + (STANDING_HEIGHT_NEAR - STANDING_HEIGHT_FAR) * depth) * height)


def foot_region(camera: CameraConfig, zone: ZoneConfig, width: int, height: int) -> np.ndarray:
    """Pixels where a foot point of `zone` may go: inside the zone by the margin, and outside every
    other zone of the camera by the margin."""
    margin = margin_px(height)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    # Outside the frame counts as outside the zone: feet keep the margin from the frame edge too.
    inside = cv2.erode(zone_mask(zone, width, height), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    allowed: np.ndarray = inside > 0
    for other in camera.zones:
        if other.id != zone.id:
            allowed &= cv2.dilate(zone_mask(other, width, height), kernel) == 0
    return allowed


def standing_row(camera: CameraConfig, zone: ZoneConfig, width: int, height: int) -> Row | None:
    """The row for a queue or self-service zone: as near the front as the zone allows, on its longest
    run of allowed pixels; None if no foot point fits at all."""
    if zone.kind is ZoneKind.desk:
        raise ValueError(f"zone {zone.id} is a desk: nobody stands there")
    allowed = foot_region(camera, zone, width, height)
    rows = np.flatnonzero(allowed.any(axis=1))
    if len(rows) == 0:
        return None
    # Leave room above the front-most row for a little stagger of the feet.
    stagger = round(0.02 * height)
    candidates = [y for y in rows[::-1] if y <= rows[-1] - stagger] or [int(rows[-1])]
    best: Row | None = None
    for y in candidates[: max(1, round(0.15 * height))]:
        x0, x1 = _longest_run(allowed[y])
        person_height = standing_height(y, height)
        half = MAX_STANDING_ASPECT * person_height / 2
        # Whole people stay inside the frame.
        x0, x1 = max(x0, int(np.ceil(half))), min(x1, int(width - half))
        if x1 < x0:
            continue
        row = Row(y=int(y), x0=int(x0), x1=int(x1), person_height=person_height)
        if best is None or row.length > best.length * 1.25:
            best = row
    return best


def capacity(camera: CameraConfig, zone: ZoneConfig, width: int, height: int) -> int:
    """How many standing people fit side by side in the zone's row (capped by the kind's maximum)."""
    limit = MAX_QUEUE if zone.kind is ZoneKind.queue else MAX_SELF_SERVICE
    row = standing_row(camera, zone, width, height)
    if row is None:
        return 0
    widest = MAX_STANDING_ASPECT * row.person_height
    fits = 1 + int(row.length // (widest * (1.0 - MAX_OVERLAP)))
    return min(limit, fits)


def _longest_run(line: np.ndarray) -> tuple[int, int]:
    """First and last index of the longest run of non-zero values."""
    padded = np.concatenate([[0], (line > 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    starts, ends = edges[::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest]) - 1
