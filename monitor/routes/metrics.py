"""`/metrics`: Prometheus's scrape of the web app (see `monitor.metrics`): the site's figures from the
database, and this process's own (its analysis too under `hallwatch run`). It names halls and cameras,
so it is not public: a province-scope admin or centre operator, by API token (Prometheus's
`authorization: {credentials_file: ...}`) or session; anyone else 401 (no credentials) or 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.deps import DbConn, SiteDep, current_user
from monitor.metrics import SiteCollector, process_registry
from storage.auth.model import Role, User

router = APIRouter()

SCRAPERS = frozenset({Role.admin, Role.center_operator})


def metrics_reader(request: Request, conn: DbConn) -> User:
    """The user asking, if they may read the metrics: a scraper gets 401 rather than the login page."""
    try:
        user = current_user(request, conn, None)  # GET: no CSRF token to check
    except HTTPException as exc:
        if exc.status_code != 303:
            raise
        raise HTTPException(status_code=401, detail="not authenticated", headers={"WWW-Authenticate": "Bearer"}) \
            from None
    if user.role not in SCRAPERS or user.scope.kind != "province":
        raise HTTPException(status_code=403, detail="metrics are for province admins and centre operators")
    return user


@router.get("/metrics", include_in_schema=False)
def read_metrics(request: Request, site: SiteDep, conn: DbConn,
                 user: Annotated[User, Depends(metrics_reader)]) -> Response:
    collectors = getattr(request.app.state, "metrics_collectors", ())  # set by `hallwatch run`
    registry = process_registry(SiteCollector(site, conn, site.metrics), *collectors)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})
