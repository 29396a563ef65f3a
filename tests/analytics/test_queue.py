"""Queue and self-service counts (`ZoneCounter`): the confidence floor, stays measured on a clock
that starts at zero, and a gap. Synthetic boxes, fake clock at one frame per second; counting where
people are, the median and first-in-first-out stays are in test_counting.py."""

from __future__ import annotations

import pytest

from analytics.geometry import Polygon
from analytics.queue import ZoneCount, ZoneCounter
from tests.fix_detections import mock_detections

FRAME = (1000, 1000)
T0 = 2_000_000.0
QUEUE = Polygon([(0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)])
Box = tuple[float, float, float, float]


def standing(x: float) -> Box:
    return (x, 700.0, x + 60.0, 900.0)  # feet at y=900: in the queue


def run(frames: list[list[Box]], *, confidence: float = 0.9, t0: float = T0) -> list[ZoneCount]:
    counter = ZoneCounter(QUEUE, confidence=0.25)
    return [counter.update(mock_detections(people, confidence), t0 + t, FRAME) for t, people in enumerate(frames)]


def test_weak_detections_are_not_counted_on_the_floor() -> None:
    counts = run([[standing(100)]] * 3, confidence=0.2)
    assert [(c.raw, c.smoothed) for c in counts] == [(0, 0)] * 3


# t0 = 0: a video file's clock starts at zero (`hallwatch analyze`, `hallwatch eval`); a stay that
# began after the first frame is still a measured one.
@pytest.mark.parametrize("t0", [T0, 0.0])
def test_departure_is_reported_once_with_its_dwell(t0: float) -> None:
    frames = [[] for _ in range(2)] + [[standing(100)] for _ in range(9)] + [[] for _ in range(10)]
    counts = run(frames, t0=t0)
    reports = [(t, c.departures) for t, c in enumerate(counts) if c.departures]
    assert len(reports) == 1
    t, [visit] = reports[0]
    # in the zone in frames 2-10; stays come from the median of three frames: from 3 to 11
    assert t == 12
    assert (visit.entered, visit.last_in, visit.censored) == (t0 + 3, t0 + 12, False)
    assert visit.dwell_s == 9  # the frames they stood in


def test_interrupt_starts_afresh() -> None:
    counter = ZoneCounter(QUEUE, confidence=0.25)
    for t in range(3):
        counter.update(mock_detections([standing(100)]), T0 + t, FRAME)
    counter.interrupt()
    count = counter.update(mock_detections([standing(100), standing(300)]), T0 + 50, FRAME)
    assert count.smoothed == 2 and count.departures == ()  # the stay before the gap ends unmeasured
