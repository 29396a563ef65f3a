"""The simulator's deterministic timeline: what each camera shows, and when.

Each camera gets its own sequence of piecewise-constant segments (8-20 s each) drawn from a
random generator seeded with the simulator seed mixed with the hall and camera ids through a
stable hash, so a given seed always plays the same story and different cameras play different ones.

A story file can script chosen cameras instead ("desk w1 empties 12 s in, for 16 s, while three
people wait"): each named camera plays its scenes in a loop from t=0, the others keep the seeded
story. `hallwatch simulate --story FILE` reads one; without it nothing changes:

    cameras:
      cc-nanguan/cam1:                  # HALL/CAMERA
        - {for_s: 12, desks: {w1: true, w2: true}, queues: {q1: 3}, self_service: {ss: 0}}
        - {for_s: 16, desks: {w1: false, w2: true}, queues: {q1: 3}, self_service: {ss: 0}}

Every scene names every desk window and floor zone of its camera; counts go up to what fits in
the zone (5 in a queue row, 2 at the kiosks of the example site).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field

from core.config import CameraConfig, SiteConfig, Strict, ZoneKind, load_yaml_model
from tools.simulator.errors import SimulatorError
from tools.simulator.layout import capacity

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
    """The endless segment sequence of one camera, made lazily from (duration, truth) scenes and
    remembered."""

    def __init__(self, scenes: Iterator[tuple[float, CameraTruth]]):
        self._scenes = scenes
        self._segments: list[Segment] = []
        self._lock = threading.Lock()

    def segments_until(self, t: float) -> list[Segment]:
        """Segments from the start up to the one containing t (inclusive)."""
        with self._lock:
            while not self._segments or self._segments[-1].end <= t:
                start = self._segments[-1].end if self._segments else 0.0
                duration, truth = next(self._scenes)
                self._segments.append(Segment(start=start, end=start + duration, truth=truth))
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


def seeded_scenes(camera: CameraConfig, rng: np.random.Generator,
                  capacities: dict[str, int]) -> Iterator[tuple[float, CameraTruth]]:
    """The seeded random story: 8-20 s scenes, each visibly different from the one before when the
    camera allows it."""
    previous: CameraTruth | None = None
    while True:
        duration = float(rng.uniform(MIN_SEGMENT_S, MAX_SEGMENT_S))
        truth = _draw(camera, rng, capacities)
        for _ in range(20):
            if truth != previous:
                break
            truth = _draw(camera, rng, capacities)
        previous = truth
        yield duration, truth


def _draw(camera: CameraConfig, rng: np.random.Generator, capacities: dict[str, int]) -> CameraTruth:
    desks: dict[str, bool] = {}
    queues: dict[str, int] = {}
    self_service: dict[str, int] = {}
    for zone in camera.zones:
        if zone.kind is ZoneKind.desk:
            assert zone.window is not None  # guaranteed by ZoneConfig
            staffed = bool(rng.random() < STAFFED_PROBABILITY)
            desks[zone.window] = desks.get(zone.window, False) or staffed
        else:
            count = int(rng.integers(0, capacities[zone.id] + 1))
            (queues if zone.kind is ZoneKind.queue else self_service)[zone.id] = count
    return CameraTruth(desks=desks, queues=queues, self_service=self_service)


# -- story files -------------------------------------------------------------------------------------


class SceneSpec(Strict):
    """One scene of a scripted camera."""

    for_s: float = Field(gt=0.0, le=86400.0, description="how long the scene lasts")
    desks: dict[str, bool] = Field(default_factory=dict, description="window id -> officer at the desk")
    queues: dict[str, int] = Field(default_factory=dict, description="queue zone id -> people waiting")
    self_service: dict[str, int] = Field(default_factory=dict, description="self-service zone id -> people")


class StoryFile(Strict):
    """Scripted cameras by HALL/CAMERA; their scenes play in a loop."""

    cameras: dict[str, Annotated[list[SceneSpec], Field(min_length=1)]] = Field(min_length=1)


def load_story(path: str | Path) -> StoryFile:
    """Read a story file; a problem is a SimulatorError naming the file and the field."""
    return load_yaml_model(Path(path), StoryFile, SimulatorError, what="the simulator story")


def story_scenes(where: str, camera: CameraConfig, specs: Sequence[SceneSpec],
                 capacities: dict[str, int]) -> list[tuple[float, CameraTruth]]:
    """A camera's scenes checked against its zones: every desk window and floor zone named, no other,
    and no more people than fit."""
    windows = {z.window for z in camera.zones if z.kind is ZoneKind.desk and z.window}
    floors = {kind: {z.id for z in camera.zones if z.kind is kind} for kind in (ZoneKind.queue, ZoneKind.self_service)}
    scenes = []
    for index, spec in enumerate(specs):
        at = f"story: {where}[{index}]"
        for part, given, wanted in [("desks", set(spec.desks), windows),
                                    ("queues", set(spec.queues), floors[ZoneKind.queue]),
                                    ("self_service", set(spec.self_service), floors[ZoneKind.self_service])]:
            if given != wanted:
                raise SimulatorError(f"{at}.{part}: names {sorted(given)}; the camera has {sorted(wanted)}")
        for zone_id, people in {**spec.queues, **spec.self_service}.items():
            if not 0 <= people <= capacities[zone_id]:
                raise SimulatorError(f"{at}: zone {zone_id} holds 0..{capacities[zone_id]} people, not {people}")
        scenes.append((spec.for_s, CameraTruth(desks=dict(spec.desks), queues=dict(spec.queues),
                                               self_service=dict(spec.self_service))))
    return scenes


class Script:
    """The ground-truth timeline of every camera of a site; t is seconds since the simulator started."""

    def __init__(self, site: SiteConfig, seed: int, *, frame_size: tuple[int, int] = (1280, 720),
                 story: StoryFile | None = None):
        """`story` scripts some cameras; the others play the seeded story."""
        width, height = frame_size
        self.seed = seed
        scripted: Mapping[str, list[SceneSpec]] = story.cameras if story is not None else {}
        unknown = set(scripted) - {f"{hall.id}/{camera.id}" for hall, camera in site.cameras()}
        if unknown:
            raise SimulatorError(f"story: no camera {', '.join(sorted(unknown))} in the site (say HALL/CAMERA)")
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
            where = f"{hall.id}/{camera.id}"
            scenes: Iterator[tuple[float, CameraTruth]]
            if where in scripted:
                logger.info("%s: plays the scripted story (%d scenes in a loop)", where, len(scripted[where]))
                scenes = itertools.cycle(story_scenes(where, camera, scripted[where], capacities))
            else:
                scenes = seeded_scenes(camera, np.random.default_rng(stable_seed(seed, hall.id, camera.id)),
                                       capacities)
            self._cameras[(hall.id, camera.id)] = CameraScript(scenes)

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
