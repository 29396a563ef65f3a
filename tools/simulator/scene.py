"""Synthetic service-hall frames: a wall, a floor, a counter per desk zone, a kiosk per
self-service zone, and real photographs of people composited with alpha.

Officers sit behind their counter (the counter hides their lower body); queueing and self-service
people stand in one row near the front of their zone, feet inside it. Everything is drawn from a
seed, so the same truth always renders the same image, and every person drawn is reported with
its box (`render_with_boxes`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import cv2
import numpy as np

from core.config import CameraConfig, ZoneConfig, ZoneKind
from tools.simulator.layout import (
    MAX_OVERLAP,
    Row,
    capacity,
    foot_region,
    standing_height,
    standing_row,
    zone_mask,
    zone_points,
)
from tools.simulator.script import CameraTruth, stable_seed
from tools.simulator.sprites import Sprite, SpriteKind, sprites

logger = logging.getLogger(__name__)

COUNTER_TOP_RANGE = (0.77, 0.83)  # counter top edge, fraction of the desk zone height
OFFICER_VISIBLE_RANGE = (0.68, 0.80)  # officer above the counter, fraction of the zone height
OFFICER_MIN_VISIBLE = 0.65
COUNTER_BELOW_ZONE = 0.07  # the counter extends this fraction of the zone height below it

_WALLS = ((196, 206, 214), (176, 198, 210), (200, 200, 192), (188, 204, 196), (210, 196, 186))
_FLOORS = ((150, 152, 156), (120, 132, 146), (160, 150, 140), (134, 140, 136))
_COUNTERS = ((82, 110, 148), (96, 96, 100), (70, 90, 120), (120, 118, 112))


@dataclass(frozen=True)
class PlacedPerson:
    """One person drawn in a frame. `box` is the visible extent in pixels (x0, y0, x1, y1; x1/y1
    exclusive): for an officer, the part above the counter."""

    role: ZoneKind  # desk = an officer at that desk
    zone_id: str
    sprite: str
    box: tuple[int, int, int, int]

    @property
    def foot(self) -> tuple[float, float]:
        """Bottom-centre of the box."""
        x0, _, x1, y1 = self.box
        return (x0 + x1) / 2, float(y1)

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2


@dataclass(frozen=True)
class _Officer:
    zone: ZoneConfig
    window: str
    image: np.ndarray  # BGRA, already cut at the counter top
    x: int
    y: int
    box: tuple[int, int, int, int]
    sprite: str


@dataclass(frozen=True)
class _StandingSlot:
    sprite: int
    flip: bool
    lift: int  # feet this many pixels above the zone's row
    gain: float  # brightness


class SceneRenderer:
    """Draws one camera's view for any CameraTruth; the same truth always gives the same image."""

    def __init__(self, camera: CameraConfig, width: int = 1280, height: int = 720, seed: int = 7):
        if width < 64 or height < 64:
            raise ValueError(f"frame {width}x{height} is too small")
        self.camera = camera
        self.width = width
        self.height = height
        self.seed = seed
        self._key = f"{camera.id}{urlsplit(camera.url).path}"
        self._standing = sprites(SpriteKind.standing)
        self._seated = sprites(SpriteKind.seated)
        self._rows: dict[str, Row] = {}
        self._capacity: dict[str, int] = {}
        self._foot_regions: dict[str, np.ndarray] = {}
        for zone in camera.zones:
            if zone.kind is ZoneKind.desk:
                continue
            row = standing_row(camera, zone, width, height)
            if row is not None:
                self._rows[zone.id] = row
                self._foot_regions[zone.id] = foot_region(camera, zone, width, height)
            self._capacity[zone.id] = capacity(camera, zone, width, height)
        self._scaled: dict[tuple[int, bool, int, float], np.ndarray] = {}
        self._background, self._counter_layer, self._counter_mask, self._officers = self._build_static()

    # --- public -------------------------------------------------------------------------------

    def render(self, truth: CameraTruth) -> np.ndarray:
        """HxWx3 uint8 BGR."""
        return self.render_with_boxes(truth)[0]

    def render_with_boxes(self, truth: CameraTruth) -> tuple[np.ndarray, list[PlacedPerson]]:
        frame = self._background.copy()
        placed: list[PlacedPerson] = []
        for officer in self._officers:
            if truth.desks.get(officer.window, False):
                _blend(frame, officer.image, officer.x, officer.y)
                placed.append(PlacedPerson(ZoneKind.desk, officer.zone.id, officer.sprite, officer.box))
        np.copyto(frame, self._counter_layer, where=self._counter_mask)
        standing: list[tuple[int, int, np.ndarray, PlacedPerson]] = []
        for zone in self.camera.zones:
            if zone.kind is ZoneKind.queue:
                count = truth.queues.get(zone.id, 0)
            elif zone.kind is ZoneKind.self_service:
                count = truth.self_service.get(zone.id, 0)
            else:
                continue
            if count > self._capacity.get(zone.id, 0):
                logger.warning(
                    "%s: zone %s holds %d people, not %d",
                    self.camera.id,
                    zone.id,
                    self._capacity.get(zone.id, 0),
                    count,
                )
                count = self._capacity.get(zone.id, 0)
            standing.extend(self._place_row(zone, count))
        for x, y, image, person in sorted(standing, key=lambda s: (s[3].box[3], s[3].box[0])):
            _blend(frame, image, x, y)
            placed.append(person)
        return frame, placed

    def capacity(self, zone_id: str) -> int:
        return self._capacity.get(zone_id, 0)

    # --- standing people ------------------------------------------------------------------------

    def _slot(self, zone: ZoneConfig, index: int) -> _StandingSlot:
        rng = np.random.default_rng(stable_seed(self.seed, self._key, zone.id, "slot", index))
        lift_max = round(0.02 * self.height)
        return _StandingSlot(
            sprite=int(rng.integers(len(self._standing))),
            flip=bool(rng.random() < 0.5),
            lift=int(rng.integers(0, lift_max + 1)),
            gain=round(float(rng.uniform(0.9, 1.08)), 2),
        )

    def _place_row(self, zone: ZoneConfig, count: int) -> list[tuple[int, int, np.ndarray, PlacedPerson]]:
        row = self._rows.get(zone.id)
        if row is None or count <= 0:
            return []
        allowed = self._foot_regions[zone.id]
        slots = [self._slot(zone, i) for i in range(count)]
        feet_y: list[int] = []
        images: list[np.ndarray] = []
        for slot in slots:
            foot_y = row.y - slot.lift
            if not allowed[foot_y, row.x0 : row.x1 + 1].all():
                foot_y = row.y
            feet_y.append(foot_y)
            images.append(self._standing_image(slot, standing_height(foot_y, self.height)))
        widths = [image.shape[1] for image in images]
        rng = np.random.default_rng(stable_seed(self.seed, self._key, zone.id, "row", count))
        least = [(a + b) / 2 - MAX_OVERLAP * min(a, b) for a, b in zip(widths, widths[1:], strict=False)]
        wanted = [d + rng.uniform(0.05, 0.4) * (a + b) / 2 for d, a, b in zip(least, widths, widths[1:], strict=False)]
        span = row.length
        if sum(wanted) > span:
            spare = span - sum(least)
            extra = [w - d for w, d in zip(wanted, least, strict=True)]
            scale = max(0.0, spare) / sum(extra) if sum(extra) > 0 else 0.0
            wanted = [d + e * scale for d, e in zip(least, extra, strict=True)]
            if sum(least) > span:
                logger.warning("%s: %d people do not fit in zone %s", self.camera.id, count, zone.id)
                wanted = [d * span / sum(least) for d in least]
        anchor = float(rng.choice([0.15, 0.5, 0.85]))
        foot_x = row.x0 + (span - sum(wanted)) * anchor
        out = []
        for i, (slot, image, foot_y) in enumerate(zip(slots, images, feet_y, strict=True)):
            if i:
                foot_x += wanted[i - 1]
            h, w = image.shape[:2]
            x = round(foot_x - w / 2)
            y = foot_y - h
            box = (max(0, x), max(0, y), min(self.width, x + w), min(self.height, foot_y))
            name = self._standing[slot.sprite].name
            out.append((x, y, image, PlacedPerson(zone.kind, zone.id, name, box)))
        return out

    def _standing_image(self, slot: _StandingSlot, height: int) -> np.ndarray:
        key = (slot.sprite, slot.flip, height, slot.gain)
        image = self._scaled.get(key)
        if image is None:
            image = _scaled(self._standing[slot.sprite], height, slot.flip, slot.gain)
            self._scaled[key] = image
        return image

    # --- the static scene -----------------------------------------------------------------------

    def _build_static(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[_Officer]]:
        rng = np.random.default_rng(stable_seed(self.seed, self._key, "scene"))
        desks = [z for z in self.camera.zones if z.kind is ZoneKind.desk]
        counters = [self._counter_geometry(zone, rng) for zone in desks]
        floor_y = round(0.5 * self.height)
        if counters:
            floor_y = min(round((top + bottom) / 2) for _, top, bottom, _, _ in counters)
        canvas = _paint_room(self.width, self.height, floor_y, rng)
        for zone in self.camera.zones:
            if zone.kind is ZoneKind.queue:
                _paint_queue_tape(canvas, zone_points(zone, self.width, self.height), floor_y)
        counter_layer = np.zeros_like(canvas)
        counter_mask = np.zeros((self.height, self.width, 1), bool)
        officers: list[_Officer] = []
        order = rng.permutation(len(self._seated))
        colour = np.array(_COUNTERS[int(rng.integers(len(_COUNTERS)))], np.float32)
        for index, (zone, (box, top, bottom, visible, flip)) in enumerate(zip(desks, counters, strict=True)):
            _paint_desk_back(canvas, box, top, zone.window or "", self.height)
            sprite = self._seated[int(order[index % len(order)])]
            officers.append(self._officer(zone, sprite, box, top, visible, flip))
            _paint_counter(counter_layer, counter_mask, box, top, bottom, zone.window or "", colour)
        for zone in self.camera.zones:
            row = self._rows.get(zone.id)
            if zone.kind is ZoneKind.self_service and row is not None:
                _paint_kiosk(canvas, row, floor_y, self.width, self.height, rng)
        background = np.clip(canvas, 0, 255).astype(np.uint8)
        return background, np.clip(counter_layer, 0, 255).astype(np.uint8), counter_mask, officers

    def _counter_geometry(
        self, zone: ZoneConfig, rng: np.random.Generator
    ) -> tuple[tuple[int, int, int, int], int, int, float, bool]:
        points = zone_points(zone, self.width, self.height)
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        zone_h = y1 - y0
        top_ratio = float(rng.uniform(*COUNTER_TOP_RANGE))
        visible = float(rng.uniform(OFFICER_VISIBLE_RANGE[0], min(OFFICER_VISIBLE_RANGE[1], top_ratio - 0.03)))
        top = round(y0 + top_ratio * zone_h)
        bottom = min(self.height, round(y1 + COUNTER_BELOW_ZONE * zone_h))
        return (int(x0), int(y0), int(x1), int(y1)), top, bottom, visible, bool(rng.random() < 0.5)

    def _officer(
        self, zone: ZoneConfig, sprite: Sprite, box: tuple[int, int, int, int], top: int, visible: float, flip: bool
    ) -> _Officer:
        """Scale the seated sprite so that its part above the counter is `visible` of the zone
        height (less if it would be wider than the zone), centred on the zone."""
        x0, y0, x1, y1 = box
        zone_w, zone_h = x1 - x0, y1 - y0
        visible_h = visible * zone_h
        sprite_h = visible_h / sprite.cover_fraction
        if sprite_h * sprite.aspect > 0.92 * zone_w:
            sprite_h = 0.92 * zone_w / sprite.aspect
            if sprite_h * sprite.cover_fraction < OFFICER_MIN_VISIBLE * zone_h:
                logger.debug("%s: desk zone %s is narrow for %s", self.camera.id, zone.id, sprite.name)
        image = _scaled(sprite, max(8, round(sprite_h)), flip, 1.0)
        shown = max(1, min(image.shape[0], round(sprite_h * sprite.cover_fraction)))
        image = np.ascontiguousarray(image[:shown])
        cols = np.flatnonzero((image[..., 3] > 127).any(axis=0))
        left, right = (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, image.shape[1])
        y = top - shown
        # Centre the visible person on the zone's extent at their middle row (a rectangle's centre).
        mask = zone_mask(zone, self.width, self.height)
        middle = min(self.height - 1, max(0, y + shown // 2))
        inside = np.flatnonzero(mask[middle])
        centre = (inside[0] + inside[-1]) / 2 if len(inside) else (x0 + x1) / 2
        x = round(centre - (left + right) / 2)
        return _Officer(
            zone=zone,
            window=zone.window or "",
            image=image,
            x=x,
            y=y,
            box=(max(0, x + left), max(0, y), min(self.width, x + right), min(self.height, top)),
            sprite=sprite.name,
        )


# --- drawing helpers ------------------------------------------------------------------------------


def _scaled(sprite: Sprite, height: int, flip: bool, gain: float) -> np.ndarray:
    width = max(1, round(sprite.width * height / sprite.height))
    interpolation = cv2.INTER_AREA if height < sprite.height else cv2.INTER_LINEAR
    image = cv2.resize(sprite.bgra, (width, height), interpolation=interpolation)
    if flip:
        image = np.ascontiguousarray(image[:, ::-1])
    if gain != 1.0:
        image = image.copy()
        image[..., :3] = np.clip(image[..., :3].astype(np.float32) * gain, 0, 255).astype(np.uint8)
    return image


def _blend(frame: np.ndarray, image: np.ndarray, x: int, y: int) -> None:
    """Alpha-composite BGRA `image` onto BGR `frame` with its top-left corner at (x, y)."""
    h, w = image.shape[:2]
    fx0, fy0 = max(0, x), max(0, y)
    fx1, fy1 = min(frame.shape[1], x + w), min(frame.shape[0], y + h)
    if fx1 <= fx0 or fy1 <= fy0:
        return
    part = image[fy0 - y : fy1 - y, fx0 - x : fx1 - x]
    alpha = part[..., 3:4].astype(np.float32) * (1.0 / 255.0)
    region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    region += (part[..., :3].astype(np.float32) - region) * alpha
    frame[fy0:fy1, fx0:fx1] = (region + 0.5).astype(np.uint8)


def _paint_room(width: int, height: int, floor_y: int, rng: np.random.Generator) -> np.ndarray:
    """Wall above floor_y, tiled floor below, soft lighting and a little texture (float32 BGR)."""
    wall = np.array(_WALLS[int(rng.integers(len(_WALLS)))], np.float32) * float(rng.uniform(0.92, 1.04))
    floor = np.array(_FLOORS[int(rng.integers(len(_FLOORS)))], np.float32) * float(rng.uniform(0.9, 1.05))
    ys = (np.arange(height, dtype=np.float32) / height)[:, None]
    xs = (np.arange(width, dtype=np.float32) / width)[None, :]
    light_x = float(rng.uniform(0.25, 0.75))
    light = 0.86 + 0.18 * np.exp(-(((xs - light_x) / 0.45) ** 2)) - 0.08 * ys
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:floor_y] = wall * light[:floor_y, :, None]
    depth = (ys[floor_y:] - floor_y / height) / max(1e-3, 1 - floor_y / height)
    canvas[floor_y:] = floor * (0.78 + 0.3 * depth + 0.1 * (light[floor_y:] - 0.86))[:, :, None]
    # Ceiling band with light panels, skirting board.
    ceiling = max(2, round(0.035 * height))
    canvas[:ceiling] *= 0.8
    for cx in np.linspace(0.12, 0.88, 4) + float(rng.uniform(-0.05, 0.05)):
        x0, x1 = round((cx - 0.06) * width), round((cx + 0.06) * width)
        canvas[ceiling // 4 : ceiling * 3 // 4, max(0, x0) : max(0, x1)] = (246, 248, 250)
    skirting = max(2, round(0.012 * height))
    canvas[max(0, floor_y - skirting) : floor_y] *= 0.62
    # Floor tiles in perspective.
    vanish_x = float(rng.uniform(0.4, 0.6)) * width
    vanish_y = floor_y - 0.9 * height
    tile_colour = tuple(float(c) * 0.86 for c in floor)
    for k in range(-14, 15):
        bottom_x = vanish_x + k * 0.12 * width
        t = (floor_y - vanish_y) / (height - vanish_y)
        top_x = vanish_x + (bottom_x - vanish_x) * t
        cv2.line(canvas, (round(top_x), floor_y), (round(bottom_x), height), tile_colour, 1, cv2.LINE_AA)
    for k in range(1, 9):
        y = round(floor_y + (height - floor_y) * (k / 8) ** 1.7)
        cv2.line(canvas, (0, y), (width, y), tile_colour, 1, cv2.LINE_AA)
    noise = rng.normal(0.0, 5.0, (height, width)).astype(np.float32)
    canvas += cv2.GaussianBlur(noise, (0, 0), 1.2)[..., None]
    return canvas


def _paint_queue_tape(canvas: np.ndarray, points: np.ndarray, floor_y: int) -> None:
    """Yellow floor tape along the queue zone's edges that lie on the floor."""
    tape = np.zeros(canvas.shape[:2], np.uint8)
    cv2.polylines(tape, [points], True, 1, max(2, round(canvas.shape[0] / 180)), cv2.LINE_AA)
    tape[:floor_y] = 0
    canvas[tape > 0] = (40, 190, 230)


def _paint_desk_back(canvas: np.ndarray, box: tuple[int, int, int, int], top: int, window: str, height: int) -> None:
    """Frosted partition behind the officer, an empty chair, and the window sign above."""
    x0, y0, x1, y1 = box
    zone_w, zone_h = x1 - x0, y1 - y0
    py0 = max(0, y0 - round(0.02 * height))
    panel = canvas[py0:top, x0:x1]
    panel[:] = panel * 0.55 + np.array((236, 232, 226), np.float32) * 0.45
    cv2.rectangle(canvas, (x0, py0), (x1 - 1, top), (120, 120, 124), 2)
    # An office chair's back (rounded top), mostly hidden when someone sits there.
    cx = (x0 + x1) // 2
    half_w, back_h = round(0.11 * zone_w), round(0.26 * zone_h)
    radius = max(2, half_w // 2)
    chair = (62, 58, 56)
    cv2.rectangle(canvas, (cx - half_w, top - back_h + radius), (cx + half_w, top), chair, -1, cv2.LINE_AA)
    cv2.rectangle(canvas, (cx - half_w + radius, top - back_h), (cx + half_w - radius, top), chair, -1, cv2.LINE_AA)
    for corner_x in (cx - half_w + radius, cx + half_w - radius):
        cv2.circle(canvas, (corner_x, top - back_h + radius), radius, chair, -1, cv2.LINE_AA)
    cv2.line(canvas, (cx - half_w + 3, top - back_h // 2), (cx + half_w - 3, top - back_h // 2), (80, 76, 74), 2)
    sign_h = round(0.045 * height)
    if py0 - sign_h - 4 >= 0:
        sx0, sx1 = x0 + round(0.3 * zone_w), x1 - round(0.3 * zone_w)
        cv2.rectangle(canvas, (sx0, py0 - sign_h - 4), (sx1, py0 - 4), (150, 90, 30), -1)
        _centred_text(canvas, window.upper(), (sx0 + sx1) // 2, py0 - 4 - sign_h // 2, sign_h * 0.6, (255, 255, 255))


def _paint_counter(
    layer: np.ndarray,
    mask: np.ndarray,
    box: tuple[int, int, int, int],
    top: int,
    bottom: int,
    window: str,
    colour: np.ndarray,
) -> None:
    x0, y0, x1, y1 = box
    zone_w, zone_h = x1 - x0, y1 - y0
    cx0 = max(0, x0 - round(0.04 * zone_w))
    cx1 = min(layer.shape[1], x1 + round(0.04 * zone_w))
    slab = max(2, round(0.04 * zone_h))
    front = layer[top + slab : bottom, cx0:cx1]
    shade = np.linspace(1.05, 0.8, max(1, front.shape[0]), dtype=np.float32)[:, None, None]
    front[:] = colour * shade
    layer[top : top + slab, cx0:cx1] = np.minimum(colour * 1.6 + 40, 250)
    cv2.line(layer, (cx0, top + slab), (cx1 - 1, top + slab), (40, 40, 44), 1)
    plaque_h = round(0.22 * (bottom - top))
    if plaque_h >= 8:
        mid = (cx0 + cx1) // 2
        py = top + slab + round(0.35 * (bottom - top - slab))
        cv2.rectangle(
            layer, (mid - round(0.12 * zone_w), py), (mid + round(0.12 * zone_w), py + plaque_h), (235, 235, 235), -1
        )
        _centred_text(layer, window.upper(), mid, py + plaque_h // 2, plaque_h * 0.7, (90, 50, 20))
    mask[top:bottom, cx0:cx1] = True


def _paint_kiosk(canvas: np.ndarray, row: Row, floor_y: int, width: int, height: int, rng: np.random.Generator) -> None:
    """A self-service terminal standing well behind the zone's row of people, so that it shows
    above their shoulders."""
    kiosk_w = round(0.08 * width)
    kiosk_h = round(0.26 * height)
    base = max(floor_y + round(0.03 * height), row.y - round(0.3 * height))
    cx = round(row.x0 + (row.x1 - row.x0) * float(rng.uniform(0.3, 0.7)))
    x0, x1 = max(0, cx - kiosk_w // 2), min(width, cx + kiosk_w // 2)
    y0 = max(0, base - kiosk_h)
    cv2.rectangle(canvas, (x0, y0), (x1, base), (205, 205, 200), -1, cv2.LINE_AA)
    cv2.rectangle(canvas, (x0, y0), (x1, base), (90, 90, 90), 2, cv2.LINE_AA)
    margin = max(2, round(0.12 * kiosk_w))
    cv2.rectangle(canvas, (x0 + margin, y0 + margin), (x1 - margin, y0 + round(0.45 * kiosk_h)), (120, 70, 30), -1)
    cv2.rectangle(
        canvas, (x0 + margin, y0 + round(0.55 * kiosk_h)), (x1 - margin, y0 + round(0.6 * kiosk_h)), (40, 40, 40), -1
    )


def _centred_text(canvas: np.ndarray, text: str, cx: int, cy: int, size_px: float, colour: tuple[int, ...]) -> None:
    if not text:
        return
    scale = max(0.3, size_px / 22.0)
    thickness = max(1, round(scale * 2))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    ink = np.zeros(canvas.shape[:2], np.uint8)  # putText draws on 8-bit images only
    cv2.putText(ink, text, (cx - tw // 2, cy + th // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness, cv2.LINE_AA)
    alpha = ink[..., None].astype(np.float32) / 255.0
    canvas[:] = canvas * (1.0 - alpha) + np.array(colour, np.float32) * alpha
