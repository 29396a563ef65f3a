"""Retention on plain PostgreSQL (storage/retention.py, migration 050): the raw samples live in daily partitions made
ahead of time and dropped whole when they are older than the retention; rows no partition holds are kept in the
default partition; rollups outlive the raw rows; evidence goes only when no open case or running inspection needs
it; the writer's COPY and its ON CONFLICT fallback still store each sample once."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from core.config import RetentionConfig, load_site
from pipeline.rows import DeskSample, HealthSample, ZoneSample
from storage.migrate import apply_migrations, available_migrations
from storage.retention import RAW_TABLES, RetentionScheduler, apply_retention
from storage.rollups import refresh_rollups
from storage.samples import copy_samples, sync_site
from tests.fix_sites import EXAMPLE_SITE, site_with_port, write_site

CONFIG = RetentionConfig()  # 90 days raw, 400 days of minutes, 1830 days of hours and days
HALL = "cc-nanguan"


@pytest.fixture
def owner(site_dsn: str) -> Iterator[psycopg.Connection]:
    """The owner of the tables (retention changes them), on `pool`'s database, in autocommit mode."""
    with psycopg.connect(site_dsn, autocommit=True) as conn:
        yield conn


def samples(ts: datetime, window: str = "w1") -> list[DeskSample | ZoneSample | HealthSample]:
    return [DeskSample(ts, HALL, window, "cam1", "present", ts, 1),
            ZoneSample(ts, HALL, "q1", "cam1", "queue", 3),
            HealthSample(ts, HALL, "cam1", "live", 10.0, ts, 0, None)]


def partitions(conn: psycopg.Connection, table: str) -> dict[str, tuple[datetime | None, datetime | None]]:
    return {name: (lo, hi) for name, lo, hi in conn.execute(
        "SELECT partition::text, lo, hi FROM hallwatch_partitions(%s)", (table,))}


def home(conn: psycopg.Connection, table: str, ts: datetime) -> str | None:
    """The partition holding the row of `ts`, or None when there is none."""
    row = conn.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE ts = %s", (ts,)).fetchone()
    return row[0] if row else None


def day_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def utc_now(conn: psycopg.Connection) -> datetime:
    return conn.execute("SELECT now()").fetchone()[0].astimezone(UTC)  # type: ignore[index]


def test_partitions_are_made_ahead_and_dropped_when_old(pool: ConnectionPool, owner: psycopg.Connection) -> None:
    now = utc_now(owner)
    today = now.date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    first = apply_retention(owner, CONFIG, now=now)
    assert first.mode == "plain" and not first.partitions_dropped
    for table in RAW_TABLES:  # the migration made today and a week ahead; the job keeps a week ahead
        names = partitions(owner, table)
        assert {day_name(table, today + timedelta(days=d)) for d in range(CONFIG.partitions_ahead_days + 1)} <= set(
            names)
        assert names[day_name(table, today)] == (midnight, midnight + timedelta(days=1))

    # the first instant of today: an hour back would be yesterday in the first hour of a day, a day the migration
    # made no partition for when the database was made after midnight
    recent, later = midnight, now + timedelta(days=95)
    with pool.connection() as conn:  # as the service writes them
        copy_samples(conn, samples(recent) + samples(later))
    assert home(owner, "desk_sample", recent) == day_name("desk_sample", today)
    assert home(owner, "desk_sample", later) == "desk_sample_default"  # no partition that far ahead: kept anyway

    # 100 days on: every day partition of today's week is past the 90 days and goes whole; the row of `later` is
    # inside the retention, so its day gets a partition and the row moves there; a week ahead is made again.
    future = now + timedelta(days=100)
    report = apply_retention(owner, CONFIG, now=future)
    for table in RAW_TABLES:
        assert report.partitions_dropped[day_name(table, today)] == 1  # the one row of `recent`
        assert day_name(table, today + timedelta(days=7)) in report.partitions_dropped
        assert day_name(table, later.date()) in report.partitions_made
        assert day_name(table, future.date() + timedelta(days=7)) in partitions(owner, table)
        assert not [name for name, (_, hi) in partitions(owner, table).items()
                    if hi is not None and hi <= future - timedelta(days=90)]
        assert home(owner, table, recent) is None
        assert home(owner, table, later) == day_name(table, later.date())


