"""What happens in each hall over the history, decided before any sample is made: rosters, absences, when each
officer is at the desk, busy days and camera outages."""

from __future__ import annotations

import bisect
import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

import psycopg

from analytics.kpi import Interval, merge, subtract
from core.config import HallConfig, SiteConfig
from pipeline.rows import utc
from storage.auth.audit import audit
from storage.records.officers import register_officer
from storage.records.rosters import Shift, approve_absence, expand, register_absence, register_shift
from tools.demo_history.cast import NAMES, Cast, rng_for

# The sample interval while a hall is closed. Not longer: the plain rollup refresh recomputes each run of minutes
# holding samples on its own, so minutes without any would make it recompute every sample's minute apart.
QUIET_STEP_S = 60.0
BUSY_MARGIN_S = 1800.0  # samples at the day's rate from this long before a hall's first shift to after its last
SHIFTS = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))  # Monday to Friday, lunch between
SATURDAY = (time(9, 0), time(12, 0))  # large halls open on Saturday mornings


def timeline(start: float, stop: float, busy: Sequence[Interval], *, step: float, live_from: float) -> Iterator[float]:
    """Sample times from `start` to `stop` (unix seconds): every `step` seconds inside the `busy` spans (sorted,
    disjoint), every QUIET_STEP_S outside them, every second from `live_from` on."""
    t, i = start, 0
    while t < stop:
        yield t
        if t >= live_from:
            t += 1.0
            continue
        while i < len(busy) and busy[i].end <= t:
            i += 1
        if i < len(busy) and busy[i].start <= t:
            t = min(t + step, live_from)
        else:
            t = min(t + QUIET_STEP_S, busy[i].start if i < len(busy) else math.inf, live_from)


def peak_profile(hour: float) -> float:
    """Demand through the day relative to an ordinary moment: a morning peak near 10:00, an afternoon one at 15:00."""
    return 0.6 + 1.1 * math.exp(-((hour - 10.0) / 0.9) ** 2) + 0.8 * math.exp(-((hour - 15.0) / 1.0) ** 2)


class Presence:
    """When one window's officer was at the desk: sorted, disjoint intervals (unix seconds), read in time order."""

    def __init__(self, spans: Sequence[Interval]) -> None:
        self._starts = [s.start for s in spans]
        self._ends = [s.end for s in spans]

    def at(self, ts: float) -> bool:
        i = bisect.bisect_right(self._starts, ts) - 1
        return i >= 0 and ts < self._ends[i]


@dataclass
class HallPlan:
    """What happens in one hall over the history, decided before any sample is made."""

    hall_id: str
    quality: int  # 0 the best-run hall; higher, more breaks, lateness and complaints
    badges: dict[str, str]  # window -> badge of its officer
    open: dict[str, list[Interval]] = field(default_factory=dict)  # window -> rostered, its officer not away
    busy: list[Interval] = field(default_factory=list)  # when the hall is open, with a margin: samples at the day rate
    presence: dict[str, Presence] = field(default_factory=dict)  # window -> when its officer was at the desk
    outages: dict[str, list[Interval]] = field(default_factory=dict)  # camera -> spans without video
    demand: dict[date, float] = field(default_factory=dict)  # local day -> arrivals relative to an ordinary day


