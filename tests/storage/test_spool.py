"""The on-disk spool and the sample writer through a database outage: a real embedded PostgreSQL
that the tests stop and start again on the same data directory and socket (tests/fix_db.py's `pg`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from pipeline.rows import DeskSample, HealthSample, OfflineSpellSample, Sample, ZoneSample
from storage.migrate import apply_migrations
from storage.spool import Spool, SpoolBusy, decode_sample, encode_sample, open_spools
from storage.writer import SampleWriter, spool_target
from tests.fix_db import RestartableDatabase
from tests.fix_wait import await_true

BASE = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
TABLES = ("desk_sample", "zone_sample", "camera_health")


def tick(i: int) -> list[Sample]:
    """The samples of one camera at second `i`: one of each kind, distinct keys per tick."""
    ts = BASE + timedelta(seconds=i)
    return [
        DeskSample(ts, "h1", "w1", "cam1", "present" if i % 7 else "absent", ts - timedelta(seconds=i % 60), i % 3),
        ZoneSample(ts, "h1", "q1", "cam1", "queue", i % 9),
        HealthSample(ts, "h1", "cam1", "live", 0.5 + (i % 4) / 4, ts - timedelta(milliseconds=250), i // 100,
                     None if i % 5 else "read timeout"),
    ]


def ticks(start: int, stop: int) -> list[Sample]:
    return [sample for i in range(start, stop) for sample in tick(i)]


# -- the spool format and the spool itself, without a database

ROUND_TRIP = [
    DeskSample(BASE, "cc-nanguan", "w1", "cam1", "present", BASE - timedelta(minutes=3), 1),
    DeskSample(BASE.replace(microsecond=123456), "h", "w", "c", "unknown", BASE.replace(microsecond=1), 0),
    ZoneSample(BASE, "h1", "q1", "cam1", "queue", 32767),
    ZoneSample(BASE.astimezone(timezone(timedelta(hours=8))), "h1", "ss", "cam1", "self_service", 0),
    HealthSample(BASE, "h1", "cam1", "live", 9.75, BASE - timedelta(seconds=1), 3, None),
    HealthSample(BASE, "h1", "cam1", "offline", 0.0, None, 12, 'rtsp://u:***@10.0.0.1/s "timeout"\n大厅'),
    HealthSample(datetime(2026, 1, 1, 0, 0), "h1", "cam1", "stalled", 1 / 3, datetime(2026, 1, 1), 0, ""),  # naive
    OfflineSpellSample(BASE - timedelta(minutes=2), "h1", "cam1", BASE, "offline"),
]


@pytest.mark.parametrize("sample", ROUND_TRIP, ids=lambda s: type(s).__name__)
def test_samples_round_trip_through_a_spool_line(sample: Sample) -> None:
    line = encode_sample(sample)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = decode_sample(line)
    assert back == sample and type(back) is type(sample)
    for name in ("ts", "state_since", "last_frame_at"):
        if isinstance(getattr(sample, name, None), datetime):
            assert getattr(back, name).utcoffset() == getattr(sample, name).utcoffset()
    if sample.ts.tzinfo is UTC:
        assert back.ts.tzinfo is UTC


@pytest.mark.parametrize("line", [
    b"", b"not json", b"{}", b'{"type": "nope", "ts": "2026-11-26T09:00:00+00:00"}',
    b'{"type": "zone", "ts": "2026-11-26T09:00:00+00:00"}',  # fields missing
    b'{"type": "zone", "ts": "yesterday", "hall_id": "h", "zone_id": "q", "camera_id": "c", "kind": "queue",'
    b' "people": 1}',
    b'{"type": "zone", "ts": "2026-11-26T09:00:00+00:00", "hall_id": "h", "zone_id": "q", "camera_id": "c",'
    b' "kind": "queue", "people": 1, "extra": 1}',
    b'{"type": "desk", "ts": "2026-11-26T09:00:00+00', b"[1, 2]",
])
def test_what_is_not_a_spooled_sample_is_refused(line: bytes) -> None:
    with pytest.raises(ValueError, match="not a spooled sample"):
        decode_sample(line)


def drain(spool: Spool) -> list[Sample]:
    out: list[Sample] = []
    while (segment := spool.oldest()) is not None:
        out += segment.samples
        spool.remove(segment)
    return out


def test_spool_keeps_order_across_segments_and_restarts(tmp_path: Path) -> None:
    samples = ticks(0, 200)
    spool = Spool(tmp_path, segment_bytes=2048)
    for start in range(0, 450, 50):
        spool.append(samples[start:start + 50])
    files = spool.segment_files
    assert len(files) > 5 and spool.pending == 450
    assert all(f.read_bytes().startswith(b'{"hallwatch_spool": 1}\n') for f in files)
    spool.close()

    again = Spool(tmp_path, segment_bytes=2048)  # a new process
    assert again.pending == 450
    again.append(samples[450:])
    assert drain(again) == samples
    assert again.pending == 0 and again.nbytes == 0 and again.segment_files == []
    again.close()


def test_a_torn_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(ticks(0, 10))
    spool.close()
    (segment,) = sorted(tmp_path.glob("*.jsonl"))
    with segment.open("ab") as f:
        f.write(encode_sample(tick(10)[0])[:25])  # a crash in the middle of a write
    again = Spool(tmp_path)
    assert again.pending == 30
    assert drain(again) == ticks(0, 10)
    assert again.dropped == 1
    again.close()


def test_full_spool_drops_its_oldest_segment_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    samples = ticks(0, 400)
    spool = Spool(tmp_path, max_bytes=16384)
    with caplog.at_level(logging.WARNING, logger="storage.spool"):
        for start in range(0, len(samples), 30):
            spool.append(samples[start:start + 30])
            assert spool.nbytes <= 16384
    (warning,) = [r.getMessage() for r in caplog.records if "is full" in r.getMessage()]  # once a minute
    assert spool.dropped > 0
    assert "deleted its oldest segment, losing" in warning and "samples lost so far" in warning
    kept = drain(spool)
    assert len(kept) + spool.dropped == len(samples)
    assert kept == samples[spool.dropped:]  # the newest ones, in order
    spool.close()


def test_one_process_per_spool_and_leftover_slots_are_claimed(tmp_path: Path) -> None:
    first = Spool(tmp_path / "0")
    with pytest.raises(SpoolBusy):
        Spool(tmp_path / "0")
    for slot in ("1", "2", "3"):  # writers that are gone; slot 2 left nothing
        left = Spool(tmp_path / slot)
        if slot != "2":
            left.append(ticks(0, 2))
        left.close()
    own, left_over = open_spools(tmp_path)
    assert own.directory == tmp_path / "1" and own.pending == 6
    assert [s.directory for s in left_over] == [tmp_path / "3"]
    other, nothing = open_spools(tmp_path)  # a second writer while the first runs
    assert other.directory == tmp_path / "2" and nothing == []
    for spool in (first, own, *left_over, other):
        spool.close()


def test_samples_for_one_database_are_never_replayed_into_another(tmp_path: Path) -> None:
    for slot, target in (("0", "dbname=a"), ("1", "dbname=b")):
        spool = Spool(tmp_path / slot)
        spool.target = target
        spool.append(ticks(0, 2))
        spool.close()
    b, b_left = open_spools(tmp_path, target="dbname=b")
    assert b.directory == tmp_path / "1" and b.pending == 6 and b_left == []
    c, c_left = open_spools(tmp_path, target="dbname=c")
    assert c.directory == tmp_path / "2" and c.pending == 0 and c_left == [] and c.target == "dbname=c"
    a, a_left = open_spools(tmp_path, target="dbname=a")
    assert a.directory == tmp_path / "0" and a.pending == 6 and a_left == []
    for spool in (a, b, c):
        spool.close()


# -- the writer against a real server that goes away and comes back


@pytest.fixture
def pool(pg: RestartableDatabase) -> Iterator[ConnectionPool]:
    with ConnectionPool(pg.dsn, min_size=1, max_size=4, check=ConnectionPool.check_connection) as pool:
        apply_migrations(pool)
        with pool.connection() as conn:  # heap order stays insertion order: no vacuum moves rows
            for table in TABLES:  # a partitioned table's rows are in its partitions (migration 050)
                for (leaf,) in conn.execute("SELECT relid::text FROM pg_partition_tree(%s) WHERE isleaf", (table,)):
                    conn.execute(f"ALTER TABLE {leaf} SET (autovacuum_enabled = false)")
        yield pool


def writer_for(pool: ConnectionPool, spool_dir: Path, **options: float) -> SampleWriter:
    settings = {"flush_interval_s": 0.05, "retry_max_s": 0.5, "connect_timeout_s": 0.5, **options}
    return SampleWriter(pool, spool_dir=spool_dir, **settings)


def stored(dsn: str) -> dict[str, list[datetime]]:
    """Each table's timestamps in the order they were stored: by the time of the transaction that
    stored each row (`inserted_at`, the transaction's start), then by ts within one transaction. Heap
    order is no proxy: a page's space freed by an aborted COPY is reused by later rows."""
    with psycopg.connect(dsn) as conn:
        return {t: [ts for (ts,) in conn.execute(f"SELECT ts FROM {t} ORDER BY inserted_at, ts")] for t in TABLES}


def assert_stored_once_in_order(dsn: str, samples: list[Sample]) -> None:
    rows = stored(dsn)
    for table, kind in zip(TABLES, (DeskSample, ZoneSample, HealthSample), strict=True):
        expected = [s.ts for s in samples if isinstance(s, kind)]
        assert rows[table] == expected, table  # every sample once, in the order of ts


def put_timed(writer: SampleWriter, samples: list[Sample]) -> float:
    started = time.perf_counter()
    writer.put(samples)
    return time.perf_counter() - started


def test_outage_spools_to_disk_and_replays_in_order_once(
    pg: RestartableDatabase, pool: ConnectionPool, tmp_path: Path,
) -> None:
    spool_dir = tmp_path / "spool"
    writer = writer_for(pool, spool_dir, batch_size=2000).start()
    writer.put(ticks(0, 300))
    assert writer.flush(30.0) and writer.written == 900

    writer.put(ticks(300, 10_300))  # 15 transactions: the server goes in the middle of them
    pg.stop()
    slowest, i = 0.0, 10_300
    while not list(spool_dir.rglob("*.jsonl")) or i < 10_600:  # keep putting while it is down
        slowest = max(slowest, put_timed(writer, ticks(i, i + 20)))
        i += 20
        time.sleep(0.01)
        assert i < 20_000, "nothing was spooled"
    await_true(lambda: writer.written + writer.spooled == 3 * i, 20.0, "all put stored or on disk")
    assert slowest < 0.25, f"put() blocked for {slowest:.3f} s"  # a database wait would be >= 0.5 s
    assert writer.flush(0.5) is False  # nothing can be written now
    assert writer.spool_pending > 0 and writer.dropped == 0

    pg.start()
    writer.put(ticks(i, i + 100))  # newer samples wait behind the spool
    assert writer.flush(60.0)
    writer.close()

    assert_stored_once_in_order(pg.dsn, ticks(0, i + 100))
    assert writer.written == 3 * (i + 100) and writer.dropped == 0 and writer.rejected == 0
    assert writer.replayed == writer.spooled > 0
    assert writer.spool_pending == 0 and list(spool_dir.rglob("*.jsonl")) == []


def test_full_spool_drops_oldest_with_a_warning_and_counts(
    pg: RestartableDatabase, pool: ConnectionPool, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    writer = writer_for(pool, tmp_path / "spool", max_spool_bytes=32768).start()
    pg.stop()
    with caplog.at_level(logging.WARNING, logger="storage"):
        for start in range(0, 1000, 50):
            writer.put(ticks(start, start + 50))
            time.sleep(0.01)
        await_true(lambda: writer.spooled == 3000, 20.0, "3000 samples spooled")
    lost = writer.dropped
    assert lost > 0
    (full,) = [r for r in caplog.records if "is full" in r.getMessage()]
    assert full.levelno == logging.WARNING and "samples lost so far" in full.getMessage()
    outage = [r.getMessage() for r in caplog.records if "cannot write to the database" in r.getMessage()]
    assert len(outage) == 1 and caplog.records.index(full) > [r.getMessage() for r in caplog.records].index(outage[0])

    with caplog.at_level(logging.INFO, logger="storage"):
        pg.start()
        assert writer.flush(60.0)
    assert any(f"({lost} samples lost so far)" in r.getMessage() for r in caplog.records)
    writer.close()
    rows = stored(pg.dsn)
    assert sum(len(ts) for ts in rows.values()) == 3000 - lost == writer.written
    newest = ticks(0, 1000)[lost:]  # the oldest were dropped, whole segments at a time
    assert_stored_once_in_order(pg.dsn, newest)


def test_samples_spooled_at_shutdown_are_replayed_by_the_next_writer(
    pg: RestartableDatabase, pool: ConnectionPool, tmp_path: Path,
) -> None:
    spool_dir = tmp_path / "spool"
    first = writer_for(pool, spool_dir).start()
    pg.stop()
    first.put(ticks(0, 200))
    first.close(timeout_s=1.0)  # the database is down: everything goes to disk
    assert first.spool_pending == 600 and list(spool_dir.rglob("*.jsonl"))

    pg.start()
    second = writer_for(pool, spool_dir)
    assert second.spool_pending == 600
    second.start().put(ticks(200, 250))
    assert second.flush(60.0)
    second.close()
    assert_stored_once_in_order(pg.dsn, ticks(0, 250))
    assert second.replayed == 600 and second.written == 750 and list(spool_dir.rglob("*.jsonl")) == []


def test_spools_left_by_other_writers_are_replayed_too(pool: ConnectionPool, pg: RestartableDatabase,
                                                       tmp_path: Path) -> None:
    root = tmp_path / "spool"
    busy = Spool(root / "0")  # a writer that still runs keeps its own
    busy.append(ticks(1000, 1001))
    for slot, (start, stop) in (("1", (0, 100)), ("2", (100, 150)), ("3", (150, 160))):
        left = Spool(root / slot)
        left.target = spool_target(pool) if slot != "3" else "host=elsewhere dbname=other"
        left.append(ticks(start, stop))
        left.close()
    writer = writer_for(pool, root).start()
    assert writer.spool_dir == root / "1"
    assert writer.flush(60.0)
    writer.close()
    rows = stored(pg.dsn)  # each spool in order; which spool first is not defined
    assert sorted(rows["zone_sample"]) == [s.ts for s in ticks(0, 150) if isinstance(s, ZoneSample)]
    assert sum(len(ts) for ts in rows.values()) == writer.replayed == writer.written == 450
    other = Spool(root / "3")
    assert busy.pending == 3 and other.pending == 30  # another database's, left alone
    busy.close()
    other.close()


def test_a_batch_already_stored_is_stored_once(pool: ConnectionPool, pg: RestartableDatabase, tmp_path: Path) -> None:
    writer = writer_for(pool, tmp_path / "spool").start()
    writer.put(ticks(0, 100))
    assert writer.flush(30.0)
    writer.put(ticks(50, 150))  # half of it is already there: COPY meets a duplicate key
    writer.put(ticks(149, 150))  # a duplicate inside one batch
    assert writer.flush(30.0)
    writer.close()
    assert_stored_once_in_order(pg.dsn, ticks(0, 150))
    assert writer.rejected == 0


@pytest.mark.parametrize("bad", [
    ZoneSample(BASE, "h1", "q9", "cam1", "queue", -1),         # a CHECK constraint
    ZoneSample(BASE, "h1", "q9", "cam1", "queue", 70_000),     # beyond smallint: binary COPY would wrap it
    ZoneSample(BASE, "h1", "q9", "cam1", "queue", -65_535),    # ... to 1
    HealthSample(BASE, "h1", "cam9", "live", 1.0, None, 2**32 + 1, None),  # ... to 1
    DeskSample(BASE, "h1", "w9", "cam1", "asleep", BASE, 0),  # not a desk state
    HealthSample(BASE, "h1", "cam9", "live", 1e39, None, 0, None),  # beyond real
])
def test_a_sample_the_database_refuses_does_not_hold_up_the_others(
    pool: ConnectionPool, pg: RestartableDatabase, tmp_path: Path, bad: Sample,
) -> None:
    writer = writer_for(pool, tmp_path / "spool").start()
    good = ticks(0, 100)
    writer.put(good[:150] + [bad] + good[150:])
    assert writer.flush(30.0)
    writer.close()
    assert writer.rejected == 1 and writer.written == 300 and writer.spool_pending == 0
    assert_stored_once_in_order(pg.dsn, good)


def test_naive_datetimes_are_stored_as_insert_samples_stores_them(
    pool: ConnectionPool, pg: RestartableDatabase, tmp_path: Path,
) -> None:
    """Binary COPY cannot send a naive datetime; the batch goes through INSERT, where the server
    reads it in the session's time zone, as before COPY."""
    naive = [ZoneSample(datetime(2026, 11, 26, 9, 0, i), "h-naive", "q1", "cam1", "queue", i) for i in range(5)]
    writer = writer_for(pool, tmp_path / "spool").start()
    writer.put(naive + ticks(0, 10))
    assert writer.flush(30.0)
    writer.close()
    assert writer.written == 35 and writer.rejected == 0
    with psycopg.connect(pg.dsn) as conn:
        same = conn.execute(
            "SELECT count(*) FROM zone_sample WHERE hall_id = 'h-naive'"
            " AND ts = (%s::timestamp AT TIME ZONE current_setting('TimeZone')) + people * interval '1 s'",
            (datetime(2026, 11, 26, 9, 0),)).fetchone()
    assert same == (5,)
