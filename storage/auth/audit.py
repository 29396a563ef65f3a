"""The audit log: one row per write and per sensitive read (covert plan viewed, evidence unblurred).
The table rejects UPDATE, DELETE and TRUNCATE itself (migration 010)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from storage.auth.model import User


def audit(conn: psycopg.Connection, *, user: User | None, action: str, subject: str,
          details: dict[str, Any] | None = None) -> None:
    """Append one row, in the caller's transaction (so a rolled-back write leaves no audit row either).
    `action` is dotted (`complaint.create`, `evidence.view_unblurred`); `subject` names the record
    (`complaint/12`)."""
    conn.execute(
        "INSERT INTO audit_log (user_id, user_name, action, subject, details) VALUES (%s, %s, %s, %s, %s)",
        (user.id if user else None, user.name if user else None, action, subject, Jsonb(details or {})),
    )


def audit_rows(conn: psycopg.Connection, *, subject: str | None = None, action: str | None = None,
               since: datetime | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id, at, user_id, user_name, action, subject, details FROM audit_log"
            " WHERE (%(subject)s::text IS NULL OR subject = %(subject)s)"
            "   AND (%(action)s::text IS NULL OR action = %(action)s)"
            "   AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)"
            " ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s",
            {"subject": subject, "action": action, "since": since, "limit": limit, "offset": offset},
        )
        return list(cur.fetchall())
