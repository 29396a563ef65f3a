"""What several route modules share, so that no route imports another: request parameters, response models,
the one mapping from domain errors to HTTP answers, and helpers over the site config.

Errors: storage raises `RecordError` (or a subclass) and a route lets it propagate; the app's handler answers
with `http_error(exc)`: NotFound 404, OutOfScope and StepForbidden 403, WorkflowError 409, any other 422 (in
FastAPI's shape `[{"loc": ["body", field], ...}]` when the error names its field). Where storage cannot name
the field, the route catches the error and raises `http_error(exc, field=...)`. Bad request values that
FastAPI cannot check are `unprocessable(field, message)`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

import psycopg
from fastapi import Depends, HTTPException, Query
from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, ValidationError

from analytics.kpi import LeagueRow, Level
from core.config import HallConfig, SiteConfig, ZoneKind
from core.errors import HallwatchError, StreamError
from monitor.deps import require_roles
from storage.auth.model import User
from storage.records.cases import CaseStatus, SourceKind
from storage.records.common import NotFound, OutOfScope, RecordError, StepForbidden, WorkflowError, check_filter_scope
from storage.records.evidence import EvidenceCorrupt
from storage.records.officers import PhotoCorrupt
from storage.records.rosters import ROSTER_WRITERS
from storage.records.scorecards import Month, Scorecards, Unstaffed, monthly_scorecards

T = TypeVar("T")

# ---- request parameters ----------------------------------------------------------------------------------

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
# An empty value (a filter form's "any") means no filter.
_Id = Annotated[str, StringConstraints(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
HallId = Annotated[_Id | None, BeforeValidator(lambda v: v or None), Query()]
CityId = Annotated[_Id | None, BeforeValidator(lambda v: v or None), Query()]
MonthText = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM; default: this month")]
LevelName = Literal["province", "city", "hall", "window"]

RosterWriter = Annotated[User, Depends(require_roles(*ROSTER_WRITERS))]


# ---- errors ----------------------------------------------------------------------------------------------

# The HTTP status of each domain error, the first matching class winning.
STATUS: tuple[tuple[type[HallwatchError], int], ...] = (
    (NotFound, 404),          # no such record inside the scope (outside it looks the same)
    (OutOfScope, 403),        # a hall or city named outside the scope
    (StepForbidden, 403),     # a workflow step the role may not take
    (PhotoCorrupt, 409),      # an officer's stored photo altered
    (WorkflowError, 409),     # a step the workflow does not allow, a record there already
    (EvidenceCorrupt, 500),   # stored evidence altered: the server's fault, and audited
    (StreamError, 502),       # the camera asked for a snapshot does not answer
    (RecordError, 422),       # any other broken rule: a bad value
)


def status_of(exc: HallwatchError) -> int:
    return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)


def http_error(exc: HallwatchError, *, field: str | None = None) -> HTTPException:
    """The HTTP answer to a domain error (see STATUS). A 422 about a field (`field`, or the one the error
    names) has FastAPI's shape `[{"loc": ["body", field], "msg": ..., "type": "value_error"}]`."""
    status = status_of(exc)
    field = field or getattr(exc, "field", None)
    if status == 422 and field is not None:
        return unprocessable(field, str(exc))
    return HTTPException(status_code=status, detail=str(exc))


def unprocessable(field: str, message: str, where: str = "body") -> HTTPException:
    """A 422 naming the field, in FastAPI's own shape."""
    return HTTPException(status_code=422, detail=[{"loc": [where, field], "msg": message, "type": "value_error"}])


def form_message(exc: Exception) -> str:
    """One line for a form: a pydantic error names its field's path, a record or 422 error its field."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, RecordError) and exc.field is not None:
        return f"{exc.field}: {exc}"
    if isinstance(exc, HTTPException):
        detail = exc.detail
        if isinstance(detail, list):
            return "; ".join(f"{d['loc'][-1]}: {d['msg']}" for d in detail)
        return str(detail)
    return str(exc)


# ---- response models -------------------------------------------------------------------------------------

class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int
    limit: int
    offset: int


class StepPublic(BaseModel):
    at: datetime
    user_name: str | None
    from_status: str | None
    to_status: str
    note: str


class ExcusePublic(BaseModel):
    """An approved absence that excuses a window left unstaffed (migration 045)."""

    absence_id: int
    reason: Literal["training", "leave", "leader_duty"]
    note: str
    officer: str | None = Field(description="the officer away; null for an absence of the whole window")
    starts_at: datetime
    ends_at: datetime


def case_source_url(row: dict[str, Any]) -> str:
    """Where the case came from: the complaint, the inspection holding the finding, or the alert."""
    if row["source_kind"] == SourceKind.complaint:
        return f"/complaints/{row['source_ref']}"
    if row["source_kind"] == SourceKind.finding:
        return f"/inspections/{row['inspection_id']}#finding-{row['source_ref']}"
    return f"/alerts?hall_id={row['hall_id']}#alert-{row['source_ref']}"


class CasePublic(BaseModel):
    id: int
    source_kind: SourceKind
    source_ref: str
    source_url: str
    hall_id: str
    hall_name: str
    city_id: str
    inspection_id: int | None
    title: str
    owner: str | None
    due_at: datetime
    status: CaseStatus
    status_at: datetime
    rectification: str | None
    verification: str | None
    created_by: str | None
    created_at: datetime
    closed_at: datetime | None
    overdue: bool
    excused_by: list[ExcusePublic] | None = Field(
        default=None, description="a case from an unstaffed window: the approved absences that excuse it")
    steps: list[StepPublic] | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> CasePublic:
        return cls(**row, source_url=case_source_url(row))


# ---- the site config as a user sees it -------------------------------------------------------------------

def halls_for(site: SiteConfig, user: User) -> list[HallConfig]:
    """The configured halls inside the user's scope."""
    return [h for h in site.halls if user.scope.allows(h.id, h.city)]


