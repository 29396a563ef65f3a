"""People in a zone counted where they are, frame by frame, without following anyone.

At one analysed frame per second people move more than a box width between frames, so a tracker
re-identifies a walking person as someone new and any rule keyed on a track's age drops them
(issue 12). Everything here works on positions only:

- `in_zone`: the detections whose foot point (bottom centre) is in a zone and that are confident
  enough: the plain detector's count, and the input of the rest;
- `moving`: which of them moved far since the last analysed frame, judged by the nearest foot point
  of that frame in box heights (a standing person, even one stepping up a place in a queue, is near
  where someone stood a second earlier; a walker crossing the zone is not);
- `WindowCount`: a robust filter of the per-frame counts over the last analysed frames (the median
  of the last `frames`, never reaching back further than `window_s`), which rides over a missed or a
  spurious detection for a frame without needing to know who is who.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from analytics.geometry import Polygon
from models.detections import Detections


def in_zone(detections: Detections, polygon: Polygon, frame_size: tuple[int, int], confidence: float) -> np.ndarray:
    """Boolean mask of the detections standing in `polygon` (foot point inside) with at least
    `confidence`."""
    return np.asarray(polygon.contains(detections.foot_points, frame_size) & (detections.confidence >= confidence))


def moving(feet: np.ndarray, heights: np.ndarray, previous: np.ndarray, *, max_step: float) -> np.ndarray:
    """For each foot point (N,2) of this frame with its box height (N,), whether no foot point of the
    previous analysed frame (M,2) lies within `max_step` box heights of it. With no previous frame
    (M == 0) nobody is judged moving: nothing tells (the first frame counts everyone)."""
    feet = np.asarray(feet, dtype=np.float64).reshape(-1, 2)
    previous = np.asarray(previous, dtype=np.float64).reshape(-1, 2)
    if len(feet) == 0 or len(previous) == 0:
        return np.zeros(len(feet), dtype=bool)
    distance = np.linalg.norm(feet[:, None, :] - previous[None, :, :], axis=2).min(axis=1)
    return np.asarray(distance > max_step * np.maximum(np.asarray(heights, dtype=np.float64), 1.0))


def edge_distance(polygon: Polygon, points: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """Distance in pixels from each point (N,2) to the nearest edge of `polygon`."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 1, 2)
    a = polygon.vertices * np.asarray(frame_size, dtype=np.float64)
    b = np.roll(a, -1, axis=0)
    ab = b - a
    t = np.clip(((pts - a) * ab).sum(axis=2) / np.maximum((ab * ab).sum(axis=1), 1e-9), 0.0, 1.0)
    nearest = a + t[..., None] * ab
    return np.asarray(np.linalg.norm(pts - nearest, axis=2).min(axis=1))


def missed(previous: np.ndarray, previous_heights: np.ndarray, feet: np.ndarray, polygon: Polygon,
           frame_size: tuple[int, int], *, max_step: float, margin: float) -> int:
    """How many people in the zone in the previous analysed frame (foot points `previous`, box heights
    `previous_heights`) have no foot point within `max_step` of their height in this frame although
    they stood further than `margin` heights from every edge of the zone: nobody walks out of a zone
    from its middle within one frame, so the detector missed them. At most as many as the previous
    frame had more than this one (a walker seen in both frames is never counted twice)."""
    if len(previous) == 0:
        return 0
    heights = np.maximum(previous_heights, 1.0)
    gone = moving(previous, heights, feet, max_step=max_step) if len(feet) else np.ones(len(previous), bool)
    inner = edge_distance(polygon, previous, frame_size) > margin * heights
    return int(min((gone & inner).sum(), max(0, len(previous) - len(feet))))


class WindowCount:
    """The median of the last `frames` per-frame counts (frames older than `window_s` before the
    newest are dropped first). An even number of counts takes the higher middle value, so a person
    who has just arrived counts after half the window rather than after all of it."""

    def __init__(self, *, frames: int = 3, window_s: float = 3.0) -> None:
        if frames < 1 or window_s < 0:
            raise ValueError("frames must be >= 1 and window_s >= 0")
        self.frames = frames
        self.window_s = window_s
        self._counts: deque[tuple[float, int]] = deque(maxlen=frames)

    def update(self, count: int, ts: float) -> int:
        self._counts.append((ts, count))
        while len(self._counts) > 1 and self._counts[0][0] < ts - self.window_s - 1e-6:
            self._counts.popleft()
        values = sorted(n for _, n in self._counts)
        return values[len(values) // 2]

    def clear(self) -> None:
        self._counts.clear()
