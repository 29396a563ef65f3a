"""The rollups of the timeseries (migrations 030 and 042): their refresh, and a scheduler for the service.

Per raw table there are eight levels, each summed from one before it: per subject (window, zone, camera) by
minute, hour and day; per hall by hour and day; per city by minute, hour and day (the subject minutes and the
hall-hours joined to `hall`).

With TimescaleDB the rollups are continuous aggregates and `refresh_rollups` asks TimescaleDB to refresh them
(it tracks late rows itself); only their owner may, so in the service TimescaleDB's refresh policies do it
(set by `storage.retention`) and `RollupScheduler` leaves it to them. With plain PostgreSQL they are tables,
refreshed incrementally: every sample row carries `inserted_at` (its transaction's start), and a refresh
recomputes, from the raw rows, every minute that holds a row inserted since the last refresh — a replay of
samples from hours ago after a database outage recomputes those hours — then the hours and days around those
minutes, level by level. Buckets are recomputed whole and upserted, so running it again changes nothing. A
hall whose city changed since the last refresh (or that is new) has its hours recomputed in the city levels.
Refreshes take an advisory lock: concurrent callers run one after another.

The watermark is the oldest start of a transaction still open in the database when a refresh
begins (or the refresh's own start): rows of a writer transaction that commits during a refresh
are older than that, so the next refresh still sees them."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from core.redact import redact_text

log = logging.getLogger(__name__)

_LOCK_KEY = 0x726F6C6C  # "roll"
ORIGIN = "2000-01-01 00:00:00+00"  # buckets do not depend on the session's time zone
CHUNK = timedelta(hours=6)  # one recompute statement covers at most this much time
BUCKETS_PER_BATCH = 1440  # TimescaleDB refreshes in transactions of this many buckets: a day of minutes


@dataclass(frozen=True)
class _Level:
    target: str
    source: str
    time: str  # the source's time column
    width: str  # "minute", "hour" or "day": the target's bucket
    keys: tuple[str, ...]  # subject columns (the primary key is keys + bucket)
    aggs: tuple[tuple[str, str], ...]  # (column, aggregate over source rows)
    join: str = ""  # joined to the source: the city levels find each hall's city

    @property
    def by_city(self) -> bool:
        return self.keys[0] == "city_id"


@dataclass(frozen=True)
class _Rollup:
    source: str  # the raw table
    levels: tuple[_Level, ...]  # each from a level before it (or the raw table)

    @property
    def hall_hour(self) -> _Level:
        return next(level for level in self.levels if level.target.endswith("_hall_hour"))


_CITY_JOIN = "JOIN hall ON hall.id = {source}.hall_id"


def _coarser(prefix: str, subject: tuple[str, ...], hall: tuple[str, ...], city: tuple[str, ...],
             subject_aggs: tuple[tuple[str, str], ...], aggs: tuple[tuple[str, str], ...]) -> tuple[_Level, ...]:
    """The levels above a subject's minute rollup: city-minute; hour, hall-hour, city-hour; and the same three
    per day."""
    minute, hall_hour, city_hour = f"{prefix}_minute", f"{prefix}_hall_hour", f"{prefix}_city_hour"
    return (
        _Level(f"{prefix}_city_minute", minute, "bucket", "minute", city, aggs, _CITY_JOIN.format(source=minute)),
        _Level(f"{prefix}_hour", minute, "bucket", "hour", subject, subject_aggs),
        _Level(hall_hour, f"{prefix}_hour", "bucket", "hour", hall, aggs),
        _Level(city_hour, hall_hour, "bucket", "hour", city, aggs, _CITY_JOIN.format(source=hall_hour)),
        _Level(f"{prefix}_day", f"{prefix}_hour", "bucket", "day", subject, subject_aggs),
        _Level(f"{prefix}_hall_day", hall_hour, "bucket", "day", hall, aggs),
        _Level(f"{prefix}_city_day", city_hour, "bucket", "day", city, aggs),
    )


_DESK_HOUR = (("samples", "sum(samples)"), ("present", "sum(present)"), ("absent", "sum(absent)"),
              ("unknown", "sum(unknown)"))
_ZONE_HOUR = (("samples", "sum(samples)"), ("people_sum", "sum(people_sum)"), ("people_max", "max(people_max)"))
_HEALTH_HOUR = (("samples", "sum(samples)"), ("live", "sum(live)"))
_DESK_SUBJECT = (*_DESK_HOUR, ("people_max", "max(people_max)"))
_ZONE_SUBJECT = (("kind", "max(kind)"), *_ZONE_HOUR)
_HEALTH_SUBJECT = (*_HEALTH_HOUR, ("fps_sum", "sum(fps_sum)"))

# Per raw table, in refresh order: minute, city-minute, hour, hall-hour, city-hour, day, hall-day, city-day.
ROLLUPS = (
    _Rollup("desk_sample", (
        _Level("desk_minute", "desk_sample", "ts", "minute", ("hall_id", "window_id"),
               (("samples", "count(*)"),
                ("present", "count(*) FILTER (WHERE state = 'present')"),
                ("absent", "count(*) FILTER (WHERE state = 'absent')"),
                ("unknown", "count(*) FILTER (WHERE state = 'unknown')"),
                ("people_max", "max(people)"))),
        *_coarser("desk", ("hall_id", "window_id"), ("hall_id",), ("city_id",), _DESK_SUBJECT, _DESK_HOUR),
    )),
    _Rollup("zone_sample", (
        # kind is an aggregate, not a key: a zone whose kind changes within a minute stays one row
        _Level("zone_minute", "zone_sample", "ts", "minute", ("hall_id", "zone_id"),
               (("kind", "max(kind)"), ("samples", "count(*)"), ("people_sum", "sum(people)"),
                ("people_max", "max(people)"))),
        *_coarser("zone", ("hall_id", "zone_id"), ("hall_id", "kind"), ("city_id", "kind"), _ZONE_SUBJECT,
                  _ZONE_HOUR),
    )),
    _Rollup("camera_health", (
        _Level("health_minute", "camera_health", "ts", "minute", ("hall_id", "camera_id"),
               (("samples", "count(*)"), ("live", "count(*) FILTER (WHERE state = 'live')"),
                ("fps_sum", "sum(fps)"))),
        *_coarser("health", ("hall_id", "camera_id"), ("hall_id",), ("city_id",), _HEALTH_SUBJECT, _HEALTH_HOUR),
    )),
)


@dataclass
class RefreshReport:
    mode: str  # "timescaledb" or "plain"
    minutes: dict[str, int] = field(default_factory=dict)  # source table -> minute buckets recomputed
    moved_halls: int = 0  # halls whose city changed (or that appeared) since the last refresh: plain path
    seconds: float = 0.0


def rollup_mode(conn: psycopg.Connection) -> str:
    """"timescaledb" when the rollups are continuous aggregates, else "plain"."""
    row = conn.execute("SELECT to_regclass('rollup_watermark') IS NOT NULL").fetchone()
    return "plain" if row and row[0] else "timescaledb"


def may_refresh(conn: psycopg.Connection) -> bool:
    """Whether this role may refresh the continuous aggregates: TimescaleDB lets only their owner (the service's
    login role owns nothing, so the refresh policies do it)."""
    row = conn.execute("SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = 'desk_minute'::regclass"
                       ).fetchone()
    return bool(row and row[0])


def refresh_rollups(conn: psycopg.Connection, *, until: datetime | None = None) -> RefreshReport:
    """Bring the rollups up to date with the samples of buckets that start before `until`
    (default: now). TimescaleDB needs `conn` in autocommit mode (its refresh cannot run in a
    transaction); the plain path commits its own transaction either way."""
    started = time.perf_counter()
    mode = rollup_mode(conn)
    if not conn.autocommit:
        conn.commit()  # end the transaction rollup_mode began
    report = _refresh_timescale(conn, until) if mode == "timescaledb" else _refresh_plain(conn, until)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


# The oldest time a level's source still holds: the start of its oldest chunk (a raw hypertable's, or the
# materialization hypertable's of a continuous aggregate); NULL when it holds none.
_SOURCE_START = """
SELECT min(c.range_start) FROM timescaledb_information.chunks c
WHERE (c.hypertable_schema, c.hypertable_name) IN (
  SELECT hypertable_schema, hypertable_name FROM timescaledb_information.hypertables
  WHERE hypertable_schema = current_schema() AND hypertable_name = %(source)s
  UNION ALL
  SELECT materialization_hypertable_schema, materialization_hypertable_name
  FROM timescaledb_information.continuous_aggregates
  WHERE view_schema = current_schema() AND view_name = %(source)s)
