"""The roster and absences: API under /api/v1/shifts, /api/v1/rosters and /api/v1/absences, and the pages
/rosters (week view, add and remove shifts, CSV upload) and /absences. Admins and managers edit the roster;
a hall (its staff too) records absences, and every excuse is audited. An absence entered after it began waits
for approval from above the hall (storage.records.rosters.register_absence, approve_absence)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import AwareDatetime, BaseModel, Field, field_validator

from core.config import SiteConfig
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
    unprocessable,
)
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, require_roles, templates
from monitor.i18n import N_
from storage.auth.audit import audit
from storage.auth.model import Role, User
from storage.records import rosters
from storage.records.common import NotFound, RecordError
from storage.records.officers import list_officers
from storage.records.rosters import REASONS, WEEKDAYS, Shift, approval_refusal

router = APIRouter()
nav = [NavItem(N_("Roster"), "/rosters", order=41)]

ABSENCE_WRITERS = (Role.admin, Role.manager, Role.hall_staff)
AbsenceWriter = Annotated[User, Depends(require_roles(*ABSENCE_WRITERS))]
RecordId = Annotated[int, PathParam(ge=1, le=2**62)]
WindowId = Annotated[str | None, Query(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Approval = Literal["approved", "pending"]
CSV_MAX_BYTES = 2 * 1024 * 1024


class ShiftCreate(BaseModel):
    hall_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    window_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    officer_id: int = Field(ge=1, le=2**62)
    weekday: int | None = Field(default=None, ge=1, le=7, description="ISO weekday, 1 = Monday; or give on_date")
    on_date: date | None = Field(default=None, description="a one-off shift on this date; or give weekday")
    starts: time
    ends: time = Field(description="local time; not after `starts` means the next day")
    valid_from: date | None = Field(default=None, description="weekday shifts only")
    valid_to: date | None = Field(default=None, description="weekday shifts only")


class ShiftPublic(BaseModel):
    id: int
    hall_id: str
    window_id: str
    officer_id: int
    weekday: int | None
    on_date: date | None
    starts: time
    ends: time
    valid_from: date | None
    valid_to: date | None


class PresencePublic(BaseModel):
    rostered_s: float
    excused_s: float
    present_s: float
    absent_s: float
    unknown_s: float
    presence: float | None = Field(description="present / (present + absent); unknown time is not absent")


class SlotPublic(BaseModel):
    shift_id: int | None
    window_id: str
    officer_id: int
    officer_name: str
    day: date
    starts_at: datetime
    ends_at: datetime
    presence: PresencePublic | None = Field(description="None for slots that have not begun")


class WeekPublic(BaseModel):
    hall_id: str
    week_start: date
    slots: list[SlotPublic]


class ImportLine(BaseModel):
    line: int
    error: str


class RosterImportResult(BaseModel):
    shifts_added: int
    duplicates: int
    officers_added: int
    errors: list[ImportLine]


class AbsenceCreate(BaseModel):
    hall_id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    window_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
                                  description="the window excused; or give officer_id for wherever they are rostered")
    officer_id: int | None = Field(default=None, ge=1, le=2**62)
    reason: Literal["training", "leave", "leader_duty"]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: str = Field(default="", max_length=500, pattern=r"^[^\x00]*$")

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if not 1970 <= value.year <= 2999:
            raise ValueError("must be between 1970 and 2999")
        return value


class AbsencePublic(BaseModel):
    id: int
    hall_id: str
    window_id: str | None
    officer_id: int | None
    officer_name: str | None
    badge: str | None
    reason: str
    note: str
    starts_at: datetime
    ends_at: datetime
    recorded_by: str | None
    recorded_at: datetime
    approval: Approval = Field(description="only an approved absence excuses; one entered after it began is pending"
                                           " until someone above the hall approves it")
    approved_at: datetime | None
    approved_by: str | None = Field(description="who approved it from above the hall; null when approved as"
                                                " recorded (entered before it began) or pending")


# ---- shared steps ----------------------------------------------------------------------------------------

def _add_shift(conn: DbConn, user: User, data: ShiftCreate) -> int:
    shift_id = rosters.register_shift(conn, scope=user.scope, shift=Shift(
        data.hall_id, data.window_id, data.officer_id, data.starts, data.ends, data.weekday, data.on_date,
        data.valid_from, data.valid_to))
    audit(conn, user=user, action="shift.create", subject=f"shift/{shift_id}", details=data.model_dump(mode="json"))
    return shift_id


def _import(conn: DbConn, user: User, raw: bytes, filename: str) -> rosters.ImportReport:
    if len(raw) > CSV_MAX_BYTES:
        raise unprocessable("file", f"the file is larger than {CSV_MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise unprocessable("file", "the file is not UTF-8 text") from None
    if "\x00" in text:
        raise unprocessable("file", "the file is not a CSV text file")
    report = rosters.import_roster(conn, text, scope=user.scope)
    audit(conn, user=user, action="roster.import", subject=f"roster/{filename[:100]}",
          details={"shifts_added": report.shifts_added, "officers_added": report.officers_added,
                   "duplicates": report.duplicates, "bad_rows": len(report.errors)})
    return report


def _add_absence(conn: DbConn, user: User, data: AbsenceCreate) -> AbsencePublic:
    absence_id = rosters.register_absence(conn, user=user, hall_id=data.hall_id, window_id=data.window_id,
                                          officer_id=data.officer_id, reason=data.reason, starts_at=data.starts_at,
                                          ends_at=data.ends_at, note=data.note.strip())
    absence = AbsencePublic(**rosters.get_absence(conn, scope=user.scope, absence_id=absence_id))
    audit(conn, user=user, action="absence.excuse", subject=f"absence/{absence_id}",
          details=data.model_dump(mode="json") | {"approval": absence.approval})
    return absence


def _remove(conn: DbConn, user: User, kind: Literal["shift", "absence"], record_id: int, *, action: str) -> str:
    """Remove a shift or an absence inside the user's scope, audited with the whole record; returns its hall."""
    if kind == "shift":
        row = rosters.delete_shift(conn, scope=user.scope, shift_id=record_id)
    else:
        row = rosters.delete_absence(conn, scope=user.scope, absence_id=record_id)
    audit(conn, user=user, action=action, subject=f"{kind}/{record_id}",
          details={k: v.isoformat() if isinstance(v, date | time) else v for k, v in row.items()})
    return str(row["hall_id"])


