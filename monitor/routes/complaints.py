"""Complaints: API under /api/v1/complaints and the pages under /complaints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from monitor.api import Limit, Offset, Page, StepPublic, halls_for, http_error, reader_text, unprocessable
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, require_roles, templates
from monitor.i18n import N_
from storage.auth.audit import audit
from storage.auth.model import Role, User
from storage.records.common import RecordError, check_filter_scope
from storage.records.complaints import (
    Category,
    Channel,
    ComplaintCreate,
    ComplaintFilter,
    ComplaintStatus,
    Transition,
    change_status,
    create_complaint,
    get_complaint,
    import_complaints_csv,
    list_complaints,
    masked,
)

router = APIRouter()
nav = [NavItem(N_("Complaints"), "/complaints", order=20)]
WRITERS = (Role.admin, Role.complaints_officer)
SEES_CONTACT = frozenset(WRITERS)
Writer = Annotated[User, Depends(require_roles(*WRITERS))]
ComplaintId = Annotated[int, PathParam(ge=1, le=2**62)]


class ComplaintPublic(BaseModel):
    id: int
    hall_id: str
    hall_name: str
    city_id: str
    window_id: str | None
    officer_badge: str | None
    responsible_officer: str | None
    channel: Channel
    category: Category
    summary: str
    contact_name: str
    contact_phone: str
    received_at: datetime
    external_ref: str | None
    status: ComplaintStatus
    status_at: datetime
    assignee: str | None
    assign_due_at: datetime
    resolve_due_at: datetime
    resolution: str | None
    upheld: bool | None
    reject_reason: str | None
    overdue: bool
    steps: list[StepPublic] | None = None


class ImportLineError(BaseModel):
    line: int
    error: str


class ImportResult(BaseModel):
    imported: list[int]
    duplicate_lines: list[int]
    errors: list[ImportLineError]


def complaint_filter(status: ComplaintStatus | None = None,
                     hall_id: Annotated[str | None, Query(max_length=63)] = None,
                     city_id: Annotated[str | None, Query(max_length=63)] = None,
                     channel: Channel | None = None, category: Category | None = None,
                     overdue: bool | None = None, since: datetime | None = None,
                     until: datetime | None = None) -> ComplaintFilter:
    return ComplaintFilter(status=status, hall_id=hall_id or None, city_id=city_id or None, channel=channel,
                           category=category, overdue=overdue, since=since, until=until)


Filter = Annotated[ComplaintFilter, Depends(complaint_filter)]


def _detail(conn: DbConn, user: User, complaint_id: int) -> dict[str, Any]:
    row = get_complaint(conn, user=user, complaint_id=complaint_id)
    if user.role in SEES_CONTACT:
        audit(conn, user=user, action="complaint.view_contact", subject=f"complaint/{complaint_id}", details={})
        return row
    return masked(row)


def _list(conn: DbConn, user: User, where: ComplaintFilter, limit: int, offset: int) -> tuple[list[dict], int]:
    check_filter_scope(conn, user, hall_id=where.hall_id, city_id=where.city_id)
    return list_complaints(conn, user=user, where=where, limit=limit, offset=offset)


@router.get("/api/v1/complaints", tags=["complaints"], responses={403: {}})
def read_complaints(conn: DbConn, user: CurrentUser, where: Filter, limit: Limit = 50,
                    offset: Offset = 0) -> Page[ComplaintPublic]:
    rows, total = _list(conn, user, where, limit, offset)
    return Page[ComplaintPublic](data=[ComplaintPublic(**r) for r in rows], count=total, limit=limit, offset=offset)


@router.post("/api/v1/complaints", tags=["complaints"], status_code=201, responses={403: {}})
def create_complaint_api(body: ComplaintCreate, conn: DbConn, user: Writer, site: SiteDep) -> ComplaintPublic:
    try:
        complaint_id = create_complaint(conn, user=user, data=body, config=site.records)
    except RecordError as exc:
        raise http_error(exc, field="window_id" if "window" in str(exc) else "hall_id") from None
    return ComplaintPublic(**_detail(conn, user, complaint_id))


@router.get("/api/v1/complaints/{complaint_id}", tags=["complaints"], responses={404: {}})
def read_complaint(complaint_id: ComplaintId, conn: DbConn, user: CurrentUser) -> ComplaintPublic:
    return ComplaintPublic(**_detail(conn, user, complaint_id))


@router.post("/api/v1/complaints/{complaint_id}/transition", tags=["complaints"], responses={404: {}, 409: {}})
def transition_complaint(complaint_id: ComplaintId, body: Transition, conn: DbConn, user: Writer) -> ComplaintPublic:
    change_status(conn, user=user, complaint_id=complaint_id, change=body)
    return ComplaintPublic(**_detail(conn, user, complaint_id))


@router.post("/api/v1/complaints/import", tags=["complaints"])
def import_complaints(file: Annotated[UploadFile, File(description="CSV, UTF-8, header row")], conn: DbConn,
                      user: Writer, site: SiteDep) -> ImportResult:
    """Bad rows are reported by line number (the header is line 1); good rows are kept."""
    report = _import(conn, user, site, file)
    return ImportResult(imported=report.imported, duplicate_lines=report.duplicates,
                        errors=[ImportLineError(line=n, error=e) for n, e in report.errors])


def _import(conn: DbConn, user: User, site: SiteDep, file: UploadFile):  # type: ignore[no-untyped-def]
    raw = file.file.read(20_000_001)
    if len(raw) > 20_000_000:
        raise HTTPException(status_code=413, detail="CSV larger than 20 MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise unprocessable("file", f"not UTF-8 (byte {exc.start})") from None
    return import_complaints_csv(conn, user=user, text=text, config=site.records)


# --- pages -------------------------------------------------------------------------------------------

@router.get("/complaints", response_class=HTMLResponse, include_in_schema=False)
def complaints_page(request: Request, conn: DbConn, user: CurrentUser, where: Filter,
                    offset: Offset = 0) -> HTMLResponse:
    rows, total = _list(conn, user, where, 50, offset)
    return templates.TemplateResponse(request, "complaints_list.html", {
        "rows": rows, "total": total, "offset": offset, "where": where, "statuses": list(ComplaintStatus),
        "channels": list(Channel), "categories": list(Category), "can_write": user.role in WRITERS,
        "query": request.url.query})


@router.get("/complaints/new", response_class=HTMLResponse, include_in_schema=False)
def new_complaint_page(request: Request, user: Writer, site: SiteDep) -> HTMLResponse:
    return _form(request, user, site, {}, None)


def _form(request: Request, user: User, site: SiteDep, values: dict[str, Any], error: str | None) -> HTMLResponse:
    return templates.TemplateResponse(request, "complaints_form.html", {
        "halls": halls_for(site, user), "channels": list(Channel), "categories": list(Category), "values": values,
        "error": error}, status_code=422 if error else 200)


@router.post("/complaints/new", include_in_schema=False)
def new_complaint_submit(request: Request, conn: DbConn, user: Writer, site: SiteDep,
                         hall_id: Annotated[str, Form()], channel: Annotated[str, Form()],
                         category: Annotated[str, Form()], summary: Annotated[str, Form()],
                         window_id: Annotated[str, Form()] = "", officer_badge: Annotated[str, Form()] = "",
                         responsible_officer: Annotated[str, Form()] = "", contact_name: Annotated[str, Form()] = "",
                         contact_phone: Annotated[str, Form()] = "") -> Response:
    values = {"hall_id": hall_id, "channel": channel, "category": category, "summary": summary,
              "window_id": window_id or None, "officer_badge": officer_badge or None,
              "responsible_officer": responsible_officer or None, "contact_name": contact_name,
              "contact_phone": contact_phone}
    try:
        data = ComplaintCreate.model_validate(values)
        complaint_id = create_complaint(conn, user=user, data=data, config=site.records)
    except ValidationError as exc:
        return _form(request, user, site, values, "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors()))
    except RecordError as exc:
        return _form(request, user, site, values, reader_text(exc, request))
    return RedirectResponse(f"/complaints/{complaint_id}", status_code=303)


@router.get("/complaints/import", response_class=HTMLResponse, include_in_schema=False)
def import_page(request: Request, user: Writer) -> HTMLResponse:
    return templates.TemplateResponse(request, "complaints_import.html", {"report": None})


@router.post("/complaints/import", response_class=HTMLResponse, include_in_schema=False)
def import_submit(request: Request, file: Annotated[UploadFile, File()], conn: DbConn, user: Writer,
                  site: SiteDep) -> HTMLResponse:
    return templates.TemplateResponse(request, "complaints_import.html", {"report": _import(conn, user, site, file)})


@router.get("/complaints/{complaint_id}", response_class=HTMLResponse, include_in_schema=False)
def complaint_page(request: Request, complaint_id: ComplaintId, conn: DbConn, user: CurrentUser) -> HTMLResponse:
    from storage.records.complaints import TRANSITIONS

    row = _detail(conn, user, complaint_id)
    nexts = sorted(TRANSITIONS[ComplaintStatus(row["status"])]) if user.role in WRITERS else []
    return templates.TemplateResponse(request, "complaints_detail.html", {"c": row, "nexts": nexts})


@router.post("/complaints/{complaint_id}/transition", include_in_schema=False)
def transition_submit(request: Request, complaint_id: ComplaintId, conn: DbConn, user: Writer,
                      to: Annotated[str, Form()], assignee: Annotated[str, Form()] = "",
                      note: Annotated[str, Form()] = "", resolution: Annotated[str, Form()] = "",
                      upheld: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "") -> Response:
    try:
        change = Transition(to=to, assignee=assignee or None, note=note, resolution=resolution or None,  # type: ignore[arg-type]
                            upheld={"yes": True, "no": False}.get(upheld), reason=reason or None)
        change_status(conn, user=user, complaint_id=complaint_id, change=change)
    except ValidationError as exc:
        detail = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors())
        raise HTTPException(status_code=422, detail=detail) from None
    return RedirectResponse(f"/complaints/{complaint_id}", status_code=303)
