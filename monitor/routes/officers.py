"""Officers: API under /api/v1/officers and the pages under /officers. Everyone reads the officers inside
their scope; admins and managers add and edit them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from monitor.api import (
    ROSTER_WRITERS,
    HallId,
    Limit,
    Offset,
    Page,
    RosterWriter,
    form_message,
    halls_for,
    status_of,
)
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, templates
from monitor.i18n import N_
from storage.auth.audit import audit
from storage.auth.model import User
from storage.records import officers
from storage.records.common import RecordError

router = APIRouter()
nav = [NavItem(N_("Officers"), "/officers", order=40)]

OfficerId = Annotated[int, PathParam(ge=1, le=2**62)]
SearchText = Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")]
BADGE = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"


class OfficerCreate(BaseModel):
    hall_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    badge: str = Field(pattern=BADGE, description="badge number: letters, digits and -")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00]*\S[^\x00]*$")


class OfficerUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[^\x00]*\S[^\x00]*$")
    active: bool | None = None


class OfficerPublic(BaseModel):
    id: int
    hall_id: str
    badge: str
    name: str
    active: bool
    has_photo: bool
    created_at: datetime


def _create(conn: DbConn, user: User, data: OfficerCreate) -> int:
    officer_id = officers.register_officer(conn, scope=user.scope, hall_id=data.hall_id, badge=data.badge,
                                           name=data.name.strip())
    audit(conn, user=user, action="officer.create", subject=f"officer/{officer_id}",
          details={"hall_id": data.hall_id, "badge": data.badge, "name": data.name})
    return officer_id


def _update(conn: DbConn, user: User, officer_id: int, data: OfficerUpdate) -> None:
    officers.update_officer(conn, scope=user.scope, officer_id=officer_id,
                            name=data.name.strip() if data.name else None, active=data.active)
    audit(conn, user=user, action="officer.update", subject=f"officer/{officer_id}",
          details=data.model_dump(exclude_none=True))


def _photo(conn: DbConn, user: User, officer_id: int, data: bytes) -> None:
    photo = officers.store_photo(conn, scope=user.scope, officer_id=officer_id, data=data)
    audit(conn, user=user, action="officer.photo", subject=f"officer/{officer_id}",
          details={"sha256": photo.sha256, "size": len(photo.data), "content_type": photo.content_type})


async def _read_upload(upload: UploadFile) -> bytes:
    data = await upload.read(officers.PHOTO_MAX_BYTES + 1)
    return data


def _public(conn: DbConn, user: User, officer_id: int) -> OfficerPublic:
    return OfficerPublic(**officers.officer_in_scope(conn, scope=user.scope, officer_id=officer_id))


# ---- API -------------------------------------------------------------------------------------------------

@router.get("/api/v1/officers", tags=["officers"])
def read_officers(conn: DbConn, user: CurrentUser, hall_id: HallId = None, q: SearchText = None,
                  active: bool | None = None, limit: Limit = 50, offset: Offset = 0) -> Page[OfficerPublic]:
    rows, total = officers.list_officers(conn, scope=user.scope, hall_id=hall_id, q=q or None, active=active,
                                         limit=limit, offset=offset)
    return Page(data=[OfficerPublic(**r) for r in rows], count=total, limit=limit, offset=offset)


@router.post("/api/v1/officers", status_code=201, tags=["officers"])
def create_officer(conn: DbConn, user: RosterWriter, data: OfficerCreate) -> OfficerPublic:
    officer_id = _create(conn, user, data)
    return _public(conn, user, officer_id)


@router.get("/api/v1/officers/{officer_id}", tags=["officers"])
def read_officer(conn: DbConn, user: CurrentUser, officer_id: OfficerId) -> OfficerPublic:
    return _public(conn, user, officer_id)


@router.patch("/api/v1/officers/{officer_id}", tags=["officers"])
def update_officer(conn: DbConn, user: RosterWriter, officer_id: OfficerId, data: OfficerUpdate) -> OfficerPublic:
    _update(conn, user, officer_id, data)
    return _public(conn, user, officer_id)


@router.put("/api/v1/officers/{officer_id}/photo", tags=["officers"])
async def upload_officer_photo(conn: DbConn, user: RosterWriter, officer_id: OfficerId,
                               photo: Annotated[UploadFile, File(description="JPEG or PNG, at most 2 MiB")]
                               ) -> OfficerPublic:
    _photo(conn, user, officer_id, await _read_upload(photo))
    return _public(conn, user, officer_id)


@router.get("/api/v1/officers/{officer_id}/photo", tags=["officers"],
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
def read_officer_photo(conn: DbConn, user: CurrentUser, officer_id: OfficerId) -> Response:
    photo = officers.photo_in_scope(conn, scope=user.scope, officer_id=officer_id)
    return Response(photo.data, media_type=photo.content_type,
                    headers={"ETag": f'"{photo.sha256}"', "Cache-Control": "private, max-age=60"})


# ---- pages -----------------------------------------------------------------------------------------------

@router.get("/officers", response_class=HTMLResponse, include_in_schema=False)
def officers_page(request: Request, conn: DbConn, site: SiteDep, user: CurrentUser, hall_id: HallId = None,
                  q: SearchText = None, active: bool | None = None, offset: Offset = 0) -> HTMLResponse:
    rows, total = officers.list_officers(conn, scope=user.scope, hall_id=hall_id, q=q or None, active=active,
                                         limit=50, offset=offset)
    return templates.TemplateResponse(request, "officers_list.html", {
        "rows": rows, "total": total, "offset": offset, "halls": halls_for(site, user),
        "where": {"hall_id": hall_id, "q": q, "active": active}, "can_write": user.role in ROSTER_WRITERS})


@router.get("/officers/new", response_class=HTMLResponse, include_in_schema=False)
def new_officer_page(request: Request, site: SiteDep, user: RosterWriter) -> HTMLResponse:
    return templates.TemplateResponse(request, "officers_form.html", {"halls": halls_for(site, user), "form": {}})


@router.post("/officers/new", include_in_schema=False)
def create_officer_form(request: Request, conn: DbConn, site: SiteDep, user: RosterWriter,
                        hall_id: Annotated[str, Form()], badge: Annotated[str, Form()],
                        name: Annotated[str, Form()]) -> Response:
    form = {"hall_id": hall_id, "badge": badge.strip(), "name": name}
    try:
        data = OfficerCreate(**form)
        officer_id = _create(conn, user, data)
    except (ValueError, RecordError) as exc:
        if isinstance(exc, RecordError) and status_of(exc) != 422:
            raise
        return templates.TemplateResponse(request, "officers_form.html", {
            "halls": halls_for(site, user), "form": form, "error": form_message(exc, request)}, status_code=422)
    return RedirectResponse(f"/officers/{officer_id}", status_code=303)


@router.get("/officers/{officer_id}", response_class=HTMLResponse, include_in_schema=False)
def officer_page(request: Request, conn: DbConn, site: SiteDep, user: CurrentUser, officer_id: OfficerId
                 ) -> HTMLResponse:
    return _officer_page(request, conn, site, user, officer_id)


def _officer_page(request: Request, conn: DbConn, site: SiteDep, user: User, officer_id: int,
                  error: str | None = None) -> HTMLResponse:
    from storage.records.rosters import WEEKDAYS, shifts_for

    officer = officers.officer_in_scope(conn, scope=user.scope, officer_id=officer_id)
    shifts = [s for s in shifts_for(conn, scope=user.scope, hall_id=officer["hall_id"]) if s.officer_id == officer_id]
    return templates.TemplateResponse(request, "officers_detail.html", {
        "officer": officer, "shifts": shifts, "weekdays": WEEKDAYS, "error": error,
        "hall": next((h for h in site.halls if h.id == officer["hall_id"]), None),
        "can_write": user.role in ROSTER_WRITERS}, status_code=422 if error else 200)


@router.post("/officers/{officer_id}", include_in_schema=False)
def update_officer_form(request: Request, conn: DbConn, site: SiteDep, user: RosterWriter, officer_id: OfficerId,
                        name: Annotated[str, Form()], active: Annotated[bool, Form()] = False) -> Response:
    try:
        _update(conn, user, officer_id, OfficerUpdate(name=name, active=active))
    except ValueError as exc:
        return _officer_page(request, conn, site, user, officer_id, error=form_message(exc, request))
    return RedirectResponse(f"/officers/{officer_id}", status_code=303)


@router.post("/officers/{officer_id}/photo", include_in_schema=False)
async def upload_photo_form(request: Request, conn: DbConn, site: SiteDep, user: RosterWriter,
                            officer_id: OfficerId, photo: Annotated[UploadFile, File()]) -> Response:
    try:
        _photo(conn, user, officer_id, await _read_upload(photo))
    except RecordError as exc:
        if status_of(exc) != 422:
            raise
        return _officer_page(request, conn, site, user, officer_id, error=form_message(exc, request))
    return RedirectResponse(f"/officers/{officer_id}", status_code=303)
