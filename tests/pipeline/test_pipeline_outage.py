"""The database goes down while the pipeline runs (the real embedded PostgreSQL is stopped, then
started again): analysis goes on, its rows wait on disk, and once the server is back every row of
every analysed frame is stored exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

from models import load_detector
from pipeline.loop import Pipeline
from pipeline.rows import DeskSample, HealthSample, Sample, ZoneSample
from storage.migrate import apply_migrations
from storage.samples import sync_site
from storage.writer import SampleWriter
from tests.fix_db import RestartableDatabase
from tests.fix_wait import await_true
from tools.bench.trial import bench_site


def stored_keys(dsn: str) -> dict[str, Counter]:
    with psycopg.connect(dsn) as conn:
        return {
            "desk": Counter(conn.execute("SELECT hall_id, window_id, ts FROM desk_sample").fetchall()),
            "zone": Counter(conn.execute("SELECT hall_id, zone_id, ts FROM zone_sample").fetchall()),
            "health": Counter(conn.execute("SELECT hall_id, camera_id, ts FROM camera_health").fetchall()),
        }


def test_rows_made_while_the_database_is_down_are_stored_once_when_it_returns(
    clip_server: int, pg: RestartableDatabase, tmp_path: Path,
) -> None:
    site = bench_site(2, clip_server)
    put: list[Sample] = []
    with ConnectionPool(pg.dsn, min_size=1, max_size=4, check=ConnectionPool.check_connection) as pool:
        apply_migrations(pool)
        with pool.connection() as conn:
            sync_site(conn, site)
        writer = SampleWriter(pool, spool_dir=tmp_path / "spool", flush_interval_s=0.05, retry_max_s=0.5,
                              connect_timeout_s=0.5).start()

        def sink(rows: object) -> None:
            rows = list(rows)  # type: ignore[call-overload]
            put.extend(rows)
            writer.put(rows)

        pipeline = Pipeline(site, load_detector(site.detector), sink)
        stop = threading.Event()
        thread = threading.Thread(target=pipeline.run, args=(stop,))
        thread.start()
        try:
            await_true(lambda: writer.written > 0 and pipeline.stats.analysed >= 4, 60, "rows stored")
            pg.stop()
            down_at = pipeline.stats.analysed
            await_true(lambda: writer.spooled > 0 and pipeline.stats.analysed >= down_at + 8, 60,
                     "frames analysed and spooled while the database is down")
            assert thread.is_alive()
            pg.start()
            back_at = pipeline.stats.analysed
            await_true(lambda: writer.replayed > 0 and pipeline.stats.analysed >= back_at + 4, 60,
                     "the spool replayed and analysis going on")
        finally:
            stop.set()
            thread.join(30)
            assert writer.flush(60.0)
            writer.close()
    assert not thread.is_alive()
    assert writer.dropped == 0 and writer.rejected == 0 and writer.spool_pending == 0

    stored = stored_keys(pg.dsn)
    assert all(count == 1 for table in stored.values() for count in table.values())  # no duplicates
    assert set(stored["desk"]) == {(r.hall_id, r.window_id, r.ts) for r in put if isinstance(r, DeskSample)}
    assert set(stored["zone"]) == {(r.hall_id, r.zone_id, r.ts) for r in put if isinstance(r, ZoneSample)}
    assert set(stored["health"]) == {(r.hall_id, r.camera_id, r.ts) for r in put if isinstance(r, HealthSample)}
    # Every analysed frame gave its zone rows (each camera has zones), and nothing else did.
    frames = {(r.hall_id, r.camera_id, r.ts) for r in put if isinstance(r, ZoneSample)}
    assert len(frames) == pipeline.stats.analysed
    with psycopg.connect(pg.dsn) as conn:
        modes = {mode for (mode,) in conn.execute("SELECT DISTINCT decode_mode FROM camera_health")}
    assert modes <= {"full", "keyframes"} and "keyframes" in modes  # 1 Hz analysis, 1 s GOP
