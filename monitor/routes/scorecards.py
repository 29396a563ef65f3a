"""Scorecards and league tables: /api/v1/scorecards and the page /scorecards. Everyone sees the units inside
their scope; a hall-scoped user sees their own hall (and its windows) only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from analytics.kpi import LeagueRow, Level
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, templates
from monitor.routes.officers import HallId, check_hall_filter, halls_for
from storage.auth.model import User
from storage.records.scorecards import Month, Scorecards, Unstaffed, monthly_scorecards

router = APIRouter()
nav = [NavItem("Scorecards", "/scorecards", order=42)]

MonthText = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM; default: this month")]
CityId = Annotated[str | None, Query(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
LevelName = Literal["province", "city", "hall", "window"]


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


class ScoreTable(BaseModel):
    month: str
    level: LevelName
    data: list[ScoreRow]
    count: int


def month_or_now(site: SiteDep, text: str | None) -> Month:
    if text is None:
        now = datetime.now(site.scorecards.tz)
        return Month(now.year, now.month)
    try:
        return Month.parse(text)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=[{"loc": ["query", "month"], "msg": str(exc),
                                                      "type": "value_error"}]) from None


def _check_city(user: User, site: SiteDep, city_id: str | None) -> None:
    if city_id is None or user.scope.kind == "province":
        return
    cities = {h.city for h in halls_for(site, user)}
    if city_id not in cities:
        raise HTTPException(status_code=403, detail=f"city {city_id!r} is outside your scope {user.scope.path}")


def _rows(cards: Scorecards, level: Level, site: SiteDep, *, city: str | None, hall: str | None) -> list[ScoreRow]:
    halls = {h.id: h for h in site.halls}
    cities = {c.id: c.name for c in site.cities}
    unstaffed = cards.unstaffed_at(level)
    return [_row(row, level, cards, halls, cities, site.province.name, unstaffed.get(row.key, Unstaffed()))
            for row in cards.table(level, city=city, hall=hall)]


def _row(row: LeagueRow, level: Level, cards: Scorecards, halls: dict, cities: dict[str, str],
         province: str, unstaffed: Unstaffed) -> ScoreRow:
    hall_id = window_id = city_id = None
    if level is Level.window:
        hall_id, window_id = row.key  # type: ignore[misc]
    elif level is Level.hall:
        hall_id = str(row.key)
    elif level is Level.city:
        city_id = str(row.key)
    if hall_id is not None:
        city_id = cards.city_of.get(hall_id)
    hall = halls.get(hall_id)
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


def league_rows(conn: DbConn, site: SiteDep, user: User, month: Month, level: Level, city_id: str | None,
           hall_id: str | None) -> list[ScoreRow]:
    check_hall_filter(conn, user, hall_id)
    _check_city(user, site, city_id)
    cards = monthly_scorecards(conn, scope=user.scope, month=month, config=site.scorecards)
    return _rows(cards, level, site, city=city_id, hall=hall_id)


@router.get("/api/v1/scorecards", tags=["scorecards"])
def read_scorecards(conn: DbConn, site: SiteDep, user: CurrentUser, month: MonthText = None,
                    level: LevelName = "hall", city_id: CityId = None, hall_id: HallId = None) -> ScoreTable:
    """The league table of one month at one level (province, city, hall or window), best first."""
    chosen = month_or_now(site, month)
    rows = league_rows(conn, site, user, chosen, Level(level), city_id, hall_id)
    return ScoreTable(month=str(chosen), level=level, data=rows, count=len(rows))


@router.get("/scorecards", response_class=HTMLResponse, include_in_schema=False)
def scorecards_page(request: Request, conn: DbConn, site: SiteDep, user: CurrentUser, month: MonthText = None,
                    level: LevelName = "hall", city_id: CityId = None, hall_id: HallId = None) -> HTMLResponse:
    chosen = month_or_now(site, month)
    rows = league_rows(conn, site, user, chosen, Level(level), city_id or None, hall_id or None)
    halls = halls_for(site, user)
    cities = [c for c in site.cities if any(h.city == c.id for h in halls)]
    config = site.scorecards
    return templates.TemplateResponse(request, "scorecards_list.html", {
        "rows": rows, "month": str(chosen), "level": level, "levels": ["province", "city", "hall", "window"],
        "halls": halls, "cities": cities, "city_id": city_id, "hall_id": hall_id, "config": config})
