"""Roles belong to a PostgreSQL cluster, databases to a site: two databases of one cluster set up at the
same moment (two sites, or two test workers on one external server) both find the service's roles
missing, and the second to create one must take the first one's role rather than fail.

Each test holds the first creator's transaction open until the second has queued behind it, so the race
happens every time, not by luck of timing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from storage.migrate import APP_ROLE, apply_migrations, available_migrations
from storage.server import SERVICE_ROLE, embedded_server, service_login
from tests.fix_db import new_database
from tests.fix_wait import await_true

WAIT_S = 60.0


@pytest.fixture
def roleless_server(tmp_path: Path) -> Iterator[str]:
    """A cluster of the test's own, where the service's roles are not made yet."""
    with embedded_server(tmp_path, supervise_s=None) as dsn:
        yield dsn


def roles(server: str) -> set[str]:
    with psycopg.connect(server) as conn:
        return {name for (name,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'hallwatch%'")}


def waiting_on_a_lock(server: str, database: str) -> bool:
    with psycopg.connect(server) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                                 (database,)).fetchone())


def second_creator(server: str, role_sql: str, database_dsn: str, database: str,
                   setup: Callable[[str], object]) -> list[BaseException]:
    """Run `setup` on `database_dsn` while another session has created a role (`role_sql`) and not yet
    committed; commit once `setup` waits for it; what `setup` raised."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            setup(database_dsn)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            failures.append(exc)

    with psycopg.connect(server) as first:
        first.execute(role_sql)
        thread = threading.Thread(target=run)
        thread.start()
        await_true(lambda: waiting_on_a_lock(server, database) or not thread.is_alive(), WAIT_S,
                   "the second creator to wait for the first")
        assert thread.is_alive(), f"never waited for the first: {failures}"
        first.commit()
    thread.join(WAIT_S)
    assert not thread.is_alive()
    return failures


def test_a_database_migrated_while_another_makes_the_roles(roleless_server: str) -> None:
    assert APP_ROLE not in roles(roleless_server)
    with new_database(roleless_server, prefix="second") as dsn:
        name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        failures = second_creator(roleless_server, f"CREATE ROLE {APP_ROLE} NOLOGIN", dsn, str(name),
                                  apply_migrations)
        assert failures == []
        with psycopg.connect(dsn) as conn:
            done = {v for (v,) in conn.execute("SELECT version FROM schema_migration")}
            granted = conn.execute("SELECT has_table_privilege(%s, 'audit_log', 'INSERT')", (APP_ROLE,)).fetchone()
    assert done == {m.version for m in available_migrations()}
    assert granted == (True,)


def test_the_service_login_made_while_another_makes_it(roleless_server: str) -> None:
    assert not {APP_ROLE, SERVICE_ROLE} & roles(roleless_server)
    with new_database(roleless_server, prefix="login") as dsn:
        name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
        logins: list[str] = []
        both_roles = f"CREATE ROLE {APP_ROLE} NOLOGIN; CREATE ROLE {SERVICE_ROLE} LOGIN IN ROLE {APP_ROLE}"
        failures = second_creator(roleless_server, both_roles, dsn, str(name),
                                  lambda owner: logins.append(service_login(owner)))
        assert failures == []
        with psycopg.connect(logins[0]) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (SERVICE_ROLE,)
    assert {APP_ROLE, SERVICE_ROLE} <= roles(roleless_server)
