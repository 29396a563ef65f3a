"""View checks on synthetic images measured by `pipeline.measure`: dark, covered, out of focus and
moved views are told apart from a normal view with people coming and going."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from analytics.camera import CameraAnalyzer
from analytics.view import ViewCheck, ViewState
from core.config import AnalyticsConfig, CameraConfig, PresenceConfig
from core.config.analytics import ViewConfig
from pipeline.measure import frame_features
from tests.fix_detections import mock_detections

W, H = 640, 360
T0 = 1_800_000_000.0
CAMERA = CameraConfig.model_validate({
    "id": "cam1", "url": "rtsp://127.0.0.1/x",
    "zones": [
        {"id": "w1-desk", "kind": "desk", "window": "w1", "polygon": [[0.1, 0.1], [0.4, 0.1], [0.4, 0.5], [0.1, 0.5]]},
        {"id": "q1", "kind": "queue", "polygon": [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]},
    ],
})


def hall(seed: int = 1) -> np.ndarray:
    """A room of seeded shapes: walls, counters, windows."""
    rng = np.random.default_rng(seed)
    image = np.full((H, W, 3), 150, np.uint8)
    for _ in range(40):
        x, y = int(rng.integers(0, W - 40)), int(rng.integers(0, H - 40))
        w, h = int(rng.integers(20, 200)), int(rng.integers(10, 120))
        colour = tuple(int(c) for c in rng.integers(20, 235, 3))
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
    return image


SCENE = hall()


def noisy(image: np.ndarray, t: int) -> np.ndarray:
    noise = np.random.default_rng(t).normal(0, 3, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def with_people(image: np.ndarray, t: int) -> np.ndarray:
    out = image.copy()
    rng = np.random.default_rng(100 + t)
    for _ in range(4):
        x = int(rng.integers(0, W - 40))
        cv2.rectangle(out, (x, 200), (x + 30, 340), (40, 40, 60), -1)
        cv2.circle(out, (x + 15, 190), 12, (120, 150, 190), -1)
    return out


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    return cv2.warpAffine(image, np.array([[1, 0, dx], [0, 1, dy]], np.float32), (W, H), borderMode=cv2.BORDER_REFLECT)


BAD_VIEWS = [
    ("dark", lambda im: (im * 0.03).astype(np.uint8), ViewState.dark),
    ("covered", lambda im: np.full_like(im, 128), ViewState.covered),
    ("dim and flat", lambda im: (im * 0.1 + 100).astype(np.uint8), ViewState.covered),
    ("out of focus", lambda im: cv2.GaussianBlur(im, (0, 0), 6), ViewState.blurred),
    ("shifted 5%", lambda im: shifted(im, 32, 0), ViewState.moved),
    ("shifted down 6%", lambda im: shifted(im, 0, 22), ViewState.moved),
    ("another room", lambda im: hall(seed=2), ViewState.moved),
]


def learned_check() -> ViewCheck:
    check = ViewCheck(ViewConfig(learn_s=10))
    for t in range(12):
        reading = check.update(frame_features(noisy(with_people(SCENE, t), t), CAMERA), T0 + t)
        assert reading.trusted
    assert reading.state is ViewState.ok
    return check


def view_states(check: ViewCheck, images: list[np.ndarray], start: int = 50) -> list[ViewState]:
    return [check.update(frame_features(noisy(image, t), CAMERA), T0 + t).state
            for t, image in enumerate(images, start)]


@pytest.mark.parametrize(("name", "spoil", "state"), BAD_VIEWS, ids=[v[0] for v in BAD_VIEWS])
def test_bad_views_are_not_trusted(name: str, spoil, state: ViewState) -> None:
    """Obstructed at once; moved from the second frame in a row that shows it."""
    first = ViewState.ok if state is ViewState.moved else state
    assert view_states(learned_check(), [spoil(SCENE)] * 3) == [first, state, state]


SHAKES = [
    ("shifted 5% with people", lambda t: shifted(with_people(SCENE, t), 32, 0)),
    ("shifted 6% left", lambda t: shifted(SCENE, -38, 0)),
    ("another room", lambda t: hall(seed=2)),
]


@pytest.mark.parametrize(("name", "spoil"), SHAKES, ids=[s[0] for s in SHAKES])
def test_one_moved_looking_frame_between_good_ones_is_not_a_move(name: str, spoil) -> None:
    """As people crossing a hall can make one frame look shifted: that frame stays trusted, twice over."""
    check = learned_check()
    images = [with_people(SCENE, 60), spoil(61), with_people(SCENE, 62), spoil(63), with_people(SCENE, 64)]
    assert view_states(check, images) == [ViewState.ok] * 5


def test_a_real_move_is_moved_from_its_second_frame_until_the_view_is_back() -> None:
    check = learned_check()
    moved = [shifted(with_people(SCENE, t), 32, 0) for t in range(60, 66)]
    back = [with_people(SCENE, t) for t in range(66, 68)]
    assert view_states(check, moved + back) == [ViewState.ok] + [ViewState.moved] * 5 + [ViewState.ok] * 2


def test_moved_frames_must_follow_each_other() -> None:
    """A frame of another kind (here dark) between two moved-looking frames starts the count again."""
    check = learned_check()
    move, dark = shifted(SCENE, 32, 0), (SCENE * 0.03).astype(np.uint8)
    assert view_states(check, [move, dark, move, SCENE, move, move]) == [
        ViewState.ok, ViewState.dark, ViewState.ok, ViewState.ok, ViewState.ok, ViewState.moved]


@pytest.mark.parametrize("t", range(20, 26))
def test_people_coming_and_going_is_not_a_moved_camera(t: int) -> None:
    check = learned_check()
    reading = check.update(frame_features(noisy(with_people(SCENE, t), t), CAMERA), T0 + t)
    assert reading.state is ViewState.ok, reading


def test_a_small_shake_is_not_moved() -> None:
    check = learned_check()
    assert check.update(frame_features(noisy(shifted(SCENE, 4, 2), 60), CAMERA), T0 + 60).state is ViewState.ok


def test_obstructed_camera_opens_one_event_and_its_samples_are_untrusted() -> None:
    config = AnalyticsConfig.model_validate({"view": {"learn_s": 5}, "events": {"view_after_s": 5,
                                                                                "clear_after_s": 3}})
    analyzer = CameraAnalyzer(CAMERA, PresenceConfig(), config)
    dark = (SCENE * 0.02).astype(np.uint8)
    officer = mock_detections([(100, 50, 200, 170)])
    results = []
    for t in range(40):
        image = dark if 10 <= t < 25 else SCENE
        results.append(analyzer.update(officer, T0 + t, (W, H), frame_features(noisy(image, t), CAMERA)))
    changes = [(t, c.action, c.event.kind.value, c.event.started_at - T0) for t, r in enumerate(results)
               for c in r.events]
    assert changes == [(15, "opened", "camera_obstructed", 10), (28, "closed", "camera_obstructed", 10)]
    for r in results[10:25]:
        assert not r.trusted and r.desks["w1"].state.value == "unknown" and r.zones == {"q1": None}
    assert results[25].trusted and results[25].desks["w1"].state.value == "present"
    assert results[25].zones == {"q1": 0}


def test_one_shifted_frame_keeps_desks_and_queues_counted_and_a_move_opens_one_event() -> None:
    config = AnalyticsConfig.model_validate({"view": {"learn_s": 5}, "events": {"view_after_s": 5}})
    analyzer = CameraAnalyzer(CAMERA, PresenceConfig(), config)
    officer = mock_detections([(100, 50, 200, 170)])
    move = shifted(SCENE, 32, 0)
    images = [SCENE] * 10 + [move] + [SCENE] * 5 + [move] * 10
    results = [analyzer.update(officer, T0 + t, (W, H), frame_features(noisy(image, t), CAMERA))
               for t, image in enumerate(images)]
    assert results[10].trusted and results[10].desks["w1"].state.value == "present" and results[10].zones == {"q1": 0}
    assert [r.trusted for r in results[16:]] == [True] + [False] * 9
    changes = [(t, c.action, c.event.kind.value, c.event.started_at - T0) for t, r in enumerate(results)
               for c in r.events]
    assert changes == [(22, "opened", "camera_moved", 17)]
