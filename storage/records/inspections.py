"""Inspections of every kind: plans (covert or not), checklist templates with weighted items, the visit
with its scores, findings, publication, and the hall's video metrics at the time of the visit.

Covert plans stay covert: hall staff see only published inspections, and a user scoped to the hall
being checked does not see a covert inspection until it is published. The rule is applied in SQL by
`visible_sql`, which every query about inspections (and their findings, evidence and cases) uses. Reading a
covert plan before publication is audited: viewing one (`inspection.view_covert`) and every list that shows
any (`inspection.list_covert`, one row naming the plans shown)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import AwareDatetime, BaseModel, Field

from core.i18n import N_
from storage.auth.audit import audit
from storage.auth.model import Role, User
from storage.auth.scope import scope_sql
from storage.records.common import NotFound, RecordError, WorkflowError, check_hall, counted_page, equal_filters


class InspectionKind(StrEnum):
    spot_check = "spot_check"
    secret_shopper = "secret_shopper"
    cross_inspection = "cross_inspection"
    social_supervisor = "social_supervisor"


class InspectionStatus(StrEnum):
    planned = "planned"
    carried_out = "carried_out"
    published = "published"
    cancelled = "cancelled"


class Severity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class FindingCategory(StrEnum):
    error = "error"
    attitude = "attitude"
    discipline = "discipline"
    absence = "absence"
    environment = "environment"
    process = "process"
    other = "other"


class ChecklistItemIn(BaseModel):
    text: str = Field(min_length=1, max_length=500)
    weight: float = Field(gt=0, le=1000)


class TemplateCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: InspectionKind | None = None
    items: list[ChecklistItemIn] = Field(min_length=1, max_length=200)


class InspectionCreate(BaseModel):
    kind: InspectionKind
    hall_id: str = Field(min_length=1, max_length=63)
    planned_at: AwareDatetime
    inspector: str = Field(min_length=1, max_length=100, description="who visits")
    covert: bool = False
    template_id: int | None = Field(default=None, ge=1, le=2**62)
    from_hall_id: str | None = Field(default=None, max_length=63, description="cross-inspection: visiting hall")
    notes: str = Field(default="", max_length=4000)


class VisitRecord(BaseModel):
    carried_out_at: AwareDatetime
    scores: dict[int, float] = Field(default_factory=dict,
                                     description="checklist position -> how far the item was met, 0..1")
    notes: str = Field(default="", max_length=4000)


class FindingCreate(BaseModel):
    category: FindingCategory
    severity: Severity
    description: str = Field(min_length=1, max_length=4000)
    window_id: str | None = Field(default=None, max_length=63)


def visible_sql(user: User, alias: str = "i") -> tuple[sql.Composable, dict[str, Any]]:
    """WHERE fragment: inspections (alias `alias`) this user may know about."""
    scope, params = scope_sql(user.scope, f"{alias}.hall_id")
    status, covert = sql.Identifier(alias, "status"), sql.Identifier(alias, "covert")
    if user.role is Role.hall_staff:
        return sql.SQL("{} AND {} = 'published'").format(scope, status), params
    if user.scope.kind == "hall":
        return sql.SQL("{} AND (NOT {} OR {} = 'published')").format(scope, covert, status), params
    return scope, params


def weighted_score(weights: dict[int, float], values: dict[int, float]) -> float:
    """100 x sum(weight x value) / sum(weight) over every item of the checklist."""
    missing = sorted(set(weights) - set(values))
    extra = sorted(set(values) - set(weights))
    if missing or extra:
        raise RecordError(N_("scores must cover the checklist items exactly: missing %(missing)s, unknown %(unknown)s"),
                          missing=missing, unknown=extra)
    bad = [p for p, v in values.items() if not 0.0 <= v <= 1.0]
    if bad:
        raise RecordError(N_("scores must be between 0 and 1 (items %(items)s)"), items=bad)
    total = sum(weights.values())
    return round(100.0 * sum(weights[p] * values[p] for p in weights) / total, 2)


def create_template(conn: psycopg.Connection, *, user: User, data: TemplateCreate) -> int:
    try:
        with conn.transaction():
            row = conn.execute("INSERT INTO checklist_template (name, kind) VALUES (%s, %s) RETURNING id",
                               (data.name, data.kind.value if data.kind else None)).fetchone()
    except psycopg.errors.UniqueViolation:
        raise RecordError(N_("a checklist named '%(name)s' exists already"), name=data.name) from None
    assert row is not None
    template_id = int(row[0])
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO checklist_item (template_id, position, text, weight) VALUES (%s, %s, %s, %s)",
                        [(template_id, n, item.text, item.weight) for n, item in enumerate(data.items, start=1)])
    audit(conn, user=user, action="checklist.create", subject=f"checklist/{template_id}",
          details={"name": data.name, "items": len(data.items)})
    return template_id


def list_templates(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT t.id, t.name, t.kind, coalesce(json_agg(json_build_object('position', i.position,"
                    " 'text', i.text, 'weight', i.weight) ORDER BY i.position) FILTER (WHERE i.position IS NOT NULL),"
                    " '[]') AS items FROM checklist_template t LEFT JOIN checklist_item i ON i.template_id = t.id"
                    " WHERE t.active GROUP BY t.id ORDER BY t.name")
        return list(cur.fetchall())


def create_inspection(conn: psycopg.Connection, *, user: User, data: InspectionCreate) -> int:
    check_hall(conn, user, data.hall_id)
    if data.from_hall_id is not None:
        if data.kind is not InspectionKind.cross_inspection:
            raise RecordError(N_("from_hall_id is only for cross-inspections"))
        if data.from_hall_id == data.hall_id:
            raise RecordError(N_("a hall does not cross-inspect itself"))
        if conn.execute("SELECT 1 FROM hall WHERE id = %s", (data.from_hall_id,)).fetchone() is None:
            raise RecordError(N_("no hall '%(hall)s'"), hall=data.from_hall_id)
    if data.template_id is not None and conn.execute(
            "SELECT 1 FROM checklist_template WHERE id = %s", (data.template_id,)).fetchone() is None:
        raise RecordError(N_("no checklist template %(template)s"), template=data.template_id)
    row = conn.execute(
        "INSERT INTO inspection (kind, hall_id, planned_at, inspector, covert, template_id, from_hall_id, notes,"
        " created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (data.kind.value, data.hall_id, data.planned_at, data.inspector, data.covert, data.template_id,
         data.from_hall_id, data.notes, user.id)).fetchone()
    assert row is not None
    inspection_id = int(row[0])
    audit(conn, user=user, action="inspection.plan", subject=f"inspection/{inspection_id}",
          details={"kind": data.kind.value, "hall": data.hall_id, "covert": data.covert})
    return inspection_id


_COLUMNS = sql.SQL(
    "i.id, i.kind, i.hall_id, h.name AS hall_name, h.city_id, i.planned_at, i.inspector, i.from_hall_id, i.covert,"
    " i.template_id, t.name AS template_name, i.status, i.carried_out_at, i.published_at, i.score, i.notes,"
    " (SELECT count(*) FROM finding f WHERE f.inspection_id = i.id) AS findings")
_FROM = sql.SQL(" FROM inspection i JOIN hall h ON h.id = i.hall_id"
                " LEFT JOIN checklist_template t ON t.id = i.template_id")


def covert_plan(row: dict[str, Any]) -> bool:
    """A covert inspection not yet published: reading it is a sensitive read, and audited."""
    return bool(row["covert"]) and row["status"] in ("planned", "carried_out")


def list_inspections(conn: psycopg.Connection, *, user: User, kind: InspectionKind | None = None,
                     status: InspectionStatus | None = None, hall_id: str | None = None,
                     covert: bool | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of the inspections the user may see, newest plan first, and the total count. A page showing
    covert plans is audited once (`inspection.list_covert`, with their ids)."""
    visible, params = visible_sql(user)
    conditions, values = equal_filters((("i.kind", kind), ("i.status", status), ("i.hall_id", hall_id),
                                        ("i.covert", covert)))
    source = sql.SQL("{} WHERE {}").format(_FROM, sql.SQL(" AND ").join([visible, *conditions]))
    rows, total = counted_page(conn, columns=_COLUMNS, source=source, values={**params, **values},
                               order=sql.SQL("i.planned_at DESC, i.id DESC"), limit=limit, offset=offset)
    shown = [r["id"] for r in rows if covert_plan(r)]
    if shown:
        audit(conn, user=user, action="inspection.list_covert", subject="inspection/list", details={"ids": shown})
    return rows, total


