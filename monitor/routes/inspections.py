"""Inspections, checklists, findings and evidence: API under /api/v1 and pages under /inspections."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from core.errors import StreamError
from monitor.api import Limit, Offset, Page, halls_for, http_error, reader_text
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, require_roles, templates
from monitor.i18n import N_
from storage.auth.model import Role, User
from storage.records.common import RecordError, check_filter_scope
from storage.records.evidence import Photo, check_photo, read_evidence, snapshot, store_evidence
from storage.records.inspections import (
    FindingCategory,
    FindingCreate,
    InspectionCreate,
    InspectionKind,
    InspectionStatus,
    Severity,
    TemplateCreate,
    VisitRecord,
    add_finding,
    create_inspection,
    create_template,
    get_inspection,
    hall_metrics_at,
    list_inspections,
    list_templates,
    record_visit,
    set_status,
)

router = APIRouter()
INSPECTORS = (Role.admin, Role.inspector)
PUBLISHERS = (Role.admin, Role.inspector, Role.manager)
nav = [NavItem(N_("Inspections"), "/inspections", order=30)]
Inspector = Annotated[User, Depends(require_roles(*INSPECTORS))]
Publisher = Annotated[User, Depends(require_roles(*PUBLISHERS))]
InspectionId = Annotated[int, PathParam(ge=1, le=2**62)]
EvidenceId = Annotated[int, PathParam(ge=1, le=2**62)]
_detector_lock = threading.Lock()


class InspectionPublic(BaseModel):
    id: int
    kind: InspectionKind
    hall_id: str
    hall_name: str
    city_id: str
    planned_at: datetime
    inspector: str
    from_hall_id: str | None
    covert: bool
    template_id: int | None
    template_name: str | None
    status: InspectionStatus
    carried_out_at: datetime | None
    published_at: datetime | None
    score: float | None
    notes: str
    findings: int


class ChecklistLine(BaseModel):
    position: int
    text: str
    weight: float
    value: float | None
    note: str | None


class FindingPublic(BaseModel):
    id: int
    window_id: str | None
    category: FindingCategory
    severity: Severity
    description: str
    created_at: datetime


class EvidencePublic(BaseModel):
    id: int
    finding_id: int | None
    source: str
    camera_id: str | None
    taken_at: datetime
    content_type: str
    size: int
    sha256: str
    faces_blurred: int


class WindowAt(BaseModel):
    window_id: str
    state: str | None
    people: int | None
    sampled_at: datetime | None


class ZoneAt(BaseModel):
    zone_id: str
    kind: str
    people: int
    sampled_at: datetime


class HallMetrics(BaseModel):
    at: datetime
    windows: list[WindowAt]
    zones: list[ZoneAt]


class InspectionDetail(InspectionPublic):
    checklist: list[ChecklistLine]
    finding_list: list[FindingPublic]
    evidence: list[EvidencePublic]
    video: HallMetrics | None = Field(description="the hall's desks and queues at the visit (or the plan)")


class TemplatePublic(BaseModel):
    id: int
    name: str
    kind: InspectionKind | None
    items: list[dict[str, Any]]


class StatusChange(BaseModel):
    to: InspectionStatus


class SnapshotRequest(BaseModel):
    camera_id: str = Field(min_length=1, max_length=63)
    finding_id: int | None = Field(default=None, ge=1, le=2**62)


class Created(BaseModel):
    id: int


def _detail(conn: DbConn, user: User, inspection_id: int) -> dict[str, Any]:
    row = get_inspection(conn, user=user, inspection_id=inspection_id)
    at = row["carried_out_at"] or row["planned_at"]
    row["video"] = hall_metrics_at(conn, hall_id=row["hall_id"], at=at) if at <= datetime.now(UTC) else None
    return row


def detector(request: Request) -> Any:
    """The site's person detector, loaded once on first use (it takes a second)."""
    with _detector_lock:
        if getattr(request.app.state, "detector", None) is None:
            from models import load_detector

            request.app.state.detector = load_detector(request.app.state.site.detector)
    return request.app.state.detector


Detector = Annotated[Any, Depends(detector)]


@router.get("/api/v1/checklists", tags=["inspections"])
def read_checklists(conn: DbConn, user: Inspector) -> list[TemplatePublic]:
    return [TemplatePublic(**t) for t in list_templates(conn)]


@router.post("/api/v1/checklists", tags=["inspections"], status_code=201, responses={409: {}})
def create_checklist(body: TemplateCreate, conn: DbConn, user: Annotated[User, Depends(require_roles(Role.admin))]
                     ) -> Created:
    try:
        return Created(id=create_template(conn, user=user, data=body))
    except RecordError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