def test_out_of_range_rows_are_stored_and_the_too_old_ones_deleted(pool: ConnectionPool,
                                                                    owner: psycopg.Connection) -> None:
    now = utc_now(owner)
    too_old, far_ahead = now - timedelta(days=200), now + timedelta(days=400)
    with pool.connection() as conn:
        copy_samples(conn, samples(too_old) + samples(far_ahead))
    for table in RAW_TABLES:
        assert home(owner, table, too_old) == home(owner, table, far_ahead) == f"{table}_default"
    report = apply_retention(owner, CONFIG, now=now)
    for table in RAW_TABLES:
        assert report.rows_deleted[f"{table}_default"] == 1
        assert home(owner, table, too_old) is None
        assert home(owner, table, far_ahead) == f"{table}_default"  # its day is not near yet: it waits


def test_rollups_outlive_the_raw_samples(pool: ConnectionPool, owner: psycopg.Connection) -> None:
    now = utc_now(owner)
    minute = now.replace(second=0, microsecond=0) - timedelta(hours=2)
    with pool.connection() as conn:
        copy_samples(conn, [s for k in range(0, 60, 5) for s in samples(minute + timedelta(seconds=k))])
        refresh_rollups(conn)

    def rollup_rows() -> dict[str, int]:
        return {t: owner.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                for t in ("desk_minute", "desk_hour", "desk_day", "zone_city_minute", "health_hall_day")}

    kept = rollup_rows()
    assert all(kept.values())
    assert owner.execute("SELECT samples FROM desk_minute WHERE bucket = %s", (minute,)).fetchone() == (12,)

    apply_retention(owner, CONFIG, now=now + timedelta(days=100))
    assert owner.execute("SELECT count(*) FROM desk_sample").fetchone() == (0,)
    assert rollup_rows() == kept  # the raw rows are gone, their minutes, hours and days are not
    with pool.connection() as conn:
        refresh_rollups(conn)
    assert rollup_rows() == kept

    report = apply_retention(owner, CONFIG, now=now + timedelta(days=500))  # past the 400 days of minutes
    assert report.rows_deleted["desk_minute"] == 1
    after = rollup_rows()
    assert after["desk_minute"] == after["zone_city_minute"] == 0
    assert after["desk_hour"] == kept["desk_hour"] and after["health_hall_day"] == kept["health_hall_day"]


def _evidence(owner: psycopg.Connection, inspection: int, finding: int | None, created: datetime) -> int:
    image = b"\x89PNG retention test"
    digest = hashlib.sha256(image).hexdigest()
    row = owner.execute(
        "INSERT INTO evidence (inspection_id, finding_id, source, taken_at, content_type, size, sha256, data,"
        " blurred_sha256, blurred, faces_blurred, created_at)"
        " VALUES (%s, %s, 'upload', %s, 'image/png', %s, %s, %s, %s, %s, 0, %s) RETURNING id",
        (inspection, finding, created, len(image), digest, image, digest, image, created)).fetchone()
    return row[0]  # type: ignore[index]


def _inspection(owner: psycopg.Connection, status: str, at: datetime) -> int:
    row = owner.execute(
        "INSERT INTO inspection (kind, hall_id, planned_at, inspector, status, carried_out_at, published_at)"
        " VALUES ('spot_check', %s, %s, 'inspector', %s, %s, %s) RETURNING id",
        (HALL, at, status, at if status != "planned" else None, at if status == "published" else None)).fetchone()
    return row[0]  # type: ignore[index]


def test_evidence_goes_only_when_no_open_case_or_running_inspection_needs_it(owner: psycopg.Connection) -> None:
    now = utc_now(owner)
    old = now - timedelta(days=400)
    done, running, cased = (_inspection(owner, s, old) for s in ("published", "carried_out", "published"))
    finding = owner.execute("INSERT INTO finding (inspection_id, category, severity, description)"
                            " VALUES (%s, 'absence', 'high', 'window 2 empty') RETURNING id",
                            (cased,)).fetchone()[0]  # type: ignore[index]
    owner.execute("INSERT INTO work_case (source_kind, source_ref, hall_id, title, due_at, status)"
                  " VALUES ('finding', %s, %s, 'window 2 empty', %s, 'open')", (str(finding), HALL, now))
    gone = _evidence(owner, done, None, old)
    kept = [_evidence(owner, running, None, old),  # the inspection is still being written up
            _evidence(owner, cased, finding, old),  # its finding's case is open
            _evidence(owner, done, None, now - timedelta(days=10))]  # young
    audit_before = owner.execute("SELECT count(*) FROM audit_log").fetchone()[0]  # type: ignore[index]

    assert apply_retention(owner, CONFIG, now=now).evidence_deleted == []  # evidence_days unset: kept for ever
    report = apply_retention(owner, CONFIG.model_copy(update={"evidence_days": 365}), now=now)
    assert report.evidence_deleted == [gone]
    assert sorted(r[0] for r in owner.execute("SELECT id FROM evidence")) == sorted(kept)
    audit = owner.execute("SELECT action, details FROM audit_log ORDER BY id").fetchall()
    assert len(audit) == audit_before + 1  # nothing of the audit log went; the deletion is in it
    assert audit[-1] == ("retention.evidence_deleted", {"ids": [gone], "evidence_days": 365})

    owner.execute("UPDATE work_case SET status = 'closed', closed_at = now(), rectification = 'x',"
                  " verification = 'y'")
    assert apply_retention(owner, CONFIG.model_copy(update={"evidence_days": 365}), now=now).evidence_deleted == [
        kept[1]]  # the case is closed: its old evidence goes too


