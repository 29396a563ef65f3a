"""ByteTrack through `analytics.tracking` on synthetic walks at one frame per second."""

import numpy as np
import pytest

from analytics.tracking import UNTRACKED, PersonTracker
from tests.fix_detections import mock_detections

T0 = 1_000_000.0


def walker(t: int, x0: float, step: float, y: float = 300.0) -> tuple[float, float, float, float]:
    x = x0 + step * t
    return (x, y, x + 60.0, y + 180.0)


def test_two_people_keep_their_ids_over_a_walk() -> None:
    tracker = PersonTracker()
    seen: list[list[int]] = []
    for t in range(12):
        # one walks right 25 px/s (the Kalman filter follows), one stands; given in swapped order
        people = [walker(t, 100, 25), (700.0, 300.0, 760.0, 480.0)]
        order = people if t % 2 else people[::-1]
        tracked = tracker.update(mock_detections(order), T0 + t)
        ids = tracked.tracker_id.tolist()
        seen.append(ids if t % 2 else ids[::-1])  # back to [walker, stander]
    assert seen[0] == [UNTRACKED, UNTRACKED]  # a track gets its id on its second frame
    assert all(ids == seen[1] for ids in seen[1:])
    assert len(set(seen[1])) == 2


def test_born_at_is_the_first_detection() -> None:
    tracker = PersonTracker(confirm_frames=3)
    for t in range(4):
        tracked = tracker.update(mock_detections([(100, 100, 160, 280)]), T0 + 10 * t)
    [track_id] = tracked.tracker_id.tolist()
    assert tracked.born_at == {track_id: T0}


@pytest.mark.parametrize(("gap_s", "same_person"), [(5, True), (9, True), (15, False), (60, False)])
def test_a_track_survives_a_short_dropout_only(gap_s: int, same_person: bool) -> None:
    tracker = PersonTracker(lost_after_s=10.0)
    box = [(400, 200, 460, 380)]
    for t in range(3):
        before = tracker.update(mock_detections(box), T0 + t).tracker_id[0]
    for t in range(3, 2 + gap_s):
        tracker.update(mock_detections([]), T0 + t)
    after = [tracker.update(mock_detections(box), T0 + 2 + gap_s + t).tracker_id[0] for t in range(2)]
    assert bool(after[-1] == before) is same_person


def test_weak_detections_continue_tracks_but_do_not_start_them() -> None:
    tracker = PersonTracker(track_confidence=0.5)
    for t in range(3):
        tracked = tracker.update(mock_detections([(100, 100, 160, 280)], 0.8), T0 + t)
    confident_id = tracked.tracker_id[0]
    for t in range(3, 6):
        tracked = tracker.update(mock_detections([(100, 100, 160, 280), (600, 100, 660, 280)], 0.3), T0 + t)
        assert tracked.tracker_id.tolist() == [confident_id, UNTRACKED]


def test_frames_out_of_order_are_untracked_and_reset_forgets() -> None:
    tracker = PersonTracker()
    for t in range(3):
        tracker.update(mock_detections([(100, 100, 160, 280)]), T0 + t)
    assert tracker.update(mock_detections([(100, 100, 160, 280)]), T0).tracker_id.tolist() == [UNTRACKED]
    tracker.reset()
    tracked = tracker.update(mock_detections([(100, 100, 160, 280)]), T0 - 100)
    assert tracked.tracker_id.tolist() == [UNTRACKED] and tracked.born_at == {}


def test_tracked_checks_its_ids() -> None:
    from analytics.tracking import Tracked

    with pytest.raises(ValueError):
        Tracked(mock_detections([(0, 0, 1, 1)]), np.zeros(2, np.int64), {})
