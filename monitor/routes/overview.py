"""The overview: province → city → hall → window with each node's live state (unstaffed windows, long
queues, waits over SLA, cameras down), and a page per window (state, today's desk timeline, its queue).
A user sees the nodes inside their scope; a city, hall or window outside it answers 404."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from core.config import HallConfig, SiteConfig, ZoneKind
from monitor.api import halls_for, queue_zones
from monitor.deps import CurrentUser, DbConn, NavItem, SiteDep, templates
from monitor.i18n import N_
from monitor.status import HallStatus, site_status
from storage.auth.model import User
from storage.status import latest_samples
from storage.trends import desk_timeline, open_events, trend

router = APIRouter()
nav = [NavItem(N_("Overview"), "/overview", order=5)]

CAMERA_UP = frozenset({"live", "connecting"})


class NodeState(BaseModel):
    windows: int = 0
    unstaffed: int = 0       # windows whose desk is absent now
    long_queues: int = 0     # queue zones over their limit now, or with an open queue_over_limit event
    waits_over_sla: int = 0  # open wait_over_sla events
    cameras: int = 0
    cameras_down: int = 0    # cameras not live (offline, stalled, no data, ...)

    def add(self, other: NodeState) -> NodeState:
        return NodeState(**{k: getattr(self, k) + getattr(other, k) for k in NodeState.model_fields})

    @property
    def alerting(self) -> bool:
        return bool(self.unstaffed or self.long_queues or self.waits_over_sla or self.cameras_down)


class WindowNode(BaseModel):
    id: str
    name: str
    state: str               # present | absent | unknown
    since: datetime | None
    queue: int | None        # people in the queue zones serving the window
    alerts: list[str]        # open event kinds about this window or its queue


class HallNode(BaseModel):
    id: str
    name: str
    city: str
    state: NodeState
    windows: list[WindowNode]


class CityNode(BaseModel):
    id: str
    name: str
    state: NodeState
    halls: list[HallNode]


class Overview(BaseModel):
    generated_at: datetime
    province: dict[str, str]
    state: NodeState
    cities: list[CityNode]


def hall_in_scope(site: SiteConfig, user: User, hall_id: str) -> HallConfig:
    """The hall, or 404 when it does not exist or lies outside the user's scope (not revealing which)."""
    hall = next((h for h in site.halls if h.id == hall_id), None)
    if hall is None or not user.scope.allows(hall.id, hall.city):
        raise HTTPException(status_code=404, detail=f"no hall {hall_id!r}")
    return hall


def _zone_limits(site: SiteConfig, hall: HallConfig) -> dict[str, int]:
    default = site.analytics.events.queue_limit
    return {z.id: z.limit or default for c in hall.cameras for z in c.zones if z.kind is ZoneKind.queue}


def _hall_node(site: SiteConfig, hall: HallConfig, status: HallStatus, events: list[dict[str, Any]]) -> HallNode:
    limits = _zone_limits(site, hall)
    people = {z.id: z.people for z in status.zones}
    open_kinds: dict[str, set[str]] = {}
    for e in events:
        open_kinds.setdefault(e["subject"], set()).add(e["kind"])
    long_queues = {z for z, n in people.items() if z in limits and n is not None and n > limits[z]}
    long_queues |= {s for s, kinds in open_kinds.items() if "queue_over_limit" in kinds}
    windows = []
    for w in status.windows:
        zones = queue_zones(hall, w.id)
        counts = [people[z] for z in zones if people.get(z) is not None]
        alerts = sorted(set().union(*(open_kinds.get(s, set()) for s in [w.id, *zones])))
        windows.append(WindowNode(id=w.id, name=w.name, state=w.state, since=w.since,
                                  queue=sum(c for c in counts if c is not None) if counts else None, alerts=alerts))
    state = NodeState(
        windows=len(windows), unstaffed=sum(w.state == "absent" for w in windows), long_queues=len(long_queues),
        waits_over_sla=sum(e["kind"] == "wait_over_sla" for e in events), cameras=len(status.cameras),
        cameras_down=sum(c.state not in CAMERA_UP for c in status.cameras))
    return HallNode(id=hall.id, name=hall.name, city=hall.city, state=state, windows=windows)


