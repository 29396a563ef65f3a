"""What several route modules share, so that no route imports another: request parameters, response models,
the one mapping from domain errors to HTTP answers, and helpers over the site config.

Errors: storage raises `RecordError` (or a subclass) and a route lets it propagate; the app's handler answers
with `http_error(exc)`: NotFound 404, OutOfScope and StepForbidden 403, WorkflowError 409, any other 422 (in
FastAPI's shape `[{"loc": ["body", field], ...}]` when the error names its field). Where storage cannot name
the field, the route catches the error and raises `http_error(exc, field=...)`. Bad request values that
FastAPI cannot check are `unprocessable(field, message)`.

The text of a domain error is a catalogue template with parameters (`core.errors.Refusal`): `str(exc)` is the
English (logs, the CLI); the reader sees `error_text(exc, locale)`, in the JSON's `detail` (or `msg`) and on
pages. The app's handler translates the errors routes let through, and those a route turned into an
`HTTPException` while handling them (`localized`); a form that shows an error itself uses
`form_message(exc, request)` or `reader_text(exc, request)`. Status, `loc` and `type` do not depend on the
language."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

import psycopg
from fastapi import Depends, HTTPException, Query, Request
from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, ValidationError

from analytics.kpi import LeagueRow, Level
from core.config import HallConfig, SiteConfig, ZoneKind
from core.errors import HallwatchError, Listed, Refusal, StreamError
from monitor.deps import require_roles
from monitor.i18n import DEFAULT_LOCALE, locale_of, translations
from monitor.labels import label_text
from storage.auth.model import Role, User
from storage.records.alerts import AlertKind, AlertState
from storage.records.cases import CaseStatus, SourceKind
from storage.records.common import NotFound, OutOfScope, RecordError, StepForbidden, WorkflowError, check_filter_scope
from storage.records.complaints import ComplaintStatus
from storage.records.evidence import EvidenceCorrupt
from storage.records.inspections import InspectionKind, InspectionStatus
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


# The label group (monitor/labels.py) of each kind of value a refusal names, so that a reader sees the value's
# name in their language ("已受理", not "received").
LABEL_GROUPS: dict[type, str] = {
    ComplaintStatus: "complaint_status", CaseStatus: "case_status", SourceKind: "case_source",
    InspectionStatus: "inspection_status", InspectionKind: "inspection_kind", Role: "role",
    AlertKind: "alert_kind", AlertState: "alert_state",
}


def error_text(exc: BaseException, locale: str | None) -> str:
    """The message of `exc` for a reader of `locale`: a `Refusal`'s template from the catalogue with its
    parameters filled in, each value with a label shown by its label (several joined as the language joins
    them), ids as they are. In English, or for any other error, `str(exc)`: the same text as the logs."""
    if not isinstance(exc, Refusal) or locale is None or locale == DEFAULT_LOCALE:
        return str(exc)
    gettext = translations(locale).gettext

    def shown(value: object) -> object:
        if isinstance(value, Listed):
            return ("、" if locale == "zh_CN" else ", ").join(str(shown(v)) for v in value)
        group = LABEL_GROUPS.get(type(value))
        return gettext(label_text(value, group)) if group is not None else value

    template = gettext(exc.template)
    if not exc.params:
        return template
    try:
        return template % {name: shown(value) for name, value in exc.params.items()}
    except (KeyError, ValueError, TypeError):  # a translation that does not fit its parameters: the English
        return str(exc)


def http_error(exc: HallwatchError, *, field: str | None = None, locale: str | None = None) -> HTTPException:
    """The HTTP answer to a domain error (see STATUS), its text in `locale` (`error_text`; English without
    one). A 422 about a field (`field`, or the one the error names) has FastAPI's shape
    `[{"loc": ["body", field], "msg": ..., "type": "value_error"}]`."""
    status = status_of(exc)
    field = field or getattr(exc, "field", None)
    message = error_text(exc, locale)
    if status == 422 and field is not None:
        return unprocessable(field, message)
    return HTTPException(status_code=status, detail=message)


def localized(exc: HTTPException, locale: str) -> HTTPException:
    """`exc` in the reader's language when a route made it from a domain error it caught (`http_error(error)`
    or `HTTPException(..., detail=str(error))` inside `except`): the text that is the error's English is
    replaced by `error_text(error, locale)`; status, `loc` and `type` stay. Anything else is `exc` as it is."""
    error = exc.__context__
    if not isinstance(error, Refusal) or locale == DEFAULT_LOCALE:
        return exc
    english, text = str(error), error_text(error, locale)
    if exc.detail == english:
        detail: Any = text
    elif isinstance(exc.detail, list):
        detail = [{**d, "msg": text} if isinstance(d, dict) and d.get("msg") == english else d for d in exc.detail]
    else:
        return exc
    return HTTPException(status_code=exc.status_code, detail=detail, headers=exc.headers)


def unprocessable(field: str, message: str, where: str = "body") -> HTTPException:
    """A 422 naming the field, in FastAPI's own shape."""
    return HTTPException(status_code=422, detail=[{"loc": [where, field], "msg": message, "type": "value_error"}])


def form_message(exc: Exception, request: Request | None = None) -> str:
    """One line for a form: a pydantic error names its field's path, a record or 422 error its field. With the
    `request`, a domain error's text is in the reader's language (`error_text`)."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    if isinstance(exc, Refusal):
        text = error_text(exc, locale_of(request) if request is not None else None)
        return f"{exc.field}: {text}" if exc.field is not None else text
    if isinstance(exc, HTTPException):
        detail = exc.detail
        if isinstance(detail, list):
            return "; ".join(f"{d['loc'][-1]}: {d['msg']}" for d in detail)
        return str(detail)
    return str(exc)


def reader_text(exc: Exception, request: Request) -> str:
    """The message of `exc` (no field named) in the language of `request`'s reader, for a form's error line."""
    return error_text(exc, locale_of(request))


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