@router.get("/api/v1/inspections", tags=["inspections"], responses={403: {}})
def read_inspections(conn: DbConn, user: CurrentUser, kind: InspectionKind | None = None,
                     status: InspectionStatus | None = None,
                     hall_id: Annotated[str | None, Query(max_length=63)] = None, covert: bool | None = None,
                     limit: Limit = 50, offset: Offset = 0) -> Page[InspectionPublic]:
    check_filter_scope(conn, user, hall_id=hall_id)
    rows, total = list_inspections(conn, user=user, kind=kind, status=status, hall_id=hall_id, covert=covert,
                                   limit=limit, offset=offset)
    return Page[InspectionPublic](data=[InspectionPublic(**r) for r in rows], count=total, limit=limit, offset=offset)


@router.get("/api/v1/inspections.csv", tags=["inspections"], response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def export_inspections(conn: DbConn, user: CurrentUser) -> Response:
    """Every inspection the user may see, as CSV (the same visibility rule as the list)."""
    rows, _ = list_inspections(conn, user=user, limit=100_000)
    out = io.StringIO()
    columns = ["id", "kind", "hall_id", "planned_at", "inspector", "covert", "status", "carried_out_at", "score",
               "findings"]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()} for row in rows)
    return Response(out.getvalue(), media_type="text/csv")


def spreadsheet_safe(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is quoted with a leading
    apostrophe, as OWASP advises against CSV injection; numbers and dates stay as they are."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@router.post("/api/v1/inspections", tags=["inspections"], status_code=201, responses={403: {}})
def create_inspection_api(body: InspectionCreate, conn: DbConn, user: Inspector) -> InspectionDetail:
    try:
        inspection_id = create_inspection(conn, user=user, data=body)
    except RecordError as exc:
        raise http_error(exc, field="template_id" if "template" in str(exc) else "hall_id") from None
    return InspectionDetail(**_detail(conn, user, inspection_id))


@router.get("/api/v1/inspections/{inspection_id}", tags=["inspections"], responses={404: {}})
def read_inspection(inspection_id: InspectionId, conn: DbConn, user: CurrentUser) -> InspectionDetail:
    return InspectionDetail(**_detail(conn, user, inspection_id))


@router.post("/api/v1/inspections/{inspection_id}/visit", tags=["inspections"], responses={404: {}, 409: {}})
def record_visit_api(inspection_id: InspectionId, body: VisitRecord, conn: DbConn, user: Inspector
                     ) -> InspectionDetail:
    try:
        record_visit(conn, user=user, inspection_id=inspection_id, visit=body)
    except RecordError as exc:
        raise http_error(exc, field="scores") from None
    return InspectionDetail(**_detail(conn, user, inspection_id))


@router.post("/api/v1/inspections/{inspection_id}/status", tags=["inspections"], responses={404: {}, 409: {}})
def change_inspection_status(inspection_id: InspectionId, body: StatusChange, conn: DbConn, user: Publisher
                             ) -> InspectionDetail:
    set_status(conn, user=user, inspection_id=inspection_id, to=body.to)
    return InspectionDetail(**_detail(conn, user, inspection_id))


@router.post("/api/v1/inspections/{inspection_id}/findings", tags=["inspections"], status_code=201,
             responses={404: {}, 409: {}})
def create_finding(inspection_id: InspectionId, body: FindingCreate, conn: DbConn, user: Inspector) -> Created:
    try:
        return Created(id=add_finding(conn, user=user, inspection_id=inspection_id, data=body))
    except RecordError as exc:
        raise http_error(exc, field="window_id") from None


@router.post("/api/v1/inspections/{inspection_id}/evidence", tags=["inspections"], status_code=201,
             responses={404: {}, 409: {}, 413: {}})
def upload_evidence(inspection_id: InspectionId, conn: DbConn, user: Inspector, site: SiteDep, found: Detector,
                    photo: Annotated[UploadFile, File(description="JPEG or PNG")],
                    finding_id: Annotated[int | None, Form(ge=1, le=2**62)] = None) -> Created:
    limit = site.records.evidence_max_bytes
    data = photo.file.read(limit + 1)
    try:
        checked = check_photo(data, max_bytes=limit)
        return Created(id=store_evidence(conn, user=user, inspection_id=inspection_id, photo=checked, detector=found,
                                         source="upload", taken_at=datetime.now(UTC), finding_id=finding_id))
    except RecordError as exc:
        raise http_error(exc, field="photo") from None


@router.post("/api/v1/inspections/{inspection_id}/snapshot", tags=["inspections"], status_code=201,
             responses={404: {}, 409: {}, 502: {}})
def take_snapshot(inspection_id: InspectionId, body: SnapshotRequest, conn: DbConn, user: Inspector, site: SiteDep,
                  found: Detector) -> Created:
    """The server pulls one frame from the hall's camera now and stores it as evidence."""
    return Created(id=_snapshot(conn, user, site, found, inspection_id, body.camera_id, body.finding_id))


def _snapshot(conn: DbConn, user: User, site: SiteDep, found: Any, inspection_id: int, camera_id: str,
              finding_id: int | None) -> int:
    row = get_inspection(conn, user=user, inspection_id=inspection_id, audit_read=False)
    camera = next((c for h in site.halls if h.id == row["hall_id"] for c in h.cameras if c.id == camera_id), None)
    if camera is None:
        raise RecordError(f"hall {row['hall_id']} has no camera {camera_id!r}", field="camera_id")
    taken = datetime.now(UTC)
    try:
        data = snapshot(camera.url, open_timeout_s=site.ingest.open_timeout_s,
                        read_timeout_s=site.ingest.read_timeout_s)
    except StreamError as exc:
        raise http_error(exc) from None
    photo: Photo = check_photo(data, max_bytes=site.records.evidence_max_bytes)
    return store_evidence(conn, user=user, inspection_id=inspection_id, photo=photo, detector=found, source="camera",
                          camera_id=camera_id, taken_at=taken, finding_id=finding_id)


@router.get("/api/v1/evidence/{evidence_id}", tags=["inspections"], response_class=Response,
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, 404: {}, 500: {}})
def read_evidence_api(evidence_id: EvidenceId, conn: DbConn, user: CurrentUser) -> Response:
    """The photo: faces unblurred only for roles that may see them (each such view is audited). The
    sha256 is checked on every read; a mismatch answers 500 and is audited."""
    row = read_evidence(conn, user=user, evidence_id=evidence_id)
    return Response(bytes(row["data"]), media_type=row["content_type"],
                    headers={"X-Content-SHA256": row["sha256"], "X-Faces-Blurred": str(row["blurred"]).lower(),
                             "Cache-Control": "private, no-store"})