def test_the_writer_stores_each_sample_once_across_partitions(pool: ConnectionPool, owner: psycopg.Connection
                                                              ) -> None:
    now = utc_now(owner)
    batch = [s for ts in (now - timedelta(minutes=1), now, now + timedelta(days=3), now + timedelta(days=300))
             for s in samples(ts)]
    with pool.connection() as conn:
        copy_samples(conn, batch)  # binary COPY into three day partitions and the default one
        copy_samples(conn, batch + samples(now + timedelta(seconds=1)))  # a replay: the ON CONFLICT path
    for table in RAW_TABLES:
        assert owner.execute(f"SELECT count(*) FROM {table}").fetchone() == (5,)
        assert home(owner, table, now + timedelta(days=3)) == day_name(table, (now + timedelta(days=3)).date())
        assert home(owner, table, now + timedelta(days=300)) == f"{table}_default"


def test_rows_stored_before_the_migration_are_kept_and_later_dropped_whole(fresh_dsn: str) -> None:
    before = max(m.version for m in available_migrations() if m.version < 50)
    apply_migrations(fresh_dsn, upto=before)
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        sync_site(conn, load_site(EXAMPLE_SITE))
        now = utc_now(conn)
        old, ahead = now - timedelta(days=30), now + timedelta(days=3)
        copy_samples(conn, samples(old) + samples(now) + samples(ahead))
        apply_migrations(fresh_dsn)
        for table in RAW_TABLES:
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (3,)
            assert home(conn, table, old) == home(conn, table, now) == f"{table}_legacy"
            assert home(conn, table, ahead) == day_name(table, ahead.date())
            assert partitions(conn, table)[f"{table}_legacy"] == (
                None, datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC))
        report = apply_retention(conn, CONFIG, now=now + timedelta(days=120))
        for table in RAW_TABLES:
            assert report.partitions_dropped[f"{table}_legacy"] == 2
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_the_scheduler_applies_retention_until_stopped(site_dsn: str) -> None:
    scheduler = RetentionScheduler(site_dsn, CONFIG)
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stop,), name="retention")
    thread.start()
    try:
        assert scheduler.ticked.wait(60.0)
    finally:
        stop.set()
        thread.join(30.0)
    assert not thread.is_alive()
    assert scheduler.failures == 0 and scheduler.last is not None and scheduler.last.mode == "plain"

    broken = RetentionScheduler("postgresql:///nowhere?host=/nonexistent", CONFIG, connect_timeout_s=1.0)
    assert broken.tick() is None and broken.failures == 1


def test_hallwatch_db_prune_applies_the_site_retention(site_dsn: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from hallwatch.cli import main

    with psycopg.connect(site_dsn, autocommit=True) as conn:
        now = utc_now(conn)
        copy_samples(conn, samples(now - timedelta(days=20)))  # no partition that old: the default one
    site = write_site(tmp_path / "site.yaml", site_with_port(8554, retention={"raw_days": 14}))
    monkeypatch.setenv("HALLWATCH_DATABASE_URL", site_dsn)
    assert main(["db", "prune", "--site", str(site)]) == 0
    out = capsys.readouterr().out
    assert "(plain)" in out and "about 3 rows deleted" in out
    with psycopg.connect(site_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM desk_sample").fetchone() == (0,)


@pytest.mark.parametrize(("settings", "error"), [
    ({"raw_days": 400, "minute_rollup_days": 300}, "minute_rollup_days"),
    ({"minute_rollup_days": 500, "rollup_days": 450}, "rollup_days"),
    ({"raw_days": 7, "compress_after_days": 7}, "compress_after_days"),
    ({"raw_days": 1}, "raw_days"),
    ({"evidence_days": 5}, "evidence_days"),
])
def test_retention_config_refuses_what_would_leave_holes(settings: dict[str, int], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        RetentionConfig(**settings)
