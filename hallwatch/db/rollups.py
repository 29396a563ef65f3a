"""Minute and hour rollups of the timeseries (migration 030): their refresh, and a scheduler for the
service.

With TimescaleDB the rollups are continuous aggregates and `refresh_rollups` asks TimescaleDB to
refresh them (it tracks late rows itself). With plain PostgreSQL they are tables, refreshed
incrementally: every sample row carries `inserted_at` (its transaction's start), and a refresh
recomputes, from the raw rows, every minute that holds a row inserted since the last refresh — a
replay of samples from hours ago after a database outage recomputes those hours — then the hours
around those minutes from the minutes. Buckets are recomputed whole and upserted, so running it
again changes nothing. Refreshes take an advisory lock: concurrent callers run one after another.

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
from psycopg_pool import ConnectionPool

from hallwatch.redact import redact_text

log = logging.getLogger(__name__)

_LOCK_KEY = 0x726F6C6C  # "roll"
ORIGIN = "2000-01-01 00:00:00+00"  # buckets do not depend on the session's time zone
CHUNK = timedelta(hours=6)  # one recompute statement covers at most this much time


@dataclass(frozen=True)
class _Level:
    target: str
    source: str
    time: str  # the source's time column
    width: str  # "minute" or "hour": the bucket of a source row
    keys: tuple[str, ...]  # subject columns (the primary key is keys + bucket)
    aggs: tuple[tuple[str, str], ...]  # (column, aggregate over source rows)


@dataclass(frozen=True)
class _Rollup:
    source: str  # the raw table
    levels: tuple[_Level, ...]  # minute, hour, hall hour: each from the one before


_DESK_HOUR = (("samples", "sum(samples)"), ("present", "sum(present)"), ("absent", "sum(absent)"),
              ("unknown", "sum(unknown)"))
_ZONE_HOUR = (("samples", "sum(samples)"), ("people_sum", "sum(people_sum)"), ("people_max", "max(people_max)"))
_HEALTH_HOUR = (("samples", "sum(samples)"), ("live", "sum(live)"))

ROLLUPS = (
    _Rollup("desk_sample", (
        _Level("desk_minute", "desk_sample", "ts", "minute", ("hall_id", "window_id"),
               (("samples", "count(*)"),
                ("present", "count(*) FILTER (WHERE state = 'present')"),
                ("absent", "count(*) FILTER (WHERE state = 'absent')"),
                ("unknown", "count(*) FILTER (WHERE state = 'unknown')"),
                ("people_max", "max(people)"))),
        _Level("desk_hour", "desk_minute", "bucket", "hour", ("hall_id", "window_id"),
               (*_DESK_HOUR, ("people_max", "max(people_max)"))),
        _Level("desk_hall_hour", "desk_hour", "bucket", "hour", ("hall_id",), _DESK_HOUR),
    )),
    _Rollup("zone_sample", (
        # kind is an aggregate, not a key: a zone whose kind changes within a minute stays one row
        _Level("zone_minute", "zone_sample", "ts", "minute", ("hall_id", "zone_id"),
               (("kind", "max(kind)"), ("samples", "count(*)"), ("people_sum", "sum(people)"),
                ("people_max", "max(people)"))),
        _Level("zone_hour", "zone_minute", "bucket", "hour", ("hall_id", "zone_id"),
               (("kind", "max(kind)"), *_ZONE_HOUR)),
        _Level("zone_hall_hour", "zone_hour", "bucket", "hour", ("hall_id", "kind"), _ZONE_HOUR),
    )),
    _Rollup("camera_health", (
        _Level("health_minute", "camera_health", "ts", "minute", ("hall_id", "camera_id"),
               (("samples", "count(*)"), ("live", "count(*) FILTER (WHERE state = 'live')"),
                ("fps_sum", "sum(fps)"))),
        _Level("health_hour", "health_minute", "bucket", "hour", ("hall_id", "camera_id"),
               (*_HEALTH_HOUR, ("fps_sum", "sum(fps_sum)"))),
        _Level("health_hall_hour", "health_hour", "bucket", "hour", ("hall_id",), _HEALTH_HOUR),
    )),
)


@dataclass
class RefreshReport:
    mode: str  # "timescaledb" or "plain"
    minutes: dict[str, int] = field(default_factory=dict)  # source table -> minute buckets recomputed
    seconds: float = 0.0


def rollup_mode(conn: psycopg.Connection) -> str:
    """"timescaledb" when the rollups are continuous aggregates, else "plain"."""
    row = conn.execute("SELECT to_regclass('rollup_watermark') IS NOT NULL").fetchone()
    return "plain" if row and row[0] else "timescaledb"


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


def _refresh_timescale(conn: psycopg.Connection, until: datetime | None) -> RefreshReport:
    if not conn.autocommit:
        raise ValueError("refreshing continuous aggregates needs a connection in autocommit mode")
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        end = until or conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        for depth in range(3):  # every minute aggregate, then every hour one, then every hall one
            for rollup in ROLLUPS:
                view = rollup.levels[depth].target
                conn.execute("CALL refresh_continuous_aggregate(%s, NULL, %s)", (view, end))
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


def _refresh_plain(conn: psycopg.Connection, until: datetime | None) -> RefreshReport:
    report = RefreshReport("plain")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        next_from = conn.execute(_OLDEST_OPEN).fetchone()[0]  # type: ignore[index]
        end = until or conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        for rollup in ROLLUPS:
            params = {"source": rollup.source, "until": end}
            source = sql.Identifier(rollup.source)
            dirty = sql.SQL(_DIRTY_RANGES).format(origin=sql.Literal(ORIGIN), source=source, since=sql.SQL(_SINCE))
            ranges = conn.execute(dirty, params).fetchall()
            minute, *hours = rollup.levels
            for lo, hi, _ in ranges:
                for a, b in _chunks(lo, hi):
                    conn.execute(_recompute(minute), {"lo": a, "hi": b})
                hour_lo, hour_hi = _hours(lo, hi)
                for level in hours:
                    conn.execute(_recompute(level), {"lo": hour_lo, "hi": hour_hi})
            report.minutes[rollup.source] = sum(n for _, _, n in ranges)
            held_back = sql.SQL(_HELD_BACK).format(source=source, since=sql.SQL(_SINCE))
            held = conn.execute(held_back, params).fetchone()[0]  # type: ignore[index]
            new_from = min(next_from, held) if held is not None else next_from
            conn.execute("UPDATE rollup_watermark SET inserted_from = %s WHERE source = %s",
                         (new_from, rollup.source))
    return report


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
    select = (f"SELECT date_bin('1 {level.width}', {level.time}, '{ORIGIN}'), {keys}, {aggs} FROM {level.source}"
              f" WHERE {level.time} >= %(lo)s AND {level.time} < %(hi)s GROUP BY 1, {keys}")
    return _upsert(level.target, level.keys, level.aggs, select)


def _hours(lo: datetime, hi: datetime) -> tuple[datetime, datetime]:
    """The whole UTC hours that overlap [lo, hi) (ORIGIN is on the hour, so date_bin agrees)."""
    def floor(t: datetime) -> datetime:
        return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return floor(lo), floor(hi - timedelta(microseconds=1)) + timedelta(hours=1)


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

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.tick()
            if stop.wait(self.interval_s):
                break