def get_inspection(conn: psycopg.Connection, *, user: User, inspection_id: int, audit_read: bool = True
                   ) -> dict[str, Any]:
    """One visible inspection with its checklist, scores, findings and evidence list. Viewing a covert
    plan before publication is a sensitive read and is audited."""
    visible, params = visible_sql(user)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL("SELECT {}{} WHERE i.id = %(id)s AND {}").format(_COLUMNS, _FROM, visible),
                    {**params, "id": inspection_id})
        row = cur.fetchone()
        if row is None:
            raise NotFound(N_("no inspection %(inspection)s"), inspection=inspection_id)
        cur.execute("SELECT ci.position, ci.text, ci.weight, s.value, s.note FROM checklist_item ci"
                    " LEFT JOIN inspection_score s ON s.inspection_id = %s AND s.position = ci.position"
                    " WHERE ci.template_id = %s ORDER BY ci.position", (inspection_id, row["template_id"]))
        row["checklist"] = list(cur.fetchall())
        cur.execute("SELECT id, window_id, category, severity, description, created_at FROM finding"
                    " WHERE inspection_id = %s ORDER BY id", (inspection_id,))
        row["finding_list"] = list(cur.fetchall())
        cur.execute("SELECT id, finding_id, source, camera_id, taken_at, content_type, size, sha256, faces_blurred"
                    " FROM evidence WHERE inspection_id = %s ORDER BY id", (inspection_id,))
        row["evidence"] = list(cur.fetchall())
    if audit_read and covert_plan(row):
        audit(conn, user=user, action="inspection.view_covert", subject=f"inspection/{inspection_id}", details={})
    return row


