"""The audit log: one row per write and per sensitive read (covert plan viewed, evidence unblurred).
The table rejects UPDATE, DELETE and TRUNCATE itself (migration 010).

Reading it is scoped like the records it describes: a reader sees a row only while they could see the
record the row is about, found from its `subject` (`kind/ref`) in SQL by `readable_sql`. A row about an
inspection, its findings, evidence or a case made from it follows the covert rule
(`storage.records.inspections.visible_sql`), so a hall never learns of a covert plan about it from the log;
a row about a user shows to admins whose scope covers that user's. A row whose subject ties to no record
the reader may see (a CSV import, a name that failed to log in, a kind not listed) shows only to the
province."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from storage.auth.model import Role, User
from storage.auth.scope import scope_covers_sql, scope_sql

# Failed logins name the user by the name that was typed (`user/<name>`); every other `user/` row by id.
_USER_BY_NAME = ("auth.login_failed", "auth.token_failed")
_REF = "substr(a.subject, strpos(a.subject, '/') + 1)"
_NUMBER = f"(CASE WHEN {_REF} ~ '^[0-9]+$' AND length({_REF}) <= 18 THEN {_REF}::bigint END)"  # else no record


def audit(conn: psycopg.Connection, *, user: User | None, action: str, subject: str,
          details: dict[str, Any] | None = None) -> None:
    """Append one row, in the caller's transaction (so a rolled-back write leaves no audit row either).
    `action` is dotted (`complaint.create`, `evidence.view_unblurred`); `subject` names the record
    (`complaint/12`)."""
    conn.execute(
        "INSERT INTO audit_log (user_id, user_name, action, subject, details) VALUES (%s, %s, %s, %s, %s)",
        (user.id if user else None, user.name if user else None, action, subject, Jsonb(details or {})),
    )


def readable_sql(reader: User) -> tuple[sql.Composable, dict[str, Any]]:
    """WHERE fragment: the rows of `audit_log a` that `reader` may see (see the module docstring)."""
    if reader.scope.kind == "province" and reader.role is not Role.hall_staff:
        return sql.SQL("TRUE"), {}
    # Imported here: the records modules write audit rows through this module.
    from storage.records.cases import visible_cases_sql
    from storage.records.inspections import visible_sql

    in_scope, params = scope_sql(reader.scope, "h.id")
    inspection, more = visible_sql(reader, "i")
    case, cases = visible_cases_sql(reader)
    user, users = scope_covers_sql(reader.scope, "u.scope")

    def hall_of(record: str) -> sql.Composable:
        """The row shows when the hall that `record` (SQL giving a hall id) names is inside the scope."""
        return sql.SQL("EXISTS (SELECT 1 FROM hall h WHERE h.id = {} AND {})").format(sql.SQL(record), in_scope)

    def inspected(joins: str) -> sql.Composable:
        """The row shows when the inspection (alias `i`) that `joins` reaches is visible to the reader."""
        return sql.SQL(f"EXISTS (SELECT 1 {joins} AND {{}})").format(inspection)

    by_kind: dict[str, sql.Composable] = {
        "complaint": hall_of(f"(SELECT c.hall_id FROM complaint c WHERE c.id = {_NUMBER})"),
        "officer": hall_of(f"(SELECT o.hall_id FROM officer o WHERE o.id = {_NUMBER})"),
        # a removed shift or absence: the hall its audit rows recorded
        "shift": hall_of(f"coalesce((SELECT s.hall_id FROM roster_shift s WHERE s.id = {_NUMBER}),"
                         " a.details->>'hall_id')"),
        "absence": hall_of(f"coalesce((SELECT b.hall_id FROM absence b WHERE b.id = {_NUMBER}),"
                           " a.details->>'hall_id')"),
        "alert": hall_of(f"split_part({_REF}, ':', 1)"),    # hall:kind:subject:start
        "camera": hall_of(f"split_part({_REF}, '/', 1)"),   # hall/camera
        "inspection": inspected(f"FROM inspection i WHERE i.id = {_NUMBER}"),
        "finding": inspected(f"FROM finding f JOIN inspection i ON i.id = f.inspection_id WHERE f.id = {_NUMBER}"),
        "evidence": inspected(f"FROM evidence e JOIN inspection i ON i.id = e.inspection_id"
                              f" WHERE e.id = {_NUMBER}"),
        "case": sql.SQL(f"EXISTS (SELECT 1 FROM work_case wc WHERE wc.id = {_NUMBER} AND {{}})").format(case),
        # checklists belong to no hall: every admin reads them
        "checklist": sql.SQL(f"EXISTS (SELECT 1 FROM checklist_template t WHERE t.id = {_NUMBER})"),
        "user": sql.SQL(f"EXISTS (SELECT 1 FROM app_user u WHERE CASE WHEN a.action = ANY(%(user_by_name)s)"
                        f" THEN u.name = {_REF} ELSE u.id = {_NUMBER} END AND {{}})").format(user),
    }
    province = sql.SQL("TRUE" if reader.scope.kind == "province" else "FALSE")
    fragment = sql.SQL("CASE split_part(a.subject, '/', 1) {} ELSE {} END").format(
        sql.SQL(" ").join(sql.SQL("WHEN {} THEN {}").format(sql.Literal(kind), test) for kind, test in by_kind.items()),
        province)
    return fragment, {**params, **more, **cases, **users, "user_by_name": list(_USER_BY_NAME)}


def audit_rows(conn: psycopg.Connection, *, reader: User, subject: str | None = None, action: str | None = None,
               since: datetime | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """The newest rows `reader` may see (`readable_sql`), filtered by subject, action and time."""
    readable, params = readable_sql(reader)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            sql.SQL("SELECT a.id, a.at, a.user_id, a.user_name, a.action, a.subject, a.details FROM audit_log a"
                    " WHERE (%(subject)s::text IS NULL OR a.subject = %(subject)s)"
                    "   AND (%(action)s::text IS NULL OR a.action = %(action)s)"
                    "   AND (%(since)s::timestamptz IS NULL OR a.at >= %(since)s)"
                    "   AND {}"
                    " ORDER BY a.id DESC LIMIT %(limit)s OFFSET %(offset)s").format(readable),
            {**params, "subject": subject, "action": action, "since": since, "limit": limit, "offset": offset},
        )
        return list(cur.fetchall())
