"""Queue and self-service counts from tracks: dwell before counting, median smoothing, the first
frame deciding, departures. Synthetic boxes, fake clock at one frame per second."""

from __future__ import annotations

import pytest

from analytics.geometry import Polygon
from analytics.queue import ZoneCount, ZoneCounter
from analytics.tracking import PersonTracker
from tests.fix_detections import mock_detections

FRAME = (1000, 1000)
T0 = 2_000_000.0
QUEUE = Polygon([(0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)])
NARROW = Polygon([(0.40, 0.6), (0.55, 0.6), (0.55, 1.0), (0.40, 1.0)])
Box = tuple[float, float, float, float]


def standing(x: float) -> Box:
    return (x, 700.0, x + 60.0, 900.0)  # feet at y=900: in the queue


def run(polygon: Polygon, frames: list[list[Box]], *, min_dwell_s: float, smoothing_s: float = 0.0,
        leave_after_s: float = 5.0, confidence: float | list[float] = 0.9, t0: float = T0) -> list[ZoneCount]:
    tracker = PersonTracker()
    counter = ZoneCounter(polygon, confidence=0.25, min_dwell_s=min_dwell_s, smoothing_s=smoothing_s,
                          leave_after_s=leave_after_s)
    out = []
    for t, people in enumerate(frames):
        tracked = tracker.update(mock_detections(people, confidence), t0 + t)
        out.append(counter.update(tracked, t0 + t, FRAME))
    return out


def test_arrival_counts_after_min_dwell() -> None:
    frames = [[] for _ in range(5)] + [[standing(100)] for _ in range(10)]
    counts = run(QUEUE, frames, min_dwell_s=3)
    assert [c.settled for c in counts] == [0] * 8 + [1] * 7  # first seen t=5, stood 3 s at t=8
    assert [c.raw for c in counts] == [0] * 5 + [1] * 10


def test_first_frame_decides() -> None:
    counts = run(QUEUE, [[standing(100), standing(300)]] * 4, min_dwell_s=30)
    assert [c.settled for c in counts] == [2, 2, 2, 2]  # already there when observation began


@pytest.mark.parametrize(("min_dwell_s", "counted"), [(2, 1), (8, 0)])
def test_passing_through_is_not_counted(min_dwell_s: float, counted: int) -> None:
    # walks right 30 px/s across a 150 px wide zone (feet in it for 5 frames) while another
    # person stands outside it
    frames = [[(300.0 + 30 * t, 700.0, 360.0 + 30 * t, 900.0), standing(800)] for t in range(14)]
    frames[0] = [standing(800)]
    counts = run(NARROW, frames, min_dwell_s=min_dwell_s)
    assert max(c.raw for c in counts) == 1  # the walker's feet were in the zone
    assert max(c.settled for c in counts) == counted


def test_median_smoothing_rides_over_a_missed_detection() -> None:
    frames = [[standing(100)] for _ in range(12)]
    frames[7] = []  # the detector misses the person once; the track survives
    smooth = run(QUEUE, frames, min_dwell_s=0, smoothing_s=3)
    raw = run(QUEUE, frames, min_dwell_s=0, smoothing_s=0)
    assert [c.smoothed for c in raw][7] == 0
    assert [c.smoothed for c in smooth] == [1] * 12


@pytest.mark.parametrize("min_dwell_s", [2, 3])
def test_smoothing_adds_no_delay_to_an_arrival(min_dwell_s: int) -> None:
    # first seen at t=5; the median over 3 s counts them from the frame they have stood min_dwell_s
    frames = [[] for _ in range(5)] + [[standing(100)] for _ in range(10)]
    counts = run(QUEUE, frames, min_dwell_s=min_dwell_s, smoothing_s=3)
    expected = [0] * (5 + min_dwell_s) + [1] * (10 - min_dwell_s)
    assert [c.smoothed for c in counts] == [c.settled for c in counts] == expected


def test_smoothing_does_not_count_people_passing_through() -> None:
    frames = [[(300.0 + 30 * t, 700.0, 360.0 + 30 * t, 900.0), standing(800)] for t in range(14)]
    frames[0] = [standing(800)]
    counts = run(NARROW, frames, min_dwell_s=8, smoothing_s=3)
    assert max(c.raw for c in counts) == 1 and max(c.smoothed for c in counts) == 0


def test_weak_detections_are_not_counted_on_the_floor() -> None:
    counts = run(QUEUE, [[standing(100)]] * 3, min_dwell_s=0, confidence=0.2)
    assert [c.raw for c in counts] == [0, 0, 0]


# t0 = 0: a video file's clock starts at zero (`hallwatch analyze`, `hallwatch eval`); a stay that
# began after the first frame is still a measured one.
@pytest.mark.parametrize(("leave_after_s", "reported_at", "t0"), [(3.0, 13, T0), (5.0, 15, T0), (5.0, 15, 0.0)])
def test_departure_is_reported_once_with_its_dwell(leave_after_s: float, reported_at: int, t0: float) -> None:
    frames = [[] for _ in range(2)] + [[standing(100)] for _ in range(9)] + [[] for _ in range(10)]
    counts = run(QUEUE, frames, min_dwell_s=2, leave_after_s=leave_after_s, t0=t0)
    reports = [(t, c.departures) for t, c in enumerate(counts) if c.departures]
    assert len(reports) == 1
    t, [visit] = reports[0]
    assert t == reported_at  # last in the zone at t=10
    assert (visit.entered, visit.last_in, visit.censored) == (t0 + 2, t0 + 10, False)
    assert visit.dwell_s == 8


def test_interrupt_starts_afresh() -> None:
    tracker = PersonTracker()
    counter = ZoneCounter(QUEUE, confidence=0.25, min_dwell_s=30, smoothing_s=0)
    for t in range(3):
        counter.update(tracker.update(mock_detections([]), T0 + t), T0 + t, FRAME)
    counter.interrupt()
    tracker.reset()
    count = counter.update(tracker.update(mock_detections([standing(100)]), T0 + 50), T0 + 50, FRAME)
    assert count.settled == 1 and count.departures == ()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        ZoneCounter(QUEUE, confidence=0.25, min_dwell_s=-1)
