"""Scorecard arithmetic, pure: desk presence measured against the roster, the three zeros (zero
overtime, zero errors, zero complaints), a weighted star rating and league tables.

Times are unix seconds. A desk sample's state holds from its timestamp until the next sample of the
same window, but never longer than `hold_s`: a gap in the samples is time nobody knows about, so it
is `unknown`, and unknown seconds are never counted as absent. Excused seconds (a recorded absence
for training, leave or leader duty) are taken out of the rostered time before anything is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, order=True)
class Interval:
    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"interval ends before it starts: {self.start} > {self.end}")

    @property
    def seconds(self) -> float:
        return self.end - self.start


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union as sorted, disjoint, non-empty intervals."""
    out: list[Interval] = []
    for iv in sorted(i for i in intervals if i.seconds > 0):
        if out and iv.start <= out[-1].end:
            out[-1] = Interval(out[-1].start, max(out[-1].end, iv.end))
        else:
            out.append(iv)
    return out


def subtract(intervals: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """`intervals` minus `holes`, merged."""
    cuts = merge(holes)
    out: list[Interval] = []
    for iv in merge(intervals):
        start = iv.start
        for hole in cuts:
            if hole.end <= start or hole.start >= iv.end:
                continue
            if hole.start > start:
                out.append(Interval(start, hole.start))
            start = max(start, hole.end)
        if start < iv.end:
            out.append(Interval(start, iv.end))
    return out


def overlap(a: Interval, b: Interval) -> float:
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))


class DeskState(StrEnum):
    present = "present"
    absent = "absent"
    unknown = "unknown"


@dataclass(frozen=True)
class DeskPoint:
    ts: float
    state: DeskState


@dataclass(frozen=True)
class DeskSpan:
    span: Interval
    state: DeskState


def desk_spans(points: Sequence[DeskPoint], *, hold_s: float) -> list[DeskSpan]:
    """Turn one window's samples into spans: each state lasts until the next sample, at most `hold_s`."""
    if hold_s <= 0:
        raise ValueError("hold_s must be positive")
    ordered = sorted(points, key=lambda p: p.ts)
    spans = []
    for i, point in enumerate(ordered):
        end = point.ts + hold_s
        if i + 1 < len(ordered):
            end = min(end, ordered[i + 1].ts)
        if end > point.ts:
            spans.append(DeskSpan(Interval(point.ts, end), point.state))
    return spans


@dataclass(frozen=True)
class PresenceKpi:
    """Seconds of rostered time by what the camera saw. `rostered_s` includes `excused_s`; the other
    three add up to `rostered_s - excused_s`."""

    rostered_s: float = 0.0
    excused_s: float = 0.0
    present_s: float = 0.0
    absent_s: float = 0.0
    unknown_s: float = 0.0

    @property
    def known_s(self) -> float:
        return self.present_s + self.absent_s

    @property
    def presence(self) -> float | None:
        """Share of the known accountable seconds the desk was staffed; None when nothing is known."""
        return self.present_s / self.known_s if self.known_s > 0 else None

    @property
    def coverage(self) -> float | None:
        """Share of the accountable seconds the camera could tell present from absent."""
        accountable = self.rostered_s - self.excused_s
        return self.known_s / accountable if accountable > 0 else None

    def __add__(self, other: PresenceKpi) -> PresenceKpi:
        return PresenceKpi(self.rostered_s + other.rostered_s, self.excused_s + other.excused_s,
                           self.present_s + other.present_s, self.absent_s + other.absent_s,
                           self.unknown_s + other.unknown_s)


def accountable(rostered: Iterable[Interval], excused: Iterable[Interval]) -> tuple[list[Interval], float, float]:
    """Rostered time minus excused time: (intervals left, rostered seconds, excused seconds)."""
    shifts = merge(rostered)
    left = subtract(shifts, excused)
    total = sum(iv.seconds for iv in shifts)
    return left, total, total - sum(iv.seconds for iv in left)


def presence_kpi(points: Sequence[DeskPoint], rostered: Iterable[Interval], excused: Iterable[Interval] = (),
                 *, hold_s: float) -> PresenceKpi:
    """One window's presence over its rostered intervals (the reference the SQL version is tested against)."""
    left, rostered_s, excused_s = accountable(rostered, excused)
    seen = {DeskState.present: 0.0, DeskState.absent: 0.0}
    for span in desk_spans(points, hold_s=hold_s):
        if span.state in seen:
            seen[span.state] += sum(overlap(span.span, iv) for iv in left)
    unknown = rostered_s - excused_s - seen[DeskState.present] - seen[DeskState.absent]
    return PresenceKpi(rostered_s, excused_s, seen[DeskState.present], seen[DeskState.absent], max(0.0, unknown))


