"""One evaluation clip's hall: where the zones are, who moves where and when, and how it looks.

A `ClipSpec` (seed and knobs) becomes a `Hall`: 1-3 service windows with seated officers behind
counters (present or away on a seeded schedule), a queue zone where citizens arrive, shuffle forward
and are called to a staffed window, a self-service zone with kiosks, and optional passers-by and
citizens standing at an unstaffed counter. `Hall.step()` advances the world by one video frame;
`Hall.render()` draws it from real photographs of people (the camera simulator's cut-outs, plus
eval/photos); `Hall.truth()` says what the frame shows. People are placed so that every foot point
that counts is inside its zone; passers-by and people at the counter are not in any queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from analytics.geometry import Polygon
from tools.simulator.layout import Row, standing_height
from tools.simulator.scene import (
    _blend,
    _paint_counter,
    _paint_desk_back,
    _paint_kiosk,
    _paint_queue_tape,
    _paint_room,
)
from tools.simulator.sprites import PersonBox, Sprite, SpriteKind, cut_out, sprites

WIDTH, HEIGHT = 1280, 720
PHOTOS = Path(__file__).resolve().parents[2] / "eval" / "photos"
WALK_PX_S = 0.2 * WIDTH  # about 1.3 m/s across a hall some 8 m wide
DESK_BOTTOM = 0.48  # desk zones end here (fraction of the frame height)
SERVICE_FOOT_Y = 0.54  # where a citizen stands at a counter: outside every floor zone
QUEUE_ZONE = ((0.02, 0.60), (0.64, 0.60), (0.64, 1.0), (0.02, 1.0))
SELF_SERVICE_ZONE = ((0.70, 0.62), (1.0, 0.62), (1.0, 1.0), (0.70, 1.0))

# Grace Hopper's official portrait, a seated officer whose counter hides her below the ribbons.
EXTRA_SEATED = (
    PersonBox(
        str(PHOTOS / "grace_hopper.jpg"), SpriteKind.seated, (0, 18, 512, 600),
        ((250, 22), (300, 28), (345, 48), (372, 110), (362, 200), (345, 290), (325, 330), (420, 368),
         (490, 415), (511, 460), (511, 599), (12, 599), (20, 450), (40, 400), (150, 350), (190, 330),
         (172, 290), (160, 200), (150, 120), (172, 60), (200, 35)),
        cover_y=520,
    ),
)


@dataclass(frozen=True)
class ClipSpec:
    """What one clip shows; everything else is drawn from `seed`."""

    id: str
    seed: int
    duration_s: int
    subset: str = "full"  # "ci": also in the small subset that CI runs
    description: str = ""
    windows: int = 2
    zoom: float = 1.0  # people and desks this much larger (smaller < 1) than the simulator's
    gain: float = 1.0  # overall brightness
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)  # B, G, R multipliers: a colour cast
    noise: float = 3.0  # sensor noise, grey levels (sigma)
    max_kbps: int | None = None  # cap the bitrate, as a camera does: the encoder then smooths noise away
    initial_queue: int = 2
    max_queue: int = 8
    arrivals_per_min: float = 4.0
    service_s: tuple[float, float] = (10.0, 25.0)
    kiosk_per_min: float = 1.0
    passers_per_min: float = 0.0
    counter_visits: int = 0  # citizens who stand at an unstaffed window's counter for a while
    officers_leave: bool = True
    still: bool = True  # officers sit still (no swaying)
    after_hours: bool = False  # no officer at all: only the self-service area is open
    away: tuple[tuple[int, float, float], ...] = ()  # (window index, from s, to s): a fixed schedule instead
    fps: int = 4

    @property
    def tags(self) -> list[str]:
        tags = [] if self.after_hours else ["still_officer" if self.still else "moving_officer"]
        tags += ["small_people"] if self.zoom < 0.85 else ["large_people"] if self.zoom > 1.1 else []
        tags += ["crowded"] if self.initial_queue >= 4 or self.arrivals_per_min >= 8 else []
        tags += ["dark"] if self.gain < 0.75 else ["bright"] if self.gain > 1.15 else []
        tags += ["colour_cast"] if max(self.cast) - min(self.cast) > 0.1 else []
        tags += ["passers_by"] if self.passers_per_min > 0 else []
        tags += ["citizen_at_empty_counter"] if self.counter_visits else []
        tags += ["after_hours"] if self.after_hours else []
        tags += ["officer_away"] if self.officers_leave and not self.after_hours else []
        return tags


@dataclass
class Person:
    id: int
    role: str  # queue | kiosk | passer | visitor
    sprite: int
    flip: bool
    tint: tuple[float, float, float]
    x: float
    y: float
    target: tuple[float, float]
    state: str = "walking_in"
    slot: int = -1
    until: float = 0.0  # end of the current service / kiosk use / visit
    window: int = -1
    exit_x: float = 0.0


@dataclass
class Desk:
    window: str
    zone: tuple[tuple[float, float], ...]
    box: tuple[int, int, int, int]
    service_spot: tuple[float, float]
    present: list[tuple[float, float]]  # [start, end) seconds when the officer is at the desk
    sway_px: float
    sway_period_s: float
    busy_until: float = 0.0

    def staffed(self, t: float, until: float | None = None) -> bool:
        end = t if until is None else until
        return any(start <= t and end < stop for start, stop in self.present)


@dataclass
class Hall:
    spec: ClipSpec
    rng: np.random.Generator
    desks: list[Desk]
    queue_slots: list[tuple[float, float]]
    kiosk_spots: list[tuple[float, float]]
    people: list[Person] = field(default_factory=list)
    t: float = 0.0
    visits: list[dict[str, float | int | str]] = field(default_factory=list)  # closed queue visits
    _entered: dict[int, float] = field(default_factory=dict)
    _next_id: int = 0
    _painter: _Painter | None = None

    # --- building ------------------------------------------------------------------------------

    @classmethod
    def build(cls, spec: ClipSpec) -> Hall:
        rng = np.random.default_rng(spec.seed)
        desks = [_desk(spec, i, rng) for i in range(spec.windows)]
        hall = cls(spec, rng, desks, _queue_slots(spec), _kiosk_spots(spec))
        hall._painter = _Painter(hall, rng)
        for slot in range(min(spec.initial_queue, len(hall.queue_slots))):
            person = hall._new_person("queue", *hall.queue_slots[slot])
            person.state, person.slot = "waiting", slot
            hall._entered[person.id] = 0.0
        return hall

    @property
    def zones(self) -> list[dict[str, object]]:
        """The camera's zones for the site file."""
        zones: list[dict[str, object]] = [
            {"id": f"{d.window}-desk", "kind": "desk", "window": d.window, "polygon": [list(p) for p in d.zone]}
            for d in self.desks
        ]
        zones.append({"id": "q1", "kind": "queue", "polygon": [list(p) for p in QUEUE_ZONE]})
        zones.append({"id": "ss", "kind": "self_service", "polygon": [list(p) for p in SELF_SERVICE_ZONE]})
        return zones

    # --- the world -----------------------------------------------------------------------------

    def step(self) -> None:
        """Advance by one frame."""
        dt = 1.0 / self.spec.fps
        self.t = round(self.t + dt, 6)
        spec, rng = self.spec, self.rng
        if rng.random() < spec.arrivals_per_min / 60 * dt:
            self._arrive()
        if rng.random() < spec.kiosk_per_min / 60 * dt:
            self._kiosk()
        if rng.random() < spec.passers_per_min / 60 * dt:
            left = bool(rng.random() < 0.5)
            y = float(rng.uniform(0.62, 0.68)) * HEIGHT
            person = self._new_person("passer", -80.0 if left else WIDTH + 80.0, y)
            person.target = (WIDTH + 80.0 if left else -80.0, y)
        self._visit_counter()
        self._call_front()
        for person in list(self.people):
            self._move(person, dt)
        self._track_queue()

    def _new_person(self, role: str, x: float, y: float) -> Person:
        rng = self.rng
        person = Person(
            id=self._next_id, role=role, sprite=int(rng.integers(len(_standing()))), flip=bool(rng.random() < 0.5),
            tint=tuple(float(v) for v in rng.uniform(0.85, 1.15, 3)),  # type: ignore[arg-type]
            x=x, y=y, target=(x, y),
        )
        self._next_id += 1
        self.people.append(person)
        return person

    def _arrive(self) -> None:
        waiting = [p for p in self.people if p.role == "queue" and p.slot >= 0]
        if len(waiting) >= min(self.spec.max_queue, len(self.queue_slots)):
            return
        slot = max((p.slot for p in waiting), default=-1) + 1
        x, y = self.queue_slots[slot]
        person = self._new_person("queue", -70.0, y)
        person.slot, person.target = slot, (x, y)

    def _kiosk(self) -> None:
        taken = {p.slot for p in self.people if p.role == "kiosk"}
        free = [i for i in range(len(self.kiosk_spots)) if i not in taken]
        if not free:
            return
        slot = free[0]
        x, y = self.kiosk_spots[slot]
        person = self._new_person("kiosk", WIDTH + 70.0, y)
        person.slot, person.target = slot, (x, y)
        person.until = self.t + 1e9

    def _visit_counter(self) -> None:
        """A citizen walks up to an unstaffed window and waits there a while (the officer is away)."""
        visits = self.spec.counter_visits
        if not visits or sum(p.role == "visitor" for p in self.people) or self.rng.random() > visits / 40:
            return
        for index, desk in enumerate(self.desks):
            if not desk.staffed(self.t) and not desk.staffed(self.t + 25) and desk.busy_until <= self.t:
                person = self._new_person("visitor", WIDTH + 70.0, desk.service_spot[1])
                person.target, person.window = desk.service_spot, index
                person.until = float(self.rng.uniform(8, 16))  # seconds at the counter, from arrival
                desk.busy_until = self.t + 40
                return

    def _call_front(self) -> None:
        front = next((p for p in self.people if p.role == "queue" and p.slot == 0 and p.state == "waiting"), None)
        if front is None:
            return
        service = float(self.rng.uniform(*self.spec.service_s))
        for index, desk in enumerate(self.desks):
            if desk.busy_until <= self.t and desk.staffed(self.t, self.t + service + 15):
                desk.busy_until = self.t + 1e9
                front.state, front.slot, front.window = "to_counter", -1, index
                front.target, front.until = desk.service_spot, service
                for other in self.people:
                    if other.role == "queue" and other.slot > 0:
                        other.slot -= 1
                        other.target = self.queue_slots[other.slot]
                return

    def _move(self, person: Person, dt: float) -> None:
        tx, ty = person.target
        dx, dy = tx - person.x, ty - person.y
        dist = float(np.hypot(dx, dy))
        step = WALK_PX_S * dt
        if dist > step:
            person.x += dx / dist * step
            person.y += dy / dist * step
            return
        person.x, person.y = tx, ty
        if person.state == "walking_in" and person.role == "queue":
            person.state = "waiting"
        elif person.state == "walking_in" and person.role in ("kiosk", "visitor"):
            person.state = "staying"
            stay = float(self.rng.uniform(20, 60)) if person.role == "kiosk" else person.until
            person.until = self.t + stay
        elif person.state == "to_counter":
            person.state, person.until = "served", self.t + person.until
        elif person.state in ("served", "staying") and self.t >= person.until:
            if person.role in ("queue", "visitor"):
                self.desks[person.window].busy_until = self.t + 1.0
            person.state, person.slot = "leaving", -1
            person.exit_x = -90.0 if person.x < WIDTH / 2 else WIDTH + 90.0
            person.target = (person.exit_x, person.y + (0.03 * HEIGHT if person.role != "kiosk" else 0.0))
        elif person.state == "leaving" or person.role == "passer":
            self.people.remove(person)

    def _track_queue(self) -> None:
        """Queue-zone entry and exit times of people who queue (passers-by do not count)."""
        for person in self.people:
            if person.role != "queue":
                continue
            inside = in_zone(QUEUE_ZONE, person.x, person.y)
            if inside and person.id not in self._entered:
                self._entered[person.id] = self.t
            elif not inside and person.id in self._entered and self._entered[person.id] >= 0:
                enter = self._entered[person.id]
                # Someone in the queue in the first frame came earlier: their true dwell is unknown.
                self.visits.append({"person": person.id, "zone": "q1", "enter_s": enter, "exit_s": self.t,
                                    "dwell_s": round(self.t - enter, 3), "censored": enter <= 0.0})
                self._entered[person.id] = -1.0  # once per person

    def truth(self) -> dict[str, object]:
        """What the current frame shows."""
        queue = sum(p.role == "queue" and in_zone(QUEUE_ZONE, p.x, p.y) for p in self.people)
        kiosk = sum(p.role == "kiosk" and in_zone(SELF_SERVICE_ZONE, p.x, p.y) for p in self.people)
        return {
            "t": round(self.t),
            "desks": {d.window: d.staffed(self.t) for d in self.desks},
            "queues": {"q1": int(queue)},
            "self_service": {"ss": int(kiosk)},
        }

    def render(self) -> np.ndarray:
        assert self._painter is not None  # set by build()
        return self._painter.render(self)


