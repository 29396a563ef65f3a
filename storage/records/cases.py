"""Cases: any inspection finding, complaint or video event becomes one case (one per source) with an owner,
a due date, rectification and verification, so that one list shows all open work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from core.config.auth import RecordsConfig
from core.errors import Listed
from core.i18n import N_
from storage.auth.audit import audit
from storage.auth.model import Role, User
from storage.auth.scope import scope_sql
from storage.records.common import (
    HALLS_TIMEZONE,
    NotFound,
    RecordError,
    StepForbidden,
    StepLog,
    WorkflowError,
    counted_page,
    equal_filters,
    reachable_user,
)
from storage.records.inspections import visible_sql


class SourceKind(StrEnum):
    finding = "finding"
    complaint = "complaint"
    event = "event"


class CaseStatus(StrEnum):
    open = "open"
    rectified = "rectified"
    verified = "verified"
    closed = "closed"


S = CaseStatus
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.open: frozenset({S.rectified}),
    S.rectified: frozenset({S.verified, S.open}),  # open again: the rectification did not hold
    S.verified: frozenset({S.closed}),
    S.closed: frozenset(),
}
# Who may take each step. The hall rectifies; someone above the hall (city or province scope) verifies, sends back
# and closes (ABOVE_THE_HALL), and not the user who made the rectification being verified. The case's owner may
# always rectify their own case.
CREATORS = frozenset({Role.admin, Role.manager, Role.center_operator, Role.inspector, Role.complaints_officer})
STEP_ROLES: dict[CaseStatus, frozenset[Role]] = {
    S.rectified: frozenset({Role.admin, Role.manager, Role.hall_staff}),
    S.verified: frozenset({Role.admin, Role.manager, Role.inspector, Role.center_operator, Role.complaints_officer}),
    S.open: frozenset({Role.admin, Role.manager, Role.inspector, Role.center_operator, Role.complaints_officer}),
    S.closed: frozenset({Role.admin, Role.manager}),
}
# The steps taken only from above the hall.
ABOVE_THE_HALL = frozenset({S.verified, S.open, S.closed})


def _plausible(when: datetime) -> datetime:
    try:
        year = when.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not 2000 <= year <= 2200:
        raise ValueError("a due date between the years 2000 and 2200")
    return when


DueAt = Annotated[AwareDatetime, AfterValidator(_plausible)]


class CaseCreate(BaseModel):
    source_kind: SourceKind
    source_ref: str = Field(min_length=1, max_length=300,
                            description="finding id, complaint id, or the alert id of an event")
    title: str | None = Field(default=None, min_length=1, max_length=200, description="default: from the source")
    owner: str | None = Field(default=None, max_length=64, description="user name of who must rectify")
    due_at: DueAt | None = Field(default=None, description="default: now + records.case_due_days")


class CaseUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    owner: str | None = Field(default=None, max_length=64, description="user name; empty string: nobody")
    due_at: DueAt | None = None


class CaseTransition(BaseModel):
    to: CaseStatus
    rectification: str | None = Field(default=None, max_length=4000, description="required for `rectified`")
    verification: str | None = Field(default=None, max_length=4000, description="required for `verified`")
    note: str = Field(default="", max_length=4000, description="required when a rectification is sent back")


_COLUMNS = sql.SQL(
    "wc.id, wc.source_kind, wc.source_ref, wc.hall_id, h.name AS hall_name, h.city_id, wc.inspection_id, wc.title,"
    " o.name AS owner, wc.due_at, wc.status, wc.status_at, wc.rectification, wc.verification,"
    " cu.name AS created_by, wc.created_at, wc.closed_at,"
    " (wc.status = 'open' AND now() > wc.due_at) AS overdue,"
    # an unstaffed event inside an approved absence is excused (migration 045); roster times in %(tz)s
    " CASE WHEN wc.source_kind = 'event' THEN (SELECT x.excused_by FROM event_excuse(wc.source_ref, %(tz)s) x)"
    " END AS excused_by")
STEPS = StepLog("work_case_step", "case_id")
_FROM = sql.SQL(" FROM work_case wc JOIN hall h ON h.id = wc.hall_id LEFT JOIN app_user o ON o.id = wc.owner_id"
                " LEFT JOIN app_user cu ON cu.id = wc.created_by")


def visible_cases_sql(user: User) -> tuple[sql.Composable, dict[str, Any]]:
    """WHERE fragment: cases (alias `wc`) in the user's scope; a case from an inspection only while that
    inspection is visible to the user (the covert rule of `inspections.visible_sql`)."""
    scope, params = scope_sql(user.scope, "wc.hall_id")
    visible, more = visible_sql(user, "i")
    return (sql.SQL("{} AND (wc.inspection_id IS NULL OR EXISTS (SELECT 1 FROM inspection i"
                    " WHERE i.id = wc.inspection_id AND {}))").format(scope, visible), {**params, **more})


@dataclass(frozen=True)
class Source:
    hall_id: str
    title: str
    inspection_id: int | None = None


def _source(conn: psycopg.Connection, user: User, kind: SourceKind, ref: str) -> Source:
    """The record a case is made from, as the user may see it (NotFound otherwise)."""
    if kind is SourceKind.event:
        from storage.records.alerts import get_alert

        alert = get_alert(conn, user=user, alert_id=ref)
        subject = f" {alert['subject']}" if alert["subject"] != alert["camera_id"] else ""
        return Source(alert["hall_id"], f"{alert['kind'].replace('_', ' ')}{subject} at"
                      f" {alert['started_at'].astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    if not ref.isdigit() or len(ref) > 18:
        raise NotFound(N_("no %(kind)s '%(ref)s'"), kind=kind, ref=ref)
    with conn.cursor(row_factory=dict_row) as cur:
        if kind is SourceKind.complaint:
            scope, params = scope_sql(user.scope, "c.hall_id")
            cur.execute(sql.SQL("SELECT c.hall_id, c.category, c.summary FROM complaint c"
                                " WHERE c.id = %(id)s AND {}").format(scope), {**params, "id": int(ref)})
            row = cur.fetchone()
            if row is None:
                raise NotFound(N_("no complaint %(complaint)s"), complaint=ref)
            return Source(row["hall_id"], _clip(f"complaint {ref} ({row['category']}): {row['summary']}"))
        visible, params = visible_sql(user, "i")
        cur.execute(sql.SQL("SELECT i.hall_id, i.id AS inspection_id, f.category, f.severity, f.description"
                            " FROM finding f JOIN inspection i ON i.id = f.inspection_id"
                            " WHERE f.id = %(id)s AND {}").format(visible), {**params, "id": int(ref)})
        row = cur.fetchone()
        if row is None:
            raise NotFound(N_("no finding %(finding)s"), finding=ref)
        return Source(row["hall_id"], _clip(f"finding {ref} ({row['category']}, {row['severity']}):"
                                            f" {row['description']}"), row["inspection_id"])


def _clip(text: str, size: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[:size - 1] + "…"


def _owner_id(conn: psycopg.Connection, name: str, hall_id: str, inspection_id: int | None) -> int:
    """An active user who can see the case: their scope covers the hall and, for a case from an inspection,
    that inspection is visible to them (a covert one only once published, for the checked hall)."""
    owner = reachable_user(conn, name=name, hall_id=hall_id, field="owner")
    if inspection_id is not None:
        visible, params = visible_sql(owner, "i")
        if conn.execute(sql.SQL("SELECT 1 FROM inspection i WHERE i.id = %(id)s AND {}").format(visible),
                        {**params, "id": inspection_id}).fetchone() is None:
            raise RecordError(N_("user '%(user)s' cannot see this case until its inspection is published"),
                              field="owner", user=name)
    return owner.id


def create_case(conn: psycopg.Connection, *, user: User, data: CaseCreate, config: RecordsConfig) -> int:
    """A case for the source; a source has one case at most (WorkflowError names the existing one)."""
    source = _source(conn, user, data.source_kind, data.source_ref)
    existing = conn.execute("SELECT id FROM work_case WHERE source_kind = %s AND source_ref = %s",
                            (data.source_kind.value, data.source_ref)).fetchone()
    if existing is not None:
        raise WorkflowError(N_("%(kind)s %(ref)s is case %(case)s already"), kind=data.source_kind, ref=data.source_ref,
                            case=existing[0])
    owner_id = _owner_id(conn, data.owner, source.hall_id, source.inspection_id) if data.owner else None
    due = data.due_at or datetime.now(UTC) + timedelta(days=config.case_due_days)
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO work_case (source_kind, source_ref, hall_id, inspection_id, title, owner_id, due_at,"
                " created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (data.source_kind.value, data.source_ref, source.hall_id, source.inspection_id,
                 data.title or source.title, owner_id, due, user.id)).fetchone()
    except psycopg.errors.UniqueViolation:  # created by someone else a moment ago
        raise WorkflowError(N_("%(kind)s %(ref)s has a case already"), kind=data.source_kind,
                            ref=data.source_ref) from None
    assert row is not None
    case_id = int(row[0])
    STEPS.add(conn, record_id=case_id, user_id=user.id, to_status=S.open)
    audit(conn, user=user, action="case.create", subject=f"case/{case_id}",
          details={"source": f"{data.source_kind.value}/{data.source_ref}", "hall": source.hall_id,
                   "owner": data.owner, "due_at": due.isoformat()})
    return case_id


@dataclass(frozen=True)
class CaseFilter:
    status: CaseStatus | None = None
    include_closed: bool = False
    hall_id: str | None = None
    city_id: str | None = None
    source_kind: SourceKind | None = None
    overdue: bool | None = None
    owner: str | None = None


def list_cases(conn: psycopg.Connection, *, user: User, where: CaseFilter, limit: int = 50, offset: int = 0,
               timezone: str = HALLS_TIMEZONE) -> tuple[list[dict[str, Any]], int]:
    """A page of the cases the user may see (open work unless `status` or `include_closed`), overdue and
    soonest due first, and the total count. `timezone`: the halls' (roster times, for excused events)."""
    visible, params = visible_cases_sql(user)
    conditions, values = equal_filters((
        ("wc.status", where.status), ("wc.hall_id", where.hall_id), ("h.city_id", where.city_id),
        ("wc.source_kind", where.source_kind), ("o.name", where.owner)))
    conditions.insert(0, visible)
    values.update(params, tz=timezone)
    if where.status is None and not where.include_closed:
        conditions.append(sql.SQL("wc.status <> 'closed'"))
    if where.overdue is not None:
        conditions.append(sql.SQL("(wc.status = 'open' AND now() > wc.due_at) = %(overdue)s"))
        values["overdue"] = where.overdue
    source = sql.SQL("{} WHERE {}").format(_FROM, sql.SQL(" AND ").join(conditions))
    return counted_page(conn, columns=_COLUMNS, source=source, values=values,
                        order=sql.SQL("wc.status = 'closed', wc.due_at, wc.id"), limit=limit, offset=offset)


