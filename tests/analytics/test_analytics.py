"""Analytics on synthetic detections and a fake clock: no model, no video."""

import numpy as np
import pytest

from analytics.camera import CameraAnalyzer
from analytics.geometry import Polygon
from analytics.presence import DeskPresence, DeskState
from core.config import CameraConfig, PresenceConfig
from models.detections import Detections
from tests.fix_detections import mock_detections

FRAME = (1000, 1000)  # width, height: pixel = 1000 * normalised coordinate


def boxes(*xyxy: tuple[float, float, float, float]) -> Detections:
    return mock_detections(list(xyxy))


SQUARE = Polygon([(0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.5)])
TRIANGLE = Polygon([(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)])


@pytest.mark.parametrize(
    ("polygon", "point", "inside"),
    [
        (SQUARE, (300, 300), True),
        (SQUARE, (50, 300), False),
        (SQUARE, (300, 600), False),
        (SQUARE, (499, 101), True),
        (TRIANGLE, (400, 400), True),
        (TRIANGLE, (600, 600), False),
    ],
)
def test_polygon_contains(polygon: Polygon, point: tuple[int, int], inside: bool) -> None:
    assert polygon.contains(np.array([point]), FRAME).tolist() == [inside]


@pytest.mark.parametrize("vertices", [[(0, 0), (1, 1)], [(0, 0), (2, 0), (0, 1)], [[0, 0, 0]]])
def test_polygon_rejects_bad_vertices(vertices) -> None:
    with pytest.raises(ValueError):
        Polygon(vertices)


def test_polygon_contains_nothing_for_no_points() -> None:
    assert SQUARE.contains(np.zeros((0, 2)), FRAME).shape == (0,)


# (seen at second t ..., expected states) with absent_after_s=3, present_after_s=0
PRESENCE_CASES = [
    ("first frame decides", [True], ["present"]),
    ("first frame empty", [False], ["absent"]),
    ("short miss does not flicker", [True, False, False, True, False, False, True], ["present"] * 7),
    ("gone long enough", [True, False, False, False, False], ["present"] * 3 + ["absent"] * 2),
    ("comes back at once", [False, False, True], ["absent", "absent", "present"]),
    ("no frame is unknown", [True, None, True], ["present", "unknown", "present"]),
]


@pytest.mark.parametrize(("name", "seen", "expected"), PRESENCE_CASES, ids=[c[0] for c in PRESENCE_CASES])
def test_desk_presence_hysteresis(name: str, seen: list[bool | None], expected: list[str]) -> None:
    desk = DeskPresence(present_after_s=0, absent_after_s=3)
    states = [desk.update(s, float(t)).state.value for t, s in enumerate(seen)]
    assert states == expected


def test_present_after_requires_a_run_of_sightings() -> None:
    desk = DeskPresence(present_after_s=2, absent_after_s=3)
    states = [desk.update(s, float(t)).state for t, s in enumerate([False, True, False, True, True, True])]
    assert states == [DeskState.absent] * 5 + [DeskState.present]
    assert desk.reading.since == 3.0  # the run of sightings began at t=3


def test_since_marks_the_change() -> None:
    desk = DeskPresence(absent_after_s=2)
    for t, seen in enumerate([True, True, False, False, False]):
        reading = desk.update(seen, 100.0 + t)
    assert reading.state is DeskState.absent and reading.since == 103.0


def test_negative_hysteresis_rejected() -> None:
    with pytest.raises(ValueError):
        DeskPresence(absent_after_s=-1)


CAMERA = CameraConfig.model_validate({
    "id": "cam1",
    "url": "rtsp://127.0.0.1/x",
    "zones": [
        {"id": "w1-desk", "kind": "desk", "window": "w1", "polygon": [[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]]},
        {"id": "q1", "kind": "queue", "polygon": [[0.0, 0.6], [0.7, 0.6], [0.7, 1.0], [0.0, 1.0]]},
        {"id": "ss", "kind": "self_service", "polygon": [[0.75, 0.6], [1.0, 0.6], [1.0, 1.0], [0.75, 1.0]]},
    ],
})


