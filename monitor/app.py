"""The FastAPI application: health, the status API and the live status page."""

from __future__ import annotations

import logging
from importlib import resources

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from psycopg_pool import ConnectionPool

from hallwatch.config import SiteConfig
from hallwatch.db.status import latest_samples
from monitor.status import SiteStatus, site_status

log = logging.getLogger(__name__)

_HERE = resources.files("monitor")


def create_app(site: SiteConfig, pool: ConnectionPool) -> FastAPI:
    app = FastAPI(title="hallwatch", version="0.1.0", description="Supervision of public service halls")
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")
    templates = Jinja2Templates(directory=str(_HERE / "templates"))

    def current_status() -> SiteStatus:
        try:
            with pool.connection(timeout=5.0) as conn:
                return site_status(site, latest_samples(conn))
        except Exception as exc:  # the page must say the database is down, not crash
            log.warning("status unavailable: %s", type(exc).__name__)
            raise HTTPException(status_code=503, detail="database unavailable") from None

    @app.get("/healthz", tags=["ops"])
    def read_health() -> dict[str, str]:
        try:
            with pool.connection(timeout=3.0) as conn:
                conn.execute("SELECT 1")
        except Exception:
            raise HTTPException(status_code=503, detail="database unavailable") from None
        return {"status": "ok"}

    @app.get("/api/v1/status", tags=["status"])
    def read_status() -> SiteStatus:
        return current_status()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def status_page(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "status.html", {"status": current_status()})

    return app
