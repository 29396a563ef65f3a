"""The TimescaleDB path for real (tests/fix_timescale.py: TimescaleDB 2.29 preloaded in a second embedded server):
hypertables, the 24 continuous aggregates giving the plain path's answers, compression and retention policies set
from the site file and run, and the writer storing into compressed chunks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from core.config import RetentionConfig
from pipeline.rows import DeskSample, HealthSample, Sample, ZoneSample
from storage.retention import KEPT_AS_ROLLUPS, RAW_TABLES, apply_retention
from storage.rollups import ROLLUPS, RollupScheduler, refresh_rollups
from storage.samples import copy_samples
from tests.fix_timescale import TimescaleDatabase

CONFIG = RetentionConfig()
LEVELS = [level.target for rollup in ROLLUPS for level in rollup.levels]
HALLS = ("cc-nanguan", "cc-chaoyang", "jlc-chuanying")  # two cities


@pytest.fixture
def owner(tsdb: TimescaleDatabase) -> Iterator[psycopg.Connection]:
    with psycopg.connect(tsdb.owner_dsn, autocommit=True) as conn:
        yield conn


def province(start: dt.datetime, minutes: int, step_s: int = 20) -> list[Sample]:
    out: list[Sample] = []
    for k in range(0, minutes * 60, step_s):
        ts = start + dt.timedelta(seconds=k)
        for i, hall in enumerate(HALLS):
            for w in ("w1", "w2"):
                state = ("present", "absent", "unknown")[(k // step_s + i + int(w[1])) % 3]
                out.append(DeskSample(ts, hall, w, "cam1", state, ts, (k + i) % 3 if state == "present" else 0))
            out.append(ZoneSample(ts, hall, "q1", "cam1", "queue", (k // step_s + i) % 9))
            out.append(ZoneSample(ts, hall, "ss", "cam1", "self_service", (k // step_s) % 4))
            up = (k // step_s + i) % 5 != 0
            out.append(HealthSample(ts, hall, "cam1", "live" if up else "stalled", 9.5 if up else 0.0, ts, 0, None))
    return out


def rows_of(conn: psycopg.Connection, relation: str) -> list[tuple[Any, ...]]:
    """Every row, as comparable values: numeric and bigint sums alike, float sums rounded."""
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return round(value, 3) if isinstance(value, float) else value

    return sorted(tuple(plain(v) for v in row) for row in conn.execute(f"SELECT * FROM {relation}"))


def jobs(conn: psycopg.Connection, proc: str) -> dict[str, dict[str, Any]]:
    """The policies `proc` by the relation they are for (a continuous aggregate's by its view name)."""
    return dict(conn.execute("SELECT hypertable_name, config FROM timescaledb_information.jobs WHERE proc_name = %s",
                             (proc,)))


def job_id(conn: psycopg.Connection, proc: str, table: str) -> int:
    row = conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s"
                       " AND hypertable_name = %s", (proc, table)).fetchone()
    assert row is not None, (proc, table)
    return int(row[0])


def test_the_timeseries_are_hypertables_and_the_rollups_continuous_aggregates(owner: psycopg.Connection) -> None:
    hypertables = {name for (name,) in owner.execute("SELECT hypertable_name FROM timescaledb_information.hypertables"
                                                     " WHERE hypertable_schema = 'public'")}
    assert {*RAW_TABLES, *KEPT_AS_ROLLUPS, "event_open"} <= hypertables
    aggregates = {name for (name,) in owner.execute("SELECT view_name FROM timescaledb_information."
                                                    "continuous_aggregates")}
    assert aggregates == set(LEVELS) and len(LEVELS) == 24
    segments: dict[str, str] = dict(owner.execute(
        "SELECT hypertable_name, string_agg(attname, ', ' ORDER BY segmentby_column_index)"
        " FROM timescaledb_information.compression_settings WHERE segmentby_column_index IS NOT NULL GROUP BY 1"
    ).fetchall())
    assert segments == {"desk_sample": "hall_id, window_id", "zone_sample": "hall_id, zone_id",
                        "camera_health": "hall_id, camera_id"}
    assert owner.execute("SELECT count(*) FROM pg_class WHERE relname LIKE '%\\_default'").fetchone() == (0,)


def test_the_continuous_aggregates_give_the_plain_answers(tsdb: TimescaleDatabase, owner: psycopg.Connection,
                                                          pool: ConnectionPool) -> None:
    samples = province(dt.datetime(2026, 11, 1, 23, 10, tzinfo=dt.UTC), 100)  # across a UTC midnight
    with tsdb.pool.connection() as conn:
        copy_samples(conn, samples)
    report = refresh_rollups(owner)
    assert report.mode == "timescaledb"
    with pool.connection() as conn:  # the plain path, same site, same samples
        copy_samples(conn, samples)
        assert refresh_rollups(conn).mode == "plain"
        for level in LEVELS:
            plain = rows_of(conn, level)
            assert plain, level
            assert rows_of(owner, level) == plain, level


