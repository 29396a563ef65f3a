"""Monthly reports: the page /reports (choose the month and a unit inside your scope) and the downloads
/reports/monthly (for the page's form: errors as pages) and /api/v1/reports/monthly (PDF, Excel or JSON), in the
reader's language. A user gets only units inside their scope (403 otherwise, as filters elsewhere); what the
report counts is filtered by the user's scope and the covert rule (monitor/reports/data.py)."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from core.config import SiteConfig
from monitor.api import MonthText, halls_for, month_or_now
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, templates
from monitor.i18n import N_, locale_of
from monitor.reports.data import build_report, unit_of
from monitor.reports.excel import render_xlsx
from monitor.reports.pdf import render_pdf
from storage.auth.model import User

router = APIRouter()
nav = [NavItem(N_("Reports"), "/reports", order=44)]

Format = Literal["pdf", "xlsx", "json"]
UnitPath = Annotated[str | None, Query(max_length=80, pattern=r"^(province|(city|hall)/[a-z0-9][a-z0-9_-]{0,62})$",
                                       description="province, city/<city_id> or hall/<hall_id>; default: your scope")]
MEDIA = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _download(request: Request, conn: DbConn, site: SiteConfig, user: User, month: str | None, unit: str | None,
              fmt: Format) -> Response:
    chosen = month_or_now(site, month)
    report = build_report(conn, site, user, month=chosen, unit=unit_of(conn, site, user, unit or None))
    if fmt == "json":
        return Response(report.model_dump_json(), media_type="application/json")
    locale = locale_of(request, user)
    body = render_pdf(report, locale) if fmt == "pdf" else render_xlsx(report, locale)
    name = f"hallwatch-{report.level}{'-' + report.unit_id if report.unit_id else ''}-{report.month}.{fmt}"
    return Response(body, media_type=MEDIA[fmt], headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


@router.get("/api/v1/reports/monthly", tags=["reports"],
            responses={200: {"content": {MEDIA["pdf"]: {}, MEDIA["xlsx"]: {}, "application/json": {}},
                             "description": "the report as a file, or as JSON (monitor.reports.data.MonthlyReport)"}})
def read_monthly_report(request: Request, conn: DbConn, site: SiteDep, user: CurrentUser, month: MonthText = None,
                        unit: UnitPath = None, format: Format = "pdf") -> Response:  # noqa: A002 - the query's name
    """The monthly report of a hall, a city or the province (default: your scope) as PDF, Excel or JSON, in your
    language, times in the site's time zone."""
    return _download(request, conn, site, user, month, unit, format)


@router.get("/reports/monthly", include_in_schema=False)
def download_report(request: Request, conn: DbConn, site: SiteDep, user: CurrentUser, month: MonthText = None,
                    unit: UnitPath = None, format: Format = "pdf") -> Response:  # noqa: A002
    return _download(request, conn, site, user, month, unit, format)


def units_for(site: SiteConfig, user: User) -> list[tuple[str, str, str]]:
    """(scope path, level, name) of the units the user may have a report of: the province, its cities and halls
    as far as the user's scope reaches."""
    halls = halls_for(site, user)
    out: list[tuple[str, str, str]] = []
    if user.scope.kind == "province":
        out.append(("province", "province", site.province.name))
    for city in site.cities:
        if user.scope.kind == "province" or (user.scope.kind == "city" and user.scope.id == city.id):
            out.append((f"city/{city.id}", "city", city.name))
    out += [(f"hall/{h.id}", "hall", h.name) for h in halls]
    return out


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(request: Request, site: SiteDep, user: CurrentUser, month: MonthText = None,
                 unit: UnitPath = None) -> HTMLResponse:
    chosen = month_or_now(site, month)
    return templates.TemplateResponse(request, "reports.html", {
        "month": str(chosen), "units": units_for(site, user), "unit": unit or user.scope.path})