def build_overview(site: SiteConfig, conn: DbConn, user: User) -> Overview:
    status = site_status(site, latest_samples(conn))
    halls = {h.id: h for h in halls_for(site, user)}
    events = open_events(conn, hall_ids=list(halls))
    cities = []
    for city in site.cities:
        nodes = [_hall_node(site, halls[s.id], s, [e for e in events if e["hall_id"] == s.id])
                 for s in status.halls if s.id in halls and s.city == city.id]
        if nodes:
            total = NodeState()
            for n in nodes:
                total = total.add(n.state)
            cities.append(CityNode(id=city.id, name=city.name, state=total, halls=nodes))
    province = NodeState()
    for c in cities:
        province = province.add(c.state)
    return Overview(generated_at=status.generated_at, province={"id": site.province.id, "name": site.province.name},
                    state=province, cities=cities)


class WindowDetail(BaseModel):
    hall_id: str
    hall_name: str
    window: WindowNode
    day_start: datetime
    timeline: list[dict[str, Any]]   # [{ts, state, people}] today, state changes only
    queue_zones: list[str]
    queue_t: list[float]             # today's queue, one point a minute: unix seconds ...
    queue: list[float | None]        # ... and people waiting


def window_detail(site: SiteConfig, conn: DbConn, user: User, hall_id: str, window_id: str) -> WindowDetail:
    hall = hall_in_scope(site, user, hall_id)
    if not any(w.id == window_id for w in hall.windows):
        raise HTTPException(status_code=404, detail=f"no window {window_id!r} in hall {hall_id!r}")
    node = build_overview(site, conn, user)
    hall_node = next(h for c in node.cities for h in c.halls if h.id == hall_id)
    window = next(w for w in hall_node.windows if w.id == window_id)
    tz = site.scorecards.tz
    start = datetime.combine(datetime.now(tz).date(), time(0), tz)
    end = start + timedelta(days=1)
    zones = queue_zones(hall, window_id)
    series = trend(conn, queues=[(hall_id, z) for z in zones], windows=[], cameras=[], since=start, until=end,
                   width=timedelta(minutes=1))
    return WindowDetail(hall_id=hall_id, hall_name=hall.name, window=window, day_start=start,
                        timeline=desk_timeline(conn, hall_id=hall_id, window_id=window_id, since=start, until=end),
                        queue_zones=zones, queue_t=series.t, queue=series.queue)


@router.get("/api/v1/overview", tags=["overview"])
def read_overview(site: SiteDep, conn: DbConn, user: CurrentUser) -> Overview:
    """Province → city → hall → window, each with its live state, inside the user's scope."""
    return build_overview(site, conn, user)


@router.get("/api/v1/overview/halls/{hall_id}/windows/{window_id}", tags=["overview"])
def read_window(hall_id: str, window_id: str, site: SiteDep, conn: DbConn, user: CurrentUser) -> WindowDetail:
    """One window now and today: desk state changes and its queue."""
    return window_detail(site, conn, user, hall_id, window_id)


@router.get("/overview", response_class=HTMLResponse, include_in_schema=False)
def overview_page(request: Request, site: SiteDep, conn: DbConn, user: CurrentUser) -> HTMLResponse:
    return templates.TemplateResponse(request, "overview.html", {"o": build_overview(site, conn, user),
                                                                 "level": "province"})


@router.get("/overview/cities/{city_id}", response_class=HTMLResponse, include_in_schema=False)
def city_page(city_id: str, request: Request, site: SiteDep, conn: DbConn, user: CurrentUser) -> HTMLResponse:
    o = build_overview(site, conn, user)
    city = next((c for c in o.cities if c.id == city_id), None)
    if city is None:
        raise HTTPException(status_code=404, detail=f"no city {city_id!r}")
    return templates.TemplateResponse(request, "overview.html", {"o": o, "level": "city", "city": city})


@router.get("/overview/halls/{hall_id}", response_class=HTMLResponse, include_in_schema=False)
def hall_page(hall_id: str, request: Request, site: SiteDep, conn: DbConn, user: CurrentUser) -> HTMLResponse:
    hall_in_scope(site, user, hall_id)
    o = build_overview(site, conn, user)
    city = next(c for c in o.cities if any(h.id == hall_id for h in c.halls))
    hall = next(h for h in city.halls if h.id == hall_id)
    return templates.TemplateResponse(request, "overview.html", {"o": o, "level": "hall", "city": city,
                                                                 "hall": hall})


@router.get("/overview/halls/{hall_id}/windows/{window_id}", response_class=HTMLResponse, include_in_schema=False)
def window_page(hall_id: str, window_id: str, request: Request, site: SiteDep, conn: DbConn,
                user: CurrentUser) -> HTMLResponse:
    detail = window_detail(site, conn, user, hall_id, window_id)
    return templates.TemplateResponse(request, "overview_window.html", {"d": detail,
                                                                        "data": detail.model_dump(mode="json")})