def get_case(conn: psycopg.Connection, *, user: User, case_id: int, timezone: str = HALLS_TIMEZONE) -> dict[str, Any]:
    """One case the user may see, with its steps."""
    visible, params = visible_cases_sql(user)
    return STEPS.with_steps(conn, sql.SQL("SELECT {}{} WHERE wc.id = %(id)s AND {}").format(_COLUMNS, _FROM, visible),
                            {**params, "id": case_id, "tz": timezone}, record_id=case_id,
                            missing=NotFound(N_("no case %(case)s"), case=case_id))


def _locked(conn: psycopg.Connection, user: User, case_id: int) -> dict[str, Any]:
    conn.execute("SELECT 1 FROM work_case WHERE id = %s FOR UPDATE", (case_id,))
    return get_case(conn, user=user, case_id=case_id)


def update_case(conn: psycopg.Connection, *, user: User, case_id: int, change: CaseUpdate,
                timezone: str = HALLS_TIMEZONE) -> dict[str, Any]:
    """Change the title, owner or due date of a case that is not closed."""
    row = _locked(conn, user, case_id)
    if row["status"] == CaseStatus.closed:
        raise WorkflowError(N_("case %(case)s is closed"), case=case_id)
    sets: dict[str, Any] = {}
    if change.title is not None:
        sets["title"] = change.title
    if change.owner is not None:
        sets["owner_id"] = (_owner_id(conn, change.owner, row["hall_id"], row["inspection_id"]) if change.owner
                            else None)
    if change.due_at is not None:
        sets["due_at"] = change.due_at
    if sets:
        assignments = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k))
                                         for k in sets)
        conn.execute(sql.SQL("UPDATE work_case SET {} WHERE id = %(id)s").format(assignments), {**sets, "id": case_id})
        audit(conn, user=user, action="case.update", subject=f"case/{case_id}",
              details={"title": change.title, "owner": change.owner,
                       "due_at": change.due_at.isoformat() if change.due_at else None})
    return get_case(conn, user=user, case_id=case_id, timezone=timezone)


