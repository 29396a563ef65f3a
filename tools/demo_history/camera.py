"""One camera's view of the simulated hall, step by step, turned into the rows the pipeline writes for it."""

from __future__ import annotations

import math
import random
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from analytics.camera import CameraResult
from analytics.events import EventBook, EventKind
from analytics.kpi import Interval, merge
from analytics.presence import DeskReading, DeskState
from analytics.queue import Visit
from analytics.waiting import WaitMinutes
from core.config import CameraConfig, HallConfig, SiteConfig, ZoneKind
from ingest.health import CameraHealth, CameraState, DecodeMode
from pipeline.rows import EventCloseSample, OfflineSpellSample, Sample, health_sample, result_samples, utc
from tools.demo_history.plan import HallPlan, Presence, peak_profile

SERVICE_S = 240.0  # mean time a window takes per citizen
ARRIVALS_PER_WINDOW_H = 6.0  # citizens per hour and window at an ordinary moment (peaks are ~1.7x)


@dataclass
class _Queue:
    zone: str
    windows: list[str]
    limit: int
    open: Presence  # when the windows it serves are rostered: citizens come
    waits: WaitMinutes
    waiting: deque[float] = field(default_factory=deque)  # arrival times, first in first out
    arrivals: int = 0
    last: float | None = None


