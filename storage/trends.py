"""What the overview, trend and board pages ask the database: open events, a window's desk timeline,
bucketed trends of queues, waits, staffing and camera coverage, and records as timeline markers.

Trends of 15-minute buckets or wider read the coarsest per-subject rollup whose buckets tile theirs (minute,
hour or day: migrations 030 and 042) for every bucket the rollups hold completely, and the raw timeseries with
`date_bin` for the rest (see `rolled_up_until`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from storage.auth.model import User

ORIGIN = "2000-01-01 00:00:00+00"  # buckets do not depend on the session's time zone
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
# (most time covered, bucket): the first whose range is at least the requested one
BUCKETS = ((timedelta(hours=6), timedelta(minutes=1)), (timedelta(days=2), timedelta(minutes=15)),
           (timedelta(days=31), timedelta(hours=1)), (timedelta.max, timedelta(days=1)))
Pair = tuple[str, str]


def bucket_for(since: datetime, until: datetime) -> timedelta:
    """A bucket width that keeps a chart between a few dozen and a few hundred points."""
    span = until - since
    return next(width for most, width in BUCKETS if span <= most)


def _pairs(pairs: Sequence[Pair]) -> dict[str, list[str]]:
    return {"ph": [p[0] for p in pairs], "ps": [p[1] for p in pairs]}


_OPEN_EVENTS = """
SELECT hall_id, camera_id, kind, subject, started_at, details
FROM event_span WHERE ended_at IS NULL AND hall_id = ANY(%(halls)s) AND started_at > now() - %(horizon)s::interval
ORDER BY hall_id, started_at
"""


def open_events(conn: psycopg.Connection, *, hall_ids: Sequence[str], horizon: str = "7 days") -> list[dict[str, Any]]:
    """Events of these halls that started within `horizon` and have not closed."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_OPEN_EVENTS, {"halls": list(hall_ids), "horizon": horizon}).fetchall()


# One row per change of state (and the first sample), from the primary key's (hall, window, ts) range.
_DESK_TIMELINE = """
SELECT ts, state, people FROM (
  SELECT ts, state, people, lag(state) OVER (ORDER BY ts) AS before
  FROM desk_sample WHERE hall_id = %(hall)s AND window_id = %(window)s AND ts >= %(since)s AND ts < %(until)s
) s WHERE before IS DISTINCT FROM state ORDER BY ts
"""


def desk_timeline(conn: psycopg.Connection, *, hall_id: str, window_id: str, since: datetime,
                  until: datetime) -> list[dict[str, Any]]:
    """The desk's state changes between `since` and `until`: [{ts, state, people}], oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_DESK_TIMELINE, {"hall": hall_id, "window": window_id, "since": since,
                                            "until": until}).fetchall()


_QUEUE = """
SELECT b, sum(mean_people) AS people, sum(max_people) AS people_max FROM (
  SELECT date_bin(%(width)s, ts, %(origin)s) AS b, hall_id, zone_id, avg(people) AS mean_people,
         max(people) AS max_people
  FROM zone_sample
  WHERE ts >= %(since)s AND ts < %(until)s AND kind = 'queue'
    AND (hall_id, zone_id) IN (SELECT * FROM unnest(%(ph)s::text[], %(ps)s::text[]))
  GROUP BY 1, 2, 3
) z GROUP BY b ORDER BY b
"""

# The minutes' waits summarised per bucket: the median of their medians and the 90th percentile of
# their 90th percentiles (Little's-law estimates where no tracked dwell was measured).
_WAIT = """
SELECT date_bin(%(width)s, ts, %(origin)s) AS b,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(dwell_p50_s, littles_s)) AS p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY coalesce(dwell_p90_s, littles_s)) AS p90,
       sum(served) AS served
FROM wait_sample
WHERE ts >= %(since)s AND ts < %(until)s AND coalesce(dwell_p90_s, littles_s) IS NOT NULL
  AND (hall_id, zone_id) IN (SELECT * FROM unnest(%(ph)s::text[], %(ps)s::text[]))
GROUP BY 1 ORDER BY 1
"""

# Present windows: each window's share of samples saying `present` in the bucket, summed over windows.
_STAFFING = """
SELECT b, sum(present_share) AS present FROM (
  SELECT date_bin(%(width)s, ts, %(origin)s) AS b, hall_id, window_id,
         avg(CASE WHEN state = 'present' THEN 1.0 ELSE 0.0 END) AS present_share
  FROM desk_sample
  WHERE ts >= %(since)s AND ts < %(until)s
    AND (hall_id, window_id) IN (SELECT * FROM unnest(%(ph)s::text[], %(ps)s::text[]))
  GROUP BY 1, 2, 3
) d GROUP BY b ORDER BY b
"""

# Coverage: the share of health samples saying `live` (the readers write them at a steady pace).
_COVERAGE = """
SELECT date_bin(%(width)s, ts, %(origin)s) AS b,
       avg(CASE WHEN state = 'live' THEN 1.0 ELSE 0.0 END) AS live_share