def _rectifier(row: dict[str, Any]) -> str | None:
    """Who made the case's latest rectification (from its steps)."""
    return next((s["user_name"] for s in reversed(row["steps"]) if s["to_status"] == S.rectified), None)


def refusal(user: User, row: dict[str, Any], to: CaseStatus) -> StepForbidden | None:
    """Why this user may not take step `to` on the case (`row`, with its steps), or None when they may."""
    if to is S.rectified and row["owner"] == user.name:
        return None
    if user.role not in STEP_ROLES[to]:
        return StepForbidden(N_("role %(role)s may not make a case %(to)s"), role=user.role, to=to)
    if to in ABOVE_THE_HALL and user.is_checked_hall(row["hall_id"]):
        hall = row["hall_id"]
        if to is S.verified:
            return StepForbidden(N_("the hall may not verify its own case: someone above hall %(hall)s does"),
                                 hall=hall)
        if to is S.open:
            return StepForbidden(N_("the hall may not send back its own case: someone above hall %(hall)s does"),
                                 hall=hall)
        return StepForbidden(N_("the hall may not close its own case: someone above hall %(hall)s does"), hall=hall)
    if to is S.verified and _rectifier(row) == user.name:
        return StepForbidden(N_("you made the rectification: someone else verifies it"))
    return None


