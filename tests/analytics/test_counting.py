"""Counting people where they are (issue 12): foot points per frame, a short median over frames,
passers-by by position, stays paired first in first out. Synthetic detections at one analysed frame
per second, with people who move more than a box width between frames."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.camera import CameraAnalyzer
from analytics.counting import WindowCount, edge_distance, in_zone, missed, moving
from analytics.geometry import Polygon
from analytics.queue import Visit, ZoneCounter
from core.config import AnalyticsConfig, CameraConfig, PresenceConfig
from tests.fix_detections import mock_detections

FRAME = (1000, 1000)
T0 = 2_000_000.0
QUEUE = Polygon([(0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)])
NARROW = Polygon([(0.40, 0.6), (0.60, 0.6), (0.60, 1.0), (0.40, 1.0)])
Box = tuple[float, float, float, float]


def person(x: float, y: float = 900.0, width: float = 60.0, height: float = 200.0) -> Box:
    """A box whose foot point (bottom centre) is at (x + width / 2, y)."""
    return (x, y - height, x + width, y)


def count(frames: list[list[Box]], *, t0: float = T0, confidence: float | list[float] = 0.9,
          polygon: Polygon = QUEUE, **options: float) -> list[int]:
    counter = ZoneCounter(polygon, confidence=0.25, **options)  # type: ignore[arg-type]
    return [counter.update(mock_detections(people, confidence), t0 + t, FRAME).smoothed
            for t, people in enumerate(frames)]


def test_in_zone_takes_the_foot_point_and_the_threshold() -> None:
    detections = mock_detections([person(100), person(100, y=500), person(500)], [0.9, 0.9, 0.2])
    assert in_zone(detections, QUEUE, FRAME, 0.25).tolist() == [True, False, False]
    assert in_zone(detections, QUEUE, FRAME, 0.1).tolist() == [True, False, True]


def test_people_jumping_more_than_a_box_width_between_frames_are_still_counted() -> None:
    """Three people walking 150 px a second (2.5 box widths, so no box overlaps the one before): a
    tracker at this rate starts new tracks every frame; counting where they are does not care."""
    frames = [[person(50 + 150 * t), person(60 + 150 * t, y=700), person(900 - 150 * t, y=800)] for t in range(6)]
    assert count(frames, smoothing_frames=3) == [3] * 6
    assert count(frames, smoothing_frames=1) == [3] * 6


def test_the_median_rides_over_a_missed_and_a_spurious_detection() -> None:
    frames = [[person(100), person(400)] for _ in range(9)]
    frames[3] = [person(100)]                                  # one missed
    frames[6] = [person(100), person(400), person(700)]        # one spurious
    assert count(frames, smoothing_frames=3) == [2] * 9
    assert count(frames, smoothing_frames=1)[3] == 1


def test_an_arrival_counts_after_half_the_window_and_a_departure_the_same() -> None:
    frames: list[list[Box]] = [[] for _ in range(3)] + [[person(100)] for _ in range(5)] + [[] for _ in range(4)]
    assert count(frames, smoothing_frames=3) == [0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0]
    assert count(frames, smoothing_frames=2) == [0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0]  # higher middle


def test_window_count_forgets_frames_older_than_its_window() -> None:
    window = WindowCount(frames=3, window_s=3.0)
    assert [window.update(n, t) for n, t in [(4, 0.0), (4, 1.0), (0, 10.0), (0, 11.0)]] == [4, 4, 0, 0]
    with pytest.raises(ValueError):
        WindowCount(frames=0)


def test_moving_is_judged_in_box_heights_from_the_previous_frame() -> None:
    feet = np.array([[100.0, 900.0], [500.0, 900.0]])
    heights = np.array([200.0, 200.0])
    previous = np.array([[130.0, 900.0], [800.0, 900.0]])  # 30 px and 300 px away
    assert moving(feet, heights, previous, max_step=0.5).tolist() == [False, True]
    assert moving(feet, heights, np.zeros((0, 2)), max_step=0.5).tolist() == [False, False]


def test_edge_distance_in_pixels() -> None:
    points = np.array([[500.0, 800.0], [500.0, 610.0], [20.0, 990.0]])
    assert edge_distance(QUEUE, points, FRAME).tolist() == pytest.approx([200.0, 10.0, 10.0])


def test_a_person_missed_in_the_middle_of_the_zone_is_held_for_one_frame() -> None:
    """Nobody walks out of a zone from its middle within a frame: a vanished foot point far from
    every edge is a missed detection; one near an edge may have left. Only one frame is held."""
    middle, near_edge = person(470, y=800), person(20, y=800)  # feet 200 px and 50 px from an edge
    frames = [[middle, near_edge], [], [], [middle, near_edge]]
    assert count(frames, hold_step=0.3) == [2, 1, 0, 2]      # 0.3 x 200 px = 60 px margin
    assert count(frames) == [2, 0, 0, 2]                       # without the rule: the frame's own count
    # a walker seen in both frames (0.6 box heights on) is not also held where they were
    previous, heights = np.array([[500.0, 800.0]]), np.array([200.0])
    assert missed(previous, heights, np.array([[620.0, 800.0]]), QUEUE, FRAME, max_step=1.0, margin=0.3) == 0
    assert missed(previous, heights, np.zeros((0, 2)), QUEUE, FRAME, max_step=1.0, margin=0.3) == 1


def test_passer_rule_leaves_out_a_walker_but_not_a_queue_moving_up() -> None:
    # a walker crosses the narrow zone at 150 px/s (0.75 box heights a second) a body height behind
    # a queue of three, which moves up by one place (60 px, 0.3 box heights) at t = 4
    queue = [[person(420), person(480), person(540)] for _ in range(4)] + [[person(420), person(480)]
                                                                          for _ in range(4)]
    walker = [[person(150 * t, y=700)] for t in range(8)]
    frames = [q + w for q, w in zip(queue, walker, strict=True)]
    truth_without_walker = [3, 3, 3, 3, 2, 2, 2, 2]
    assert count(frames, polygon=NARROW, smoothing_frames=1, passer_step=0.5) == truth_without_walker
    assert max(count(frames, polygon=NARROW, smoothing_frames=1)) == 4  # without the rule the walker counts


def test_stays_are_paired_first_in_first_out_without_following_anyone() -> None:
    """A queue that moves up: the front person leaves and everyone steps into the place ahead, so
    each place is always taken; the stays still come out as the people's own."""
    counter = ZoneCounter(QUEUE, confidence=0.25, smoothing_frames=1, stay_frames=1)
    arrivals = [0, 2, 4]        # person k arrives at t = arrivals[k] ...
    leaves = [10, 14, 20]       # ... and has left by t = leaves[k]
    departures: list[Visit] = []
    for t in range(25):
        here = [k for k in range(3) if arrivals[k] <= t < leaves[k]]
        boxes = [person(100 + 70 * place) for place in range(len(here))]  # places, front first
        departures += counter.update(mock_detections(boxes), T0 + t, FRAME).departures
    assert [(v.entered - T0, v.last_in - T0, v.censored) for v in departures] == [
        (0, 10, True), (2, 14, False), (4, 20, False)]  # the first was there at the first frame
    assert [v.dwell_s for v in departures] == [10, 12, 16]


