"""Cases: API under /api/v1/cases and the pages under /cases (one list of all open work)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from monitor.api import CasePublic, Limit, Offset, Page, case_source_url, reader_text, status_of
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, require_roles, templates
from monitor.i18n import N_
from storage.auth.model import User
from storage.records.cases import (
    CREATORS,
    CaseCreate,
    CaseFilter,
    CaseStatus,
    CaseTransition,
    CaseUpdate,
    SourceKind,
    change_status,
    create_case,
    get_case,
    list_cases,
    next_steps,
    update_case,
)
from storage.records.common import RecordError, check_filter_scope

router = APIRouter()
nav = [NavItem(N_("Cases"), "/cases", order=25)]
Creator = Annotated[User, Depends(require_roles(*CREATORS))]
CaseId = Annotated[int, PathParam(ge=1, le=2**62)]


def case_filter(status: CaseStatus | None = None, include_closed: bool = False,
                hall_id: Annotated[str | None, Query(max_length=63)] = None,
                city_id: Annotated[str | None, Query(max_length=63)] = None,
                source_kind: SourceKind | None = None, overdue: bool | None = None,
                owner: Annotated[str | None, Query(max_length=64)] = None) -> CaseFilter:
    return CaseFilter(status=status, include_closed=include_closed, hall_id=hall_id or None, city_id=city_id or None,
                      source_kind=source_kind, overdue=overdue, owner=owner or None)


Filter = Annotated[CaseFilter, Depends(case_filter)]


def _list(conn: DbConn, site: SiteDep, user: User, where: CaseFilter, limit: int,
          offset: int) -> tuple[list[dict], int]:
    check_filter_scope(conn, user, hall_id=where.hall_id, city_id=where.city_id)
    return list_cases(conn, user=user, where=where, limit=limit, offset=offset, timezone=site.scorecards.timezone)


def _case(conn: DbConn, user: User, case_id: int, site: SiteDep) -> dict[str, Any]:
    return get_case(conn, user=user, case_id=case_id, timezone=site.scorecards.timezone)


def _due(site: SiteDep, day: str) -> datetime | None:
    """A due date picked in a form: the end of that day in the halls' time zone."""
    if not day:
        return None
    try:
        return datetime.combine(date.fromisoformat(day), time(23, 59, 59), ZoneInfo(site.scorecards.timezone))
    except ValueError:
        raise RecordError(f"due date {day!r} is not a date (YYYY-MM-DD)") from None


@router.get("/api/v1/cases", tags=["cases"], responses={403: {}})
def read_cases(conn: DbConn, site: SiteDep, user: CurrentUser, where: Filter, limit: Limit = 50,
               offset: Offset = 0) -> Page[CasePublic]:
    """Open work (every case not closed) unless `status` or `include_closed`; overdue and soonest due first."""
    rows, total = _list(conn, site, user, where, limit, offset)
    return Page[CasePublic](data=[CasePublic.from_row(r) for r in rows], count=total, limit=limit, offset=offset)


@router.post("/api/v1/cases", tags=["cases"], status_code=201, responses={403: {}, 404: {}, 409: {}})
def create_case_api(body: CaseCreate, conn: DbConn, user: Creator, site: SiteDep) -> CasePublic:
    case_id = create_case(conn, user=user, data=body, config=site.records)
    return CasePublic.from_row(_case(conn, user, case_id, site))


@router.get("/api/v1/cases/{case_id}", tags=["cases"], responses={404: {}})
def read_case(case_id: CaseId, conn: DbConn, site: SiteDep, user: CurrentUser) -> CasePublic:
    return CasePublic.from_row(_case(conn, user, case_id, site))


@router.patch("/api/v1/cases/{case_id}", tags=["cases"], responses={404: {}, 409: {}})
def update_case_api(case_id: CaseId, body: CaseUpdate, conn: DbConn, site: SiteDep, user: Creator) -> CasePublic:
    return CasePublic.from_row(update_case(conn, user=user, case_id=case_id, change=body,
                                           timezone=site.scorecards.timezone))


@router.post("/api/v1/cases/{case_id}/transition", tags=["cases"], responses={403: {}, 404: {}, 409: {}})
def transition_case(case_id: CaseId, body: CaseTransition, conn: DbConn, site: SiteDep,
                    user: CurrentUser) -> CasePublic:
    """open → rectified (hall, owner) → verified (someone outside the hall) → closed (manager); rectified → open
    sends a rectification back. A step the workflow does not allow answers 409 naming the allowed ones."""
    return CasePublic.from_row(change_status(conn, user=user, case_id=case_id, change=body,
                                             timezone=site.scorecards.timezone))