def may_take(user: User, row: dict[str, Any], to: CaseStatus) -> bool:
    return refusal(user, row, to) is None


def next_steps(user: User, row: dict[str, Any]) -> list[CaseStatus]:
    """The steps this user may take from the case's status."""
    return sorted(s for s in TRANSITIONS[CaseStatus(row["status"])] if may_take(user, row, s))


def change_status(conn: psycopg.Connection, *, user: User, case_id: int, change: CaseTransition,
                  timezone: str = HALLS_TIMEZONE) -> dict[str, Any]:
    """Move a case along open -> rectified -> verified -> closed (rectified -> open sends it back)."""
    row = _locked(conn, user, case_id)
    source = CaseStatus(row["status"])
    if change.to not in TRANSITIONS[source]:
        if not TRANSITIONS[source]:
            raise WorkflowError(N_("case %(case)s is %(status)s: cannot become %(to)s (allowed: none (final))"),
                                case=case_id, status=source, to=change.to)
        raise WorkflowError(N_("case %(case)s is %(status)s: cannot become %(to)s (allowed: %(allowed)s)"),
                            case=case_id, status=source, to=change.to, allowed=Listed(sorted(TRANSITIONS[source])))
    refused = refusal(user, row, change.to)
    if refused is not None:
        raise refused
    sets: dict[str, Any] = {"status": change.to.value}
    if change.to is S.rectified:
        if not (change.rectification or "").strip():
            raise WorkflowError(N_("rectifying needs `rectification`: what was done"))
        sets["rectification"] = change.rectification
    elif change.to is S.verified:
        if not (change.verification or "").strip():
            raise WorkflowError(N_("verifying needs `verification`: how the rectification was checked"))
        sets["verification"] = change.verification
    elif change.to is S.open and not change.note.strip():
        raise WorkflowError(N_("sending a rectification back needs a `note` saying why"))
    assignments = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in sets)
    conn.execute(sql.SQL("UPDATE work_case SET {}, status_at = now(),"
                         " closed_at = CASE WHEN %(status)s = 'closed' THEN now() END WHERE id = %(id)s"
                         ).format(assignments), {**sets, "id": case_id})
    STEPS.add(conn, record_id=case_id, user_id=user.id, from_status=source, to_status=change.to,
              note=change.note or change.rectification or change.verification or "")
    audit(conn, user=user, action="case.transition", subject=f"case/{case_id}",
          details={"from": source.value, "to": change.to.value})
    return get_case(conn, user=user, case_id=case_id, timezone=timezone)
