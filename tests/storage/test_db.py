"""Storage against a real PostgreSQL: migrations, site sync, idempotent samples, latest status."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from core.config import load_site
from core.errors import DatabaseError
from ingest.health import DecodeMode
from pipeline.rows import DeskSample, HealthSample, OfflineSpellSample, ZoneSample
from storage import open_database
from storage.migrate import apply_migrations, available_migrations
from storage.samples import insert_samples, sync_site
from storage.status import latest_samples
from storage.writer import SampleWriter
from tests.fix_sites import EXAMPLE_SITE

SCHEMA = """
SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
       || ' ' || coalesce(column_default, '')
FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'constraint', conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'function', proname || ' ' || md5(prosrc) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
ORDER BY 1, 2
"""


def schema_of(dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(SCHEMA).fetchall()


@pytest.fixture
def pool(fresh_dsn: str):
    with ConnectionPool(fresh_dsn, min_size=1, max_size=4) as pool:
        yield pool


def test_migrations_twice_is_a_no_op(pool: ConnectionPool, fresh_dsn: str) -> None:
    first = apply_migrations(pool)
    assert [m.version for m in first] == [m.version for m in available_migrations()]
    before = schema_of(fresh_dsn)
    assert apply_migrations(pool) == []
    assert schema_of(fresh_dsn) == before
    with pool.connection() as conn:
        recorded = conn.execute("SELECT version FROM schema_migration ORDER BY version").fetchall()
    assert [v for (v,) in recorded] == [m.version for m in first]


def test_upgraded_database_equals_fresh(pool: ConnectionPool, fresh_dsn: str, pg_server: str) -> None:
    versions = [m.version for m in available_migrations()]
    assert len(versions) >= 2
    apply_migrations(pool, upto=versions[0])
    with pool.connection() as conn:
        sync_site(conn, load_site(EXAMPLE_SITE))  # data in the old schema survives the upgrade
    apply_migrations(pool)
    upgraded = schema_of(fresh_dsn)
    with open_database(dsn=fresh_dsn) as db, db.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM hall").fetchone() == (3,)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute("CREATE DATABASE fresh_compare")
    try:
        other = make_conninfo(pg_server, dbname="fresh_compare")
        with open_database(dsn=other):
            pass
        assert schema_of(other) == upgraded
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute("DROP DATABASE fresh_compare WITH (FORCE)")


def test_timeseries_tables_use_brin_without_timescaledb(pool: ConnectionPool) -> None:
    apply_migrations(pool)
    with pool.connection() as conn:
        has_timescale = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        indexes = {name for (name,) in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%USING brin%'")}
    if has_timescale == (0,):
        timeseries = ("desk_sample", "zone_sample", "camera_health", "camera_offline_spell", "event_open",
                      "wait_sample")
        assert {f"{table}_ts_brin" for table in timeseries} <= indexes


def test_sync_site_marks_removed_halls_inactive(pool: ConnectionPool) -> None:
    apply_migrations(pool)
    site = load_site(EXAMPLE_SITE)
    smaller = site.model_copy(update={"halls": site.halls[:2]})
    with pool.connection() as conn:
        sync_site(conn, site)
        sync_site(conn, smaller)
        rows = dict(conn.execute("SELECT id, active FROM hall").fetchall())
        urls = [u for (u,) in conn.execute("SELECT url_redacted FROM camera")]
    assert rows == {"cc-nanguan": True, "cc-chaoyang": True, "jlc-chuanying": False}
    assert urls and all("demo-secret" not in u and ":***@" in u for u in urls)


def test_replayed_samples_are_stored_once(pool: ConnectionPool) -> None:
    apply_migrations(pool)
    ts = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    samples = [
        DeskSample(ts, "h1", "w1", "cam1", "present", ts - timedelta(minutes=3), 1),
        ZoneSample(ts, "h1", "q1", "cam1", "queue", 4),
        HealthSample(ts, "h1", "cam1", "live", 10.0, ts, 0, None),
    ]
    with pool.connection() as conn:
        insert_samples(conn, samples)
        insert_samples(conn, samples)
        counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                  for t in ("desk_sample", "zone_sample", "camera_health")]
    assert counts == [1, 1, 1]


def test_every_decode_mode_is_stored(pool: ConnectionPool) -> None:
    apply_migrations(pool)
    ts = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    with pool.connection() as conn:
        insert_samples(conn, [HealthSample(ts, "h1", f"cam{i}", "live", 25.0, ts, 0, None, decode_mode=mode.value)
                              for i, mode in enumerate(DecodeMode)])
        stored = {row[0] for row in conn.execute("SELECT decode_mode FROM camera_health")}
    assert stored == {mode.value for mode in DecodeMode}


def test_latest_samples_pick_the_newest(pool: ConnectionPool) -> None:
    apply_migrations(pool)
    now = datetime.now(UTC)
    with pool.connection() as conn:
        insert_samples(conn, [
            DeskSample(now - timedelta(seconds=5), "h1", "w1", "cam1", "absent", now, 0),
            DeskSample(now - timedelta(seconds=1), "h1", "w1", "cam1", "present", now, 1),
            ZoneSample(now - timedelta(seconds=2), "h1", "q1", "cam1", "queue", 2),
            ZoneSample(now - timedelta(hours=2), "h1", "q2", "cam1", "queue", 9),  # beyond the horizon
        ])
        latest = latest_samples(conn)
    assert latest.desks[("h1", "w1")]["state"] == "present"
    assert latest.zones[("h1", "q1")]["people"] == 2
    assert ("h1", "q2") not in latest.zones


def test_writer_writes_everything_put(pool: ConnectionPool, tmp_path: Path) -> None:
    apply_migrations(pool)
    base = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    writer = SampleWriter(pool, batch_size=100, spool_dir=tmp_path).start()
    writer.put(ZoneSample(base + timedelta(seconds=i), "h1", "q1", "cam1", "queue", i % 5) for i in range(1000))
    assert writer.flush(30.0)
    writer.close()
    with pool.connection() as conn:
        assert conn.execute("SELECT count(*), sum(people) FROM zone_sample").fetchone() == (1000, 2000)
    assert writer.written == 1000 and writer.dropped == 0


def test_offline_spells_are_stored_once(pool: ConnectionPool, tmp_path: Path) -> None:
    apply_migrations(pool)
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    spells = [OfflineSpellSample(start + timedelta(minutes=i), "h1", "cam1", start + timedelta(minutes=i, seconds=40),
                                 "offline" if i % 2 else "stalled") for i in range(5)]
    writer = SampleWriter(pool, spool_dir=tmp_path).start()
    writer.put(spells + spells)
    assert writer.flush(30.0)
    writer.close()
    with pool.connection() as conn:
        rows = conn.execute("SELECT cause, extract(epoch FROM ended_at - ts) FROM camera_offline_spell"
                            " ORDER BY ts").fetchall()
    assert rows == [("stalled", 40), ("offline", 40), ("stalled", 40), ("offline", 40), ("stalled", 40)]


def test_unreachable_database_is_a_clear_error() -> None:
    dsn = "postgresql://hw:topsecret@127.0.0.1:1/hallwatch?connect_timeout=1"
    with pytest.raises(DatabaseError) as info, open_database(dsn=dsn):
        pass
    assert "topsecret" not in str(info.value) and "127.0.0.1:1" in str(info.value)


def test_db_migrate_cli(fresh_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from hallwatch.cli import main

    monkeypatch.setenv("HALLWATCH_DATABASE_URL", fresh_dsn)
    assert main(["db", "migrate"]) == 0
    assert "applied 001_geography" in capsys.readouterr().out
    assert main(["db", "migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