def wait_over_sla(dwell_p90_s: float | None, littles_s: float | None, *, sla_s: float) -> bool:
    """A queue minute is overtime when the 90th-percentile tracked wait of the people served that minute,
    or without tracks the Little's-law estimate, exceeds the SLA."""
    wait = dwell_p90_s if dwell_p90_s is not None else littles_s
    return wait is not None and wait > sla_s


@dataclass(frozen=True)
class Tally:
    """What one unit (window, hall, city, province) did in a period. `windows` counts the windows
    inside, so that incident counts are compared per window across levels."""

    presence: PresenceKpi = field(default_factory=PresenceKpi)
    overtime: int = 0
    errors: int = 0
    complaints: int = 0
    windows: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.presence + other.presence, self.overtime + other.overtime, self.errors + other.errors,
                     self.complaints + other.complaints, self.windows + other.windows)

    @property
    def three_zeros(self) -> bool:
        return self.overtime == 0 and self.errors == 0 and self.complaints == 0


@dataclass(frozen=True)
class StarMethod:
    """Each component scores 0-100: incidents cost `penalty` points each per window, presence is its share
    in percent. The score is the weighted mean of the components that have data; `thresholds` are the
    minimum scores for 1..5 stars."""

    weights: Mapping[str, float]    # keys: overtime, errors, complaints, presence
    penalties: Mapping[str, float]  # keys: overtime, errors, complaints
    thresholds: tuple[float, float, float, float, float]

    def __post_init__(self) -> None:
        if set(self.weights) != set(COMPONENTS) or set(self.penalties) != set(INCIDENTS):
            raise ValueError(f"weights need {COMPONENTS}, penalties need {INCIDENTS}")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        if list(self.thresholds) != sorted(self.thresholds):
            raise ValueError("star thresholds must ascend")


INCIDENTS = ("overtime", "errors", "complaints")
COMPONENTS = (*INCIDENTS, "presence")


@dataclass(frozen=True)
class Score:
    points: float | None  # None when no component has data
    stars: int
    components: dict[str, float | None]


def score(tally: Tally, method: StarMethod) -> Score:
    per_window = max(1, tally.windows)
    components: dict[str, float | None] = {
        kind: max(0.0, 100.0 - method.penalties[kind] * getattr(tally, kind) / per_window) for kind in INCIDENTS
    }
    share = tally.presence.presence
    components["presence"] = None if share is None else 100.0 * share
    weighted = [(method.weights[k], v) for k, v in components.items() if v is not None and method.weights[k] > 0]
    total_weight = sum(w for w, _ in weighted)
    if total_weight == 0:
        return Score(None, 0, components)
    points = round(sum(w * v for w, v in weighted) / total_weight, 2)
    stars = sum(1 for t in method.thresholds if points >= t)
    return Score(points, stars, components)


class Level(StrEnum):
    province = "province"
    city = "city"
    hall = "hall"
    window = "window"


# A tally is recorded against (hall_id, window_id); window_id None holds what belongs to the hall but to
# no window (a complaint about the hall, a queue zone that serves several windows).
TallyKey = tuple[str, str | None]


def rollup(tallies: Mapping[TallyKey, Tally], *, level: Level, city_of: Mapping[str, str]) -> dict[Hashable, Tally]:
    """Sum tallies to `level`; keys are `(hall, window)` for windows, `hall`, `city`, or `province`.
    Hall-only tallies appear at hall level and above, never as a window."""
    key_of: Callable[[str, str | None], Hashable | None] = {
        Level.window: lambda h, w: None if w is None else (h, w),
        Level.hall: lambda h, w: h,
        Level.city: lambda h, w: city_of[h],
        Level.province: lambda h, w: "province",
    }[level]
    out: dict[Hashable, Tally] = {}
    for (hall, window), tally in tallies.items():
        key = key_of(hall, window)
        if key is not None:
            out[key] = out.get(key, Tally()) + tally
    return out


@dataclass(frozen=True)
class LeagueRow:
    rank: int
    key: Hashable
    tally: Tally
    score: Score


def league_table(tallies: Mapping[Hashable, Tally], method: StarMethod) -> list[LeagueRow]:
    """Best first: by score, then fewer complaints, errors, overtime; equal units share a rank (1, 2, 2, 4).
    Units without any data come last, unranked order by key."""
    scored = [(key, tally, score(tally, method)) for key, tally in tallies.items()]

    def order(item: tuple[Hashable, Tally, Score]) -> tuple:
        key, tally, sc = item
        merit = (-(sc.points if sc.points is not None else -1.0), tally.complaints, tally.errors, tally.overtime)
        return (*merit, str(key))

    rows: list[LeagueRow] = []
    previous: tuple | None = None
    for position, item in enumerate(sorted(scored, key=order), start=1):
        merit = order(item)[:-1]
        rank = rows[-1].rank if previous == merit and rows else position
        rows.append(LeagueRow(rank, item[0], item[1], item[2]))
        previous = merit
    return rows