def in_zone(zone: tuple[tuple[float, float], ...], x: float, y: float) -> bool:
    return bool(Polygon(zone).contains(np.array([[x, y]]), (WIDTH, HEIGHT))[0])


def _desk(spec: ClipSpec, index: int, rng: np.random.Generator) -> Desk:
    h = 0.26 * spec.zoom
    w = min(0.65 * h, 0.9 / spec.windows - 0.04)
    cx = 0.03 + (index + 0.5) * 0.94 / spec.windows
    corners = ((cx - w / 2, DESK_BOTTOM - h), (cx + w / 2, DESK_BOTTOM - h), (cx + w / 2, DESK_BOTTOM),
               (cx - w / 2, DESK_BOTTOM))
    zone = tuple((round(x, 4), round(y, 4)) for x, y in corners)
    box = (round(zone[0][0] * WIDTH), round(zone[0][1] * HEIGHT), round(zone[2][0] * WIDTH), round(zone[2][1] * HEIGHT))
    present: list[tuple[float, float]] = []
    fixed = [(start, end) for window, start, end in spec.away if window == index]
    if spec.away and not spec.after_hours:
        edges = [0.0] + [t for interval in sorted(fixed) for t in interval] + [spec.duration_s + 1.0]
        present = [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
    elif not spec.after_hours:
        t, here = 0.0, bool(rng.random() < 0.85) or not spec.officers_leave
        while t < spec.duration_s:
            length = float(rng.uniform(40, 150)) if here else float(rng.uniform(12, 40))
            if not spec.officers_leave:
                length = spec.duration_s + 1.0
            if here:
                present.append((round(t, 2), round(t + length, 2)))
            t, here = t + length, not here
    sway = 0.0 if spec.still else float(rng.uniform(0.03, 0.07)) * (box[2] - box[0])
    return Desk(window=f"w{index + 1}", zone=zone, box=box, service_spot=(cx * WIDTH, SERVICE_FOOT_Y * HEIGHT),
                present=present, sway_px=sway, sway_period_s=float(rng.uniform(5, 12)))


def person_height(foot_y: float, zoom: float) -> int:
    return max(24, round(standing_height(foot_y, HEIGHT) * zoom))


def _queue_slots(spec: ClipSpec) -> list[tuple[float, float]]:
    """Slot 0 is the front (nearest the windows, on the right); a second, farther row takes the rest."""
    slots: list[tuple[float, float]] = []
    for foot_y, direction in ((0.88 * HEIGHT, -1), (0.71 * HEIGHT, 1)):
        spacing = 0.42 * person_height(foot_y, spec.zoom)
        left, right = 0.05 * WIDTH + spacing / 2, 0.60 * WIDTH - spacing / 2
        count = int((right - left) // spacing) + 1
        xs = [right - i * spacing for i in range(count)]
        slots += [(x, foot_y) for x in (xs if direction < 0 else xs[::-1])]
    return slots


def _kiosk_spots(spec: ClipSpec) -> list[tuple[float, float]]:
    return [(0.78 * WIDTH, 0.86 * HEIGHT), (0.92 * WIDTH, 0.90 * HEIGHT)]


@cache
def _standing() -> tuple[Sprite, ...]:
    return sprites(SpriteKind.standing)


@cache
def _seated() -> tuple[Sprite, ...]:
    return sprites(SpriteKind.seated) + tuple(cut_out(box) for box in EXTRA_SEATED)


def _scale(bgra: np.ndarray, height: int, flip: bool, tint: tuple[float, float, float]) -> np.ndarray:
    width = max(1, round(bgra.shape[1] * height / bgra.shape[0]))
    interpolation = cv2.INTER_AREA if height < bgra.shape[0] else cv2.INTER_LINEAR
    image = cv2.resize(bgra, (width, height), interpolation=interpolation)
    if flip:
        image = np.ascontiguousarray(image[:, ::-1])
    image[..., :3] = np.clip(image[..., :3].astype(np.float32) * np.array(tint, np.float32), 0, 255).astype(np.uint8)
    return image


class _Painter:
    """The static room (walls, counters, kiosks) drawn once; people and lighting per frame."""

    def __init__(self, hall: Hall, rng: np.random.Generator) -> None:
        spec = hall.spec
        self.spec = spec
        self.noise_rng = np.random.default_rng(spec.seed + 1)
        counters = []
        for desk in hall.desks:
            x0, y0, x1, y1 = desk.box
            top = round(y0 + float(rng.uniform(0.77, 0.83)) * (y1 - y0))
            counters.append((top, min(HEIGHT, round(y1 + 0.07 * (y1 - y0)))))
        floor_y = min(round((top + bottom) / 2) for top, bottom in counters)
        canvas = _paint_room(WIDTH, HEIGHT, floor_y, rng)
        _paint_queue_tape(canvas, (np.array(QUEUE_ZONE) * (WIDTH, HEIGHT)).astype(np.int32), floor_y)
        for x, y in hall.kiosk_spots:
            row = Row(y=round(y), x0=round(x - 40), x1=round(x + 40), person_height=person_height(y, spec.zoom))
            _paint_kiosk(canvas, row, floor_y, WIDTH, HEIGHT, rng)
        self.counter_layer = np.zeros_like(canvas)
        self.counter_mask = np.zeros((HEIGHT, WIDTH, 1), bool)
        colour = np.array([(82, 110, 148), (96, 96, 100), (70, 90, 120), (120, 118, 112)][int(rng.integers(4))],
                          np.float32)
        seated = _seated()
        order = rng.permutation(len(seated))
        self.officers: list[tuple[np.ndarray, int, int]] = []
        for index, (desk, (top, bottom)) in enumerate(zip(hall.desks, counters, strict=True)):
            _paint_desk_back(canvas, desk.box, top, desk.window, HEIGHT)
            _paint_counter(self.counter_layer, self.counter_mask, desk.box, top, bottom, desk.window, colour)
            self.officers.append(_officer(seated[int(order[index % len(order)])], desk, top, rng))
        self.background = np.clip(canvas, 0, 255).astype(np.uint8)
        self.counter_layer = np.clip(self.counter_layer, 0, 255).astype(np.uint8)
        self.light = (np.array(spec.cast, np.float32) * spec.gain)[None, None, :]
        self._scaled: dict[tuple[int, bool, int, tuple[float, float, float]], np.ndarray] = {}

    def render(self, hall: Hall) -> np.ndarray:
        frame = self.background.copy()
        for desk, (image, x, y) in zip(hall.desks, self.officers, strict=True):
            if desk.staffed(hall.t):
                sway = desk.sway_px * np.sin(2 * np.pi * hall.t / desk.sway_period_s)
                _blend(frame, image, round(x + sway), y)
        np.copyto(frame, self.counter_layer, where=self.counter_mask)
        for person in sorted(hall.people, key=lambda p: p.y):
            height = person_height(person.y, self.spec.zoom)
            key = (person.sprite, person.flip, height, person.tint)
            cached = self._scaled.get(key)
            if cached is None:
                cached = self._scaled[key] = _scale(_standing()[person.sprite].bgra, height, person.flip, person.tint)
            _blend(frame, cached, round(person.x - cached.shape[1] / 2), round(person.y) - height)
        lit = frame.astype(np.float32) * self.light
        lit += self.noise_rng.normal(0.0, self.spec.noise, (HEIGHT, WIDTH, 1)).astype(np.float32)
        return np.clip(lit, 0, 255).astype(np.uint8)


def _officer(sprite: Sprite, desk: Desk, top: int, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """The seated sprite scaled so that 68-80 % of the zone height shows above the counter (less if
    it would be wider than the zone), cut at the counter top, centred on the zone."""
    x0, y0, x1, y1 = desk.box
    visible = float(rng.uniform(0.68, 0.80)) * (y1 - y0)
    sprite_h = visible / sprite.cover_fraction
    if sprite_h * sprite.aspect > 0.92 * (x1 - x0):
        sprite_h = 0.92 * (x1 - x0) / sprite.aspect
    image = _scale(sprite.bgra, max(8, round(sprite_h)), bool(rng.random() < 0.5), (1.0, 1.0, 1.0))
    shown = max(1, min(image.shape[0], round(sprite_h * sprite.cover_fraction)))
    image = np.ascontiguousarray(image[:shown])
    return image, round((x0 + x1) / 2 - image.shape[1] / 2), top - shown