def queue_zones(hall: HallConfig, window_id: str | None = None) -> list[str]:
    """The hall's queue zones, or those serving `window_id` (a zone naming no window serves them all)."""
    out = []
    for camera in hall.cameras:
        for zone in camera.zones:
            served = ([zone.window] if zone.window else []) + zone.windows
            if zone.kind is ZoneKind.queue and (window_id is None or not served or window_id in served):
                out.append(zone.id)
    return out


# ---- league tables (scorecards and rankings) -------------------------------------------------------------

class ScoreRow(BaseModel):
    rank: int
    level: LevelName
    city_id: str | None
    hall_id: str | None
    window_id: str | None
    name: str
    score: float | None = Field(description="0-100, the weighted mean of the components with data")
    stars: int = Field(ge=0, le=5)
    three_zeros: bool = Field(description="no overtime, no errors, no complaints upheld")
    overtime: int
    errors: int
    complaints: int
    unstaffed: int = Field(description="windows left unstaffed while people waited, not excused (not in the score)")
    unstaffed_excused: int = Field(description="the same inside an approved absence: shown, not held against the unit")
    windows: int
    presence: float | None = Field(description="share of known rostered time the desk was staffed")
    coverage: float | None = Field(description="share of accountable rostered time with video")
    rostered_s: float
    excused_s: float
    present_s: float
    absent_s: float
    unknown_s: float
    components: dict[str, float | None]


def month_or_now(site: SiteConfig, text: str | None) -> Month:
    if text is None:
        now = datetime.now(site.scorecards.tz)
        return Month(now.year, now.month)
    try:
        return Month.parse(text)
    except ValueError as exc:
        raise unprocessable("month", str(exc), where="query") from None


def league_rows(conn: psycopg.Connection, site: SiteConfig, user: User, month: Month, level: Level,
                city_id: str | None, hall_id: str | None) -> list[ScoreRow]:
    """The league table of `month` at `level` inside the user's scope, best first; a hall or city named
    outside the scope is refused (OutOfScope)."""
    check_filter_scope(conn, user, hall_id=hall_id, city_id=city_id)
    cards = monthly_scorecards(conn, scope=user.scope, month=month, config=site.scorecards)
    halls = {h.id: h for h in site.halls}
    cities = {c.id: c.name for c in site.cities}
    unstaffed = cards.unstaffed_at(level)
    return [_score_row(row, level, cards, halls, cities, site.province.name, unstaffed.get(row.key, Unstaffed()))
            for row in cards.table(level, city=city_id, hall=hall_id)]


def _score_row(row: LeagueRow, level: Level, cards: Scorecards, halls: dict[str, HallConfig],
               cities: dict[str, str], province: str, unstaffed: Unstaffed) -> ScoreRow:
    hall_id = window_id = city_id = None
    if level is Level.window:
        hall_id, window_id = row.key  # type: ignore[misc]
    elif level is Level.hall:
        hall_id = str(row.key)
    elif level is Level.city:
        city_id = str(row.key)
    if hall_id is not None:
        city_id = cards.city_of.get(hall_id)
    hall = halls.get(hall_id) if hall_id is not None else None
    if level is Level.window:
        window = next((w for w in hall.windows if w.id == window_id), None) if hall else None
        name = f"{hall.name if hall else hall_id} · {window.name if window else window_id}"
    elif level is Level.hall:
        name = hall.name if hall else str(hall_id)
    elif level is Level.city:
        name = cities.get(str(city_id), str(city_id))
    else:
        name = province
    p = row.tally.presence
    return ScoreRow(rank=row.rank, level=level.value, city_id=city_id, hall_id=hall_id, window_id=window_id,
                    name=name, score=row.score.points, stars=row.score.stars, three_zeros=row.tally.three_zeros,
                    overtime=row.tally.overtime, errors=row.tally.errors, complaints=row.tally.complaints,
                    unstaffed=unstaffed.counted, unstaffed_excused=unstaffed.excused,
                    windows=row.tally.windows, presence=p.presence, coverage=p.coverage, rostered_s=p.rostered_s,
                    excused_s=p.excused_s, present_s=p.present_s, absent_s=p.absent_s, unknown_s=p.unknown_s,
                    components=row.score.components)