class CameraSim:
    """One camera's view of the simulated hall, turned into the rows the pipeline writes for it."""

    def __init__(self, site: SiteConfig, hall: HallConfig, camera: CameraConfig, plan: HallPlan, *,
                 seed: int) -> None:
        self.hall, self.camera, self.plan = hall, camera, plan
        self.rng = random.Random(zlib.crc32(f"{seed}/{hall.id}/{camera.id}/samples".encode()))  # fast scalar draws
        self.config = site.analytics.events
        self.book = EventBook.from_config(self.config)
        self.desks = [z.window for z in camera.zones if z.kind is ZoneKind.desk and z.window is not None]
        self.queues = [
            _Queue(z.id, z.served_windows or list(self.desks), z.limit or self.config.queue_limit,
                   Presence(merge(s for w in (z.served_windows or self.desks) for s in plan.open.get(w, []))),
                   WaitMinutes(z.id, leave_after_s=site.analytics.wait.leave_after_s,
                               littles_window_s=site.analytics.wait.littles_window_s))
            for z in camera.zones if z.kind is ZoneKind.queue]
        self.self_service = [z.id for z in camera.zones if z.kind is ZoneKind.self_service]
        self.readings = {w: DeskReading(DeskState.unknown, 0.0) for w in self.desks}
        self.outages = sorted(plan.outages.get(camera.id, []))
        self.reconnects = 0
        self.last_frame: float | None = None
        self.events = 0
        self.tz = site.scorecards.tz
        self._day: tuple[float, float, date] = (0.0, 0.0, date.min)  # local midnight, next midnight, the day

    def _local(self, ts: float) -> tuple[date, float]:
        """The local day of `ts` and the hour of that day (fractional)."""
        midnight, following, day = self._day
        if not midnight <= ts < following:
            day = datetime.fromtimestamp(ts, self.tz).date()
            midnight = datetime.combine(day, time(), self.tz).timestamp()
            following = datetime.combine(day + timedelta(days=1), time(), self.tz).timestamp()
            self._day = (midnight, following, day)
        return day, (ts - midnight) / 3600.0

    def _down(self, ts: float) -> Interval | None:
        return next((o for o in self.outages if o.start <= ts < o.end), None)

    def step(self, ts: float) -> list[Sample]:
        down = self._down(ts)
        rows: list[Sample] = []
        if down is None and self.last_frame is not None and ts - self.last_frame > 90.0:
            self.reconnects += 1
            rows.append(OfflineSpellSample(ts=utc(self.last_frame), hall_id=self.hall.id, camera_id=self.camera.id,
                                           ended_at=utc(ts), cause="offline"))
        state = CameraState.offline if down else CameraState.live
        if down is None:
            self.last_frame = ts
        rows.append(health_sample(self.hall.id, self.camera.id, CameraHealth(
            state=state, fps=0.0 if down else 10.0, last_frame_at=self.last_frame, reconnects=self.reconnects,
            error="no frame: connection timed out" if down else None, decode_mode=DecodeMode.keyframes), ts))
        changes = [self.book.update(EventKind.camera_offline, self.camera.id, down is not None, ts,
                                    {"health": state.value})]
        result = self._untrusted(ts, changes) if down else self._trusted(ts, changes)
        rows += result_samples(self.hall, self.camera, result)
        self.events += sum(1 for c in result.events if c.action == "opened")
        return rows

    def _desk(self, window: str, state: DeskState, ts: float) -> DeskReading:
        if self.readings[window].state is not state:
            self.readings[window] = DeskReading(state, ts)
        return self.readings[window]

    def _trusted(self, ts: float, changes: list[Any]) -> CameraResult:
        day, hour = self._local(ts)
        present = {w: self.plan.presence[w].at(ts) for w in self.desks}
        desks = {w: self._desk(w, DeskState.present if present[w] else DeskState.absent, ts) for w in self.desks}
        zones: dict[str, int | None] = {}
        waits = []
        for q in self.queues:
            dt = 0.0 if q.last is None else ts - q.last
            q.last = ts
            departures: list[Visit] = []
            if q.open.at(ts):
                demand = self.plan.demand.get(day, 1.0)
                rate = ARRIVALS_PER_WINDOW_H * len(q.windows) * peak_profile(hour) * demand / 3600.0
                for _ in range(self._poisson(rate * dt)):
                    q.arrivals += 1
                    q.waiting.append(ts - self.rng.uniform(0, dt))
                servers = sum(present[w] for w in q.windows if w in present)
                served = self._binomial(min(len(q.waiting), servers), 1.0 - math.exp(-dt / SERVICE_S))
            else:  # closing: whoever is left is seen to or gives up
                served = self._binomial(len(q.waiting), 1.0 - math.exp(-dt / 120.0))
            for _ in range(int(served)):
                departures.append(Visit(q.arrivals - len(q.waiting) + 1, q.waiting.popleft(), ts, False))
            people = len(q.waiting)
            zones[q.zone] = people
            waits += q.waits.update(ts, people, departures)
            longest = ts - q.waiting[0] if q.waiting else 0.0
            changes.append(self.book.update(EventKind.queue_over_limit, q.zone, people > q.limit, ts,
                                            {"people": people, "limit": q.limit}))
            changes.append(self.book.update(EventKind.wait_over_sla, q.zone, longest >= self.config.wait_sla_s, ts,
                                            {"longest_wait_s": round(longest, 1), "sla_s": self.config.wait_sla_s}))
        for zone in self.self_service:
            busy = 0.2 + 1.6 * peak_profile(hour) if 7 <= hour < 21 else 0.15
            zones[zone] = self._poisson(busy)
        for window in self.desks:
            serving = [q.zone for q in self.queues if window in q.windows]
            if serving:
                waiting = sum(zones[z] or 0 for z in serving)
                active = desks[window].state is DeskState.absent and waiting >= self.config.unstaffed_people
                changes.append(self.book.update(EventKind.unstaffed_while_waiting, window, active, ts,
                                                {"waiting": waiting, "queues": serving}))
        return CameraResult(ts=ts, people=sum(n or 0 for n in zones.values()) + sum(present.values()), desks=desks,
                            desk_people={w: int(p) for w, p in present.items()}, zones=zones, zones_raw=dict(zones),
                            waits=waits, events=[c for c in changes if c is not None])

    def _poisson(self, mean: float) -> int:
        """A Poisson draw (Knuth's method: the means here are small)."""
        limit, n, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            n, product = n + 1, product * self.rng.random()
        return n

    def _binomial(self, n: int, p: float) -> int:
        return sum(1 for _ in range(n) if self.rng.random() < p)

    def _untrusted(self, ts: float, changes: list[Any]) -> CameraResult:
        waits = [m for q in self.queues for m in q.waits.update(ts, None)]
        for q in self.queues:
            q.waiting.clear()  # nobody is followed through a gap
            q.last = ts
            changes.append(self.book.update(EventKind.queue_over_limit, q.zone, None, ts))
            changes.append(self.book.update(EventKind.wait_over_sla, q.zone, None, ts))
        for window in self.desks:
            changes.append(self.book.update(EventKind.unstaffed_while_waiting, window, None, ts))
        desks = {w: self._desk(w, DeskState.unknown, ts) for w in self.desks}
        return CameraResult(ts=ts, people=None, desks=desks, desk_people={}, trusted=False, waits=waits,
                            events=[c for c in changes if c is not None])

    def finish(self, end: float) -> list[Sample]:
        """Close the events still open when the history ends: the live pipeline starts afresh from there."""
        return [EventCloseSample(ts=utc(e.started_at), hall_id=self.hall.id, kind=e.kind.value, subject=e.subject,
                                 ended_at=utc(max(e.started_at, end))) for e in self.book.open_events()]