# --- pages -------------------------------------------------------------------------------------------

@router.get("/inspections", response_class=HTMLResponse, include_in_schema=False)
def inspections_page(request: Request, conn: DbConn, user: CurrentUser, kind: InspectionKind | None = None,
                     status: InspectionStatus | None = None, offset: Offset = 0) -> HTMLResponse:
    rows, total = list_inspections(conn, user=user, kind=kind, status=status, limit=50, offset=offset)
    return templates.TemplateResponse(request, "inspections_list.html", {
        "rows": rows, "total": total, "offset": offset, "kind": kind, "status": status,
        "kinds": list(InspectionKind), "statuses": list(InspectionStatus), "can_plan": user.role in INSPECTORS})


@router.get("/inspections/new", response_class=HTMLResponse, include_in_schema=False)
def new_inspection_page(request: Request, conn: DbConn, user: Inspector, site: SiteDep) -> HTMLResponse:
    return _plan_form(request, conn, user, site, {}, None)


def _plan_form(request: Request, conn: DbConn, user: User, site: SiteDep, values: dict[str, Any],
               error: str | None) -> HTMLResponse:
    return templates.TemplateResponse(request, "inspections_form.html", {
        "halls": halls_for(site, user), "kinds": list(InspectionKind),
        "checklists": list_templates(conn), "values": values, "error": error}, status_code=422 if error else 200)


