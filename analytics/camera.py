"""Everything one camera's frame says about its zones: who is at each desk, how many people stand
in each queue and self-service zone. The pipeline and `hallwatch analyze` both use this class, so
they give the same answers on the same frames."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from analytics.geometry import Polygon
from analytics.presence import DeskPresence, DeskReading
from hallwatch.config import CameraConfig, PresenceConfig, ZoneKind
from models.detections import Detections


@dataclass(frozen=True)
class CameraResult:
    ts: float
    people: int | None                   # None: no usable frame
    desks: dict[str, DeskReading]        # window id -> reading
    desk_people: dict[str, int]          # window id -> people counted at that desk
    zones: dict[str, int] = field(default_factory=dict)  # queue / self-service zone id -> people


class CameraAnalyzer:
    """A person is at a desk when the centre of their box is inside the desk zone and their foot
    point is not inside a queue or self-service zone (people standing in front of the counter are
    citizens, not the officer). Zone counts use the foot point: where a person stands."""

    def __init__(self, camera: CameraConfig, presence: PresenceConfig) -> None:
        self.camera_id = camera.id
        self._desks: list[tuple[str, Polygon]] = []
        for zone in camera.zones:
            if zone.kind is ZoneKind.desk and zone.window is not None:
                self._desks.append((zone.window, Polygon(zone.polygon)))
        self._floor = [(z.id, Polygon(z.polygon)) for z in camera.zones if z.kind is not ZoneKind.desk]
        self._presence = {
            window: DeskPresence(present_after_s=presence.present_after_s,
                                 absent_after_s=presence.absent_after_s)
            for window, _ in self._desks
        }

    def update(self, detections: Detections | None, ts: float, frame_size: tuple[int, int]) -> CameraResult:
        """`detections` of the frame captured at `ts` (seconds), or None when the camera gave no
        usable frame; `frame_size` is (width, height)."""
        if detections is None:
            unknown = {window: p.update(None, ts) for window, p in self._presence.items()}
            return CameraResult(ts=ts, people=None, desks=unknown, desk_people={})
        feet = detections.foot_points
        on_floor = np.zeros(len(detections), dtype=bool)
        zones: dict[str, int] = {}
        for zone_id, polygon in self._floor:
            inside = polygon.contains(feet, frame_size)
            zones[zone_id] = int(inside.sum())
            on_floor |= inside
        centers = detections.centers
        desks: dict[str, DeskReading] = {}
        desk_people: dict[str, int] = {}
        for window, polygon in self._desks:
            count = int((polygon.contains(centers, frame_size) & ~on_floor).sum())
            desk_people[window] = count
            desks[window] = self._presence[window].update(count > 0, ts)
        return CameraResult(ts=ts, people=len(detections), desks=desks, desk_people=desk_people, zones=zones)
