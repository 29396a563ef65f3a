"""Citizen complaints: registration, the status workflow with SLA deadlines, scoped lists with masked
contacts, and CSV import from a hotline export."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from core.config.auth import RecordsConfig
from core.errors import Listed
from core.i18n import N_
from storage.auth.audit import audit
from storage.auth.model import Role, User
from storage.auth.scope import scope_sql
from storage.records.common import (
    NotFound,
    RecordError,
    StepLog,
    WorkflowError,
    check_hall,
    counted_page,
    equal_filters,
    mask_name,
    mask_phone,
    reachable_user,
)


class Channel(StrEnum):
    hotline = "hotline"
    web = "web"
    in_person = "in_person"
    letter = "letter"


class Category(StrEnum):
    attitude = "attitude"
    delay = "delay"
    error = "error"
    discipline = "discipline"
    environment = "environment"
    other = "other"


class ComplaintStatus(StrEnum):
    received = "received"
    assigned = "assigned"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"
    rejected = "rejected"


S = ComplaintStatus
TRANSITIONS: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    S.received: frozenset({S.assigned, S.rejected}),
    S.assigned: frozenset({S.assigned, S.in_progress, S.rejected}),  # assigned -> assigned: reassign
    S.in_progress: frozenset({S.resolved, S.rejected}),
    S.resolved: frozenset({S.closed, S.in_progress}),  # in_progress again: the citizen was not satisfied
    S.closed: frozenset(),
    S.rejected: frozenset(),
}
OPEN = (S.received, S.assigned, S.in_progress)
# Who a complaint may be assigned to: the complaints desk and the managers who answer for a hall. Not hall staff
# (the officers complaints are about, who do not see the citizen's contact), inspectors or video operators.
ASSIGNEE_ROLES = frozenset({Role.admin, Role.manager, Role.complaints_officer})


class ComplaintCreate(BaseModel):
    hall_id: str = Field(min_length=1, max_length=63)
    window_id: str | None = Field(default=None, max_length=63)
    officer_badge: str | None = Field(default=None, max_length=32)
    responsible_officer: str | None = Field(default=None, max_length=100,
                                            description="first-question responsibility: who first took it")
    channel: Channel
    category: Category
    summary: str = Field(min_length=1, max_length=4000)
    contact_name: str = Field(default="", max_length=100)
    contact_phone: str = Field(default="", max_length=32, pattern=r"^[0-9+() -]*$")
    received_at: AwareDatetime | None = Field(default=None, description="with time zone; default: now")
    external_ref: str | None = Field(default=None, max_length=100, description="the hotline's own id")


class Transition(BaseModel):
    to: ComplaintStatus
    assignee: str | None = Field(default=None, max_length=64, description="user name, for `assigned`")
    note: str = Field(default="", max_length=4000)
    resolution: str | None = Field(default=None, max_length=4000, description="required for `resolved`")
    upheld: bool | None = Field(default=None, description="required for `resolved`: was the complaint justified")
    reason: str | None = Field(default=None, max_length=4000, description="required for `rejected`")


_FROM = sql.SQL(" FROM complaint c JOIN hall h ON h.id = c.hall_id LEFT JOIN app_user u ON u.id = c.assignee_id")
_OVERDUE = sql.SQL("(c.status = 'received' AND now() > c.assign_due_at"
                   " OR c.status IN ('received', 'assigned', 'in_progress') AND now() > c.resolve_due_at)")
STEPS = StepLog("complaint_step", "complaint_id")
_COLUMNS = sql.SQL(
    "c.id, c.hall_id, h.name AS hall_name, h.city_id, c.window_id, c.officer_badge, c.responsible_officer, c.channel,"
    " c.category, c.summary, c.contact_name, c.contact_phone, c.received_at, c.external_ref, c.status, c.status_at,"
    " u.name AS assignee, c.assign_due_at, c.resolve_due_at, c.resolution, c.upheld, c.reject_reason,"
    " {} AS overdue").format(_OVERDUE)


def create_complaint(conn: psycopg.Connection, *, user: User, data: ComplaintCreate, config: RecordsConfig) -> int:
    check_hall(conn, user, data.hall_id, data.window_id)
    received = data.received_at or datetime.now(UTC)
    row = conn.execute(
        "INSERT INTO complaint (hall_id, window_id, officer_badge, responsible_officer, channel, category, summary,"
        " contact_name, contact_phone, received_at, external_ref, assign_due_at, resolve_due_at, created_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (data.hall_id, data.window_id, data.officer_badge, data.responsible_officer, data.channel.value,
         data.category.value, data.summary, data.contact_name, data.contact_phone, received, data.external_ref,
         received + timedelta(hours=config.complaint_assign_hours),
         received + timedelta(hours=config.complaint_resolve_hours), user.id)).fetchone()
    assert row is not None
    complaint_id = int(row[0])
    STEPS.add(conn, record_id=complaint_id, user_id=user.id, to_status=S.received)
    audit(conn, user=user, action="complaint.create", subject=f"complaint/{complaint_id}",
          details={"hall": data.hall_id, "channel": data.channel.value, "category": data.category.value})
    return complaint_id


@dataclass(frozen=True)
class ComplaintFilter:
    status: ComplaintStatus | None = None
    hall_id: str | None = None
    city_id: str | None = None
    channel: Channel | None = None
    category: Category | None = None
    overdue: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_complaints(conn: psycopg.Connection, *, user: User, where: ComplaintFilter, limit: int = 50,
                    offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of complaints inside the user's scope (contacts masked), newest first, and the total count."""
    scope, params = scope_sql(user.scope, "c.hall_id")
    conditions, values = equal_filters((
        ("c.status", where.status), ("c.hall_id", where.hall_id), ("h.city_id", where.city_id),
        ("c.channel", where.channel), ("c.category", where.category)))
    conditions.insert(0, scope)
    values.update(params)
    if where.since is not None:
        conditions.append(sql.SQL("c.received_at >= %(since)s"))
        values["since"] = where.since
    if where.until is not None:
        conditions.append(sql.SQL("c.received_at < %(until)s"))
        values["until"] = where.until
    if where.overdue is not None:
        conditions.append(sql.SQL("{} = %(overdue)s").format(_OVERDUE))
        values["overdue"] = where.overdue
    source = sql.SQL("{} WHERE {}").format(_FROM, sql.SQL(" AND ").join(conditions))
    rows, total = counted_page(conn, columns=_COLUMNS, source=source, values=values,
                               order=sql.SQL("c.received_at DESC, c.id DESC"), limit=limit, offset=offset)
    return [masked(r) for r in rows], total