def _locked(conn: psycopg.Connection, user: User, inspection_id: int) -> dict[str, Any]:
    row = get_inspection(conn, user=user, inspection_id=inspection_id, audit_read=False)
    conn.execute("SELECT 1 FROM inspection WHERE id = %s FOR UPDATE", (inspection_id,))
    return row


def record_visit(conn: psycopg.Connection, *, user: User, inspection_id: int, visit: VisitRecord) -> dict[str, Any]:
    row = _locked(conn, user, inspection_id)
    if row["status"] != "planned":
        raise WorkflowError(N_("inspection %(inspection)s is %(status)s: only a planned visit can be recorded"),
                            inspection=inspection_id, status=InspectionStatus(row["status"]))
    score = None
    if row["template_id"] is not None:
        weights = {item["position"]: item["weight"] for item in row["checklist"]}
        score = weighted_score(weights, visit.scores)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO inspection_score (inspection_id, template_id, position, value)"
                            " VALUES (%s, %s, %s, %s)",
                            [(inspection_id, row["template_id"], p, v) for p, v in sorted(visit.scores.items())])
    elif visit.scores:
        raise RecordError(N_("this inspection has no checklist to score"))
    conn.execute("UPDATE inspection SET status = 'carried_out', carried_out_at = %s, score = %s,"
                 " notes = CASE WHEN %s = '' THEN notes ELSE %s END WHERE id = %s",
                 (visit.carried_out_at, score, visit.notes, visit.notes, inspection_id))
    audit(conn, user=user, action="inspection.record_visit", subject=f"inspection/{inspection_id}",
          details={"score": score, "carried_out_at": visit.carried_out_at.isoformat()})
    return get_inspection(conn, user=user, inspection_id=inspection_id, audit_read=False)


