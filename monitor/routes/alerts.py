"""Alerts: the events of analytics and ingest under /api/v1/alerts, acknowledge and turn into case, and the
/alerts page that polls the API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from monitor.api import CasePublic, ExcusePublic, Limit, Offset, Page
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, require_roles, templates
from monitor.i18n import N_
from storage.auth.model import Role, User
from storage.records.alerts import AckCreate, AlertFilter, AlertKind, AlertState, acknowledge, get_alert, list_alerts
from storage.records.cases import CaseCreate, DueAt, SourceKind, create_case, get_case
from storage.records.common import check_filter_scope

router = APIRouter()
nav = [NavItem(N_("Alerts"), "/alerts", order=5)]
HANDLERS = (Role.admin, Role.center_operator, Role.manager)  # acknowledge, and turn into case
Handler = Annotated[User, Depends(require_roles(*HANDLERS))]
AlertId = Annotated[str, PathParam(min_length=5, max_length=300, description="hall:kind:subject:start_microseconds")]


class AlertPublic(BaseModel):
    id: str
    hall_id: str
    hall_name: str
    city_id: str
    camera_id: str
    kind: AlertKind
    subject: str
    started_at: datetime
    ended_at: datetime | None
    open: bool
    details: dict[str, Any]
    acked_at: datetime | None
    acked_by: str | None
    ack_note: str | None
    case_id: int | None
    case_status: str | None
    excused_by: list[ExcusePublic] | None = Field(
        description="unstaffed windows only: the approved absences that excuse it (shown, not held against the"
                    " window in scorecards); null when it counts")


class AlertCaseCreate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    owner: str | None = Field(default=None, max_length=64)
    due_at: DueAt | None = Field(default=None, description="with time zone; default: now + case_due_days")


def alert_filter(state: AlertState | None = None, acknowledged: bool | None = None, kind: AlertKind | None = None,
                 hall_id: Annotated[str | None, Query(max_length=63)] = None,
                 city_id: Annotated[str | None, Query(max_length=63)] = None,
                 since: datetime | None = None, until: datetime | None = None) -> AlertFilter:
    return AlertFilter(state=state, acknowledged=acknowledged, kind=kind, hall_id=hall_id or None,
                       city_id=city_id or None, since=since, until=until)


Filter = Annotated[AlertFilter, Depends(alert_filter)]


@router.get("/api/v1/alerts", tags=["alerts"], responses={403: {}})
def read_alerts(conn: DbConn, site: SiteDep, user: CurrentUser, where: Filter, limit: Limit = 50,
                offset: Offset = 0) -> Page[AlertPublic]:
    """Events inside the caller's scope: open ones first, each group newest first."""
    check_filter_scope(conn, user, hall_id=where.hall_id, city_id=where.city_id)
    rows, total = list_alerts(conn, user=user, where=where, limit=limit, offset=offset,
                              timezone=site.scorecards.timezone)
    return Page[AlertPublic](data=[AlertPublic(**r) for r in rows], count=total, limit=limit, offset=offset)


@router.get("/api/v1/alerts/{alert_id}", tags=["alerts"], responses={404: {}})
def read_alert(alert_id: AlertId, conn: DbConn, site: SiteDep, user: CurrentUser) -> AlertPublic:
    return AlertPublic(**get_alert(conn, user=user, alert_id=alert_id, timezone=site.scorecards.timezone))


@router.post("/api/v1/alerts/{alert_id}/ack", tags=["alerts"], responses={404: {}, 409: {}})
def acknowledge_alert(alert_id: AlertId, body: AckCreate, conn: DbConn, site: SiteDep, user: Handler) -> AlertPublic:
    """Who acknowledged, when, and a note; once per alert (409 names who did it first)."""
    return AlertPublic(**acknowledge(conn, user=user, alert_id=alert_id, ack=body, timezone=site.scorecards.timezone))


@router.post("/api/v1/alerts/{alert_id}/case", tags=["alerts"], status_code=201, responses={404: {}, 409: {}})
def alert_to_case(alert_id: AlertId, body: AlertCaseCreate, conn: DbConn, user: Handler, site: SiteDep) -> CasePublic:
    """Turn the alert into a case (one per alert; 409 names the existing case)."""
    data = CaseCreate(source_kind=SourceKind.event, source_ref=alert_id, title=body.title, owner=body.owner,
                      due_at=body.due_at)
    case_id = create_case(conn, user=user, data=data, config=site.records)
    return CasePublic.from_row(get_case(conn, user=user, case_id=case_id, timezone=site.scorecards.timezone))


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def alerts_page(request: Request, conn: DbConn, user: CurrentUser, where: Filter) -> HTMLResponse:
    """The list is filled and refreshed by /static/alerts/alerts.js from the API."""
    check_filter_scope(conn, user, hall_id=where.hall_id, city_id=where.city_id)
    return templates.TemplateResponse(request, "alerts.html", {
        "where": where, "kinds": list(AlertKind), "can_handle": user.role in HANDLERS, "query": request.url.query})
