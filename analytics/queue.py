"""People standing in a queue or self-service zone, by foot point, without following anyone.

Each analysed frame counts the confident foot points in the zone (`analytics.counting.in_zone`:
what the plain detector says); when `passer_step` is set, people whose foot point is far from every
foot point of the previous analysed frame are taken to be walking through and left out; when
`hold_step` is set, people who vanished from the middle of the zone since the previous frame
(`analytics.counting.missed`) are counted once more. The count
is then the median of the last `smoothing_frames` frames (`analytics.counting.WindowCount`; by
default 1: the frame's own count, which no causal filter beat on every real clip, docs/accuracy.md).
Nothing depends on a person being recognised from one frame to the next, so people who move more
than a box width between frames are still counted (issue 12).

Stays for waiting times come from the count alone, first in first out: each rise of the count
(the median of the last `stay_frames`, so that a missed detection is not a departure) is an arrival,
each fall the departure of the one who has waited longest (the queue is served in order). No queue
place is followed as the queue moves up. An arrival and a departure in the same frame leave the
count as it was and are not seen. People in the zone at the first frame after a start or a gap
have no known arrival: their stays are censored."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from analytics.counting import WindowCount, in_zone, missed, moving
from analytics.geometry import Polygon
from models.detections import Detections


@dataclass(frozen=True)
class Visit:
    """One person's stay in a zone, as paired first in, first out."""

    number: int  # arrivals in the zone so far (1, 2, ...): which arrival this stay began with
    entered: float
    last_in: float  # the frame the count fell
    censored: bool  # already there when observation began: `entered` is a lower bound

    @property
    def dwell_s(self) -> float:
        return self.last_in - self.entered


@dataclass(frozen=True)
class ZoneCount:
    raw: int        # people whose feet are in the zone in this frame (the plain detector's count)
    settled: int    # ... of them not walking through (all of them without a passer rule)
    smoothed: int   # median of `settled` over the last `smoothing_frames` frames
    departures: tuple[Visit, ...] = ()  # stays that ended with this frame
    longest_s: float = 0.0  # longest current stay (0 when nobody is counted, censored included)


class ZoneCounter:
    def __init__(self, polygon: Polygon, *, confidence: float, smoothing_frames: int = 1, smoothing_s: float = 3.0,
                 passer_step: float = 0.0, stay_frames: int = 3, hold_step: float = 0.0) -> None:
        if passer_step < 0:
            raise ValueError("passer_step must be >= 0")
        self.polygon = polygon
        self.confidence = confidence
        self.passer_step = passer_step
        self.hold_step = hold_step
        self._previous_in: tuple[np.ndarray, np.ndarray] | None = None  # feet and heights in the zone
        self._window = WindowCount(frames=smoothing_frames, window_s=smoothing_s)
        self._stay_window = WindowCount(frames=stay_frames, window_s=smoothing_s)
        self._previous_feet: np.ndarray | None = None  # confident foot points of the last frame
        self._waiting: deque[tuple[int, float, bool]] = deque()  # (number, arrival, censored), oldest first
        self._arrivals = 0
        self._count: int | None = None  # the smoothed count of the last frame; None after a start or gap

    def inside(self, detections: Detections, frame_size: tuple[int, int]) -> np.ndarray:
        """Which detections stand in the zone and are confident enough to count."""
        return in_zone(detections, self.polygon, frame_size, self.confidence)

    def update(self, detections: Detections, ts: float, frame_size: tuple[int, int]) -> ZoneCount:
        inside = self.inside(detections, frame_size)
        confident = detections.confidence >= self.confidence
        feet = detections.foot_points
        settled = inside
        if self.passer_step > 0 and self._previous_feet is not None:
            heights = detections.xyxy[:, 3] - detections.xyxy[:, 1]
            settled = inside & ~moving(feet, heights, self._previous_feet, max_step=self.passer_step)
        held = 0
        heights = detections.xyxy[:, 3] - detections.xyxy[:, 1]
        if self.hold_step > 0 and self._previous_in is not None:
            held = missed(*self._previous_in, feet[inside], self.polygon, frame_size, max_step=1.0,
                          margin=self.hold_step)
        self._previous_in = (np.asarray(feet[settled]), np.asarray(heights[settled]))
        self._previous_feet = np.asarray(feet[confident])
        smoothed = self._window.update(int(settled.sum()) + held, ts)
        departures = self._pair(self._stay_window.update(int(settled.sum()), ts), ts)
        longest = ts - self._waiting[0][1] if self._waiting else 0.0
        return ZoneCount(raw=int(inside.sum()), settled=int(settled.sum()), smoothed=smoothed,
                         departures=departures, longest_s=longest)

    def interrupt(self) -> None:
        """A gap in the video: stays in progress end unmeasured, and counting starts afresh."""
        self._window.clear()
        self._stay_window.clear()
        self._previous_feet = None
        self._previous_in = None
        self._waiting.clear()
        self._count = None

    def _pair(self, count: int, ts: float) -> tuple[Visit, ...]:
        """Arrivals and departures from the change of the count, first in, first out."""
        first = self._count is None
        change = count - (0 if self._count is None else self._count)
        self._count = count
        for _ in range(max(0, change)):
            self._arrivals += 1
            self._waiting.append((self._arrivals, ts, first))
        left = [self._waiting.popleft() for _ in range(min(-change, len(self._waiting)))] if change < 0 else []
        return tuple(Visit(number, entered, ts, censored) for number, entered, censored in left)
