"""The motion gate with the shipped settings on real pictures of a hall: sensor noise on every frame
(as hall cameras send it, through the H.264 encoder and decoder) is not motion; a person moving in a
queue is. The brightness plane is taken the way the pipeline takes it (`RawFrame.luma(scale)`)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from core.config import load_site
from core.config.detector import MotionConfig
from ingest.motion import MotionGate
from ingest.reader import RawFrame
from tests.fix_detections import GROUND_TRUTH, photo
from tests.fix_sites import REPO

CLIP = REPO / "eval" / "clips" / "crowded-queue"
FPS = 25
HOLD = 13  # frames each image is shown: half a second, so that 4 images span a keyframe (every 50)
MOTION = MotionConfig()  # the shipped settings


@pytest.fixture(scope="module")
def hall() -> np.ndarray:
    """The first frame of the crowded-queue evaluation clip (1280x720, real photographs of people)."""
    with av.open(str(CLIP / "video.mp4")) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="bgr24")


@pytest.fixture(scope="module")
def zones() -> list[list[tuple[float, float]]]:
    site = load_site(CLIP / "site.yaml")
    (_, camera), = site.cameras()
    return [zone.polygon for zone in camera.zones]


def person() -> np.ndarray:
    """A person cut out of a real photograph (the black coat in bus.jpg), 260 px tall."""
    x0, y0, x1, y1 = GROUND_TRUTH["bus.jpg"][1]
    crop = photo("bus.jpg")[y0:y1, x0:x1]
    scale = 260 / crop.shape[0]
    return cv2.resize(crop, (round(crop.shape[1] * scale), 260), interpolation=cv2.INTER_AREA)


def with_person(hall: np.ndarray, x: int) -> np.ndarray:
    """The hall with the person standing in the queue zone, left edge at `x` px."""
    image = hall.copy()
    cut = person()
    y = 450  # feet near the bottom, inside the queue zone (y 0.6-1.0)
    image[y : y + cut.shape[0], x : x + cut.shape[1]] = cut[: image.shape[0] - y]
    return image


def camera(images: list[np.ndarray], sigma: float, seed: int = 14) -> list[RawFrame]:
    """Each image for HOLD frames at 25 fps with fresh sensor noise on every frame, through H.264 at
    3 Mbit/s with a keyframe every 2 s (as hall cameras send it): the last decoded frame of each."""
    rng = np.random.default_rng(seed)
    encoder = av.CodecContext.create("libx264", "w")
    height, width = images[0].shape[:2]
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base, encoder.framerate, encoder.bit_rate = Fraction(1, FPS), Fraction(FPS), 3_000_000
    encoder.thread_count = 1
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency",
                       "x264-params": "keyint=50:min-keyint=50:scenecut=0"}
    decoder = av.CodecContext.create("h264", "r")
    decoded: list[av.VideoFrame] = []
    for i in range(len(images) * HOLD):
        base = images[i // HOLD].astype(np.float32)
        noisy = np.clip(base + rng.normal(0.0, sigma, base.shape).astype(np.float32), 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(noisy, format="bgr24")
        frame.pts = i
        for packet in encoder.encode(frame):
            decoded += decoder.decode(packet)
    for packet in encoder.encode(None):
        decoded += decoder.decode(packet)
    decoded += decoder.decode(None)
    assert len(decoded) == len(images) * HOLD
    # The last frame of each image: it has been on screen a while, as at an analysis instant.
    return [RawFrame(decoded[(s + 1) * HOLD - 1], float(s), s) for s in range(len(images))]


def gate(zones: list[list[tuple[float, float]]]) -> MotionGate:
    return MotionGate(zones, refresh_s=MOTION.refresh_s, pixel_threshold=MOTION.pixel_threshold,
                      min_changed=MOTION.min_changed, seed="test")


def changes(frames: list[RawFrame], motion_gate: MotionGate) -> list[tuple[bool, float]]:
    """Each frame after the first against the first, which the detector looked at."""
    motion_gate.looked(frames[0].luma(MOTION.scale), frames[0].ts)
    return [(motion_gate.changed(raw.luma(MOTION.scale), raw.ts), motion_gate.last_change) for raw in frames[1:]]


@pytest.mark.parametrize("sigma", [2.5, 8.0])
def test_sensor_noise_is_not_motion(hall: np.ndarray, zones: list[list[tuple[float, float]]], sigma: float) -> None:
    """Hall cameras show sigma ~2.5; 8 is a dim hall at high gain. Across keyframes and P-frames alike."""
    frames = camera([hall] * 4, sigma)
    result = changes(frames, gate(zones))
    assert [changed for changed, _ in result] == [False] * 3, result
    assert max(share for _, share in result) < MOTION.min_changed / 4


@pytest.mark.parametrize("step_px", [12, 40])
def test_a_person_moving_in_the_queue_is_motion(hall: np.ndarray, zones: list[list[tuple[float, float]]],
                                                 step_px: int) -> None:
    """One shuffle forward in the queue (12 px at 1280x720, 1 % of the width) counts, under the same noise."""
    frames = camera([with_person(hall, 300), with_person(hall, 300 + step_px)], 2.5)
    (changed, share), = changes(frames, gate(zones))
    assert changed and share >= MOTION.min_changed, share


def test_a_person_standing_still_under_noise_is_no_motion(hall: np.ndarray,
                                                          zones: list[list[tuple[float, float]]]) -> None:
    frames = camera([with_person(hall, 300)] * 3, 2.5, seed=15)
    assert [changed for changed, _ in changes(frames, gate(zones))] == [False, False]


def test_a_person_stepping_into_the_queue_is_motion(
        hall: np.ndarray, zones: list[list[tuple[float, float]]]) -> None:
    """Someone stepping into the queue zone from nowhere: the gate must fire at once."""
    frames = camera([hall, with_person(hall, 300)], 2.5, seed=16)
    (changed, share), = changes(frames, gate(zones))
    assert changed and share > 10 * MOTION.min_changed


def hall_seconds(seconds: int, sigmas: tuple[float, ...]) -> tuple[dict[float, list[RawFrame]],
                                                                  list[list[tuple[float, float]]]]:
    """The realistic simulator's busy hall (the crowded-queue scene, 25 fps) without noise and with
    fresh noise of each sigma, one frame a second as analysis takes them: the same people moving the
    same way."""
    from tools.evaluate.generate import CLIPS
    from tools.evaluate.hallscene import Hall

    spec = next(c for c in CLIPS if c.id == "crowded-queue")
    hall = Hall.build(dataclasses.replace(spec, fps=FPS, duration_s=seconds, noise=0.0))
    rng = np.random.default_rng(14)
    frames: dict[float, list[RawFrame]] = {sigma: [] for sigma in (0.0, *sigmas)}
    for second in range(seconds):
        for _ in range(FPS if second else 0):
            hall.step()
        clean = hall.render().astype(np.float32)
        for sigma, into in frames.items():
            noisy = clean + rng.normal(0.0, sigma, clean.shape[:2] + (1,)).astype(np.float32)  # as the scene's
            image = np.clip(noisy, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
            into.append(RawFrame(frame, float(second), second))
    zones = [[(float(x), float(y)) for x, y in zone["polygon"]] for zone in hall.zones]  # type: ignore[attr-defined]
    return frames, zones


def gate_decisions(frames: list[RawFrame], zones: list[list[tuple[float, float]]]) -> list[bool]:
    """The gate over the frames as the pipeline drives it: the detector looks whenever it opens."""
    motion_gate = gate(zones)
    decisions = []
    for raw in frames:
        luma = raw.luma(MOTION.scale)
        opened = motion_gate.changed(luma, raw.ts)
        if opened:
            motion_gate.looked(luma, raw.ts)
        decisions.append(opened)
    return decisions


def test_on_the_busy_hall_noise_opens_the_gate_no_more_than_movement_does() -> None:
    """The truth is the same hall without noise, where only movement changes a pixel: with a camera's
    noise (2.5) and a dim hall's (8) the gate opens on the same seconds, and it does open (people in
    the queue shuffle forward, walk in and leave) on a good share of them."""
    seconds = 30
    frames, zones = hall_seconds(seconds, (2.5, 8.0))
    truth = gate_decisions(frames[0.0], zones)
    assert 0.2 <= sum(truth) / seconds <= 0.9, truth  # a busy hall: movement, and still seconds
    for sigma in (2.5, 8.0):
        noisy = gate_decisions(frames[sigma], zones)
        agree = sum(a == b for a, b in zip(truth, noisy, strict=True)) / seconds
        assert agree >= 0.9 and sum(noisy) <= sum(truth) + 2, (sigma, truth, noisy)
