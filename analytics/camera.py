"""Everything one camera's frames say about its zones: who is at each desk, how many people stand
in each queue and self-service zone, how long people wait, whether the view can be trusted, and
the events that follow. The pipeline and `hallwatch analyze` both use this class, so they give the
same answers on the same frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from analytics.counting import in_zone
from analytics.desk_evidence import DeskEvidence, DeskEvidenceTracker
from analytics.events import Event, EventBook, EventChange, EventKind
from analytics.features import FrameFeatures
from analytics.geometry import Polygon
from analytics.presence import DeskPresence, DeskReading, DeskState
from analytics.queue import ZoneCounter
from analytics.view import ViewCheck, ViewReading, ViewState
from analytics.waiting import WaitMinute, WaitMinutes
from core.config import AnalyticsConfig, CameraConfig, PresenceConfig, ZoneConfig, ZoneKind
from models.detections import Detections

if TYPE_CHECKING:
    from core.config import SiteConfig

HEALTHY = frozenset({"live", "ok"})


@dataclass(frozen=True)
class CameraResult:
    ts: float
    people: int | None                   # None: no usable frame
    desks: dict[str, DeskReading]        # window id -> reading
    desk_people: dict[str, int]          # window id -> people counted at that desk
    zones: dict[str, int | None] = field(default_factory=dict)      # queue / self-service zone -> smoothed
    # people (what KPIs use); None while the view is untrusted; empty without a frame
    zones_raw: dict[str, int | None] = field(default_factory=dict)  # ... people standing there in this frame
    trusted: bool = True                 # False: obstructed or moved view, or no usable frame
    view: ViewReading = ViewReading(ViewState.unchecked)
    desk_evidence: dict[str, DeskEvidence] = field(default_factory=dict)
    waits: list[WaitMinute] = field(default_factory=list)      # minutes that closed with this frame
    events: list[EventChange] = field(default_factory=list)    # events opened or closed by this frame


@dataclass(frozen=True)
class PlainReading:
    """One frame read by the detector alone (`CameraAnalyzer.plain`)."""

    zones: dict[str, int]   # queue / self-service zone -> confident foot points inside
    desks: dict[str, bool]  # window id -> someone at the desk in this frame


@dataclass
class _Desk:
    window: str
    polygon: Polygon
    confidence: float
    presence: DeskPresence
    evidence: DeskEvidenceTracker


@dataclass
class _Floor:
    zone: ZoneConfig
    counter: ZoneCounter
    waits: WaitMinutes | None  # queue zones only


class CameraAnalyzer:
    """A person is at a desk when the centre of their box is inside the desk zone, they pass the
    desk's confidence threshold, and their foot point is not inside a queue or self-service zone
    (people standing in front of the counter are citizens, not the officer). Zone counts use the
    foot point: where a person stands."""

    def __init__(self, camera: CameraConfig, presence: PresenceConfig,
                 analytics: AnalyticsConfig | None = None) -> None:
        cfg = self.config = analytics or AnalyticsConfig()
        self.camera = camera
        self.camera_id = camera.id
        self._desks = [
            _Desk(z.window, Polygon(z.polygon), z.confidence or cfg.confidence.desk,
                  DeskPresence(present_after_s=presence.present_after_s, absent_after_s=presence.absent_after_s),
                  DeskEvidenceTracker(cfg.desk))
            for z in camera.zones if z.kind is ZoneKind.desk and z.window is not None
        ]
        self._floor = [
            _Floor(z, ZoneCounter(Polygon(z.polygon), confidence=z.confidence or cfg.confidence.floor,
                                  smoothing_frames=cfg.queue.smoothing_frames, smoothing_s=cfg.queue.smoothing_s,
                                  passer_step=cfg.queue.passer_step, stay_frames=cfg.wait.stay_frames,
                                  hold_step=cfg.queue.hold_step),
                   WaitMinutes(z.id, leave_after_s=cfg.wait.leave_after_s,
                               littles_window_s=cfg.wait.littles_window_s) if z.kind is ZoneKind.queue else None)
            for z in camera.zones if z.kind is not ZoneKind.desk
        ]
        queues = [f.zone for f in self._floor if f.zone.kind is ZoneKind.queue]
        shared = [q.id for q in queues if not q.served_windows]
        self._serving = {d.window: [q.id for q in queues if d.window in q.served_windows] or shared
                         for d in self._desks}
        self._view = ViewCheck(cfg.view)
        self._events = EventBook.from_config(cfg.events)
        self._gap = True  # no frame analysed since the start or the last gap

    @classmethod
    def from_site(cls, site: SiteConfig, camera: CameraConfig) -> CameraAnalyzer:
        return cls(camera, site.presence, site.analytics)

    def update(self, detections: Detections | None, ts: float, frame_size: tuple[int, int],
               features: FrameFeatures | None = None, health: str | None = None) -> CameraResult:
        """`detections` of the frame captured at `ts` (seconds), or None when the camera gave no
        usable frame; `frame_size` is (width, height); `features` the frame's measurements
        (`pipeline.measure.frame_features`) for desk evidence and view checks; `health` the reader's
        state (`live` or None: healthy; anything else: the camera is not healthy)."""
        events: list[EventChange | None] = []
        healthy = detections is not None and (health is None or health in HEALTHY)
        events.append(self._events.update(EventKind.camera_offline, self.camera_id, not healthy, ts,
                                          {"health": health or ("live" if detections is not None else "no frame")}))
        if detections is None or not healthy:
            result = self._untrusted(ts, people=None, zones={}, view=ViewReading(ViewState.unchecked), events=events)
            return result
        view = self._view.update(features, ts)
        checked = view.state is not ViewState.unchecked
        events.append(self._events.update(EventKind.camera_obstructed, self.camera_id,
                                          view.state.obstructed if checked else None, ts,
                                          {"view": view.state.value}))
        events.append(self._events.update(EventKind.camera_moved, self.camera_id,
                                          view.state is ViewState.moved if checked else None, ts,
                                          {"match": view.match}))
        if not view.trusted:
            unknown: dict[str, int | None] = {f.zone.id: None for f in self._floor}
            return self._untrusted(ts, people=self._counted(detections).sum().item(), zones=unknown, view=view,
                                   events=events)
        return self._trusted(detections, ts, frame_size, features, view, events)

    def _trusted(self, detections: Detections, ts: float, frame_size: tuple[int, int],
                 features: FrameFeatures | None, view: ViewReading, events: list[EventChange | None]) -> CameraResult:
        cfg = self.config
        self._gap = False
        on_floor = self._on_floor(detections, frame_size)
        zones: dict[str, int | None] = {}
        zones_raw: dict[str, int | None] = {}
        waits: list[WaitMinute] = []
        longest: dict[str, float] = {}
        for floor in self._floor:
            count = floor.counter.update(detections, ts, frame_size)
            zones[floor.zone.id], zones_raw[floor.zone.id] = count.smoothed, count.raw
            longest[floor.zone.id] = count.longest_s
            if floor.waits is not None:
                waits += floor.waits.update(ts, count.smoothed, count.departures)
        counted = self._counted(detections)
        desks: dict[str, DeskReading] = {}
        desk_people: dict[str, int] = {}
        evidence: dict[str, DeskEvidence] = {}
        for desk in self._desks:
            at_desk = self._at_desk(desk, detections, frame_size, on_floor)
            counted |= at_desk
            citizens = detections.xyxy[on_floor]
            patch = features.desks.get(desk.window) if features is not None else None
            evidence[desk.window] = desk.evidence.update(
                patch, ts, detected=bool(at_desk.any()), desk_absent=desk.presence.reading.state is DeskState.absent,
                citizens=citizens, officers=detections.xyxy[at_desk])
            desk_people[desk.window] = int(at_desk.sum())
            desks[desk.window] = desk.presence.update(bool(at_desk.any()), ts, hold=evidence[desk.window].hold)
        e = cfg.events
        for floor in self._floor:
            if floor.zone.kind is not ZoneKind.queue:
                continue
            people = zones[floor.zone.id] or 0
            limit = floor.zone.limit or e.queue_limit
            events.append(self._events.update(EventKind.queue_over_limit, floor.zone.id, people > limit, ts,
                                              {"people": people, "limit": limit}))
            events.append(self._events.update(EventKind.wait_over_sla, floor.zone.id,
                                              longest[floor.zone.id] >= e.wait_sla_s, ts,
                                              {"longest_wait_s": round(longest[floor.zone.id], 1),
                                               "sla_s": e.wait_sla_s}))
        for window, queue_ids in self._serving.items():
            if not queue_ids:
                continue
            waiting = sum(zones[q] or 0 for q in queue_ids)
            active = desks[window].state is DeskState.absent and waiting >= e.unstaffed_people
            events.append(self._events.update(EventKind.unstaffed_while_waiting, window, active, ts,
                                              {"waiting": waiting, "queues": queue_ids}))
        return CameraResult(ts=ts, people=int(counted.sum()), desks=desks, desk_people=desk_people, zones=zones,
                            zones_raw=zones_raw, trusted=True, view=view, desk_evidence=evidence,
                            waits=waits, events=[c for c in events if c is not None])

    def _untrusted(self, ts: float, *, people: int | None, zones: dict[str, int | None], view: ViewReading,
                   events: list[EventChange | None]) -> CameraResult:
        """No usable view: desks unknown, zone counts unknown, tracks and stays end unmeasured."""
        if not self._gap:
            self._gap = True
            for floor in self._floor:
                floor.counter.interrupt()
            for desk in self._desks:
                desk.evidence.forget_frames()
        desks = {desk.window: desk.presence.update(None, ts) for desk in self._desks}
        waits = [m for f in self._floor if f.waits is not None for m in f.waits.update(ts, None)]
        for floor in self._floor:
            if floor.zone.kind is ZoneKind.queue:
                events.append(self._events.update(EventKind.queue_over_limit, floor.zone.id, None, ts))
                events.append(self._events.update(EventKind.wait_over_sla, floor.zone.id, None, ts))
        for window in self._serving:
            events.append(self._events.update(EventKind.unstaffed_while_waiting, window, None, ts))
        return CameraResult(ts=ts, people=people, desks=desks, desk_people={}, zones=zones, zones_raw=dict(zones),
                            trusted=False, view=view, waits=waits, events=[c for c in events if c is not None])

    def plain(self, detections: Detections, frame_size: tuple[int, int]) -> PlainReading:
        """What the detector alone says of this frame, by the same rules and thresholds but with no
        memory (no smoothing, passer rule, hysteresis or desk evidence): the baseline the
        analytics must never count worse than (issue 12)."""
        on_floor = self._on_floor(detections, frame_size)
        return PlainReading(
            zones={f.zone.id: int(f.counter.inside(detections, frame_size).sum()) for f in self._floor},
            desks={d.window: bool(self._at_desk(d, detections, frame_size, on_floor).any()) for d in self._desks})

    def _on_floor(self, detections: Detections, frame_size: tuple[int, int]) -> np.ndarray:
        """Whose foot point is in a queue or self-service zone, at any confidence."""
        on_floor = np.zeros(len(detections), dtype=bool)
        for floor in self._floor:
            on_floor |= in_zone(detections, floor.counter.polygon, frame_size, 0.0)
        return on_floor

    @staticmethod
    def _at_desk(desk: _Desk, detections: Detections, frame_size: tuple[int, int], on_floor: np.ndarray) -> np.ndarray:
        inside = desk.polygon.contains(detections.centers, frame_size)
        return np.asarray(inside & ~on_floor & (detections.confidence >= desk.confidence))

    def _counted(self, detections: Detections) -> np.ndarray:
        """People confident enough to count outside the desks."""
        return np.asarray(detections.confidence >= self.config.confidence.floor)

    def open_events(self) -> list[Event]:
        return self._events.open_events()
