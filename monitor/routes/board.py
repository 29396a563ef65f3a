"""The public on-duty board (在岗公示) of one hall, for a screen in the hall: every window with the officer
rostered now and whether the window is staffed now. No login. It shows only public facts: window names,
officers' names and badge numbers, and the desk state; no contact data, no inspections, no scores."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from core.config import HallConfig, SiteConfig
from monitor.deps import DbConn, SiteDep, templates
from monitor.i18n import client_texts
from monitor.status import site_status
from storage.auth.model import Scope
from storage.records.rosters import absences_between, expand, shifts_for
from storage.status import latest_samples
from storage.trends import officer_names

router = APIRouter()

Duty = Literal["staffed", "unstaffed", "closed", "unknown"]


class BoardOfficer(BaseModel):
    name: str
    badge: str
    away: bool            # an absence (training, leave, leader duty) covers now


class BoardWindow(BaseModel):
    id: str
    name: str
    officers: list[BoardOfficer]
    duty: Duty            # staffed: desk present; unstaffed: absent while rostered; closed: absent, nobody rostered


class BoardPublic(BaseModel):
    hall_id: str
    hall_name: str
    at: datetime          # the hall's local time
    windows: list[BoardWindow]


def _public_hall(site: SiteConfig, hall_id: str) -> HallConfig:
    hall = next((h for h in site.halls if h.id == hall_id), None)
    if hall is None:
        raise HTTPException(status_code=404, detail="no such hall")
    return hall


def build_board(site: SiteConfig, conn: DbConn, hall: HallConfig) -> BoardPublic:
    tz = site.scorecards.tz
    now = datetime.now(tz)
    today = now.date()
    scope = Scope("hall", hall.id)
    slots = expand(shifts_for(conn, scope=scope, hall_id=hall.id, first=today - timedelta(days=1), last=today),
                   today - timedelta(days=1), today, tz)
    current = [s for s in slots if s.span.start <= now.timestamp() < s.span.end]
    absences = [a for a in absences_between(conn, hall_ids=[hall.id], since=now, until=now + timedelta(seconds=1))
                if a.span.start <= now.timestamp() < a.span.end]
    names = officer_names(conn, sorted({s.officer_id for s in current}))
    status = next(h for h in site_status(site, latest_samples(conn, horizon="10 minutes")).halls if h.id == hall.id)
    desk = {w.id: w.state for w in status.windows}
    windows = []
    for w in hall.windows:
        officers = []
        for slot in (s for s in current if s.window_id == w.id):
            who = names.get(slot.officer_id)
            if who is None:
                continue
            away = any(a.window_id == w.id if a.window_id is not None else a.officer_id == slot.officer_id
                       for a in absences)
            officers.append(BoardOfficer(name=who["name"], badge=who["badge"], away=away))
        state = desk.get(w.id, "unknown")
        duty: Duty = ("staffed" if state == "present" else "unknown" if state == "unknown"
                      else "unstaffed" if officers else "closed")
        windows.append(BoardWindow(id=w.id, name=w.name, officers=officers, duty=duty))
    return BoardPublic(hall_id=hall.id, hall_name=hall.name, at=now, windows=windows)


@router.get("/api/v1/board/{hall_id}", tags=["board"])
def read_board(hall_id: str, site: SiteDep, conn: DbConn, response: Response) -> BoardPublic:
    """The on-duty board of one hall; public, no login."""
    response.headers["Cache-Control"] = "no-store"
    return build_board(site, conn, _public_hall(site, hall_id))


@router.get("/board/{hall_id}", response_class=HTMLResponse, include_in_schema=False)
def board_page(hall_id: str, request: Request, site: SiteDep, conn: DbConn) -> HTMLResponse:
    board = build_board(site, conn, _public_hall(site, hall_id))
    # The public reads the board in Chinese with the English beside it, whoever set up the display.
    request.state.locale = "zh_CN"
    page = templates.TemplateResponse(request, "board.html", {
        "b": board, "board_texts": client_texts("zh_CN", scripts=("texts.js", "dashboard/board.js"), groups=("duty",))})
    page.headers["Cache-Control"] = "no-store"
    return page
