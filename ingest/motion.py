"""Whether a camera's picture changed where it matters since the detector last looked at it.

Most of the time a hall camera shows the same scene as a second ago: seated officers, a queue that
has not moved. As Frigate does, the detector runs only when something moved, and the last
detections stand for the frames in between. Unlike Frigate, the comparison is not with the previous
frame but with the frame the detector last saw, so a slow change (someone edging into a zone) adds
up until it counts. Only the pixels in and near the camera's zones are compared, on the brightness
plane at reduced resolution (no colour conversion), blurred so that compression noise does not
count. A refresh after `refresh_s` without a detection re-confirms a still scene anyway, so a
detection the model missed once is not kept for ever. Each refresh comes after 75-100 % of
`refresh_s` (a seeded draw per camera and refresh), so that cameras started together do not all
call on the detector in the same second.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import cv2
import numpy as np

ZonePolygon = Sequence[tuple[float, float]]
REFRESH_SPREAD = 0.25


class MotionGate:
    """One camera's motion gate: `changed(luma, ts)` says whether the detector should look at this
    frame; `looked(luma, ts)` records the frame it looked at."""

    def __init__(
        self, zones: Sequence[ZonePolygon], *, refresh_s: float, pixel_threshold: int = 25,
        min_changed: float = 0.002, margin: float = 0.1, seed: int | str = 0,
    ) -> None:
        """`pixel_threshold`: brightness difference (0-255, after blurring) that makes a pixel count
        as changed; `min_changed`: share of the watched pixels that must change; `margin`: each
        zone's bounding box grows by this share of its size on every side (people rise above floor
        zones). Without zones the whole picture is watched."""
        if refresh_s <= 0 or not 0 < pixel_threshold < 256 or not 0.0 < min_changed < 1.0 or margin < 0:
            raise ValueError(f"bad motion gate settings: refresh_s={refresh_s}, pixel_threshold={pixel_threshold}, "
                             f"min_changed={min_changed}, margin={margin}")
        self.refresh_s = refresh_s
        self.pixel_threshold = pixel_threshold
        self.min_changed = min_changed
        self._boxes = [_grown_box(zone, margin) for zone in zones]
        self._reference: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._looked_at: float | None = None
        self._refresh_at = 0.0
        self._random = random.Random(seed)
        self.last_change = 0.0  # share of watched pixels changed, at the last `changed`

    def changed(self, luma: np.ndarray, ts: float) -> bool:
        """True when the detector should look: first frame, new size, refresh due, or enough change."""
        if self._reference is None or self._looked_at is None or self._reference.shape != luma.shape:
            self.last_change = 1.0
            return True
        if ts >= self._refresh_at or ts < self._looked_at:
            return True
        assert self._mask is not None
        diff = cv2.absdiff(_smooth(luma), self._reference)
        moved = np.count_nonzero((diff > self.pixel_threshold) & self._mask)
        self.last_change = moved / max(1, int(np.count_nonzero(self._mask)))
        return bool(self.last_change >= self.min_changed)

    def looked(self, luma: np.ndarray, ts: float) -> None:
        """The detector looked at this frame: the next frames are compared with it."""
        if self._reference is None or self._reference.shape != luma.shape:
            self._mask = _mask(self._boxes, luma.shape)
        self._reference = _smooth(luma)
        self._looked_at = ts
        self._refresh_at = ts + self.refresh_s * self._random.uniform(1.0 - REFRESH_SPREAD, 1.0)


def _smooth(luma: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(np.ascontiguousarray(luma), (5, 5), 0)


def _grown_box(zone: ZonePolygon, margin: float) -> tuple[float, float, float, float]:
    points = np.asarray(zone, dtype=np.float64).reshape(-1, 2)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    gx, gy = margin * (x1 - x0), margin * (y1 - y0)
    return max(0.0, x0 - gx), max(0.0, y0 - gy), min(1.0, x1 + gx), min(1.0, y1 + gy)


def _mask(boxes: list[tuple[float, float, float, float]], shape: tuple[int, ...]) -> np.ndarray:
    height, width = shape[:2]
    if not boxes:
        return np.ones((height, width), dtype=bool)
    mask = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        mask[int(y0 * height) : int(np.ceil(y1 * height)), int(x0 * width) : int(np.ceil(x1 * width))] = True
    return mask
