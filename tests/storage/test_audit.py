"""The audit log is append-only in the database itself: the trigger stops UPDATE, DELETE and TRUNCATE
even for the table's owner, and the application role has no privilege for them."""

from __future__ import annotations

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from storage.auth.audit import audit, audit_rows
from tests.fix_auth import add_user, api_client


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log", "TRUNCATE audit_log",
])
@pytest.mark.parametrize("as_service", [False, True])
def test_audit_rows_cannot_be_changed(pool: ConnectionPool, site_dsn: str, statement: str, as_service: bool) -> None:
    """The owner meets the trigger; the service's role (what `pool` logs in as) has no such privilege."""
    user = add_user(pool, "root", "admin")
    with pool.connection() as conn:
        audit(conn, user=user, action="complaint.create", subject="complaint/1", details={"n": 1})
    with pool.connection() if as_service else psycopg.connect(site_dsn) as conn:
        if as_service:
            conn.execute("INSERT INTO audit_log (action, subject) VALUES ('app.insert', 'x')")  # appending is fine
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as raised:
            conn.execute(statement)
        message = str(raised.value)
        assert ("permission denied" in message) if as_service else ("append-only" in message)
        conn.rollback()
    with pool.connection() as conn:
        rows = audit_rows(conn, reader=user)
        assert [(r["action"], r["user_name"], r["details"]) for r in rows] == [("complaint.create", "root", {"n": 1})]


def test_every_write_is_audited_and_admins_read_it(app, pool: ConnectionPool) -> None:
    add_user(pool, "root", "admin")
    add_user(pool, "desk", "complaints_officer")
    root, desk = api_client(app, "root"), api_client(app, "desk")
    created = desk.post("/api/v1/complaints", json={"hall_id": "cc-nanguan", "channel": "web", "category": "delay",
                                                    "summary": "slow"}).json()["id"]
    log = root.get("/api/v1/audit", params={"subject": f"complaint/{created}"}).json()
    assert [(e["action"], e["user_name"]) for e in log][-1] == ("complaint.create", "desk")
    assert desk.get("/api/v1/audit").status_code == 403
    tokens = root.get("/api/v1/audit", params={"action": "auth.token_issued"}).json()
    assert {e["user_name"] for e in tokens} == {"root", "desk"}
