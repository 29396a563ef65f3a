"""A seated, still, half-hidden officer must not flicker to absent while the detector misses them
for long stretches: the desk zone's own pixels hold the desk present. Synthetic zone thumbnails
(an empty desk, the same desk with a person), a fake clock at one frame per second."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.camera import CameraAnalyzer
from analytics.desk_evidence import DeskEvidenceTracker
from analytics.features import FrameFeatures, ZonePatch
from analytics.presence import DeskState
from core.config import AnalyticsConfig, CameraConfig, PresenceConfig
from core.config.analytics import DeskEvidenceConfig
from tests.fix_detections import mock_detections

FRAME = (1000, 1000)
T0 = 1_800_000_000.0


def smooth_texture(seed: int) -> np.ndarray:
    """A desk, chair and wall: smooth shapes, not pixel noise."""
    noise = np.random.default_rng(seed).standard_normal((40, 40))
    kernel = np.ones(9) / 9
    blurred = np.apply_along_axis(np.convolve, 0, np.apply_along_axis(np.convolve, 1, noise, kernel, "valid"),
                                  kernel, "valid")[:32, :32]
    return np.clip(0.5 + 0.5 * blurred, 0, 1).astype(np.float32)


EMPTY = smooth_texture(11)
PERSON = EMPTY.copy()
PERSON[6:30, 10:22] = 0.2  # a dark-clothed torso and head
MASK = np.ones((32, 32), bool)
EDGES = np.abs(np.random.default_rng(5).standard_normal((36, 64))).astype(np.float32)

CAMERA = CameraConfig.model_validate({
    "id": "cam1", "url": "rtsp://127.0.0.1/x",
    "zones": [
        {"id": "w1-desk", "kind": "desk", "window": "w1", "polygon": [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]]},
        {"id": "q1", "kind": "queue", "polygon": [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]},
    ],
})
OFFICER = (150.0, 100.0, 350.0, 480.0)  # centre in the desk zone, feet above the queue


def patch(t: int, person: bool) -> ZonePatch:
    """The zone at second t: sensor noise, and a seated person who leans a little now and then."""
    gray = (PERSON if person else EMPTY).copy()
    if person and t % 37 < 5:
        gray[6:30, 11:23] = 0.2
        gray[6:30, 10] = EMPTY[6:30, 10]
    noise = np.random.default_rng(t).normal(0.0, 0.004, gray.shape).astype(np.float32)
    return ZonePatch(box=(0, 0, 500, 500), gray=np.clip(gray + noise, 0, 1), mask=MASK)


def features(t: int, person: bool) -> FrameFeatures:
    return FrameFeatures(brightness=0.5, contrast=0.2, sharpness=0.02, edges=EDGES, desks={"w1": patch(t, person)})


def run(timeline: list[tuple[int, bool, int | None]], *, evidence: bool = True, citizens: int = 0,
        hold_max_s: float = 900.0) -> list[DeskState]:
    """timeline: (seconds, officer at the desk, detected every n-th second or None: never)."""
    config = AnalyticsConfig.model_validate({"desk": {"hold_max_s": hold_max_s}})
    analyzer = CameraAnalyzer(CAMERA, PresenceConfig(absent_after_s=4), config)
    states = []
    t = 0
    for seconds, person, every in timeline:
        for i in range(seconds):
            people = [OFFICER] if person and every is not None and i % every == 0 else []
            people += [(100.0 + 80 * k, 300.0, 300.0 + 80 * k, 900.0) for k in range(citizens)]
            result = analyzer.update(mock_detections(people), T0 + t, FRAME,
                                     features(t, person) if evidence else None)
            states.append(result.desks["w1"].state)
            t += 1
    return states


def absent_episodes(states: list[DeskState]) -> int:
    return sum(1 for a, b in zip(states, states[1:], strict=False) if a is not DeskState.absent
               and b is DeskState.absent)


@pytest.mark.parametrize("every", [60, 300])
def test_still_officer_missed_for_long_stretches_stays_present(every: int) -> None:
    states = run([(600, True, every)])
    assert set(states) == {DeskState.present}
    without = run([(600, True, every)], evidence=False)
    assert absent_episodes(without) == 600 // every  # the detector alone flickers every time


def test_officer_leaving_turns_absent_after_the_hysteresis() -> None:
    states = run([(60, True, 45), (30, False, None)])
    assert states[:60] == [DeskState.present] * 60
    assert states[60:64] == [DeskState.present] * 4
    assert states[64:] == [DeskState.absent] * 26


def test_empty_reference_is_learned_and_holds_a_still_officer() -> None:
    states = run([(20, False, None), (1, True, 1), (300, True, None)])
    assert states[:20] == [DeskState.absent] * 20
    assert set(states[20:]) == {DeskState.present}


def test_citizen_side_people_do_not_hold_an_empty_desk() -> None:
    # citizens at the counter cover part of the zone; the officer has left
    states = run([(30, True, 10), (30, False, None)], citizens=2)
    assert states[-1] is DeskState.absent and absent_episodes(states) == 1


def test_zone_evidence_holds_at_most_hold_max_s() -> None:
    states = run([(1, True, 1), (200, True, None)], hold_max_s=60)
    assert states[:61] == [DeskState.present] * 61
    assert states[-1] is DeskState.absent


def test_evidence_alone_never_makes_an_absent_desk_present() -> None:
    states = run([(20, False, None), (60, True, None)])
    assert set(states) == {DeskState.absent}


def test_covered_zone_keeps_its_verdict() -> None:
    tracker = DeskEvidenceTracker(DeskEvidenceConfig())
    first = tracker.update(patch(0, True), T0, detected=True, desk_absent=False, citizens=np.zeros((0, 4)))
    covered = tracker.update(patch(1, False), T0 + 1, detected=False, desk_absent=False,
                             citizens=np.array([[0, 0, 500, 500]], np.float32))
    assert first.hold and covered.hold and covered.visible == 0.0


def test_detection_behind_citizens_does_not_hold_the_desk_after_the_officer_left() -> None:
    # Seen while a large citizen covered the officer's part of the zone: the uncovered strip is only
    # desk, and it stays the same after the officer has gone, which is no sign that they are there.
    tracker = DeskEvidenceTracker(DeskEvidenceConfig())
    citizen = np.array([[0, 0, 400, 500]], np.float32)
    seen = tracker.update(patch(0, True), T0, detected=True, desk_absent=False, citizens=citizen)
    assert seen.hold and seen.visible < DeskEvidenceConfig().min_visible
    later = [tracker.update(patch(t, False), T0 + t, detected=False, desk_absent=False, citizens=np.zeros((0, 4)))
             for t in range(1, 6)]
    assert [e.hold for e in later] == [False] * 5
    assert later[0].same is None


def test_officer_hidden_by_a_citizen_stays_present_until_the_desk_is_seen_empty() -> None:
    # The citizen at the counter stands in front of the seated officer: the rest of the zone looks
    # like the empty desk, which says nothing about the officer behind the citizen.
    tracker = DeskEvidenceTracker(DeskEvidenceConfig())
    none = np.zeros((0, 4), np.float32)
    for t in range(12):
        tracker.update(patch(t, False), T0 + t, detected=False, desk_absent=True, citizens=none)
    seen = tracker.update(patch(12, True), T0 + 12, detected=True, desk_absent=True, citizens=none,
                          officers=np.array([OFFICER], np.float32))
    assert seen.empty_learned and seen.hold
    in_front = np.array([[140.0, 90.0, 360.0, 700.0]], np.float32)
    hidden = [tracker.update(patch(t, True), T0 + t, detected=False, desk_absent=False, citizens=in_front)
              for t in range(13, 21)]
    assert all(e.hold for e in hidden) and min(e.visible for e in hidden) > DeskEvidenceConfig().min_visible
    gone = [tracker.update(patch(t, False), T0 + t, detected=False, desk_absent=False, citizens=none)
            for t in range(21, 25)]
    assert not any(e.hold for e in gone)
