"""`hallwatch db backup` and `restore`: a round trip through pg_dump's format gives back the rows, the
service's grants and the audit log's append-only guard."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from core.errors import DatabaseError
from hallwatch.cli import main
from storage import open_database
from storage.backup import backup, restore
from storage.samples import sync_site
from tests.fix_sites import SITE

TABLES = ("app_user", "audit_log", "hall", "camera", "zone")


def snapshot(dsn: str) -> dict[str, list[tuple]]:
    with psycopg.connect(dsn) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def grants(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT table_name, privilege_type FROM information_schema.role_table_grants"
                            " WHERE grantee = 'hallwatch_app' ORDER BY 1, 2").fetchall()


def test_cli_round_trip_into_a_new_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           embedded_only: None) -> None:
    source, target, dump = tmp_path / "a", tmp_path / "b", tmp_path / "copy.dump"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a long enough password\n"))
    assert main(["users", "add", "alice", "--role", "admin", "--scope", "province", "--data-dir", str(source)]) == 0
    with open_database(data_dir=source) as db, db.pool.connection() as conn:
        sync_site(conn, SITE)
        conn.execute("INSERT INTO audit_log (user_name, action, subject) VALUES ('t', 'test.backup', 'x/1')")
        conn.commit()
        before, before_grants = snapshot(db.owner_dsn), grants(db.owner_dsn)
    assert main(["db", "backup", str(dump), "--data-dir", str(source)]) == 0
    assert dump.stat().st_size > 0 and not dump.with_name("copy.dump.partial").exists()
    assert main(["db", "restore", str(dump), "--data-dir", str(target)]) == 0
    with open_database(data_dir=target) as db:
        assert snapshot(db.owner_dsn) == before
        assert grants(db.owner_dsn) == before_grants
        with db.pool.connection() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_log")
        with psycopg.connect(db.owner_dsn) as conn, \
                pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM audit_log")  # even the owner meets the trigger


def test_restore_replaces_what_the_database_holds(fresh_dsn: str, tmp_path: Path) -> None:
    with open_database(dsn=fresh_dsn) as db:
        with psycopg.connect(db.migration_dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO province (id, name) VALUES ('kept', 'Kept')")
        dump = backup(db.migration_dsn, tmp_path / "x.dump")
        with psycopg.connect(db.migration_dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO province (id, name) VALUES ('later', 'Later')")
    restore(fresh_dsn, dump)
    with psycopg.connect(fresh_dsn) as conn:
        assert conn.execute("SELECT id FROM province ORDER BY id").fetchall() == [("kept",)]


def test_restore_of_a_missing_or_broken_file_is_a_clear_error(fresh_dsn: str, tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="no such backup file"):
        restore(fresh_dsn, tmp_path / "absent.dump")
    broken = tmp_path / "broken.dump"
    broken.write_bytes(b"not a dump")
    with pytest.raises(DatabaseError, match="pg_restore failed"):
        restore(fresh_dsn, broken)