# --- pages -------------------------------------------------------------------------------------------

@router.get("/cases", response_class=HTMLResponse, include_in_schema=False)
def cases_page(request: Request, conn: DbConn, site: SiteDep, user: CurrentUser, where: Filter,
               offset: Offset = 0) -> HTMLResponse:
    rows, total = _list(conn, site, user, where, 50, offset)
    return templates.TemplateResponse(request, "cases_list.html", {
        "rows": rows, "total": total, "offset": offset, "where": where, "statuses": list(CaseStatus),
        "kinds": list(SourceKind),
        "base_query": urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "offset"])})


@router.get("/cases/new", response_class=HTMLResponse, include_in_schema=False)
def new_case_page(request: Request, user: Creator,
                  source_kind: SourceKind | None = None,
                  source_ref: Annotated[str, Query(max_length=300)] = "") -> HTMLResponse:
    """The form behind "turn into case" links on complaints, findings and alerts."""
    return _form(request, {"source_kind": source_kind.value if source_kind else "", "source_ref": source_ref}, None)


def _form(request: Request, values: dict[str, Any], error: str | None, status: int = 422) -> HTMLResponse:
    return templates.TemplateResponse(request, "cases_form.html", {
        "values": values, "kinds": list(SourceKind), "error": error}, status_code=status if error else 200)


@router.post("/cases/new", include_in_schema=False)
def create_case_form(request: Request, conn: DbConn, user: Creator, site: SiteDep,
                     source_kind: Annotated[str, Form()], source_ref: Annotated[str, Form()],
                     title: Annotated[str, Form()] = "", owner: Annotated[str, Form()] = "",
                     due_date: Annotated[str, Form()] = "") -> Response:
    values: dict[str, Any] = {"source_kind": source_kind, "source_ref": source_ref.strip(),
                              "title": title.strip() or None, "owner": owner.strip() or None}
    try:
        values["due_at"] = _due(site, due_date)
        case_id = create_case(conn, user=user, data=CaseCreate.model_validate(values), config=site.records)
    except ValidationError as exc:
        return _form(request, values, "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors()))
    except RecordError as exc:  # the form again, with the status the API would answer (404 unseen source, 409 ...)
        return _form(request, values, reader_text(exc, request), status_of(exc))
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.get("/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
def case_page(request: Request, case_id: CaseId, conn: DbConn, site: SiteDep, user: CurrentUser) -> HTMLResponse:
    row = _case(conn, user, case_id, site)
    return templates.TemplateResponse(request, "cases_detail.html", {
        "c": row, "source_url": case_source_url(row), "nexts": next_steps(user, row),
        "can_edit": user.role in CREATORS and row["status"] != CaseStatus.closed})


def _form_change(case_id: int, change: Callable[[], object]) -> Response:
    """Run a change posted by a form on the case page and go back to it; a bad value answers 422 naming it
    (a domain error answers as the app's RecordError handler says)."""
    try:
        change()
    except ValidationError as exc:
        raise HTTPException(status_code=422, detail="; ".join(f"{e['loc'][-1]}: {e['msg']}"
                                                              for e in exc.errors())) from None
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}", include_in_schema=False)
def update_case_form(case_id: CaseId, conn: DbConn, user: Creator, site: SiteDep, title: Annotated[str, Form()] = "",
                     owner: Annotated[str, Form()] = "", due_date: Annotated[str, Form()] = "") -> Response:
    return _form_change(case_id, lambda: update_case(
        conn, user=user, case_id=case_id,
        change=CaseUpdate(title=title.strip() or None, owner=owner.strip(), due_at=_due(site, due_date))))


@router.post("/cases/{case_id}/transition", include_in_schema=False)
def transition_case_form(case_id: CaseId, conn: DbConn, user: CurrentUser, to: Annotated[str, Form()],
                         rectification: Annotated[str, Form()] = "", verification: Annotated[str, Form()] = "",
                         note: Annotated[str, Form()] = "") -> Response:
    return _form_change(case_id, lambda: change_status(
        conn, user=user, case_id=case_id,
        change=CaseTransition(to=to, rectification=rectification or None,  # type: ignore[arg-type]
                              verification=verification or None, note=note)))