FROM camera_health
WHERE ts >= %(since)s AND ts < %(until)s
  AND (hall_id, camera_id) IN (SELECT * FROM unnest(%(ph)s::text[], %(ps)s::text[]))
GROUP BY 1 ORDER BY 1
"""


# The same series from the rollups (storage/rollups.py): {table} is a minute, hour or day level.
_QUEUE_ROLLUP = """
SELECT b, sum(mean_people) AS people, sum(max_people) AS people_max FROM (
  SELECT date_bin(%(width)s, bucket, %(origin)s) AS b, hall_id, zone_id,
         sum(people_sum)::float8 / nullif(sum(samples), 0) AS mean_people, max(people_max) AS max_people
  FROM {table}
  WHERE bucket >= %(since)s AND bucket < %(until)s AND kind = 'queue'
    AND (hall_id, zone_id) IN (SELECT * FROM unnest(%(ph)s::text[], %(ps)s::text[]))
  GROUP BY 1, 2, 3
) z GROUP BY b ORDER BY b
"""
_STAFFING_ROLLUP = """
SELECT b, sum(present_share) AS present FROM (
  SELECT date_bin(%(width)s, bucket, %(origin)s) AS b, hall_id, window_id,
         sum(present)::float8 / nullif(sum(samples), 0) AS present_share
  FROM {table}
  WHERE bucket >= %(since)s AND bucket < %(until)s
    AND (hall_id, window_id) IN (SELECT * FROM unnest(%(ph)s::text[], %(ps)s::text[]))
  GROUP BY 1, 2, 3
) d GROUP BY b ORDER BY b
"""
_COVERAGE_ROLLUP = """
SELECT date_bin(%(width)s, bucket, %(origin)s) AS b, sum(live)::float8 / nullif(sum(samples), 0) AS live_share
FROM {table}
WHERE bucket >= %(since)s AND bucket < %(until)s
  AND (hall_id, camera_id) IN (SELECT * FROM unnest(%(ph)s::text[], %(ps)s::text[]))
GROUP BY 1 ORDER BY 1
"""
ROLLED = {"zone_sample": "zone", "desk_sample": "desk", "camera_health": "health"}


def rollups_complete_until(conn: psycopg.Connection) -> datetime | None:
    """Samples before this time are all in the rollups (None: no rollups). With TimescaleDB the continuous
    aggregates answer in real time; on plain PostgreSQL it is the oldest sample any table holds that a refresh
    has not taken in yet (rows inserted since the watermark: a late replay of old samples moves it back)."""
    row = conn.execute("SELECT to_regclass('rollup_watermark') IS NOT NULL, to_regclass('desk_hour') IS NOT NULL"
                       ).fetchone()
    assert row is not None
    if not row[1]:
        return None
    if not row[0]:
        return datetime.max.replace(tzinfo=UTC)
    oldest = datetime.max.replace(tzinfo=UTC)
    for source in ROLLED:
        found = conn.execute(sql.SQL(
            "SELECT min(ts) FROM {} WHERE inserted_at >= (SELECT inserted_from FROM rollup_watermark"
            " WHERE source = %s)").format(sql.Identifier(source)), (source,)).fetchone()
        if found is not None and found[0] is not None:
            oldest = min(oldest, found[0])
    return oldest


def _rollup_level(width: timedelta) -> str | None:
    """The coarsest rollup whose buckets tile buckets of this width: "day", "hour", "minute" (or None)."""
    levels = (("day", timedelta(days=1)), ("hour", timedelta(hours=1)), ("minute", timedelta(minutes=1)))
    return next((name for name, size in levels if width >= size and width % size == timedelta(0)), None)


def _floor(t: datetime, width: timedelta) -> datetime:
    return _ORIGIN + ((t - _ORIGIN) // width) * width


@dataclass
class Trend:
    """Columns of equal length, one value per bucket of the range (`None` where there was no data: a chart
    shows a gap, never a zero, for a dead camera)."""

    bucket_s: int
    t: list[float] = field(default_factory=list)  # bucket starts, unix seconds
    queue: list[float | None] = field(default_factory=list)
    queue_max: list[float | None] = field(default_factory=list)
    wait_p50_s: list[float | None] = field(default_factory=list)
    wait_p90_s: list[float | None] = field(default_factory=list)
    present_windows: list[float | None] = field(default_factory=list)
    coverage: list[float | None] = field(default_factory=list)
    rolled_up_until: float | None = None  # buckets before this (unix s) came from the rollups


def trend(conn: psycopg.Connection, *, queues: Sequence[Pair], windows: Sequence[Pair], cameras: Sequence[Pair],
          since: datetime, until: datetime, width: timedelta | None = None, use_rollups: bool = True) -> Trend:
    """Bucketed series for the given (hall, queue zone), (hall, window) and (hall, camera) pairs, one per bucket
    from the one holding `since` to `until`."""
    width = width or bucket_for(since, until)
    since = _floor(since, width)
    split = since  # buckets before `split` come from the rollups
    level = _rollup_level(width)
    if use_rollups and width >= timedelta(minutes=15) and level is not None:
        complete = rollups_complete_until(conn)
        if complete is not None:
            split = max(since, _floor(min(complete, until), width))
    found: dict[datetime, dict[str, float | None]] = {}

    def collect(query: str | sql.Composed, pairs: Sequence[Pair], columns: dict[str, str], t0: datetime,
                t1: datetime) -> None:
        if not pairs or t0 >= t1:
            return
        params = {"width": width, "origin": ORIGIN, "since": t0, "until": t1} | _pairs(pairs)
        with conn.cursor(row_factory=dict_row) as cur:
            for row in cur.execute(query, params):
                slot = found.setdefault(row["b"], {})
                for name, column in columns.items():
                    slot[name] = None if row[column] is None else round(float(row[column]), 6)  # as raw or rolled

    def rolled(query: str, source: str) -> sql.Composed:
        return sql.SQL(query).format(table=sql.Identifier(f"{ROLLED[source]}_{level}"))

    series = (("zone_sample", _QUEUE, _QUEUE_ROLLUP, queues, {"queue": "people", "queue_max": "people_max"}),
              ("desk_sample", _STAFFING, _STAFFING_ROLLUP, windows, {"present_windows": "present"}),
              ("camera_health", _COVERAGE, _COVERAGE_ROLLUP, cameras, {"coverage": "live_share"}))
    for source, raw, rollup, pairs, columns in series:
        collect(rolled(rollup, source), pairs, columns, since, split)
        collect(raw, pairs, columns, split, until)
    collect(_WAIT, queues, {"wait_p50_s": "p50", "wait_p90_s": "p90"}, since, until)  # already per minute
    out = Trend(bucket_s=int(width.total_seconds()), rolled_up_until=split.timestamp() if split > since else None)
    b = since
    while b < until:
        out.t.append(b.timestamp())
        for name in ("queue", "queue_max", "wait_p50_s", "wait_p90_s", "present_windows", "coverage"):
            getattr(out, name).append(found.get(b, {}).get(name))
        b += width
    return out


# Records on the timeline. Inspections pass the covert rule (storage.records.inspections.visible_sql);
# complaints carry no contact data here.
_COMPLAINT_MARKS = """
SELECT 'complaint' AS kind, c.id, c.received_at AS at, c.hall_id, c.window_id, c.category AS label
FROM complaint c
WHERE c.hall_id = ANY(%(halls)s) AND c.received_at >= %(since)s AND c.received_at < %(until)s
  AND (%(window)s::text IS NULL OR c.window_id = %(window)s)
