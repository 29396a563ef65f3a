"""The embedded PostgreSQL is supervised: killed with SIGKILL, it is started again, the pool's next
connection works, and the sample writer's spool reaches the database."""

from __future__ import annotations

import logging
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from pipeline.rows import HealthSample
from storage import open_database
from storage.writer import SampleWriter
from tests.fix_wait import await_true


def answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


def test_a_killed_server_comes_back_and_the_spool_is_written(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                             embedded_only: None) -> None:
    data_dir = tmp_path / "data"
    with caplog.at_level(logging.INFO), open_database(data_dir=data_dir) as db:
        writer = SampleWriter(db.pool, spool_dir=tmp_path / "spool").start()
        try:
            first = postmaster_pid(data_dir)
            os.kill(first, signal.SIGKILL)
            await_true(lambda: not answers(db.dsn), 30, "the server to be gone")
            now = datetime.now(UTC)
            rows = [HealthSample(ts=now.replace(microsecond=i), hall_id="h", camera_id="c", state="live", fps=10.0,
                                 last_frame_at=now, reconnects=0, error=None) for i in range(50)]
            writer.put(rows)  # while the server is down: spooled, then written
            await_true(lambda: answers(db.dsn), 60, "the supervisor to start the server again")
            assert postmaster_pid(data_dir) != first

            def stored() -> bool:
                try:
                    with db.pool.connection(timeout=5) as conn:
                        row = conn.execute("SELECT count(*) FROM camera_health WHERE hall_id = 'h'").fetchone()
                        return row[0] == 50
                except psycopg.Error:
                    return False

            await_true(stored, 60, "the spooled samples to be written")
        finally:
            writer.close()
    downs = [r for r in caplog.records if "is down; starting it again" in r.getMessage()]
    backs = [r for r in caplog.records if "is back" in r.getMessage()]
    assert len(downs) == 1 and len(backs) == 1