def _week(conn: DbConn, site: SiteConfig, user: User, hall_id: str, day: date | None) -> WeekPublic:
    """The week of `day` (default: today) in the hall: 422 naming `week` for a day out of range."""
    config = site.scorecards
    tz = config.tz
    now = datetime.now(tz)
    try:
        week = rosters.roster_week(conn, scope=user.scope, hall_id=hall_id, day=day or now.date(), tz=tz,
                                   hold_s=config.sample_hold_s, now=now.timestamp())
    except ValueError as exc:
        raise unprocessable("week", str(exc), where="query") from None
    out = []
    for entry in week.slots:
        slot, kpi = entry.slot, entry.presence
        out.append(SlotPublic(
            shift_id=slot.shift_id, window_id=slot.window_id, officer_id=slot.officer_id,
            officer_name=entry.officer_name, day=slot.day,
            starts_at=datetime.fromtimestamp(slot.span.start, tz), ends_at=datetime.fromtimestamp(slot.span.end, tz),
            presence=None if kpi is None else PresencePublic(
                rostered_s=kpi.rostered_s, excused_s=kpi.excused_s, present_s=kpi.present_s,
                absent_s=kpi.absent_s, unknown_s=kpi.unknown_s, presence=kpi.presence)))
    return WeekPublic(hall_id=hall_id, week_start=week.monday, slots=out)


def _default_hall(site: SiteConfig, user: User, hall_id: str | None) -> str:
    if hall_id:
        return hall_id
    halls = halls_for(site, user)
    if not halls:
        raise NotFound("no hall inside your scope")
    return halls[0].id


# ---- API -------------------------------------------------------------------------------------------------