def plan_hall(conn: psycopg.Connection, site: SiteConfig, hall: HallConfig, quality: int, cast: Cast, *,
              first: date, end: datetime, seed: int) -> HallPlan:
    """Officers, shifts and absences of the hall (stored by its manager and the city's, as the roster pages do),
    and when each officer was at the desk, the busy days and the camera outages."""
    rng = rng_for(seed, hall.id, "plan")
    tz = site.scorecards.tz
    manager, above = cast.hall_manager[hall.id], cast.city_manager[hall.city]
    officers: dict[str, int] = {}
    plan = HallPlan(hall.id, quality, {})
    shifts: list[Shift] = []

    def officer(window: str, badge: str) -> int:
        name = NAMES[zlib.crc32(f"{seed}/{badge}".encode()) % len(NAMES)]
        officer_id = register_officer(conn, scope=manager.scope, hall_id=hall.id, badge=badge, name=name)
        audit(conn, user=manager, action="officer.create", subject=f"officer/{officer_id}",
              details={"hall_id": hall.id, "badge": badge, "name": name, "demo": True})
        return officer_id

    def shift(window: str, officer_id: int, weekday: int, starts: time, ends: time) -> None:
        made = Shift(hall.id, window, officer_id, starts, ends, weekday, None, first, None)
        shift_id = register_shift(conn, scope=manager.scope, shift=made)
        audit(conn, user=manager, action="shift.create", subject=f"shift/{shift_id}",
              details={"hall_id": hall.id, "window_id": window, "officer_id": officer_id, "weekday": weekday,
                       "starts": starts.isoformat(), "ends": ends.isoformat(), "valid_from": first.isoformat(),
                       "demo": True})
        shifts.append(replace(made, id=shift_id))

    for window in hall.windows:
        plan.badges[window.id] = f"demo-{hall.id}-{window.id}"
        officers[window.id] = officer(window.id, plan.badges[window.id])
        for weekday in range(1, 6):
            for starts, ends in SHIFTS:
                shift(window.id, officers[window.id], weekday, starts, ends)
    if hall.size.value == "large":
        shift(hall.windows[0].id, officer(hall.windows[0].id, f"demo-{hall.id}-relief"), 6, *SATURDAY)
    slots = [s for s in expand(shifts, first, end.astimezone(tz).date(), tz) if s.span.start < end.timestamp()]
    days = sorted({s.day for s in slots})
    plan.busy = merge(Interval(s.span.start - BUSY_MARGIN_S, s.span.end + BUSY_MARGIN_S) for s in slots)
    # Absences: leave or training approved by the city, one entered late by the hall (pending until the city
    # approves it, and in the worse-run halls it stays pending), and a training planned for tomorrow.
    away: list[tuple[int, Interval]] = []
    for n in range(max(2, len(days) // 8) if days else 0):  # none in a history of a weekend alone
        day = days[int(rng.integers(len(days)))]
        window_id = hall.windows[(n + int(rng.integers(len(hall.windows)))) % len(hall.windows)].id
        todays = [s.span for s in slots if s.day == day and s.window_id == window_id]
        entered_late = n == 1  # entered after the fact, for a morning away
        if not todays:
            continue
        span = Interval(todays[0].start, todays[0 if entered_late else -1].end)
        away.append((officers[window_id], span))
        by = manager if entered_late else above
        absence_id = register_absence(
            conn, user=by, hall_id=hall.id, window_id=None, officer_id=officers[window_id],
            reason=("leave", "training", "leader_duty")[n % 3], starts_at=utc(span.start), ends_at=utc(span.end),
            note="补录" if entered_late else "")
        audit(conn, user=by, action="absence.excuse", subject=f"absence/{absence_id}",
              details={"hall_id": hall.id, "officer_id": officers[window_id], "starts_at": utc(span.start).isoformat(),
                       "ends_at": utc(span.end).isoformat(), "demo": True})
        if entered_late and quality == 0:
            approve_absence(conn, user=above, absence_id=absence_id)
    tomorrow = datetime.combine(end.astimezone(tz).date() + timedelta(days=1), time(9), tz)
    register_absence(conn, user=manager, hall_id=hall.id, window_id=hall.windows[-1].id, officer_id=None,
                     reason="training", starts_at=tomorrow, ends_at=tomorrow + timedelta(hours=2), note="业务培训")

    # Presence: late starts, early leaving and breaks (more of them the worse the hall is run), nobody on the
    # days away, and on a few bad days an hour or two away unexcused in the morning peak.
    bad = {days[int(rng.integers(len(days)))] for _ in range(max(1, len(days) // 7) if days else 0)}
    for window in hall.windows:
        spans: list[Interval] = []
        mine = [s for s in slots if s.window_id == window.id]
        plan.open[window.id] = subtract([s.span for s in mine], [a for o, a in away if o == officers[window.id]])
        for slot in mine:
            if any(o == slot.officer_id and a.start <= slot.span.start < a.end for o, a in away):
                continue
            lateness = rng.uniform(300, 1500) if rng.random() < 0.05 + 0.1 * quality else rng.uniform(-300, 180)
            start, stop = slot.span.start + lateness, slot.span.end - rng.uniform(0, 300 + 300 * quality)
            gaps = [Interval(t, t + rng.uniform(240 + 120 * quality, 600 + 360 * quality))
                    for t in rng.uniform(start, stop, int(rng.poisson((1.0 + 1.2 * quality) * slot.span.seconds
                                                                       / 14400)))]
            if slot.day in bad and slot.span.start < datetime.combine(slot.day, time(10), tz).timestamp():
                t = datetime.combine(slot.day, time(9, 30), tz).timestamp() + rng.uniform(0, 1800)
                gaps.append(Interval(t, t + rng.uniform(3600, 7200)))
            spans += subtract([Interval(start, max(start, stop))], gaps)
        plan.presence[window.id] = Presence(merge(spans))
    plan.demand = {day: float(rng.uniform(1.25, 1.4) if day in bad else rng.uniform(0.85, 1.15)) for day in days}
    for number, camera in enumerate(hall.cameras):
        if days and (rng.random() < 0.5 or (quality == 1 and number == 0)):
            day = days[int(rng.integers(len(days)))]
            t = datetime.combine(day, time(8), tz).timestamp() + rng.uniform(0, 9 * 3600)
            if t < end.timestamp() - 3600:
                plan.outages[camera.id] = [Interval(t, t + rng.uniform(1200, 5400))]
    return plan
