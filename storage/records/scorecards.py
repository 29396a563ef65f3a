"""Monthly scorecards per window, hall, city and province: the three zeros (zero overtime, zero errors,
zero complaints), presence against the roster, a weighted star rating and league tables.

Where each input comes from (docs/rosters.md has the details):
- presence: `desk_sample` against the roster (`roster_shift`) minus excused time (`absence`);
- overtime: queue minutes of `wait_sample` whose p90 wait (or Little's-law estimate) is over the SLA,
  attributed to the window the queue zone serves (`zone.window_id`), else to the hall;
- errors: inspection findings of category `error` (`finding`, `inspection`; covert ones once published);
- complaints: complaints resolved as upheld (`complaint.upheld`), by the month received;
- unstaffed: events `unstaffed_while_waiting` by the month they began, those an approved absence excuses
  (SQL `unstaffed_excuse`, migration 045) apart: shown, not counted against the window, and not in the score.
The arithmetic is analytics.kpi; this module gathers the inputs and holds the settings."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from analytics.kpi import INCIDENTS, Interval, LeagueRow, Level, StarMethod, Tally, TallyKey, league_table, rollup
from core.config.scorecards import ScorecardConfig
from core.errors import BadValue
from core.i18n import N_
from storage.auth.model import Scope
from storage.records.rosters import absences_between, expand, presence_by_window, shifts_for

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """`2026-11`."""
        try:
            year, month = (int(p) for p in text.split("-"))
            date(year, month, 1)
            if not 1970 <= year <= 2999:
                raise ValueError
        except ValueError:
            raise BadValue(N_("month '%(month)s': use YYYY-MM, between 1970 and 2999"), month=text) from None
        return cls(year, month)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return self.next().first - timedelta(days=1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def span(self, tz: ZoneInfo) -> Interval:
        start = datetime.combine(self.first, datetime.min.time(), tz)
        end = datetime.combine(self.next().first, datetime.min.time(), tz)
        return Interval(start.timestamp(), end.timestamp())

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def _utc(ts: float) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(ts, tz=UTC)


def halls_in_scope(conn: psycopg.Connection, scope: Scope) -> dict[str, str]:
    """hall id -> city id, for the halls inside `scope`."""
    return {h: c for h, c in conn.execute("SELECT id, city_id FROM hall ORDER BY id") if scope.allows(h, c)}


# Waits over the SLA per queue zone, attributed to the zone's window (NULL: the hall as a whole).
_OVERTIME = """
SELECT w.hall_id, z.window_id, count(*)::int
FROM wait_sample w LEFT JOIN zone z ON z.hall_id = w.hall_id AND z.id = w.zone_id
WHERE w.ts >= %(since)s AND w.ts < %(until)s AND w.hall_id = ANY(%(halls)s)
  AND coalesce(w.dwell_p90_s, w.littles_s) > %(sla)s
GROUP BY 1, 2
"""


def overtime_by_window(conn: psycopg.Connection, *, halls: list[str], since: datetime, until: datetime,
                       sla_s: float) -> dict[TallyKey, int]:
    """Queue minutes over the SLA (analytics.kpi.wait_over_sla, in SQL). Processing time over SLA needs ticket
    data the system does not have yet."""
    rows = conn.execute(_OVERTIME, {"since": since, "until": until, "halls": halls, "sla": sla_s})
    return {(r[0], r[1]): r[2] for r in rows}


# Findings of the `error` category, by the month the inspection was carried out. Covert inspections count
# only once published, so a scorecard never hints at a secret-shopper visit before the hall may know of it.
_ERRORS = """
SELECT i.hall_id, f.window_id, count(*)::int
FROM finding f JOIN inspection i ON i.id = f.inspection_id
WHERE f.category = 'error' AND i.hall_id = ANY(%(halls)s)
  AND i.carried_out_at >= %(since)s AND i.carried_out_at < %(until)s
  AND (i.status = 'published' OR (i.status = 'carried_out' AND NOT i.covert))
GROUP BY 1, 2
"""

# Complaints found justified on resolution, by the month they were received.
_COMPLAINTS = """
SELECT hall_id, window_id, count(*)::int
FROM complaint
WHERE upheld AND status IN ('resolved', 'closed') AND hall_id = ANY(%(halls)s)
  AND received_at >= %(since)s AND received_at < %(until)s
GROUP BY 1, 2
"""


def errors_by_window(conn: psycopg.Connection, *, halls: list[str], since: datetime,
                     until: datetime) -> dict[TallyKey, int]:
    """Inspection findings of the error kind, per window (the hall when the finding names no window)."""
    rows = conn.execute(_ERRORS, {"halls": halls, "since": since, "until": until})
    return {(r[0], r[1]): r[2] for r in rows}


def complaints_by_window(conn: psycopg.Connection, *, halls: list[str], since: datetime,
                         until: datetime) -> dict[TallyKey, int]:
    """Complaints upheld, per window (the hall when the complaint names no window)."""
    rows = conn.execute(_COMPLAINTS, {"halls": halls, "since": since, "until": until})
    return {(r[0], r[1]): r[2] for r in rows}


# Unstaffed events by the month they began, per window (an unknown window: the hall), excused or not.
_UNSTAFFED = """
SELECT o.hall_id, w.id AS window_id,
       (SELECT x.excused_by FROM unstaffed_excuse(o.hall_id, o.subject, o.ts, coalesce(c.ended_at, now()), %(tz)s) x)
         IS NOT NULL AS excused,
       count(*)::int
