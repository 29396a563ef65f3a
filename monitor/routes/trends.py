"""Trends: queue length, waiting time p50/p90, staffing against demand and camera coverage for the halls in
scope, one hall or one window, over a chosen range, with complaints, inspections and findings as markers.
`/api/v1/trends` and the page `/trends` (charts by the vendored uPlot)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from core.config import HallConfig, SiteConfig, ZoneKind
from monitor.api import halls_for, queue_zones, unprocessable
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, templates
from monitor.i18n import N_
from storage.auth.model import User
from storage.trends import record_markers, trend

router = APIRouter()
nav = [NavItem(N_("Trends"), "/trends", order=44)]

MAX_RANGE = timedelta(days=366)
EARLIEST, LATEST = datetime(1971, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
Ident = Annotated[str | None, Query(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
When = Annotated[datetime | None, Query(description="ISO 8601; without a zone: UTC")]
Days = Annotated[float, Query(gt=0, le=366, description="the range when `since` is not given: this many days "
                                                        "before `until`")]


class Marker(BaseModel):
    kind: str             # complaint | inspection | finding
    id: int
    t: float              # unix seconds
    hall_id: str
    window_id: str | None
    label: str


class TrendsPublic(BaseModel):
    hall_id: str | None
    window_id: str | None
    since: datetime
    until: datetime
    bucket_s: int
    t: list[float] = Field(description="bucket starts, unix seconds")
    queue: list[float | None] = Field(description="mean people in the queue zones")
    queue_max: list[float | None]
    wait_p50_s: list[float | None] = Field(description="median of the minutes' median waits")
    wait_p90_s: list[float | None] = Field(description="90th percentile of the minutes' p90 waits")
    present_windows: list[float | None] = Field(description="windows staffed (mean over the bucket)")
    coverage: list[float | None] = Field(description="share of camera health samples that were live")
    markers: list[Marker]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _halls(site: SiteConfig, user: User, hall_id: str | None, window_id: str | None) -> list[HallConfig]:
    """The halls asked for: an unknown hall or window is 404, a hall outside the scope 403."""
    if hall_id is None:
        if window_id is not None:
            raise unprocessable("window_id", "a window needs its hall_id", where="query")
        return halls_for(site, user)
    hall = next((h for h in site.halls if h.id == hall_id), None)
    if hall is None:
        raise HTTPException(status_code=404, detail=f"no hall {hall_id!r}")
    if not user.scope.allows(hall.id, hall.city):
        raise HTTPException(status_code=403, detail=f"hall {hall_id!r} is outside your scope {user.scope.path}")
    if window_id is not None and not any(w.id == window_id for w in hall.windows):
        raise HTTPException(status_code=404, detail=f"no window {window_id!r} in hall {hall_id!r}")
    return [hall]


def _cameras(hall: HallConfig, window_id: str | None, zones: list[str]) -> list[str]:
    if window_id is None:
        return [c.id for c in hall.cameras]
    return [c.id for c in hall.cameras
            if any(z.id in zones or (z.kind is ZoneKind.desk and z.window == window_id) for z in c.zones)]


def build_trends(site: SiteConfig, conn: DbConn, user: User, *, hall_id: str | None, window_id: str | None,
                 since: datetime | None, until: datetime | None, days: float) -> TrendsPublic:
    end = _utc(until) if until else datetime.now(UTC)
    for name, value in (("until", end), ("since", since)):
        if value is not None and not EARLIEST <= _utc(value) <= LATEST:
            raise unprocessable(name, f"between {EARLIEST.year} and {LATEST.year - 1}", where="query")
    start = _utc(since) if since else end - timedelta(days=days)
    if start >= end:
        raise unprocessable("since", "since must be before until", where="query")
    if end - start > MAX_RANGE:
        raise unprocessable("since", f"at most {MAX_RANGE.days} days at once", where="query")
    halls = _halls(site, user, hall_id, window_id)
    queues, windows, cameras = [], [], []
    for hall in halls:
        zones = queue_zones(hall, window_id)
        queues += [(hall.id, z) for z in zones]
        windows += [(hall.id, w.id) for w in hall.windows if window_id in (None, w.id)]
        cameras += [(hall.id, c) for c in _cameras(hall, window_id, zones)]
    series = trend(conn, queues=queues, windows=windows, cameras=cameras, since=start, until=end)
    marks = record_markers(conn, user=user, hall_ids=[h.id for h in halls], window_id=window_id, since=start,
                           until=end)
    return TrendsPublic(
        hall_id=hall_id, window_id=window_id, since=start, until=end, bucket_s=series.bucket_s, t=series.t,
        queue=series.queue, queue_max=series.queue_max, wait_p50_s=series.wait_p50_s, wait_p90_s=series.wait_p90_s,
        present_windows=series.present_windows, coverage=series.coverage,
        markers=[Marker(kind=m["kind"], id=m["id"], t=m["at"].timestamp(), hall_id=m["hall_id"],
                        window_id=m["window_id"], label=m["label"]) for m in marks])


@router.get("/api/v1/trends", tags=["trends"])
def read_trends(site: SiteDep, conn: DbConn, user: CurrentUser, hall_id: Ident = None, window_id: Ident = None,
                since: When = None, until: When = None, days: Days = 1.0) -> TrendsPublic:
    """Bucketed series over `since`..`until` (default: the last day) for the scope, a hall or a window."""
    return build_trends(site, conn, user, hall_id=hall_id, window_id=window_id, since=since, until=until,
                        days=days)


@router.get("/trends", response_class=HTMLResponse, include_in_schema=False)
def trends_page(request: Request, site: SiteDep, conn: DbConn, user: CurrentUser, hall_id: Ident = None,
                window_id: Ident = None, since: When = None, until: When = None, days: Days = 1.0) -> HTMLResponse:
    data = build_trends(site, conn, user, hall_id=hall_id or None, window_id=window_id or None, since=since,
                        until=until, days=days)
    halls = halls_for(site, user)
    hall = next((h for h in halls if h.id == hall_id), None)
    return templates.TemplateResponse(request, "trends.html", {
        "d": data, "data": data.model_dump(mode="json"), "halls": halls, "hall": hall, "days": days,
        "ranges": [(0.25, N_("6 hours")), (1, N_("1 day")), (7, N_("7 days")), (30, N_("30 days")),
                   (90, N_("90 days"))]})