def test_retention_drops_old_chunks_and_the_rollups_keep_them(tsdb: TimescaleDatabase,
                                                               owner: psycopg.Connection) -> None:
    now = owner.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    old = (now - dt.timedelta(days=120)).replace(second=0, microsecond=0)
    recent = (now - dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    with tsdb.pool.connection() as conn:
        copy_samples(conn, province(old, 10) + province(recent, 10))
    refresh_rollups(owner)
    before = {level: rows_of(owner, level) for level in LEVELS}
    assert owner.execute("SELECT count(*) FROM desk_minute WHERE bucket < %s", (now - dt.timedelta(days=90),)
                         ).fetchone() == (10 * len(HALLS) * 2,)

    report = apply_retention(owner, CONFIG)
    assert report.mode == "timescaledb"
    assert {name.split(":")[0] for name in report.partitions_dropped} == set(RAW_TABLES)
    for table in RAW_TABLES:
        assert owner.execute(f"SELECT min(ts) FROM {table}").fetchone() == (recent,)
    # The raw rows of 120 days ago are gone; their minutes, hours and days are not, even after another refresh
    # (which, over the dropped chunks, would have emptied them).
    refresh_rollups(owner)
    assert {level: rows_of(owner, level) for level in LEVELS} == before


def test_policies_follow_the_site_file_and_run(tsdb: TimescaleDatabase, owner: psycopg.Connection) -> None:
    report = apply_retention(owner, CONFIG)
    assert len(report.policies) == 3 + len(RAW_TABLES + KEPT_AS_ROLLUPS) + 2 * len(LEVELS)
    compression = jobs(owner, "policy_compression")
    assert {t: c["compress_after"] for t, c in compression.items()} == dict.fromkeys(RAW_TABLES, "7 days")
    retention = {t: c["drop_after"] for t, c in jobs(owner, "policy_retention").items()}
    assert retention["desk_sample"] == "90 days" and retention["desk_minute"] == "400 days"
    assert retention["desk_city_day"] == retention["wait_sample"] == "1830 days"
    refresh = {t: c["start_offset"] for t, c in jobs(owner, "policy_refresh_continuous_aggregate").items()}
    assert refresh["desk_minute"] == "89 days"  # never back past the raw chunks still kept
    assert refresh["desk_hour"] == refresh["zone_city_minute"] == "399 days"
    assert refresh["health_city_day"] == "1829 days"
    assert apply_retention(owner, CONFIG).policies == []  # unchanged config, unchanged policies

    shorter = CONFIG.model_copy(update={"raw_days": 30, "compress_after_days": 2})
    assert sorted(apply_retention(owner, shorter).policies) == sorted(
        [f"{t}: compression compress_after 2 days" for t in RAW_TABLES]
        + [f"{t}: retention drop_after 30 days" for t in RAW_TABLES]
        + [f"{level.target}: refresh_continuous_aggregate start_offset 29 days"
           for rollup in ROLLUPS for level in rollup.levels if level.source in RAW_TABLES])
    assert jobs(owner, "policy_retention")["zone_sample"]["drop_after"] == "30 days"

    # The jobs themselves, run now (this server's background workers are off): compression of the chunks older
    # than two days, then the writer replaying into a compressed chunk, then retention past 30 days.
    now = owner.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    ten_days, forty_days = now - dt.timedelta(days=10), now - dt.timedelta(days=40)
    batch = province(ten_days, 2) + province(forty_days, 2)
    with tsdb.pool.connection() as conn:
        copy_samples(conn, batch)
    owner.execute("CALL run_job(%s)", (job_id(owner, "policy_compression", "desk_sample"),))
    compressed = owner.execute("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name ="
                               " 'desk_sample' AND is_compressed").fetchone()[0]  # type: ignore[index]
    assert compressed >= 1
    one_more = DeskSample(ten_days + dt.timedelta(seconds=1), "cc-nanguan", "w1", "cam1", "absent", ten_days, 0)
    with tsdb.pool.connection() as conn:
        copy_samples(conn, [*batch, one_more])  # duplicates: the ON CONFLICT path, into compressed chunks
    assert owner.execute("SELECT count(*) FROM desk_sample").fetchone() == (
        sum(isinstance(s, DeskSample) for s in batch) + 1,)

    owner.execute("CALL run_job(%s)", (job_id(owner, "policy_retention", "desk_sample"),))
    assert owner.execute("SELECT min(ts) FROM desk_sample").fetchone() == (ten_days,)


def test_the_service_role_leaves_the_refresh_to_timescaledb(tsdb: TimescaleDatabase) -> None:
    scheduler = RollupScheduler(tsdb.pool, interval_s=3600.0)
    report = scheduler.tick()
    assert report is not None and report.mode == "timescaledb" and scheduler.failures == 0