FROM event_open o
LEFT JOIN event_close c ON (c.hall_id, c.kind, c.subject, c.ts) = (o.hall_id, o.kind, o.subject, o.ts)
LEFT JOIN service_window w ON w.hall_id = o.hall_id AND w.id = o.subject AND w.active
WHERE o.kind = 'unstaffed_while_waiting' AND o.hall_id = ANY(%(halls)s) AND o.ts >= %(since)s AND o.ts < %(until)s
GROUP BY 1, 2, 3
"""


@dataclass(frozen=True)
class Unstaffed:
    """Events of a window left unstaffed while people waited: those held against it, and those excused."""

    counted: int = 0
    excused: int = 0

    def __add__(self, other: Unstaffed) -> Unstaffed:
        return Unstaffed(self.counted + other.counted, self.excused + other.excused)


def unstaffed_by_window(conn: psycopg.Connection, *, halls: list[str], since: datetime, until: datetime,
                        timezone: str) -> dict[TallyKey, Unstaffed]:
    out: dict[TallyKey, Unstaffed] = defaultdict(Unstaffed)
    for hall, window, excused, n in conn.execute(_UNSTAFFED, {"halls": halls, "since": since, "until": until,
                                                              "tz": timezone}):
        out[(hall, window)] += Unstaffed(excused=n) if excused else Unstaffed(counted=n)
    return dict(out)


@dataclass(frozen=True)
class Scorecards:
    month: Month
    tallies: dict[TallyKey, Tally]
    city_of: dict[str, str]
    method: StarMethod
    unstaffed: dict[TallyKey, Unstaffed] = field(default_factory=dict)

    def unstaffed_at(self, level: Level) -> dict[Hashable, Unstaffed]:
        """Unstaffed events summed to `level`, keyed as the league table's rows."""
        out: dict[Hashable, Unstaffed] = defaultdict(Unstaffed)
        for (hall, window), events in self.unstaffed.items():
            key: Hashable = {Level.window: (hall, window), Level.hall: hall, Level.city: self.city_of[hall],
                             Level.province: "province"}[level]
            if level is not Level.window or window is not None:
                out[key] += events
        return dict(out)

    def table(self, level: Level, *, city: str | None = None, hall: str | None = None) -> list[LeagueRow]:
        rolled = rollup(self.tallies, level=level, city_of=self.city_of)
        keep: dict[Hashable, Tally] = {}
        for key, tally in rolled.items():
            hall_id = key[0] if isinstance(key, tuple) else key if level is Level.hall else None
            city_id = key if level is Level.city else self.city_of.get(str(hall_id)) if hall_id else None
            if (hall is None or hall_id in (None, hall)) and (city is None or city_id in (None, city)):
                keep[key] = tally
        return league_table(keep, self.method)


def monthly_scorecards(conn: psycopg.Connection, *, scope: Scope, month: Month,
                       config: ScorecardConfig) -> Scorecards:
    """Every window's tally for `month` inside `scope`, with what belongs to a hall but no window."""
    city_of = halls_in_scope(conn, scope)
    halls = sorted(city_of)
    tz = config.tz
    period = month.span(tz)
    since, until = _utc(period.start), _utc(period.end)
    windows = {(r[0], r[1]) for r in conn.execute(
        "SELECT hall_id, id FROM service_window WHERE active AND hall_id = ANY(%s)", (halls,))}

    slots = expand(shifts_for(conn, scope=scope, first=month.first - timedelta(days=1), last=month.last),
                   month.first - timedelta(days=1), month.last, tz)
    slots = [s for s in slots if s.hall_id in city_of]
    absences = absences_between(conn, hall_ids=halls, since=since, until=until)
    presence = presence_by_window(conn, slots, absences, hold_s=config.sample_hold_s, clip=period)

    counts: dict[str, dict[TallyKey, int]] = {
        "overtime": overtime_by_window(conn, halls=halls, since=since, until=until, sla_s=config.wait_sla_s),
        "errors": errors_by_window(conn, halls=halls, since=since, until=until),
        "complaints": complaints_by_window(conn, halls=halls, since=since, until=until),
    }
    tallies: dict[TallyKey, Tally] = defaultdict(Tally)
    for key in windows | set(presence):
        tallies[key] = Tally(windows=1) if key not in presence else Tally(presence[key], windows=1)
    for kind in INCIDENTS:
        for key, n in counts[kind].items():
            if key[1] is not None and key not in windows:  # a window no longer configured: count it on the hall
                key = (key[0], None)
            tallies[key] = tallies[key] + Tally(**{kind: n})  # type: ignore[arg-type]
    unstaffed = unstaffed_by_window(conn, halls=halls, since=since, until=until, timezone=config.timezone)
    return Scorecards(month, dict(tallies), city_of, star_method(config), unstaffed)


def star_method(config: ScorecardConfig) -> StarMethod:
    return StarMethod(weights=config.weights.model_dump(), penalties=config.penalties.model_dump(),
                      thresholds=config.star_thresholds)
