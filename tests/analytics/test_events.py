"""Events open once and close once, with the start and end of their condition."""

from __future__ import annotations

import pytest

from analytics.camera import CameraAnalyzer
from analytics.events import EventChange, EventKind, EventLatch
from core.config import AnalyticsConfig, CameraConfig, PresenceConfig
from tests.fix_detections import mock_detections

FRAME = (1000, 1000)
T0 = 1_800_000_000.0

# (name, condition per second, expected (second, action, started_at, ended_at)) with open_after_s=2,
# clear_after_s=3
LATCH_CASES = [
    ("too short to open", [1, 1, 0, 0, 0, 0], []),
    ("opens once, closes once", [0, 1, 1, 1, 1, 0, 0, 0, 0, 0],
     [(3, "opened", 1, None), (8, "closed", 1, 5)]),
    ("a short lapse does not close", [1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0],
     [(2, "opened", 0, None), (10, "closed", 0, 7)]),
    ("unknown neither opens nor closes", [1, 1, 1, None, None, None, None, 0, 0, 0, 0],
     [(2, "opened", 0, None), (10, "closed", 0, 7)]),
    ("unknown breaks the run before opening", [1, None, 1, 1, 0], []),
]


@pytest.mark.parametrize(("name", "conditions", "expected"), LATCH_CASES, ids=[c[0] for c in LATCH_CASES])
def test_event_latch(name: str, conditions: list[int | None], expected: list[tuple]) -> None:
    latch = EventLatch(EventKind.queue_over_limit, "q1", open_after_s=2, clear_after_s=3)
    changes = []
    for t, active in enumerate(conditions):
        change = latch.update(None if active is None else bool(active), float(t), {"people": 12})
        if change is not None:
            changes.append((t, change.action, change.event.started_at, change.event.ended_at))
            assert change.event.details == {"people": 12} and change.event.subject == "q1"
    assert changes == expected


CAMERA = CameraConfig.model_validate({
    "id": "cam1", "url": "rtsp://127.0.0.1/x",
    "zones": [
        {"id": "w1-desk", "kind": "desk", "window": "w1", "polygon": [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]]},
        {"id": "q1", "kind": "queue", "window": "w1", "limit": 2,
         "polygon": [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]},
    ],
})
OFFICER = (100.0, 100.0, 300.0, 400.0)


def citizens(n: int) -> list[tuple[float, float, float, float]]:
    return [(50.0 + 150 * i, 700.0, 110.0 + 150 * i, 900.0) for i in range(n)]


def run(script: list[tuple[int, bool, int, str | None]]) -> list[tuple[float, EventChange]]:
    """script: (seconds, officer at desk, people in the queue, health)."""
    config = AnalyticsConfig.model_validate({"events": {
        "unstaffed_people": 2, "unstaffed_after_s": 20, "queue_over_after_s": 5, "offline_after_s": 20,
        "clear_after_s": 5}})
    analyzer = CameraAnalyzer(CAMERA, PresenceConfig(absent_after_s=4), config)
    out = []
    t = 0
    for seconds, officer, queue, health in script:
        for _ in range(seconds):
            people = ([OFFICER] if officer else []) + citizens(queue)
            detections = None if health == "offline" else mock_detections(people)
            result = analyzer.update(detections, T0 + t, FRAME, health=health)
            out += [(t, change) for change in result.events]
            t += 1
    return out


def summary(changes: list[tuple[float, EventChange]]) -> list[tuple]:
    return [(t, c.event.kind.value, c.action, c.event.started_at - T0,
             None if c.event.ended_at is None else c.event.ended_at - T0) for t, c in changes]


def test_window_unstaffed_while_people_wait() -> None:
    changes = run([(10, True, 2, None), (60, False, 2, None), (20, True, 2, None)])
    # last seen at t=9, absent from t=13; 20 s later the event opens, starting at 13; the officer
    # is back at t=70, so the event ends at 70 and closes 5 s later
    assert summary(changes) == [(33, "unstaffed_while_waiting", "opened", 13, None),
                                (75, "unstaffed_while_waiting", "closed", 13, 70)]
    assert changes[0][1].event.subject == "w1" and changes[0][1].event.details["waiting"] == 2


def test_no_unstaffed_event_without_enough_people() -> None:
    assert run([(10, True, 1, None), (60, False, 1, None)]) == []


def test_queue_over_limit() -> None:
    changes = run([(10, True, 2, None), (30, True, 4, None), (20, True, 2, None)])
    # two newcomers at t=10 count at once (people are counted where they stand, frame by frame);
    # they leave at t=40; opened 5 s after 10, closed 5 s after 40
    assert summary(changes) == [(15, "queue_over_limit", "opened", 10, None),
                                (45, "queue_over_limit", "closed", 10, 40)]
    assert changes[0][1].event.details == {"people": 4, "limit": 2}


def test_camera_offline_opens_once_and_desk_is_unknown() -> None:
    changes = run([(5, True, 0, "live"), (40, True, 0, "offline"), (10, True, 0, "live")])
    assert summary(changes) == [(25, "camera_offline", "opened", 5, None), (50, "camera_offline", "closed", 5, 45)]
    assert changes[0][1].event.details == {"health": "offline"}


def test_unhealthy_camera_gives_unknown_desks_and_no_counts() -> None:
    analyzer = CameraAnalyzer(CAMERA, PresenceConfig())
    analyzer.update(mock_detections([OFFICER]), T0, FRAME)
    result = analyzer.update(mock_detections([OFFICER]), T0 + 1, FRAME, health="stalled")
    assert result.desks["w1"].state.value == "unknown" and result.zones == {} and not result.trusted