@router.get("/api/v1/shifts", tags=["rosters"])
def read_shifts(conn: DbConn, user: CurrentUser, hall_id: HallId = None, window_id: WindowId = None,
                officer_id: Annotated[int | None, Query(ge=1, le=2**62)] = None, limit: Limit = 100,
                offset: Offset = 0) -> Page[ShiftPublic]:
    shifts = [s for s in rosters.shifts_for(conn, scope=user.scope, hall_id=hall_id)
              if (window_id is None or s.window_id == window_id) and (officer_id is None or s.officer_id == officer_id)]
    page = shifts[offset:offset + limit]
    return Page(data=[ShiftPublic(**{**s.__dict__, "id": s.id}) for s in page], count=len(shifts), limit=limit,
                offset=offset)


@router.post("/api/v1/shifts", status_code=201, tags=["rosters"])
def create_shift(conn: DbConn, user: RosterWriter, data: ShiftCreate) -> ShiftPublic:
    shift_id = _add_shift(conn, user, data)
    return ShiftPublic(**rosters.get_shift(conn, scope=user.scope, shift_id=shift_id))


@router.delete("/api/v1/shifts/{shift_id}", status_code=204, tags=["rosters"])
def delete_shift(conn: DbConn, user: RosterWriter, shift_id: RecordId) -> Response:
    _remove(conn, user, "shift", shift_id, action="shift.delete")
    return Response(status_code=204)


@router.post("/api/v1/rosters/import", tags=["rosters"])
async def import_roster(conn: DbConn, user: RosterWriter,
                        file: Annotated[UploadFile, File(description="CSV: see docs/rosters.md")]
                        ) -> RosterImportResult:
    report = _import(conn, user, await file.read(CSV_MAX_BYTES + 1), file.filename or "upload.csv")
    return RosterImportResult(shifts_added=report.shifts_added, duplicates=report.duplicates,
                              officers_added=report.officers_added,
                              errors=[ImportLine(line=n, error=e) for n, e in report.errors])


