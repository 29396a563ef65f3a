"""Waiting time per queue zone and minute on a synthetic queue with known arrivals and services:
stays paired first in first out and Little's law must both find the known wait."""

from __future__ import annotations

import pytest

from analytics.camera import CameraAnalyzer
from analytics.queue import Visit
from analytics.waiting import WaitMinute, WaitMinutes
from core.config import AnalyticsConfig, CameraConfig, PresenceConfig
from tests.fix_detections import mock_detections

FRAME = (1000, 1000)
T0 = 1_800_000_000.0  # a whole minute
CAMERA = CameraConfig.model_validate({
    "id": "cam1", "url": "rtsp://127.0.0.1/x",
    "zones": [{"id": "q1", "kind": "queue", "polygon": [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]}],
})


def queue_people(t: int, *, every_s: int, stay_s: int) -> list[tuple[float, float, float, float]]:
    """Person k arrives at k*every_s and stands at slot k mod 6 for stay_s seconds. (Stays are paired
    first in first out from the count: an arrival and a departure in the same frame would not show,
    so the tests' stays are not multiples of every_s.)"""
    people = []
    for k in range(t // every_s + 1):
        if k * every_s <= t < k * every_s + stay_s:
            x = 20.0 + 160.0 * (k % 6)
            people.append((x, 700.0, x + 60.0, 900.0))
    return people


def run_queue(seconds: int, *, every_s: int, stay_s: int, t0: float = T0) -> list[WaitMinute]:
    analyzer = CameraAnalyzer(CAMERA, PresenceConfig(), AnalyticsConfig())
    minutes: list[WaitMinute] = []
    for t in range(seconds):
        result = analyzer.update(mock_detections(queue_people(t, every_s=every_s, stay_s=stay_s)), t0 + t, FRAME)
        minutes += result.waits
    return minutes


@pytest.mark.parametrize(("every_s", "stay_s", "served"), [(20, 110, 3), (30, 165, 2), (12, 66, 5)])
def test_steady_queue_tracked_dwell_and_littles_law_agree(every_s: int, stay_s: int, served: int) -> None:
    minutes = run_queue(15 * 60, every_s=every_s, stay_s=stay_s)
    assert [m.minute_start for m in minutes] == [T0 + 60 * i for i in range(len(minutes))]
    assert len(minutes) == 14  # the last minute closes leave_after_s after its end
    steady = minutes[7:]       # the Little's-law window (300 s) holds only the steady queue
    for minute in steady:
        assert minute.zone_id == "q1" and minute.served == served
        # in the zone from arrival to arrival + stay - 1; the count rises and falls a frame late
        # (median of three), so first in, first out pairs give the stay itself
        assert minute.dwell_p50_s == minute.dwell_p90_s == stay_s
        assert minute.mean_queue == pytest.approx(stay_s / every_s, rel=0.05)
        assert minute.littles_s == pytest.approx(stay_s, rel=0.05)


def test_minutes_before_anyone_left_have_no_wait() -> None:
    minutes = run_queue(4 * 60, every_s=20, stay_s=110)
    first = minutes[0]
    assert first.served == 0 and first.dwell_p50_s is None and first.littles_s is None
    assert first.mean_queue is not None and first.mean_queue > 0
    # person 0 leaves in minute 1 (at 110 s) but stood there when observation began: served, with no
    # known dwell; persons 1-3 leave in minute 2 after 110 s each
    assert minutes[1].served == 1 and minutes[1].dwell_p50_s is None
    assert minutes[2].served == 3 and minutes[2].dwell_p50_s == minutes[2].dwell_p90_s == 110


def test_a_clock_that_starts_at_zero_measures_the_same_waits() -> None:
    """A video file's frames are timed from 0 s: only the people there in the first frame are censored."""
    from_zero = run_queue(4 * 60, every_s=20, stay_s=110, t0=0.0)
    from_unix = run_queue(4 * 60, every_s=20, stay_s=110)
    assert [m.minute_start for m in from_zero] == [0.0, 60.0, 120.0]
    assert [(m.served, m.dwell_p50_s, m.dwell_p90_s, m.littles_s) for m in from_zero] == \
        [(m.served, m.dwell_p50_s, m.dwell_p90_s, m.littles_s) for m in from_unix]
    assert from_zero[2].dwell_p50_s == 110


def visit(track_id: int, entered: float, left: float, censored: bool = False) -> Visit:
    return Visit(track_id, T0 + entered, T0 + left, censored)


def test_percentiles_and_untrusted_minutes() -> None:
    waits = WaitMinutes("q1", leave_after_s=5, littles_window_s=60)
    closed: list[WaitMinute] = []
    dwells = [10, 20, 30, 40, 100]
    for t in range(0, 200):
        queue = None if 60 <= t < 120 else 4  # the second minute is not trusted
        departures = [visit(i, 50 - d, 50) for i, d in enumerate(dwells)] if t == 55 else []
        closed += waits.update(T0 + t, queue, departures)
    assert [m.minute_start - T0 for m in closed] == [0, 120]  # no record for the untrusted minute
    first = closed[0]
    assert first.served == 5 and first.mean_queue == 4
    assert first.dwell_p50_s == 30 and first.dwell_p90_s == pytest.approx(76)
    assert first.littles_s == pytest.approx(4 / (5 / 60))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        WaitMinutes("q1", littles_window_s=10)