def test_longest_stay_and_interrupt() -> None:
    counter = ZoneCounter(QUEUE, confidence=0.25, smoothing_frames=1, stay_frames=1)
    counter.update(mock_detections([]), T0, FRAME)
    for t in range(1, 6):
        result = counter.update(mock_detections([person(100)]), T0 + t, FRAME)
    assert result.longest_s == 4
    counter.interrupt()
    after = counter.update(mock_detections([person(100)]), T0 + 60, FRAME)
    assert (after.smoothed, after.longest_s, after.departures) == (1, 0.0, ())
    with pytest.raises(ValueError):
        ZoneCounter(QUEUE, confidence=0.25, passer_step=-1)


CAMERA = CameraConfig.model_validate({
    "id": "cam1", "url": "rtsp://127.0.0.1/x",
    "zones": [{"id": "q1", "kind": "queue", "polygon": [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]},
              {"id": "d1", "kind": "desk", "window": "w1", "polygon": [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5],
                                                                        [0.0, 0.5]]}],
})


def test_plain_reading_is_the_frame_alone_by_the_same_rules() -> None:
    analyzer = CameraAnalyzer(CAMERA, PresenceConfig(), AnalyticsConfig())
    officer = (100.0, 50.0, 300.0, 400.0)      # centre in the desk zone, feet not on the floor
    detections = mock_detections([officer, person(600), person(700, y=500)], [0.13, 0.9, 0.9])
    plain = analyzer.plain(detections, FRAME)
    assert plain.zones == {"q1": 1} and plain.desks == {"w1": True}  # the desk's lower threshold
    # a frame with nobody: the plain reading says so at once, with no hysteresis
    analyzer.update(detections, T0, FRAME)
    assert analyzer.plain(mock_detections([]), FRAME).desks == {"w1": False}
    assert analyzer.update(mock_detections([]), T0 + 1, FRAME).desks["w1"].state.value == "present"