@router.get("/api/v1/rosters/week", tags=["rosters"])
def read_week(conn: DbConn, site: SiteDep, user: CurrentUser,
              hall_id: Annotated[str, Query(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")],
              week: Annotated[date | None, Query(description="any day of the week; default: today")] = None
              ) -> WeekPublic:
    return _week(conn, site, user, hall_id, week)


@router.get("/api/v1/absences", tags=["rosters"])
def read_absences(conn: DbConn, user: CurrentUser, hall_id: HallId = None, since: AwareDatetime | None = None,
                  until: AwareDatetime | None = None, approval: Approval | None = None, limit: Limit = 50,
                  offset: Offset = 0) -> Page[AbsencePublic]:
    rows, total = rosters.list_absences(conn, scope=user.scope, hall_id=hall_id, since=since, until=until,
                                        approval=approval, limit=limit, offset=offset)
    return Page(data=[AbsencePublic(**r) for r in rows], count=total, limit=limit, offset=offset)


@router.post("/api/v1/absences", status_code=201, tags=["rosters"])
def create_absence(conn: DbConn, user: AbsenceWriter, data: AbsenceCreate) -> AbsencePublic:
    return _add_absence(conn, user, data)


@router.post("/api/v1/absences/{absence_id}/approve", tags=["rosters"])
def approve_absence(conn: DbConn, user: RosterWriter, absence_id: RecordId) -> AbsencePublic:
    """Approve an absence entered after it began, so that it excuses: someone above its hall only."""
    return AbsencePublic(**rosters.approve_absence(conn, user=user, absence_id=absence_id))


@router.delete("/api/v1/absences/{absence_id}", status_code=204, tags=["rosters"])
def delete_absence(conn: DbConn, user: AbsenceWriter, absence_id: RecordId) -> Response:
    _remove(conn, user, "absence", absence_id, action="absence.withdraw")
    return Response(status_code=204)


# ---- pages -----------------------------------------------------------------------------------------------

@router.get("/rosters", response_class=HTMLResponse, include_in_schema=False)
def roster_page(request: Request, conn: DbConn, site: SiteDep, user: CurrentUser, hall_id: HallId = None,
                week: date | None = None) -> HTMLResponse:
    return _roster_page(request, conn, site, user, hall_id, week)


def _roster_page(request: Request, conn: DbConn, site: SiteDep, user: User, hall_id: str | None,
                 week: date | None, error: str | None = None) -> HTMLResponse:
    hall_id = _default_hall(site, user, hall_id)
    data = _week(conn, site, user, hall_id, week)
    monday = data.week_start
    hall = next((h for h in site.halls if h.id == hall_id), None)
    windows = [w.id for w in hall.windows] if hall else sorted({s.window_id for s in data.slots})
    grid: dict[str, dict[date, list[SlotPublic]]] = defaultdict(lambda: defaultdict(list))
    for slot in data.slots:
        grid[slot.window_id][slot.day].append(slot)
    staff, _ = list_officers(conn, scope=user.scope, hall_id=hall_id, active=True, limit=500)
    return templates.TemplateResponse(request, "rosters_week.html", {
        "hall": hall, "hall_id": hall_id, "halls": halls_for(site, user), "monday": monday,
        "days": [monday + timedelta(days=i) for i in range(7)], "windows": windows, "grid": grid,
        "officers": staff, "weekdays": WEEKDAYS, "can_write": user.role in ROSTER_WRITERS,
        "error": error, "prev": monday - timedelta(days=7), "next": monday + timedelta(days=7)},
        status_code=422 if error else 200)


@router.post("/rosters/shifts", include_in_schema=False)
def create_shift_form(request: Request, conn: DbConn, site: SiteDep, user: RosterWriter,
                      hall_id: Annotated[str, Form()], window_id: Annotated[str, Form()],
                      officer_id: Annotated[str, Form()], starts: Annotated[str, Form()],
                      ends: Annotated[str, Form()], weekday: Annotated[list[str] | None, Form()] = None,
                      on_date: Annotated[str, Form()] = "", valid_from: Annotated[str, Form()] = "",
                      valid_to: Annotated[str, Form()] = "", week: Annotated[str, Form()] = "") -> Response:
    back = f"/rosters?hall_id={hall_id}" + (f"&week={week}" if week else "")
    days = [int(d) for d in weekday or [] if d.isdigit()]
    try:
        for day in days or [None]:  # type: ignore[list-item]
            _add_shift(conn, user, ShiftCreate(
                hall_id=hall_id, window_id=window_id, officer_id=officer_id, weekday=day,  # type: ignore[arg-type]
                on_date=on_date or None, starts=starts, ends=ends,  # type: ignore[arg-type]
                valid_from=valid_from or None, valid_to=valid_to or None))  # type: ignore[arg-type]
    except (ValueError, RecordError) as exc:
        if isinstance(exc, RecordError) and status_of(exc) not in (409, 422):
            raise
        conn.rollback()  # none of the days is added when one fails
        return _roster_page(request, conn, site, user, hall_id if _safe_id(hall_id) else None,
                           date.fromisoformat(week) if _is_date(week) else None, error=form_message(exc, request))
    return RedirectResponse(back, status_code=303)


@router.post("/rosters/shifts/{shift_id}/delete", include_in_schema=False)
def delete_shift_form(conn: DbConn, user: RosterWriter, shift_id: RecordId,
                      week: Annotated[str, Form()] = "") -> Response:
    hall_id = _remove(conn, user, "shift", shift_id, action="shift.delete")
    return RedirectResponse(f"/rosters?hall_id={hall_id}" + (f"&week={week}" if _is_date(week) else ""),
                            status_code=303)


@router.get("/rosters/import", response_class=HTMLResponse, include_in_schema=False)
def roster_import_page(request: Request, user: RosterWriter) -> HTMLResponse:
    return templates.TemplateResponse(request, "rosters_import.html", {"report": None})


@router.post("/rosters/import", response_class=HTMLResponse, include_in_schema=False)
async def roster_import_form(request: Request, conn: DbConn, user: RosterWriter,
                      file: Annotated[UploadFile, File()]) -> HTMLResponse:
    try:
        report = _import(conn, user, await file.read(CSV_MAX_BYTES + 1), file.filename or "upload.csv")
    except HTTPException as exc:
        return templates.TemplateResponse(request, "rosters_import.html",
                                          {"report": None, "error": form_message(exc, request)},
                                          status_code=exc.status_code)
    return templates.TemplateResponse(request, "rosters_import.html", {"report": report})


@router.get("/absences", response_class=HTMLResponse, include_in_schema=False)
def absences_page(request: Request, conn: DbConn, site: SiteDep, user: CurrentUser, hall_id: HallId = None,
                  approval: Approval | Literal[""] = "", offset: Offset = 0) -> HTMLResponse:
    return _absences_page(request, conn, site, user, hall_id, offset, approval=approval or None)


def _absences_page(request: Request, conn: DbConn, site: SiteDep, user: User, hall_id: str | None, offset: int,
                   error: str | None = None, form: dict[str, Any] | None = None,
                   approval: str | None = None) -> HTMLResponse:
    rows, total = rosters.list_absences(conn, scope=user.scope, hall_id=hall_id, approval=approval, limit=50,
                                        offset=offset)
    halls = halls_for(site, user)
    staff, _ = list_officers(conn, scope=user.scope, hall_id=hall_id, active=True, limit=500)
    tz = site.scorecards.tz
    approvable = {r["id"] for r in rows if r["approval"] == "pending" and approval_refusal(user, r["hall_id"]) is None}
    return templates.TemplateResponse(request, "rosters_absences.html", {
        "rows": rows, "total": total, "offset": offset, "halls": halls, "hall_id": hall_id, "officers": staff,
        "reasons": REASONS, "tz": tz, "error": error, "form": form or {}, "approval": approval,
        "can_write": user.role in ABSENCE_WRITERS, "approvable": approvable}, status_code=422 if error else 200)


@router.post("/absences", include_in_schema=False)
def create_absence_form(request: Request, conn: DbConn, site: SiteDep, user: AbsenceWriter,
                        hall_id: Annotated[str, Form()], reason: Annotated[str, Form()],
                        starts_at: Annotated[str, Form()], ends_at: Annotated[str, Form()],
                        window_id: Annotated[str, Form()] = "", officer_id: Annotated[str, Form()] = "",
                        note: Annotated[str, Form()] = "") -> Response:
    tz = site.scorecards.tz
    form = {"hall_id": hall_id, "reason": reason, "starts_at": starts_at, "ends_at": ends_at,
            "window_id": window_id, "officer_id": officer_id, "note": note}
    try:
        data = AbsenceCreate(hall_id=hall_id, window_id=window_id or None,
                             officer_id=int(officer_id) if officer_id else None, reason=reason,  # type: ignore[arg-type]
                             starts_at=_local(starts_at, tz, "starts_at"), ends_at=_local(ends_at, tz, "ends_at"),
                             note=note)
        _add_absence(conn, user, data)
    except (ValueError, RecordError) as exc:
        if isinstance(exc, RecordError) and status_of(exc) != 422:
            raise
        return _absences_page(request, conn, site, user, hall_id if _safe_id(hall_id) else None, 0,
                              error=form_message(exc, request), form=form)
    return RedirectResponse(f"/absences?hall_id={hall_id}", status_code=303)


@router.post("/absences/{absence_id}/approve", include_in_schema=False)
def approve_absence_form(conn: DbConn, user: RosterWriter, absence_id: RecordId) -> Response:
    row = rosters.approve_absence(conn, user=user, absence_id=absence_id)
    return RedirectResponse(f"/absences?hall_id={row['hall_id']}", status_code=303)


@router.post("/absences/{absence_id}/delete", include_in_schema=False)
def delete_absence_form(conn: DbConn, user: AbsenceWriter, absence_id: RecordId) -> Response:
    hall_id = _remove(conn, user, "absence", absence_id, action="absence.withdraw")
    return RedirectResponse(f"/absences?hall_id={hall_id}", status_code=303)


def _local(text: str, tz: Any, field: str) -> datetime:
    """A `datetime-local` form value (the hall's local time) as an aware datetime."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a date and time") from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _safe_id(text: str) -> bool:
    import re

    return re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", text) is not None
