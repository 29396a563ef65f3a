"""People standing in a queue or self-service zone, by foot point, from tracks.

A tracked person counts once they have stood in the zone for `min_dwell_s` (people crossing it do
not), and the count is the median over the last `smoothing_s` seconds of how many people stood there
in each frame, judged with what is known now: someone who has just stood long enough counts in the
earlier frames of the window too, so the median adds no delay to the dwell rule (it only rides over
missed detections and departures). The first frame after a start or a gap in the video decides at
once: everyone standing in the zone then counts, since nothing says how long they have been there
(their dwell is marked censored)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

from analytics.geometry import Polygon
from analytics.tracking import UNTRACKED, Tracked

StayKey: TypeAlias = tuple[int, float]  # (track id, entered): one stay, as a track may come back


@dataclass(frozen=True)
class Visit:
    """One tracked person's stay in a zone."""

    track_id: int
    entered: float
    last_in: float
    censored: bool  # already there when observation began: `entered` is a lower bound

    @property
    def dwell_s(self) -> float:
        return self.last_in - self.entered


@dataclass(frozen=True)
class ZoneCount:
    raw: int        # people whose feet are in the zone in this frame
    settled: int    # ... who have stood there at least min_dwell_s
    smoothed: int   # median of `settled` over the smoothing window
    departures: tuple[Visit, ...] = ()  # stays (at least min_dwell_s long) that ended by this frame
    longest_s: float = 0.0  # longest current stay of a settled person (0 when none, censored included)


class ZoneCounter:
    def __init__(self, polygon: Polygon, *, confidence: float, min_dwell_s: float = 2.0, smoothing_s: float = 3.0,
                 leave_after_s: float = 5.0) -> None:
        if min_dwell_s < 0 or smoothing_s < 0 or leave_after_s <= 0:
            raise ValueError("min_dwell_s and smoothing_s must be >= 0, leave_after_s > 0")
        self.polygon = polygon
        self.confidence = confidence
        self.min_dwell_s = min_dwell_s
        self.smoothing_s = smoothing_s
        self.leave_after_s = leave_after_s
        self._visits: dict[int, Visit] = {}
        self._known: set[int] = set()  # track ids seen (anywhere) before this frame
        # per frame: the stays seen in the zone, or the count of a first frame (which decides at once)
        self._history: deque[tuple[float, frozenset[StayKey] | int]] = deque()
        self._settled: set[StayKey] = set()  # stays in the window known to have lasted min_dwell_s
        self._observed_from: float | None = None  # first frame after the last start or gap

    def inside(self, tracked: Tracked, frame_size: tuple[int, int]) -> np.ndarray:
        """Which detections stand in the zone and are confident enough to count."""
        d = tracked.detections
        return np.asarray(self.polygon.contains(d.foot_points, frame_size) & (d.confidence >= self.confidence))

    def update(self, tracked: Tracked, ts: float, frame_size: tuple[int, int]) -> ZoneCount:
        first = self._observed_from is None
        if self._observed_from is None:
            self._observed_from = ts
        observed_from = self._observed_from  # may be 0.0 (a file's clock): never test it for truth
        inside = self.inside(tracked, frame_size)
        ids = tracked.tracker_id[inside].tolist()
        for track_id in ids:
            if track_id == UNTRACKED:
                continue
            visit = self._visits.get(track_id)
            if visit is None:
                born = tracked.born_at.get(track_id, ts)
                # A new track began at its first detection, a known one when it stepped in.
                entered = born if track_id not in self._known else ts
                censored = entered <= observed_from
                visit = Visit(track_id, entered, ts, censored)
            self._visits[track_id] = Visit(track_id, visit.entered, ts, visit.censored)
        self._known = set(tracked.born_at)  # the tracks alive now
        departures = tuple(self._take_departures(ts))
        present = [self._visits[i] for i in ids if i != UNTRACKED]
        settled_visits = [v for v in present if v.censored or ts - v.entered >= self.min_dwell_s]
        settled = int(inside.sum()) if first else len(settled_visits)
        self._settled.update((v.track_id, v.entered) for v in settled_visits)
        self._history.append((ts, settled if first else frozenset((v.track_id, v.entered) for v in present)))
        while len(self._history) > 1 and self._history[0][0] <= ts - self.smoothing_s:
            self._history.popleft()
        self._settled &= frozenset().union(*(e for _, e in self._history if not isinstance(e, int)))
        values = sorted(e if isinstance(e, int) else len(e & self._settled) for _, e in self._history)
        longest = max((ts - v.entered for v in settled_visits), default=0.0)
        return ZoneCount(raw=int(inside.sum()), settled=settled, smoothed=values[len(values) // 2],
                         departures=departures, longest_s=longest)

    def interrupt(self) -> None:
        """A gap in the video: stays in progress end unmeasured, and counting starts afresh."""
        self._visits.clear()
        self._known.clear()
        self._history.clear()
        self._settled.clear()
        self._observed_from = None

    def _take_departures(self, ts: float) -> list[Visit]:
        gone = [v for v in self._visits.values() if ts - v.last_in >= self.leave_after_s]
        for visit in gone:
            del self._visits[visit.track_id]
        return sorted((v for v in gone if v.censored or v.dwell_s >= self.min_dwell_s), key=lambda v: v.last_in)
