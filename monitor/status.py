"""The live status of every hall, window, zone and camera, as the API returns it: the site's
structure from the config, the values from the newest samples. A value older than `STALE_S` is not
shown as current: desks become `unknown`, counts `null`, cameras `no_data`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from core.config import HallConfig, SiteConfig, ZoneKind
from storage.status import LatestSamples

STALE_S = 10.0


class WindowStatus(BaseModel):
    id: str
    name: str
    camera: str | None
    state: str                # present | absent | unknown
    since: datetime | None
    people_at_desk: int | None


class ZoneStatus(BaseModel):
    id: str
    kind: str                 # queue | self_service
    camera: str
    people: int | None
    at: datetime | None


class CameraStatus(BaseModel):
    id: str
    name: str | None
    url: str                  # password masked
    state: str                # connecting | live | stalled | offline | unauthorized | bad_stream | no_data
    fps: float | None
    last_frame_age_s: float | None
    reconnects: int | None
    error: str | None


class HallStatus(BaseModel):
    id: str
    name: str
    city: str
    city_name: str
    size: str
    flow: str
    windows: list[WindowStatus]
    zones: list[ZoneStatus]
    cameras: list[CameraStatus]


class SiteStatus(BaseModel):
    generated_at: datetime
    province: dict[str, str]
    cities: list[dict[str, str]]
    halls: list[HallStatus]


def site_status(site: SiteConfig, latest: LatestSamples) -> SiteStatus:
    cities = {c.id: c.name for c in site.cities}
    return SiteStatus(
        generated_at=latest.now,
        province={"id": site.province.id, "name": site.province.name},
        cities=[{"id": c.id, "name": c.name} for c in site.cities],
        halls=[_hall_status(hall, cities[hall.city], latest) for hall in site.halls],
    )


def _age_s(latest: LatestSamples, ts: datetime | None) -> float | None:
    return None if ts is None else max(0.0, (latest.now - ts).total_seconds())


def _fresh(latest: LatestSamples, row: dict[str, Any] | None) -> bool:
    age = _age_s(latest, row["ts"]) if row else None
    return age is not None and age <= STALE_S


def _hall_status(hall: HallConfig, city_name: str, latest: LatestSamples) -> HallStatus:
    desk_camera = {z.window: c.id for c in hall.cameras for z in c.zones if z.kind is ZoneKind.desk}
    windows = []
    for window in hall.windows:
        row = latest.desks.get((hall.id, window.id))
        fresh = _fresh(latest, row)
        windows.append(WindowStatus(
            id=window.id, name=window.name, camera=desk_camera.get(window.id),
            state=row["state"] if row and fresh else "unknown",
            since=row["state_since"] if row and fresh else None,
            people_at_desk=row["people"] if row and fresh else None,
        ))
    zones = []
    for camera in hall.cameras:
        for zone in camera.zones:
            if zone.kind is ZoneKind.desk:
                continue
            row = latest.zones.get((hall.id, zone.id))
            zones.append(ZoneStatus(id=zone.id, kind=zone.kind.value, camera=camera.id,
                                    people=row["people"] if row and _fresh(latest, row) else None,
                                    at=row["ts"] if row else None))
    cameras = []
    for camera in hall.cameras:
        row = latest.cameras.get((hall.id, camera.id))
        fresh = _fresh(latest, row)
        cameras.append(CameraStatus(
            id=camera.id, name=camera.name, url=camera.safe_url,
            state=row["state"] if row and fresh else "no_data",
            fps=row["fps"] if row and fresh else None,
            last_frame_age_s=_age_s(latest, row["last_frame_at"]) if row else None,
            reconnects=row["reconnects"] if row else None,
            error=row["error"] if row and fresh else None,
        ))
    return HallStatus(id=hall.id, name=hall.name, city=hall.city, city_name=city_name, size=hall.size.value,
                      flow=hall.flow.value, windows=windows, zones=zones, cameras=cameras)
