"""The supervision center's wall (/center): a page for a large screen that fills itself from the APIs the
other pages use: the halls of the user's scope grouped by city and coloured by state (/api/v1/overview),
the province's totals, the open alerts as a ticker (/api/v1/alerts), a rotating set of cameras
(/api/v1/live/cameras, MJPEG, zones drawn from /api/v1/status) and today's queue and staffing
(/api/v1/trends). Its settings (refresh and rotation periods, camera tiles) are query parameters, so a
wall display keeps them in its bookmark.

Who may open it (`WATCHERS`): the roles that watch and handle alerts (admin, center operator, manager), at any
scope; hall staff, inspectors and the complaints desk may not. Everything on it comes from those APIs, so a
user sees only the halls, alerts and cameras of their scope, and a hall-scoped watcher (a hall's manager on
their own hall's screen) sees their hall only. The wall shows no inspection, finding or case of any kind
(the trends' record markers are not drawn), so a covert visit never appears on it, whoever looks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from monitor.deps import NavItem, require_roles, templates
from monitor.i18n import N_
from storage.auth.model import Role, User

router = APIRouter()
WATCHERS = frozenset({Role.admin, Role.center_operator, Role.manager})
nav = [NavItem(N_("Center wall"), "/center", roles=WATCHERS, order=6)]
Watcher = Annotated[User, Depends(require_roles(*WATCHERS))]


@router.get("/center", response_class=HTMLResponse, include_in_schema=False)
def center_page(request: Request, user: Watcher,
                refresh: Annotated[int, Query(ge=2, le=600, description="seconds between refreshes")] = 10,
                rotate: Annotated[int, Query(ge=5, le=3600, description="seconds each set of cameras shows")] = 20,
                tiles: Annotated[int, Query(ge=0, le=9, description="camera tiles")] = 4) -> HTMLResponse:
    settings = {"refresh": refresh, "rotate": rotate, "tiles": tiles}
    return templates.TemplateResponse(request, "center.html", {"settings": settings})
