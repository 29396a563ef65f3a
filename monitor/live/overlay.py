"""The analytics drawn over the live video: person boxes, desk states and zone counts per camera.

The in-process pipeline calls `OverlayHub.publish` after each analysed frame (any thread); the
live wall subscribes per camera and forwards them to the browsers over a data channel. When the
pipeline runs on other machines, the wall fills desk states and zone counts from the database
instead (`publish_states`), and there are no boxes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in [0, 1] of the frame
Key = tuple[str, str]                     # (hall_id, camera_id)
Listener = Callable[["Overlay"], None]


@dataclass(frozen=True)
class Overlay:
    hall_id: str
    camera_id: str
    ts: float                                            # capture time, unix seconds
    boxes: tuple[Box, ...] = ()
    desks: Mapping[str, str] = field(default_factory=dict)  # window id -> present | absent | unknown
    zones: Mapping[str, int | None] = field(default_factory=dict)  # zone id -> people
    boxes_at: float | None = None                        # time.time() the boxes were published

    def message(self) -> dict[str, Any]:
        return {"type": "overlay", "ts": self.ts, "boxes": [list(b) for b in self.boxes],
                "desks": dict(self.desks), "zones": dict(self.zones)}


def _box(box: Sequence[float]) -> Box:
    if len(box) != 4:
        raise ValueError(f"a box is x1, y1, x2, y2, got {len(box)} numbers")
    x1, y1, x2, y2 = (min(1.0, max(0.0, float(v))) for v in box)
    if x2 < x1 or y2 < y1:
        raise ValueError(f"box {tuple(box)} has x2 < x1 or y2 < y1")
    return (round(x1, 4), round(y1, 4), round(x2, 4), round(y2, 4))


class OverlayHub:
    """Newest overlay per camera, and listeners called (on the publisher's thread) on each change."""

    BOXES_FRESH_S = 3.0  # boxes older than this are not drawn: the pipeline stopped for the camera

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[Key, Overlay] = {}
        self._listeners: dict[Key, list[Listener]] = {}

    def publish(self, hall_id: str, camera_id: str, ts: float, boxes_normalised: Sequence[Sequence[float]],
                desks: Mapping[str, str], zones: Mapping[str, int | None]) -> None:
        """What the pipeline saw in one analysed frame: boxes in [0, 1] frame coordinates."""
        overlay = Overlay(hall_id, camera_id, ts, tuple(_box(b) for b in boxes_normalised),
                          dict(desks), dict(zones), boxes_at=time.time())
        self._store(overlay)

    def publish_states(self, hall_id: str, camera_id: str, ts: float, desks: Mapping[str, str],
                       zones: Mapping[str, int | None]) -> None:
        """Desk states and zone counts from the database; keeps boxes the pipeline published."""
        with self._lock:
            previous = self._latest.get((hall_id, camera_id))
        if previous is not None and previous.boxes_at is not None \
                and time.time() - previous.boxes_at < self.BOXES_FRESH_S:
            return  # the in-process pipeline is fresher than the database
        self._store(Overlay(hall_id, camera_id, ts, (), dict(desks), dict(zones)))

    def _store(self, overlay: Overlay) -> None:
        key = (overlay.hall_id, overlay.camera_id)
        with self._lock:
            previous = self._latest.get(key)
            self._latest[key] = overlay
            listeners = list(self._listeners.get(key, ()))
        if previous is not None and previous.message() == overlay.message():
            return
        for listener in listeners:
            listener(overlay)

    def latest(self, hall_id: str, camera_id: str) -> Overlay | None:
        with self._lock:
            overlay = self._latest.get((hall_id, camera_id))
        if overlay is not None and overlay.boxes and overlay.boxes_at is not None \
                and time.time() - overlay.boxes_at > self.BOXES_FRESH_S:
            overlay = Overlay(overlay.hall_id, overlay.camera_id, overlay.ts, (), overlay.desks, overlay.zones)
        return overlay

    def subscribe(self, hall_id: str, camera_id: str, listener: Listener) -> Callable[[], None]:
        """Call `listener(overlay)` on each new overlay of the camera; returns the unsubscribe."""
        key = (hall_id, camera_id)
        with self._lock:
            self._listeners.setdefault(key, []).append(listener)

        def unsubscribe() -> None:
            with self._lock:
                listeners = self._listeners.get(key, [])
                if listener in listeners:
                    listeners.remove(listener)

        return unsubscribe

    def watched(self) -> set[Key]:
        """Cameras someone is watching: the pipeline may skip building overlays for the others."""
        with self._lock:
            return {key for key, listeners in self._listeners.items() if listeners}


def publish_results(hub: OverlayHub) -> Callable[..., None]:
    """A pipeline result listener (`Pipeline(on_result=...)`) that feeds the live wall's overlays, for
    the cameras someone is watching."""

    def listener(hall_id: str, camera_id: str, result: Any, detections: Any, size: tuple[int, int]) -> None:
        if (hall_id, camera_id) not in hub.watched():
            return
        width, height = size
        boxes: list[list[float]] = []
        if detections is not None and width and height:
            boxes = (detections.xyxy / [width, height, width, height]).clip(0.0, 1.0).tolist()
        desks = {window: reading.state.value for window, reading in result.desks.items()}
        hub.publish(hall_id, camera_id, result.ts, boxes, desks, dict(result.zones))

    return listener