@router.post("/inspections/new", include_in_schema=False)
def new_inspection_submit(request: Request, conn: DbConn, user: Inspector, site: SiteDep,
                          kind: Annotated[str, Form()], hall_id: Annotated[str, Form()],
                          planned_at: Annotated[str, Form()], inspector: Annotated[str, Form()],
                          covert: Annotated[str, Form()] = "", template_id: Annotated[str, Form()] = "",
                          notes: Annotated[str, Form()] = "") -> Response:
    values = {"kind": kind, "hall_id": hall_id, "planned_at": planned_at, "inspector": inspector,
              "covert": covert == "on", "template_id": template_id or None, "notes": notes}
    try:
        data = InspectionCreate.model_validate(values)
        inspection_id = create_inspection(conn, user=user, data=data)
    except ValidationError as exc:
        return _plan_form(request, conn, user, site, values,
                          "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors()))
    except RecordError as exc:
        return _plan_form(request, conn, user, site, values, reader_text(exc, request))
    return RedirectResponse(f"/inspections/{inspection_id}", status_code=303)


@router.get("/inspections/{inspection_id}", response_class=HTMLResponse, include_in_schema=False)
def inspection_page(request: Request, inspection_id: InspectionId, conn: DbConn, user: CurrentUser,
                    site: SiteDep) -> HTMLResponse:
    row = _detail(conn, user, inspection_id)
    cameras = next((h.cameras for h in site.halls if h.id == row["hall_id"]), [])
    return templates.TemplateResponse(request, "inspections_detail.html", {
        "i": row, "cameras": cameras, "can_inspect": user.role in INSPECTORS,
        "can_publish": user.role in PUBLISHERS, "categories": list(FindingCategory), "severities": list(Severity)})


def _form_error(exc: ValidationError) -> HTTPException:
    return HTTPException(status_code=422, detail="; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in exc.errors()))


@router.post("/inspections/{inspection_id}/visit", include_in_schema=False)
async def visit_submit(request: Request, inspection_id: InspectionId) -> Response:
    # Checklist fields are dynamic (`score_<position>`), so the form is read whole, then handled in a thread.
    from starlette.concurrency import run_in_threadpool

    form = await request.form()
    return await run_in_threadpool(_visit_submit_sync, request, inspection_id, dict(form))


def _visit_submit_sync(request: Request, inspection_id: int, form: dict[str, Any]) -> Response:
    from monitor.deps import current_user

    with request.app.state.pool.connection(timeout=5.0) as conn:
        user = current_user(request, conn, form.get("csrf_token") if isinstance(form.get("csrf_token"), str) else None)
        if user.role not in INSPECTORS:
            raise HTTPException(status_code=403, detail=f"role {user.role.value} may not do this")
        scores = {}
        for key, value in form.items():
            if key.startswith("score_") and value != "":
                position = key.removeprefix("score_")
                if not (position.isascii() and position.isdecimal() and len(position) <= 6):
                    raise HTTPException(status_code=422, detail=f"{key}: not a checklist position")
                scores[int(position)] = value
        try:
            visit = VisitRecord.model_validate({"carried_out_at": form.get("carried_out_at") or datetime.now(UTC),
                                                "scores": scores, "notes": form.get("notes") or ""})
            record_visit(conn, user=user, inspection_id=inspection_id, visit=visit)
        except ValidationError as exc:
            raise _form_error(exc) from None
    return RedirectResponse(f"/inspections/{inspection_id}", status_code=303)


@router.post("/inspections/{inspection_id}/findings", include_in_schema=False)
def finding_submit(inspection_id: InspectionId, conn: DbConn, user: Inspector,
                   category: Annotated[str, Form()], severity: Annotated[str, Form()],
                   description: Annotated[str, Form()], window_id: Annotated[str, Form()] = "") -> Response:
    try:
        data = FindingCreate.model_validate({"category": category, "severity": severity,
                                             "description": description, "window_id": window_id or None})
        add_finding(conn, user=user, inspection_id=inspection_id, data=data)
    except ValidationError as exc:
        raise _form_error(exc) from None
    return RedirectResponse(f"/inspections/{inspection_id}", status_code=303)


@router.post("/inspections/{inspection_id}/snapshot", include_in_schema=False)
def snapshot_submit(inspection_id: InspectionId, conn: DbConn, user: Inspector, site: SiteDep, found: Detector,
                    camera_id: Annotated[str, Form()]) -> Response:
    _snapshot(conn, user, site, found, inspection_id, camera_id, None)
    return RedirectResponse(f"/inspections/{inspection_id}", status_code=303)


@router.post("/inspections/{inspection_id}/photo", include_in_schema=False)
def photo_submit(inspection_id: InspectionId, conn: DbConn, user: Inspector, site: SiteDep, found: Detector,
                 photo: Annotated[UploadFile, File()]) -> Response:
    upload_evidence(inspection_id, conn, user, site, found, photo)
    return RedirectResponse(f"/inspections/{inspection_id}", status_code=303)


@router.post("/inspections/{inspection_id}/status", include_in_schema=False)
def status_submit(inspection_id: InspectionId, conn: DbConn, user: Publisher, to: Annotated[str, Form()]) -> Response:
    try:
        set_status(conn, user=user, inspection_id=inspection_id, to=InspectionStatus(to))
    except ValueError:
        raise HTTPException(status_code=422, detail=f"unknown status {to!r}") from None
    return RedirectResponse(f"/inspections/{inspection_id}", status_code=303)