@pytest.mark.parametrize(
    ("people", "desk", "queue", "self_service"),
    [
        ([], "absent", 0, 0),
        ([(100, 100, 300, 400)], "present", 0, 0),                       # officer behind the desk
        ([(100, 300, 300, 700)], "absent", 1, 0),                        # citizen at the counter: feet in queue
        ([(50, 620, 150, 900), (200, 650, 300, 950), (800, 700, 900, 990)], "absent", 2, 1),
        ([(100, 100, 300, 400), (600, 100, 700, 450)], "present", 0, 0),  # one outside every zone
        ([(400, 200, 600, 990)], "absent", 1, 0),                       # centre outside desk, feet in queue
    ],
)
def test_camera_analyzer_zones(people, desk: str, queue: int, self_service: int) -> None:
    analyzer = CameraAnalyzer(CAMERA, PresenceConfig())
    result = analyzer.update(boxes(*people), 10.0, FRAME)
    assert result.desks["w1"].state.value == desk
    assert result.zones == {"q1": queue, "ss": self_service}
    assert result.people == len(people)


def test_camera_analyzer_without_frame_is_unknown() -> None:
    analyzer = CameraAnalyzer(CAMERA, PresenceConfig())
    analyzer.update(boxes((100, 100, 300, 400)), 1.0, FRAME)
    result = analyzer.update(None, 2.0, FRAME)
    assert result.desks["w1"].state is DeskState.unknown
    assert result.people is None and result.zones == {}


HALL = {
    "id": "h1", "city": "c1", "name": "Hall", "size": "small", "flow": "one_window_quick",
    "windows": [{"id": "w1", "name": "W1"}, {"id": "w2", "name": "W2"}],
}
DESK = {"id": "d1", "kind": "desk", "window": "w1", "polygon": [[0, 0], [0.4, 0], [0.4, 0.4]]}
SQUARE_ZONE = [[0, 0.6], [1, 0.6], [1, 1], [0, 1]]


@pytest.mark.parametrize(
    ("zone", "error"),
    [
        ({"id": "q1", "kind": "queue", "window": "w1", "polygon": SQUARE_ZONE}, None),
        ({"id": "q1", "kind": "queue", "windows": ["w1", "w2"], "limit": 8, "polygon": SQUARE_ZONE}, None),
        ({"id": "q1", "kind": "queue", "window": "w9", "polygon": SQUARE_ZONE}, "w9"),
        ({"id": "q1", "kind": "queue", "windows": ["w1"], "window": "w1", "polygon": SQUARE_ZONE}, "not both"),
        ({"id": "s1", "kind": "self_service", "window": "w1", "polygon": SQUARE_ZONE}, "serves no window"),
        ({"id": "s1", "kind": "self_service", "limit": 3, "polygon": SQUARE_ZONE}, "limit"),
        ({"id": "d2", "kind": "desk", "window": "w1", "polygon": SQUARE_ZONE}, "one desk zone per window"),
    ],
)
def test_zone_rules(zone: dict, error: str | None) -> None:
    from pydantic import ValidationError

    from core.config import HallConfig

    raw = {**HALL, "cameras": [{"id": "cam1", "url": "rtsp://127.0.0.1/x", "zones": [DESK, zone]}]}
    if error is None:
        hall = HallConfig.model_validate(raw)
        assert hall.cameras[0].zones[1].served_windows in (["w1"], ["w1", "w2"])
    else:
        with pytest.raises(ValidationError, match=error):
            HallConfig.model_validate(raw)


def test_analytics_config_defaults_and_bounds() -> None:
    from pydantic import ValidationError

    from core.config import AnalyticsConfig

    config = AnalyticsConfig()
    assert config.confidence.desk < config.confidence.floor
    with pytest.raises(ValidationError):
        AnalyticsConfig.model_validate({"queue": {"smoothing_frames": 0}})
    with pytest.raises(ValidationError):
        AnalyticsConfig.model_validate({"desk": {"same_threshold": 0.2, "changed_threshold": 0.1}})
    with pytest.raises(ValidationError):
        AnalyticsConfig.model_validate({"queue": {"typo": 1}})


def test_from_site_takes_the_site_settings() -> None:
    from core.config import load_site
    from tests.fix_sites import EXAMPLE_SITE

    site = load_site(EXAMPLE_SITE)
    hall, camera = site.find_camera("cc-nanguan/cam1")
    analyzer = CameraAnalyzer.from_site(site, camera)
    assert analyzer.config == site.analytics and analyzer.camera_id == "cam1"


def test_desk_threshold_is_lower_than_the_floor() -> None:
    analyzer = CameraAnalyzer(CAMERA, PresenceConfig())
    weak_officer = mock_detections([(100, 100, 300, 400), (50, 620, 150, 900)], [0.15, 0.15])
    result = analyzer.update(weak_officer, 10.0, FRAME)
    assert result.desks["w1"].state is DeskState.present  # 0.15 >= desk 0.12
    assert result.zones == {"q1": 0, "ss": 0}              # 0.15 < floor 0.25
    assert result.people == 1