"""


def _refresh_timescale(conn: psycopg.Connection, until: datetime | None) -> RefreshReport:
    """Refresh each continuous aggregate from the oldest chunk its source still holds, never from the start of
    time: a refresh over a range whose source chunks retention dropped would delete the aggregate's buckets there
    (TimescaleDB recomputes invalidated buckets from what is left), and an open start made a first refresh walk
    an unbounded range. A level whose source holds nothing is left as it is. Batches of BUCKETS_PER_BATCH buckets
    (TimescaleDB's default, 10, made a first refresh of 100 days of minutes take over three minutes)."""
    if not conn.autocommit:
        raise ValueError("refreshing continuous aggregates needs a connection in autocommit mode")
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        end = until or conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        for depth in range(len(ROLLUPS[0].levels)):  # every level after the ones it is computed from
            for rollup in ROLLUPS:
                level = rollup.levels[depth]
                start = conn.execute(_SOURCE_START, {"source": level.source}).fetchone()[0]  # type: ignore[index]
                if start is not None and start < end:
                    conn.execute("CALL refresh_continuous_aggregate(%s, %s, %s, options => %s)",
                                 (level.target, start, end, Jsonb({"buckets_per_batch": BUCKETS_PER_BATCH})))
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return RefreshReport("timescaledb")


_OLDEST_OPEN = """
SELECT least(clock_timestamp(), min(xact_start))
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
"""

# Contiguous runs of minutes holding rows inserted from the watermark on (gaps and islands).
_DIRTY_RANGES = """
WITH m AS (
  SELECT DISTINCT date_bin('1 minute', ts, {origin}) AS minute
  FROM {source} WHERE inserted_at >= ({since}) AND ts < %(until)s
), g AS (
  SELECT minute, minute - (row_number() OVER (ORDER BY minute)) * interval '1 minute' AS run FROM m
)
SELECT min(minute), max(minute) + interval '1 minute', count(*) FROM g GROUP BY run ORDER BY 1
"""

# Rows inserted since the watermark but beyond `until` stay for the next refresh.
_HELD_BACK = "SELECT min(inserted_at) FROM {source} WHERE inserted_at >= ({since}) AND ts >= %(until)s"
# Kept in SQL: the initial watermark, -infinity, has no Python datetime.
_SINCE = "SELECT inserted_from FROM rollup_watermark WHERE source = %(source)s"
# Halls whose city is not the one the city rollups were computed with: moved, new, or gone.
_MOVED_HALLS = """
SELECT coalesce(h.id, r.hall_id), h.city_id FROM hall h FULL JOIN rollup_hall_city r ON r.hall_id = h.id
WHERE h.city_id IS DISTINCT FROM r.city_id
"""


def _refresh_plain(conn: psycopg.Connection, until: datetime | None) -> RefreshReport:
    report = RefreshReport("plain")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        next_from = conn.execute(_OLDEST_OPEN).fetchone()[0]  # type: ignore[index]
        end = until or conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        moved = conn.execute(_MOVED_HALLS).fetchall()  # read first: a move during the refresh shows next time
        for rollup in ROLLUPS:
            params = {"source": rollup.source, "until": end}
            source = sql.Identifier(rollup.source)
            dirty = sql.SQL(_DIRTY_RANGES).format(origin=sql.Literal(ORIGIN), source=source, since=sql.SQL(_SINCE))
            ranges = conn.execute(dirty, params).fetchall()
            for lo, hi, _ in ranges:
                _recompute_levels(conn, rollup.levels, lo, hi)
            report.minutes[rollup.source] = sum(n for _, _, n in ranges)
            held_back = sql.SQL(_HELD_BACK).format(source=source, since=sql.SQL(_SINCE))
            held = conn.execute(held_back, params).fetchone()[0]  # type: ignore[index]
            new_from = min(next_from, held) if held is not None else next_from
            conn.execute("UPDATE rollup_watermark SET inserted_from = %s WHERE source = %s",
                         (new_from, rollup.source))
            if moved:
                _recompute_cities(conn, rollup, [hall for hall, _ in moved])
        for hall, city in moved:
            if city is None:
                conn.execute("DELETE FROM rollup_hall_city WHERE hall_id = %s", (hall,))
            else:
                conn.execute("INSERT INTO rollup_hall_city (hall_id, city_id) VALUES (%s, %s) ON CONFLICT (hall_id)"
                             " DO UPDATE SET city_id = EXCLUDED.city_id", (hall, city))
        report.moved_halls = len(moved)
    return report


def _recompute_levels(conn: psycopg.Connection, levels: tuple[_Level, ...], lo: datetime, hi: datetime, *,
                      clear: bool = False) -> None:
    """Recompute every bucket of these levels that overlaps [lo, hi), in order; with `clear`, delete the
    levels' rows there first (for buckets whose sources may have gone, as a city's when a hall moves away)."""
    for level in levels:
        a, b = _span(lo, hi, level.width)
        if clear:
            conn.execute(sql.SQL("DELETE FROM {} WHERE bucket >= %s AND bucket < %s").format(
                sql.Identifier(level.target)), (a, b))
        for c, d in _chunks(a, b) if level.width == "minute" else [(a, b)]:
            conn.execute(_recompute(level), {"lo": c, "hi": d})


def _recompute_cities(conn: psycopg.Connection, rollup: _Rollup, halls: list[str]) -> None:
    """Recompute the city levels over the hours the hall-hour level holds for these halls."""
    cities = tuple(level for level in rollup.levels if level.by_city)
    found = conn.execute(sql.SQL("SELECT min(bucket), max(bucket) FROM {} WHERE hall_id = ANY(%s)").format(
        sql.Identifier(rollup.hall_hour.target)), (halls,)).fetchone()
    if found is not None and found[0] is not None:
        _recompute_levels(conn, cities, found[0], found[1] + timedelta(hours=1), clear=True)


def _chunks(lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
    out = []
    while lo < hi:
        out.append((lo, min(lo + CHUNK, hi)))
        lo += CHUNK
    return out


def _upsert(target: str, keys: tuple[str, ...], aggs: tuple[tuple[str, str], ...], select_from: str) -> sql.Composed:
    cols = [name for name, _ in aggs]
    conflict = [*keys, "bucket"]
    return sql.SQL(
        "INSERT INTO {target} (bucket, {keys}, {cols}) {select}"
        " ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
        " WHERE ({current}) IS DISTINCT FROM ({excluded})"
    ).format(
        target=sql.Identifier(target),
        keys=sql.SQL(", ").join(map(sql.Identifier, keys)),
        cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
        select=sql.SQL(select_from),  # type: ignore[arg-type]  # built here from constants only
        conflict=sql.SQL(", ").join(map(sql.Identifier, conflict)),
        updates=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in cols),
        current=sql.SQL(", ").join(sql.SQL("{t}.{c}").format(t=sql.Identifier(target), c=sql.Identifier(c))
                                   for c in cols),
        excluded=sql.SQL(", ").join(sql.SQL("EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in cols),
    )


def _recompute(level: _Level) -> sql.Composed:
    """Recompute the level's buckets in [lo, hi) from its source."""
    keys = ", ".join(level.keys)
    aggs = ", ".join(expr for _, expr in level.aggs)
    select = (f"SELECT date_bin('1 {level.width}', {level.time}, '{ORIGIN}'), {keys}, {aggs}"
              f" FROM {level.source} {level.join}"
              f" WHERE {level.time} >= %(lo)s AND {level.time} < %(hi)s GROUP BY 1, {keys}")
    return _upsert(level.target, level.keys, level.aggs, select)


_WIDTHS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def _span(lo: datetime, hi: datetime, width: str) -> tuple[datetime, datetime]:
    """The whole buckets of this width (UTC, from ORIGIN, as date_bin cuts them) that overlap [lo, hi)."""
    step = _WIDTHS[width]
    first = _ORIGIN + ((lo - _ORIGIN) // step) * step
    last = _ORIGIN + ((hi - timedelta(microseconds=1) - _ORIGIN) // step) * step
    return first, last + step


class RollupScheduler:
    """Refreshes the rollups every `interval_s` seconds until stopped; a database outage is logged
    and the next tick tries again. Run it in a thread: `threading.Thread(target=s.run, args=(stop,))`."""

    def __init__(self, pool: ConnectionPool, *, interval_s: float = 60.0, timeout_s: float = 10.0) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        self.pool, self.interval_s, self.timeout_s = pool, interval_s, timeout_s
        self.last: RefreshReport | None = None
        self.failures = 0
        self.ticked = threading.Event()  # set after every tick, refreshed or not

    def tick(self) -> RefreshReport | None:
        try:
            with self.pool.connection(timeout=self.timeout_s) as conn:
                conn.autocommit = True
                try:
                    if rollup_mode(conn) == "timescaledb" and not may_refresh(conn):
                        self._leave_to_timescaledb()
                        return self.last
                    self.last = refresh_rollups(conn)
                finally:
                    conn.autocommit = False
        except Exception as exc:  # an outage or a pool timeout: the next tick retries
            self.failures += 1
            log.warning("rollup refresh failed (will retry in %.0f s): %s", self.interval_s, redact_text(str(exc)))
            return None
        finally:
            self.ticked.set()
        log.debug("rollups refreshed: %s", self.last)
        return self.last

    def _leave_to_timescaledb(self) -> None:
        if self.last is None:
            log.info("rollups: TimescaleDB refreshes the continuous aggregates itself (the refresh policies "
                     "storage.retention sets as their owner); this role may not")
        self.last = RefreshReport("timescaledb")

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.tick()
            if stop.wait(self.interval_s):
                break
