"""Waiting time per queue zone and minute, two ways, so each checks the other:
- tracked: the dwell of each person who left the queue during the minute (p50, p90); people who
  were already waiting when observation began have no known dwell and are left out of these;
- Little's law: mean queue length over the rate at which people left the queue, over the
  `littles_window_s` up to the minute's end (one minute alone holds too few departures).

A minute closes, and its record is emitted, once every departure in it is known: `leave_after_s`
after its end (a person counts as gone only after being unseen that long). Minutes without a
trusted frame produce no record."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from analytics.queue import Visit

MINUTE = 60.0


@dataclass(frozen=True)
class WaitMinute:
    zone_id: str
    minute_start: float        # unix seconds, a multiple of 60
    served: int                # people who left the queue in the minute
    dwell_p50_s: float | None  # None: nobody left with a known dwell
    dwell_p90_s: float | None
    littles_s: float | None    # None: nobody left in the window
    mean_queue: float | None   # None: no trusted frame in the minute


class WaitMinutes:
    def __init__(self, zone_id: str, *, leave_after_s: float = 5.0, littles_window_s: float = 300.0) -> None:
        if leave_after_s <= 0 or littles_window_s < MINUTE:
            raise ValueError("leave_after_s must be > 0 and littles_window_s at least 60")
        self.zone_id = zone_id
        self.leave_after_s = leave_after_s
        self.littles_window_s = littles_window_s
        self._samples: deque[tuple[float, int]] = deque()
        self._departures: deque[Visit] = deque()
        self._next_minute: float | None = None   # start of the oldest minute not yet closed
        self._observed_from: float | None = None  # first trusted frame

    def update(self, ts: float, queue: int | None, departures: Iterable[Visit] = ()) -> list[WaitMinute]:
        """One analysed frame: `queue` is the zone's (smoothed) count, None when the view could not
        be trusted; `departures` the stays that ended. Returns the minutes that closed."""
        if queue is not None:
            self._samples.append((ts, queue))
            if self._observed_from is None:
                self._observed_from = ts
                self._next_minute = math.floor(ts / MINUTE) * MINUTE
        self._departures.extend(departures)
        closed: list[WaitMinute] = []
        while self._next_minute is not None and ts >= self._next_minute + MINUTE + self.leave_after_s:
            record = self._close(self._next_minute)
            if record is not None:
                closed.append(record)
            self._next_minute += MINUTE
        self._prune()
        return closed

    def _close(self, start: float) -> WaitMinute | None:
        end = start + MINUTE
        in_minute = [n for t, n in self._samples if start <= t < end]
        if not in_minute:
            return None
        left = [v for v in self._departures if start <= v.last_in < end]
        dwells = [v.dwell_s for v in left if not v.censored]
        p50 = float(np.percentile(dwells, 50)) if dwells else None
        p90 = float(np.percentile(dwells, 90)) if dwells else None
        return WaitMinute(self.zone_id, start, len(left), p50, p90, self._littles(end), float(np.mean(in_minute)))

    def _littles(self, end: float) -> float | None:
        assert self._observed_from is not None
        start = max(end - self.littles_window_s, self._observed_from)
        queue = [n for t, n in self._samples if start <= t < end]
        left = sum(1 for v in self._departures if start <= v.last_in < end)
        if not queue or left == 0 or end <= start:
            return None
        rate = left / (end - start)  # people per second
        return float(np.mean(queue)) / rate

    def _prune(self) -> None:
        if self._next_minute is None:
            return
        keep_from = self._next_minute - self.littles_window_s
        while self._samples and self._samples[0][0] < keep_from:
            self._samples.popleft()
        while self._departures and self._departures[0].last_in < keep_from:
            self._departures.popleft()