"""
_INSPECTION_MARKS = """
SELECT 'inspection' AS kind, i.id, i.carried_out_at AS at, i.hall_id, NULL::text AS window_id, i.kind AS label
FROM inspection i
WHERE {visible} AND i.hall_id = ANY(%(halls)s) AND i.status IN ('carried_out', 'published')
  AND i.carried_out_at >= %(since)s AND i.carried_out_at < %(until)s
"""
_FINDING_MARKS = """
SELECT 'finding' AS kind, f.id, i.carried_out_at AS at, i.hall_id, f.window_id,
       f.category || ' (' || f.severity || ')' AS label, i.id AS inspection_id
FROM finding f JOIN inspection i ON i.id = f.inspection_id
WHERE {visible} AND i.hall_id = ANY(%(halls)s) AND i.status IN ('carried_out', 'published')
  AND i.carried_out_at >= %(since)s AND i.carried_out_at < %(until)s
  AND (%(window)s::text IS NULL OR f.window_id = %(window)s OR f.window_id IS NULL)
"""


def record_markers(conn: psycopg.Connection, *, user: User, hall_ids: Sequence[str], window_id: str | None,
                   since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Complaints (by receipt), inspections and their findings (by visit) that `user` may know about."""
    from storage.records.inspections import visible_sql  # records import the auth model: keep this module light

    visible, params = visible_sql(user, "i")
    params |= {"halls": list(hall_ids), "window": window_id, "since": since, "until": until}
    out: list[dict[str, Any]] = []
    with conn.cursor(row_factory=dict_row) as cur:
        out += cur.execute(_COMPLAINT_MARKS, params).fetchall()
        out += cur.execute(sql.SQL(_INSPECTION_MARKS).format(visible=visible), params).fetchall()
        out += cur.execute(sql.SQL(_FINDING_MARKS).format(visible=visible), params).fetchall()
    return sorted(out, key=lambda m: (m["at"], m["kind"], m["id"]))


def officer_names(conn: psycopg.Connection, officer_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """id -> {name, badge} of these officers (the public facts of the on-duty board)."""
    rows = conn.execute("SELECT id, name, badge FROM officer WHERE id = ANY(%s)", (list(officer_ids),))
    return {r[0]: {"name": r[1], "badge": r[2]} for r in rows}