def masked(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "contact_name": mask_name(row["contact_name"]), "contact_phone": mask_phone(row["contact_phone"])}


def get_complaint(conn: psycopg.Connection, *, user: User, complaint_id: int) -> dict[str, Any]:
    """One complaint inside the user's scope, contact unmasked (the caller decides what to show), with its steps."""
    scope, params = scope_sql(user.scope, "c.hall_id")
    return STEPS.with_steps(conn, sql.SQL("SELECT {}{} WHERE c.id = %(id)s AND {}").format(_COLUMNS, _FROM, scope),
                            {**params, "id": complaint_id}, record_id=complaint_id,
                            missing=NotFound(N_("no complaint %(complaint)s"), complaint=complaint_id))


def change_status(conn: psycopg.Connection, *, user: User, complaint_id: int, change: Transition) -> dict[str, Any]:
    """Move a complaint along the workflow; every rule broken is a WorkflowError naming it."""
    current = get_complaint(conn, user=user, complaint_id=complaint_id)
    conn.execute("SELECT 1 FROM complaint WHERE id = %s FOR UPDATE", (complaint_id,))
    source = ComplaintStatus(current["status"])
    if change.to not in TRANSITIONS[source]:
        if not TRANSITIONS[source]:
            raise WorkflowError(N_("complaint %(complaint)s is %(status)s: cannot become %(to)s (allowed: none"
                                   " (final))"), complaint=complaint_id, status=source, to=change.to)
        raise WorkflowError(N_("complaint %(complaint)s is %(status)s: cannot become %(to)s (allowed: %(allowed)s)"),
                            complaint=complaint_id, status=source, to=change.to,
                            allowed=Listed(sorted(TRANSITIONS[source])))
    sets: dict[str, Any] = {"status": change.to.value}
    if change.to is S.assigned:
        if not change.assignee:
            raise WorkflowError(N_("assigning needs `assignee`"))
        assignee = reachable_user(conn, name=change.assignee, hall_id=current["hall_id"], field="assignee",
                                  refuse=WorkflowError)
        if assignee.role not in ASSIGNEE_ROLES:
            raise WorkflowError(N_("user '%(user)s' is %(role)s: complaints are assigned to %(roles)s"),
                                field="assignee", user=assignee.name, role=assignee.role,
                                roles=Listed(sorted(ASSIGNEE_ROLES)))
        sets["assignee_id"] = assignee.id
    if change.to is S.resolved:
        if not change.resolution or change.upheld is None:
            raise WorkflowError(N_("resolving needs `resolution` and `upheld`"))
        sets.update(resolution=change.resolution, upheld=change.upheld)
    if change.to is S.rejected:
        if not change.reason or not change.reason.strip():
            raise WorkflowError(N_("rejecting needs a `reason`"))
        sets["reject_reason"] = change.reason
    assignments = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in sets)
    conn.execute(sql.SQL("UPDATE complaint SET {}, status_at = now() WHERE id = %(id)s").format(assignments),
                 {**sets, "id": complaint_id})
    STEPS.add(conn, record_id=complaint_id, user_id=user.id, from_status=source, to_status=change.to,
              note=change.note or change.reason or "")
    audit(conn, user=user, action="complaint.transition", subject=f"complaint/{complaint_id}",
          details={"from": source.value, "to": change.to.value, "assignee": change.assignee,
                   "upheld": change.upheld})
    return get_complaint(conn, user=user, complaint_id=complaint_id)


