"""The FastAPI application. Every module in `monitor/routes/` that defines `router` is included
(and its optional `nav: list[NavItem]` joins the page header), so an area adds routes without
editing this file."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from importlib import resources

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from psycopg_pool import ConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import monitor.routes
from core.config import SiteConfig
from monitor.api import http_error, localized
from monitor.deps import CurrentUser, NavItem, is_api, templates
from monitor.i18n import locale_of
from monitor.security import BodyLimit, SecurityHeaders
from storage.records.common import RecordError

log = logging.getLogger(__name__)


def route_modules() -> list[str]:
    return [f"monitor.routes.{m.name}" for m in sorted(pkgutil.iter_modules(monitor.routes.__path__),
                                                       key=lambda m: m.name)]


# The largest body a logged-in client may send: a hotline CSV export (complaints import reads up to 20 MB)
# or an evidence photo, with room for the multipart envelope.
BODY_MAX_BYTES = 20_000_000 + 1_048_576


def create_app(site: SiteConfig, pool: ConnectionPool) -> FastAPI:
    # No /docs or /redoc (their pages load Swagger UI and ReDoc from a CDN, which closed hall networks
    # cannot reach), and the OpenAPI document only for a logged-in user (`openapi_document`).
    app = FastAPI(title="hallwatch", version="0.1.0", description="Supervision of public service halls",
                  docs_url=None, redoc_url=None, openapi_url=None)
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

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document(user: CurrentUser) -> JSONResponse:
        return JSONResponse(app.openapi())

    # Outermost last: the client's address is settled first, then headers, then the body's size.
    app.add_middleware(BodyLimit, max_bytes=max(BODY_MAX_BYTES, site.records.evidence_max_bytes + 1_048_576))
    app.add_middleware(SecurityHeaders, https=site.auth.secure_cookies)
    if site.auth.trusted_proxies:
        # X-Forwarded-For names the client only when the connection comes from one of these.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=[str(net) for net in site.auth.trusted_proxies])

    @app.exception_handler(StarletteHTTPException)
    async def page_errors(request: Request, exc: StarletteHTTPException) -> Response:
        # Pages get a page; the API (and redirects) keep FastAPI's JSON `{"detail": ...}`. A route's answer to a
        # domain error it caught is in the reader's language.
        exc = localized(exc, locale_of(request)) if isinstance(exc, HTTPException) else exc
        if is_api(request) or exc.status_code < 400 or "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, exc)
        return templates.TemplateResponse(request, "error.html", {"status": exc.status_code, "detail": exc.detail},
                                          status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RecordError)
    async def record_errors(request: Request, exc: RecordError) -> Response:
        # A domain error a route let through answers as `monitor.api.http_error` says, as a page or as JSON,
        # its text in the reader's language (the English stays in `str(exc)` for logs).
        return await page_errors(request, http_error(exc, locale=locale_of(request)))

    return app

