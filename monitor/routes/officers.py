"""Officers: API under /api/v1/officers and the pages under /officers. Everyone reads the officers inside
their scope; admins and managers add and edit them. Helpers here are shared by the roster and scorecard routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from core.config import HallConfig, SiteConfig
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, require_roles, templates
from monitor.routes._shared import Page
from storage.auth.audit import audit
from storage.auth.model import Role, User
from storage.records import officers
from storage.records.common import hall_city

router = APIRouter()
nav = [NavItem("Officers", "/officers", order=40)]

ROSTER_WRITERS = (Role.admin, Role.manager)
RosterWriter = Annotated[User, Depends(require_roles(*ROSTER_WRITERS))]
HallId = Annotated[str | None, Query(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
OfficerId = Annotated[int, PathParam(ge=1, le=2**62)]
SearchText = Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")]
BADGE = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"


def unprocessable(field: str, message: str, where: str = "body") -> HTTPException:
    """A 422 naming the field, in FastAPI's own shape."""
    return HTTPException(status_code=422, detail=[{"loc": [where, field], "msg": message, "type": "value_error"}])


def not_found(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no {what} inside your scope")


def check_hall_filter(conn: DbConn, user: User, hall_id: str | None) -> None:
    """A filter naming a hall outside the scope is refused (403) rather than silently empty."""
    if hall_id is None:
        return
    city = hall_city(conn, hall_id)
    if city is not None and not user.scope.allows(hall_id, city):
        raise HTTPException(status_code=403, detail=f"hall {hall_id!r} is outside your scope {user.scope.path}")


def writable_hall(conn: DbConn, user: User, hall_id: str, field: str = "hall_id") -> None:
    """The hall exists (422 otherwise) and is inside the user's scope (403 otherwise)."""
    city = hall_city(conn, hall_id)
    if city is None:
        raise unprocessable(field, f"no hall {hall_id!r}")
    if not user.scope.allows(hall_id, city):
        raise HTTPException(status_code=403, detail=f"hall {hall_id!r} is outside your scope {user.scope.path}")


def halls_for(site: SiteConfig, user: User) -> list[HallConfig]:
    return [h for h in site.halls if user.scope.allows(h.id, h.city)]


def officer_in_scope(conn: DbConn, user: User, officer_id: int) -> dict[str, Any]:
    row = officers.get_officer(conn, officer_id)
    if row is None or not user.scope.allows(row["hall_id"], hall_city(conn, row["hall_id"]) or ""):
        raise not_found(f"officer {officer_id}")
    return row


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
    writable_hall(conn, user, data.hall_id)
    try:
        officer_id = officers.create_officer(conn, hall_id=data.hall_id, badge=data.badge, name=data.name.strip())
    except officers.OfficerError as exc:
        raise unprocessable(exc.field or "badge", str(exc)) from None
    audit(conn, user=user, action="officer.create", subject=f"officer/{officer_id}",
          details={"hall_id": data.hall_id, "badge": data.badge, "name": data.name})
    return officer_id


def _update(conn: DbConn, user: User, officer_id: int, data: OfficerUpdate) -> None:
    officer_in_scope(conn, user, officer_id)
    officers.update_officer(conn, officer_id, name=data.name.strip() if data.name else None, active=data.active)
    audit(conn, user=user, action="officer.update", subject=f"officer/{officer_id}",
          details=data.model_dump(exclude_none=True))


def _photo(conn: DbConn, user: User, officer_id: int, data: bytes) -> None:
    officer_in_scope(conn, user, officer_id)
    try:
        photo = officers.check_photo(data)
    except officers.PhotoError as exc:
        raise unprocessable("photo", str(exc)) from None
    officers.set_photo(conn, officer_id, photo)
    audit(conn, user=user, action="officer.photo", subject=f"officer/{officer_id}",
          details={"sha256": photo.sha256, "size": len(photo.data), "content_type": photo.content_type})


async def _read_upload(upload: UploadFile) -> bytes:
    data = await upload.read(officers.PHOTO_MAX_BYTES + 1)
    return data


# ---- API -------------------------------------------------------------------------------------------------

@router.get("/api/v1/officers", tags=["officers"])
def read_officers(conn: DbConn, user: CurrentUser, hall_id: HallId = None, q: SearchText = None,
                  active: bool | None = None, limit: Limit = 50, offset: Offset = 0) -> Page[OfficerPublic]:
    check_hall_filter(conn, user, hall_id)
    rows, total = officers.list_officers(conn, scope=user.scope, hall_id=hall_id, q=q or None, active=active,
                                         limit=limit, offset=offset)
    return Page(data=[OfficerPublic(**r) for r in rows], count=total, limit=limit, offset=offset)


@router.post("/api/v1/officers", status_code=201, tags=["officers"])
def create_officer(conn: DbConn, user: RosterWriter, data: OfficerCreate) -> OfficerPublic:
    officer_id = _create(conn, user, data)
    return OfficerPublic(**officer_in_scope(conn, user, officer_id))


@router.get("/api/v1/officers/{officer_id}", tags=["officers"])
def read_officer(conn: DbConn, user: CurrentUser, officer_id: OfficerId) -> OfficerPublic:
    return OfficerPublic(**officer_in_scope(conn, user, officer_id))


@router.patch("/api/v1/officers/{officer_id}", tags=["officers"])
def update_officer(conn: DbConn, user: RosterWriter, officer_id: OfficerId, data: OfficerUpdate) -> OfficerPublic:
    _update(conn, user, officer_id, data)
    return OfficerPublic(**officer_in_scope(conn, user, officer_id))


@router.put("/api/v1/officers/{officer_id}/photo", tags=["officers"])
async def upload_officer_photo(conn: DbConn, user: RosterWriter, officer_id: OfficerId,
                               photo: Annotated[UploadFile, File(description="JPEG or PNG, at most 2 MiB")]
                               ) -> OfficerPublic:
    _photo(conn, user, officer_id, await _read_upload(photo))
    return OfficerPublic(**officer_in_scope(conn, user, officer_id))


@router.get("/api/v1/officers/{officer_id}/photo", tags=["officers"],
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
def read_officer_photo(conn: DbConn, user: CurrentUser, officer_id: OfficerId) -> Response:
    officer_in_scope(conn, user, officer_id)
    try:
        photo = officers.read_photo(conn, officer_id)
    except officers.PhotoError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    if photo is None:
        raise not_found(f"photo of officer {officer_id}")
    return Response(photo.data, media_type=photo.content_type,
                    headers={"ETag": f'"{photo.sha256}"', "Cache-Control": "private, max-age=60"})


# ---- pages -----------------------------------------------------------------------------------------------

@router.get("/officers", response_class=HTMLResponse, include_in_schema=False)
def officers_page(request: Request, conn: DbConn, site: SiteDep, user: CurrentUser, hall_id: HallId = None,
                  q: SearchText = None, active: bool | None = None, offset: Offset = 0) -> HTMLResponse:
    check_hall_filter(conn, user, hall_id)
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
    except (ValueError, HTTPException) as exc:
        if isinstance(exc, HTTPException) and exc.status_code != 422:
            raise
        return templates.TemplateResponse(request, "officers_form.html", {
            "halls": halls_for(site, user), "form": form, "error": _message(exc)}, status_code=422)
    return RedirectResponse(f"/officers/{officer_id}", status_code=303)


@router.get("/officers/{officer_id}", response_class=HTMLResponse, include_in_schema=False)
def officer_page(request: Request, conn: DbConn, site: SiteDep, user: CurrentUser, officer_id: OfficerId
                 ) -> HTMLResponse:
    return _officer_page(request, conn, site, user, officer_id)


def _officer_page(request: Request, conn: DbConn, site: SiteDep, user: User, officer_id: int,
                  error: str | None = None) -> HTMLResponse:
    from storage.records.rosters import WEEKDAYS, shifts_for

    officer = officer_in_scope(conn, user, officer_id)
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
        return _officer_page(request, conn, site, user, officer_id, error=_message(exc))
    return RedirectResponse(f"/officers/{officer_id}", status_code=303)


@router.post("/officers/{officer_id}/photo", include_in_schema=False)
async def upload_photo_form(request: Request, conn: DbConn, site: SiteDep, user: RosterWriter,
                            officer_id: OfficerId, photo: Annotated[UploadFile, File()]) -> Response:
    try:
        _photo(conn, user, officer_id, await _read_upload(photo))
    except HTTPException as exc:
        if exc.status_code != 422:
            raise
        return _officer_page(request, conn, site, user, officer_id, error=_message(exc))
    return RedirectResponse(f"/officers/{officer_id}", status_code=303)


def _message(exc: Exception) -> str:
    """One line for a form: a pydantic error names its field; a 422 detail is shown as its message."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, HTTPException):
        detail = exc.detail
        if isinstance(detail, list):
            return "; ".join(f"{d['loc'][-1]}: {d['msg']}" for d in detail)
        return str(detail)
    return str(exc)
