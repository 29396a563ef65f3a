"""Rankings: league tables of star ratings and the three zeros from province down to window, one month at a
time, with a level switch and drill-down (a city's halls, a hall's windows). The numbers are the scorecards'
(storage.records.scorecards.monthly_scorecards); the JSON is /api/v1/scorecards."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from analytics.kpi import Level
from monitor.api import CityId, HallId, LevelName, MonthText, halls_for, league_rows, month_or_now
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, templates
from monitor.i18n import N_

router = APIRouter()
nav = [NavItem(N_("Rankings"), "/rankings", order=43)]

LEVELS = ("province", "city", "hall", "window")


@router.get("/rankings", response_class=HTMLResponse, include_in_schema=False)
def rankings_page(request: Request, conn: DbConn, site: SiteDep, user: CurrentUser, month: MonthText = None,
                  level: LevelName = "hall", city_id: CityId = None, hall_id: HallId = None) -> HTMLResponse:
    chosen = month_or_now(site, month)
    rows = league_rows(conn, site, user, chosen, Level(level), city_id or None, hall_id or None)
    halls = halls_for(site, user)
    return templates.TemplateResponse(request, "rankings.html", {
        "rows": rows, "month": str(chosen), "level": level, "levels": LEVELS, "city_id": city_id or "",
        "hall_id": hall_id or "", "three_zeros": sum(r.three_zeros for r in rows),
        "city_names": {c.id: c.name for c in site.cities}, "hall_names": {h.id: h.name for h in halls},
        "config": site.scorecards})