def set_status(conn: psycopg.Connection, *, user: User, inspection_id: int, to: InspectionStatus) -> dict[str, Any]:
    """Publish a carried-out inspection (its findings become visible to the hall) or cancel a plan."""
    row = _locked(conn, user, inspection_id)
    allowed = {InspectionStatus.published: "carried_out", InspectionStatus.cancelled: "planned"}
    if allowed.get(to) != row["status"]:
        raise WorkflowError(N_("inspection %(inspection)s is %(status)s: cannot become %(to)s"),
                            inspection=inspection_id, status=InspectionStatus(row["status"]), to=to)
    conn.execute("UPDATE inspection SET status = %s, published_at = CASE WHEN %s = 'published' THEN now() END"
                 " WHERE id = %s", (to.value, to.value, inspection_id))
    audit(conn, user=user, action=f"inspection.{to.value}", subject=f"inspection/{inspection_id}", details={})
    return get_inspection(conn, user=user, inspection_id=inspection_id, audit_read=False)


def add_finding(conn: psycopg.Connection, *, user: User, inspection_id: int, data: FindingCreate) -> int:
    row = _locked(conn, user, inspection_id)
    if row["status"] not in ("planned", "carried_out"):
        raise WorkflowError(N_("inspection %(inspection)s is %(status)s: findings are closed"),
                            inspection=inspection_id, status=InspectionStatus(row["status"]))
    if data.window_id is not None:
        check_hall(conn, user, row["hall_id"], data.window_id)
    found = conn.execute(
        "INSERT INTO finding (inspection_id, window_id, category, severity, description, created_by)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (inspection_id, data.window_id, data.category.value, data.severity.value, data.description,
         user.id)).fetchone()
    assert found is not None
    audit(conn, user=user, action="finding.create", subject=f"finding/{found[0]}",
          details={"inspection": inspection_id, "severity": data.severity.value, "category": data.category.value})
    return int(found[0])


def hall_metrics_at(conn: psycopg.Connection, *, hall_id: str, at: datetime,
                    window_s: float = 120.0) -> dict[str, Any]:
    """What the cameras said about the hall at `at`: each window's desk state and each zone's count from
    the newest sample no older than `window_s` before `at` (None when there is none)."""
    since = at - timedelta(seconds=window_s)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT DISTINCT ON (window_id) window_id, state, people, ts FROM desk_sample"
                    " WHERE hall_id = %s AND ts > %s AND ts <= %s ORDER BY window_id, ts DESC", (hall_id, since, at))
        desks = {r["window_id"]: r for r in cur.fetchall()}
        cur.execute("SELECT DISTINCT ON (zone_id) zone_id, kind, people, ts FROM zone_sample"
                    " WHERE hall_id = %s AND ts > %s AND ts <= %s ORDER BY zone_id, ts DESC", (hall_id, since, at))
        zones = {r["zone_id"]: r for r in cur.fetchall()}
        cur.execute("SELECT id FROM service_window WHERE hall_id = %s ORDER BY id", (hall_id,))
        windows = [r["id"] for r in cur.fetchall()]
    return {"at": at.astimezone(UTC), "windows": [{"window_id": w, "state": desks[w]["state"] if w in desks else None,
                                                   "people": desks[w]["people"] if w in desks else None,
                                                   "sampled_at": desks[w]["ts"] if w in desks else None}
                                                  for w in windows],
            "zones": [{"zone_id": z, "kind": r["kind"], "people": r["people"], "sampled_at": r["ts"]}
                      for z, r in sorted(zones.items())]}
