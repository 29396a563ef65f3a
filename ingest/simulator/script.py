"""The simulator's deterministic timeline: what each camera shows, and when.

Each camera gets its own sequence of piecewise-constant segments (8-20 s each) drawn from a
random generator seeded with the simulator seed mixed with the hall and camera ids through a
stable hash, so a given seed always plays the same story and different cameras play different ones.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from hallwatch.config import CameraConfig, SiteConfig, ZoneKind
from ingest.simulator.errors import SimulatorError
from ingest.simulator.layout import capacity

logger = logging.getLogger(__name__)

MIN_SEGMENT_S = 8.0
MAX_SEGMENT_S = 20.0
STAFFED_PROBABILITY = 0.7


@dataclass(frozen=True)
class CameraTruth:
    """What one camera shows: desks by window id (staffed or not), people per queue and
    self-service zone id."""

    desks: dict[str, bool] = field(default_factory=dict)
    queues: dict[str, int] = field(default_factory=dict)
    self_service: dict[str, int] = field(default_factory=dict)

    def key(self) -> tuple[tuple[tuple[str, int], ...], ...]:
        return tuple(
            tuple(sorted((k, int(v)) for k, v in part.items())) for part in (self.desks, self.queues, self.self_service)
        )

    def __hash__(self) -> int:  # dict fields are not hashable; the sorted items are
        return hash(self.key())

    def to_json(self) -> dict[str, dict[str, bool] | dict[str, int]]:
        return {"desks": dict(self.desks), "queues": dict(self.queues), "self_service": dict(self.self_service)}


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    truth: CameraTruth


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from the parts, the same in every process (unlike `hash`)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


class CameraScript:
    """The endless segment sequence of one camera, generated lazily and remembered."""

    def __init__(self, camera: CameraConfig, rng: np.random.Generator, capacities: dict[str, int]):
        self._camera = camera
        self._rng = rng
        self._capacities = capacities
        self._segments: list[Segment] = []
        self._lock = threading.Lock()

    def segments_until(self, t: float) -> list[Segment]:
        """Segments from the start up to the one containing t (inclusive)."""
        with self._lock:
            while not self._segments or self._segments[-1].end <= t:
                self._segments.append(self._next_segment())
            return list(self._segments)

    def segment_at(self, t: float) -> Segment:
        segments = self.segments_until(t)
        if t < 0:
            return segments[0]
        lo, hi = 0, len(segments) - 1
        while lo < hi:  # the first segment whose end is after t
            mid = (lo + hi) // 2
            if segments[mid].end <= t:
                lo = mid + 1
            else:
                hi = mid
        return segments[lo]

    def _next_segment(self) -> Segment:
        start = self._segments[-1].end if self._segments else 0.0
        duration = float(self._rng.uniform(MIN_SEGMENT_S, MAX_SEGMENT_S))
        previous = self._segments[-1].truth if self._segments else None
        truth = self._draw()
        for _ in range(20):  # every segment boundary is a visible change when the camera allows it
            if truth != previous:
                break
            truth = self._draw()
        return Segment(start=start, end=start + duration, truth=truth)

    def _draw(self) -> CameraTruth:
        desks: dict[str, bool] = {}
        queues: dict[str, int] = {}
        self_service: dict[str, int] = {}
        for zone in self._camera.zones:
            if zone.kind is ZoneKind.desk:
                assert zone.window is not None  # guaranteed by ZoneConfig
                staffed = bool(self._rng.random() < STAFFED_PROBABILITY)
                desks[zone.window] = desks.get(zone.window, False) or staffed
            else:
                count = int(self._rng.integers(0, self._capacities[zone.id] + 1))
                (queues if zone.kind is ZoneKind.queue else self_service)[zone.id] = count
        return CameraTruth(desks=desks, queues=queues, self_service=self_service)


class Script:
    """The ground-truth timeline of every camera of a site; t is seconds since the simulator started."""

    def __init__(self, site: SiteConfig, seed: int, *, frame_size: tuple[int, int] = (1280, 720)):
        width, height = frame_size
        self.seed = seed
        self._cameras: dict[tuple[str, str], CameraScript] = {}
        for hall, camera in site.cameras():
            capacities = {
                zone.id: capacity(camera, zone, width, height)
                for zone in camera.zones
                if zone.kind is not ZoneKind.desk
            }
            for zone_id, fits in capacities.items():
                if fits == 0:
                    logger.warning("%s/%s: zone %s has no room for a person", hall.id, camera.id, zone_id)
            rng = np.random.default_rng(stable_seed(seed, hall.id, camera.id))
            self._cameras[(hall.id, camera.id)] = CameraScript(camera, rng, capacities)

    def _camera(self, hall_id: str, camera_id: str) -> CameraScript:
        try:
            return self._cameras[(hall_id, camera_id)]
        except KeyError:
            raise SimulatorError(f"no camera {hall_id}/{camera_id} in the script") from None

    def truth_at(self, hall_id: str, camera_id: str, t: float) -> CameraTruth:
        return self._camera(hall_id, camera_id).segment_at(t).truth

    def segment_at(self, hall_id: str, camera_id: str, t: float) -> Segment:
        return self._camera(hall_id, camera_id).segment_at(t)

    def segments(self, hall_id: str, camera_id: str, until_t: float) -> list[Segment]:
        """Every segment that starts before until_t."""
        return [s for s in self._camera(hall_id, camera_id).segments_until(until_t) if s.start < until_t]

    def changes(self, hall_id: str, camera_id: str, until_t: float) -> list[tuple[float, CameraTruth]]:
        """(start time, truth) of every change before until_t, the first at t=0."""
        out: list[tuple[float, CameraTruth]] = []
        for segment in self.segments(hall_id, camera_id, until_t):
            if not out or out[-1][1] != segment.truth:
                out.append((segment.start, segment.truth))
        return out
