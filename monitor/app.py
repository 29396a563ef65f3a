"""The FastAPI application. Every module in `monitor/routes/` that defines `router` is included
(and its optional `nav: list[NavItem]` joins the page header), so an area adds routes without
editing this file."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from psycopg_pool import ConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

import monitor.routes
from core.config import SiteConfig
from monitor.deps import NavItem, is_api, templates

log = logging.getLogger(__name__)


def route_modules() -> list[str]:
    return [f"monitor.routes.{m.name}" for m in sorted(pkgutil.iter_modules(monitor.routes.__path__),
                                                       key=lambda m: m.name)]


def create_app(site: SiteConfig, pool: ConnectionPool) -> FastAPI:
    app = FastAPI(title="hallwatch", version="0.1.0", description="Supervision of public service halls")
    app.state.site = site
    app.state.pool = pool
    app.mount("/static", StaticFiles(directory=str(resources.files("monitor") / "static")), name="static")
    nav: list[NavItem] = []
    for name in route_modules():
        module = importlib.import_module(name)
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
            nav.extend(getattr(module, "nav", []))
    app.state.nav = sorted(nav, key=lambda item: (item.order, item.label))

    @app.exception_handler(StarletteHTTPException)
    async def page_errors(request: Request, exc: StarletteHTTPException) -> Response:
        # Pages get a page; the API (and redirects) keep FastAPI's JSON `{"detail": ...}`.
        if is_api(request) or exc.status_code < 400 or "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, exc)
        return templates.TemplateResponse(request, "error.html", {"status": exc.status_code, "detail": exc.detail},
                                          status_code=exc.status_code, headers=getattr(exc, "headers", None))

    return app