# --- CSV import -------------------------------------------------------------------------------------

CSV_COLUMNS = ("external_ref", "received_at", "hall_id", "window_id", "officer_badge", "responsible_officer",
               "channel", "category", "summary", "contact_name", "contact_phone")
REQUIRED_COLUMNS = ("received_at", "hall_id", "channel", "category", "summary")


@dataclass
class ImportReport:
    imported: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)   # line numbers whose external_ref is stored already
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, problem)


def import_complaints_csv(conn: psycopg.Connection, *, user: User, text: str, config: RecordsConfig) -> ImportReport:
    """Import a hotline export. Each good row is stored (in its own savepoint); each bad row is reported
    with its line number (the header is line 1) and skipped. Columns: CSV_COLUMNS, header required."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        problem = "; ".join([f"missing columns {missing}"] * bool(missing)
                            + [f"unknown columns {unknown}"] * bool(unknown))
        report.errors.append((1, f"{problem} (expected {list(CSV_COLUMNS)})"))
        return report
    reader.fieldnames = header
    for record in reader:
        line = reader.line_num
        if None in record:
            report.errors.append((line, "more fields than the header has"))
            continue
        values = {k: (v or "").strip() for k, v in record.items() if k is not None}
        optional = {k: (values.get(k) or None) for k in ("window_id", "officer_badge", "responsible_officer",
                                                        "external_ref")}
        try:
            data = ComplaintCreate.model_validate({**values, **optional})
        except ValidationError as exc:
            report.errors.append((line, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                                  for e in exc.errors())))
            continue
        if data.external_ref and conn.execute("SELECT 1 FROM complaint WHERE external_ref = %s",
                                              (data.external_ref,)).fetchone():
            report.duplicates.append(line)
            continue
        try:
            with conn.transaction():
                report.imported.append(create_complaint(conn, user=user, data=data, config=config))
        except RecordError as exc:
            report.errors.append((line, str(exc)))
        except psycopg.errors.IntegrityError as exc:
            report.errors.append((line, exc.diag.message_primary or "rejected by the database"))
    audit(conn, user=user, action="complaint.import", subject="complaint/import",
          details={"imported": len(report.imported), "duplicates": len(report.duplicates),
                   "errors": len(report.errors)})
    return report
