"""The service connects as a role that owns nothing: it reads and writes rows, but cannot rewrite the
audit log, drop or truncate tables or switch triggers off. Migrations run as the owner."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from storage import open_database
from storage.server import SERVICE_ROLE, service_login
from tests.fix_db import without_external_database

FORBIDDEN = [
    "UPDATE audit_log SET action = 'forged'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_log_no_update ON audit_log",
    "DROP TABLE audit_log",
    "TRUNCATE desk_sample",
    "ALTER TABLE app_user ADD COLUMN x int",
    "SET session_replication_role = replica",
    "INSERT INTO schema_migration (version, name) VALUES (999, 'forged')",
    "CREATE ROLE intruder SUPERUSER",
]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as env:
        without_external_database(env)
        with open_database(data_dir=tmp_path_factory.mktemp("role")) as db:
            with db.pool.connection() as conn:
                conn.execute("INSERT INTO audit_log (user_name, action, subject) VALUES ('t', 'test.write', 'x/1')")
            yield db


def test_the_embedded_service_logs_in_as_its_own_role(embedded) -> None:
    with embedded.pool.connection() as conn:
        user, superuser = conn.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
                                       ).fetchone()
        owned = conn.execute("SELECT count(*) FROM pg_tables WHERE tableowner = current_user").fetchone()[0]
    assert (user, superuser, owned) == (SERVICE_ROLE, False, 0)
    assert conninfo_to_dict(embedded.owner_dsn).get("user") != SERVICE_ROLE


@pytest.mark.parametrize("statement", FORBIDDEN)
def test_the_service_role_cannot(embedded, statement: str) -> None:
    with psycopg.connect(embedded.dsn) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    with psycopg.connect(embedded.owner_dsn) as conn:  # nothing was changed
        assert conn.execute("SELECT action FROM audit_log WHERE subject = 'x/1'").fetchone() == ("test.write",)


def test_the_service_role_reads_and_writes_rows(embedded) -> None:
    with embedded.pool.connection() as conn:
        conn.execute("INSERT INTO audit_log (user_name, action, subject) VALUES ('t', 'test.append', 'x/2')")
        conn.execute("INSERT INTO province (id, name) VALUES ('rp', 'Role province') ON CONFLICT DO NOTHING")
        conn.execute("UPDATE province SET name = 'Renamed' WHERE id = 'rp'")
        conn.execute("DELETE FROM province WHERE id = 'rp'")
        assert conn.execute("SELECT count(*) FROM audit_log WHERE subject LIKE 'x/%'").fetchone()[0] >= 2
        assert conn.execute("SELECT count(*) FROM event_span").fetchone() is not None  # views too


def test_an_external_owner_dsn_alone_runs_the_service_as_owner_and_warns(fresh_dsn: str,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="storage.server"), open_database(dsn=fresh_dsn) as db:
        assert db.dsn == fresh_dsn
    assert any("owner of its tables" in r.getMessage() for r in caplog.records)


def test_an_external_service_dsn_is_used_for_the_pool(fresh_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    service = service_login(fresh_dsn)
    with caplog.at_level(logging.WARNING, logger="storage.server"), \
            open_database(dsn=fresh_dsn, service_dsn=service) as db, db.pool.connection() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (SERVICE_ROLE,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE audit_log")
    assert not any("owner of its tables" in r.getMessage() for r in caplog.records)


def test_db_migrate_runs_as_the_owner(tmp_path: Path, embedded_only: None) -> None:
    from hallwatch.cli import main

    assert main(["db", "migrate", "--data-dir", str(tmp_path)]) == 0
    with open_database(data_dir=tmp_path, migrate=False) as db, db.pool.connection() as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'").fetchone()[0]
    assert owner != SERVICE_ROLE
