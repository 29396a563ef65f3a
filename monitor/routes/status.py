"""Health, the live status API and the status page; a user sees the halls inside their scope."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, templates
from monitor.i18n import N_
from monitor.status import SiteStatus, site_status
from storage.auth.model import User
from storage.status import latest_samples

log = logging.getLogger(__name__)
router = APIRouter()
nav = [NavItem(N_("Status"), "/", order=0)]


def scoped_status(site: SiteDep, conn: DbConn, user: User) -> SiteStatus:
    status = site_status(site, latest_samples(conn))
    halls = [h for h in status.halls if user.scope.allows(h.id, h.city)]
    cities = {h.city for h in halls}
    return status.model_copy(update={"halls": halls, "cities": [c for c in status.cities if c["id"] in cities]})


@router.get("/healthz", tags=["ops"])
def read_health(request: Request) -> dict[str, str]:
    try:
        with request.app.state.pool.connection(timeout=3.0) as conn:
            conn.execute("SELECT 1")
    except Exception:
        raise HTTPException(status_code=503, detail="database unavailable") from None
    return {"status": "ok"}


@router.get("/api/v1/status", tags=["status"])
def read_status(site: SiteDep, conn: DbConn, user: CurrentUser) -> SiteStatus:
    return scoped_status(site, conn, user)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, site: SiteDep, conn: DbConn, user: CurrentUser) -> HTMLResponse:
    return templates.TemplateResponse(request, "status.html", {"status": scoped_status(site, conn, user)})
