"""Scorecards and league tables: /api/v1/scorecards and the page /scorecards. Everyone sees the units inside
their scope; a hall-scoped user sees their own hall (and its windows) only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from analytics.kpi import Level
from monitor.api import CityId, HallId, LevelName, MonthText, ScoreRow, halls_for, league_rows, month_or_now
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, templates
from monitor.i18n import N_

router = APIRouter()
nav = [NavItem(N_("Scorecards"), "/scorecards", order=42)]


class ScoreTable(BaseModel):
    month: str
    level: LevelName
    data: list[ScoreRow]
    count: int


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
