"""The camera simulator on real parts: the script, the renderer with real photographs, the truth
files, and the GStreamer RTSP server read back with PyAV."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import yaml

from core.config import CameraConfig, SiteConfig, ZoneConfig, ZoneKind, load_site
from core.redact import redact_text
from tests.fix_sites import EXAMPLE_SITE, free_port
from tools.simulator import CameraTruth, SceneRenderer, Script, load_truth, run_simulator, truth_at
from tools.simulator.errors import SimulatorError
from tools.simulator.layout import MAX_STANDING_ASPECT, margin_px, zone_points
from tools.simulator.script import MAX_SEGMENT_S, MIN_SEGMENT_S, StoryFile, load_story
from tools.simulator.sprites import SpriteKind, sprites
from tools.simulator.truth import TruthWriter

WIDTH, HEIGHT = 1280, 720
RTSP_OPTIONS = {"rtsp_transport": "tcp", "timeout": "3000000", "probesize": "32768", "analyzeduration": "0"}


@pytest.fixture(scope="module")
def site() -> SiteConfig:
    return load_site(EXAMPLE_SITE)


def full_truth(camera: CameraConfig, renderer: SceneRenderer, staffed: bool = True) -> CameraTruth:
    """Every desk staffed, every zone as full as it gets."""
    return CameraTruth(
        desks={z.window: staffed for z in camera.zones if z.kind is ZoneKind.desk and z.window},
        queues={z.id: renderer.capacity(z.id) for z in camera.zones if z.kind is ZoneKind.queue},
        self_service={z.id: renderer.capacity(z.id) for z in camera.zones if z.kind is ZoneKind.self_service},
    )


def empty_truth(camera: CameraConfig) -> CameraTruth:
    return CameraTruth(
        desks={z.window: False for z in camera.zones if z.kind is ZoneKind.desk and z.window},
        queues={z.id: 0 for z in camera.zones if z.kind is ZoneKind.queue},
        self_service={z.id: 0 for z in camera.zones if z.kind is ZoneKind.self_service},
    )


def distance_inside(zone: ZoneConfig, point: tuple[float, float]) -> float:
    """Signed distance of a pixel point to the zone's edge, positive inside."""
    contour = zone_points(zone, WIDTH, HEIGHT).reshape(-1, 1, 2).astype(np.float32)
    return float(cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), True))


# --- script ---------------------------------------------------------------------------------------


def test_script_is_deterministic_for_a_seed(site: SiteConfig) -> None:
    for hall, camera in site.cameras():
        first = Script(site, seed=3).changes(hall.id, camera.id, 600.0)
        again = Script(site, seed=3).changes(hall.id, camera.id, 600.0)
        other = Script(site, seed=4).changes(hall.id, camera.id, 600.0)
        assert first == again
        assert first != other


def test_script_segments_stay_within_bounds(site: SiteConfig) -> None:
    script = Script(site, seed=7)
    for hall, camera in site.cameras():
        segments = script.segments(hall.id, camera.id, 3000.0)
        windows = {z.window for z in camera.zones if z.kind is ZoneKind.desk}
        queues = {z.id for z in camera.zones if z.kind is ZoneKind.queue}
        kiosks = {z.id for z in camera.zones if z.kind is ZoneKind.self_service}
        assert segments[0].start == 0.0
        for before, after in zip(segments, segments[1:], strict=False):
            assert before.end == after.start
            assert before.truth != after.truth, "every boundary is a visible change"
        for segment in segments:
            assert MIN_SEGMENT_S <= segment.end - segment.start <= MAX_SEGMENT_S
            assert set(segment.truth.desks) == windows
            assert set(segment.truth.queues) == queues
            assert set(segment.truth.self_service) == kiosks
            assert all(0 <= n <= 5 for n in segment.truth.queues.values())
            assert all(0 <= n <= 2 for n in segment.truth.self_service.values())
        staffed_s = sum((s.end - s.start) * on for s in segments for on in s.truth.desks.values())
        share = staffed_s / (len(windows) * segments[-1].end)
        assert 0.55 <= share <= 0.85, share


def test_script_truth_at_follows_the_changes(site: SiteConfig) -> None:
    script = Script(site, seed=7)
    changes = script.changes("cc-nanguan", "cam1", 200.0)
    assert changes[0][0] == 0.0
    for (start, truth), (end, _) in zip(changes, changes[1:], strict=False):
        assert script.truth_at("cc-nanguan", "cam1", start) == truth
        assert script.truth_at("cc-nanguan", "cam1", (start + end) / 2) == truth
        assert script.truth_at("cc-nanguan", "cam1", end - 1e-6) == truth
    assert script.truth_at("cc-nanguan", "cam1", -5.0) == changes[0][1]


def test_different_cameras_play_different_stories(site: SiteConfig) -> None:
    script = Script(site, seed=7)
    timelines = {
        (hall.id, camera.id): [round(t, 3) for t, _ in script.changes(hall.id, camera.id, 600.0)]
        for hall, camera in site.cameras()
    }
    for a, b in combinations(timelines, 2):
        assert timelines[a] != timelines[b], (a, b)
    # Same zones, different camera: different truths too.
    assert script.changes("cc-nanguan", "cam1", 600.0) != script.changes("cc-chaoyang", "cam1", 600.0)


def test_script_rejects_unknown_cameras(site: SiteConfig) -> None:
    with pytest.raises(SimulatorError):
        Script(site, seed=7).truth_at("cc-nanguan", "nope", 1.0)


# --- story files: scripted cameras ---------------------------------------------------------------

STAFFED = {"desks": {"w1": True, "w2": True}, "queues": {"q1": 3}, "self_service": {"ss": 0}}
W1_EMPTY = {"desks": {"w1": False, "w2": True}, "queues": {"q1": 3}, "self_service": {"ss": 0}}


def story(cameras: dict[str, list[dict]]) -> StoryFile:
    return StoryFile.model_validate({"cameras": cameras})


def test_a_story_scripts_its_cameras_in_a_loop_and_leaves_the_others_seeded(site: SiteConfig) -> None:
    scripted = Script(site, seed=7, story=story({"cc-nanguan/cam1": [{"for_s": 12, **STAFFED},
                                                                     {"for_s": 16, **W1_EMPTY}]}))
    staffed, empty = CameraTruth(**STAFFED), CameraTruth(**W1_EMPTY)
    assert scripted.changes("cc-nanguan", "cam1", 70.0) == [
        (0.0, staffed), (12.0, empty), (28.0, staffed), (40.0, empty), (56.0, staffed), (68.0, empty)]
    assert scripted.truth_at("cc-nanguan", "cam1", 27.9) == empty
    assert scripted.truth_at("cc-nanguan", "cam1", 1000 * 28 + 12.5) == empty
    seeded = Script(site, seed=7)
    for hall, camera in site.cameras():
        if (hall.id, camera.id) != ("cc-nanguan", "cam1"):
            assert scripted.changes(hall.id, camera.id, 600.0) == seeded.changes(hall.id, camera.id, 600.0)


def test_a_story_file_scripts_a_camera(site: SiteConfig, tmp_path: Path) -> None:
    path = tmp_path / "story.yaml"
    path.write_text(yaml.safe_dump({"cameras": {"cc-chaoyang/cam1": [
        {"for_s": 5, "desks": {"w1": False, "w2": False}, "queues": {"q1": 4}}]}}))
    default = Script(site, seed=7).changes("cc-chaoyang", "cam1", 100.0)
    story_script = Script(site, seed=7, story=load_story(path))
    only = CameraTruth(desks={"w1": False, "w2": False}, queues={"q1": 4})
    assert story_script.changes("cc-chaoyang", "cam1", 100.0) == [(0.0, only)]  # one scene: the same forever
    assert len(story_script.segments("cc-chaoyang", "cam1", 100.0)) == 20
    assert default != story_script.changes("cc-chaoyang", "cam1", 100.0)
    with pytest.raises(SimulatorError, match="missing.yaml: cannot read the simulator story"):
        load_story(tmp_path / "missing.yaml")


@pytest.mark.parametrize(("cameras", "error"), [
    ({"cc-nanguan/cam9": [{"for_s": 1, **STAFFED}]}, "no camera cc-nanguan/cam9 in the site"),
    ({"cc-nanguan/cam1": [{"for_s": 1, **STAFFED}, {"for_s": 1, **dict(STAFFED, desks={"w1": True})}]},
     r"cc-nanguan/cam1\[1\].desks: names \['w1'\]; the camera has \['w1', 'w2'\]"),
    ({"cc-nanguan/cam1": [{"for_s": 1, **dict(STAFFED, queues={"q1": 1, "q3": 0})}]}, r"\[0\].queues: names"),
    ({"cc-nanguan/cam1": [{"for_s": 1, **dict(STAFFED, queues={"q1": 6})}]}, "zone q1 holds 0..5 people, not 6"),
    ({"cc-nanguan/cam1": [{"for_s": 1, **dict(STAFFED, self_service={"ss": -1})}]}, "zone ss holds 0..2"),
])
def test_a_story_that_does_not_fit_the_site_is_refused(site: SiteConfig, cameras: dict, error: str) -> None:
    with pytest.raises(SimulatorError, match=error):
        Script(site, seed=7, story=story(cameras))


@pytest.mark.parametrize(("text", "error"), [
    ("cameras: {cc-nanguan/cam1: [{for_s: 0, desks: {w1: true}}]}", r"cameras.cc-nanguan/cam1\[0\].for_s"),
    ("cameras: {cc-nanguan/cam1: [{for_s: 3, desk: {w1: true}}]}", r"\[0\].desk: Extra inputs"),
    ("cameras: {cc-nanguan/cam1: []}", "cameras.cc-nanguan/cam1: List should have at least 1"),
    ("cameras: {}", "cameras: Dictionary should have at least 1"),
    ("cameras: [", "is not valid YAML"),
])
def test_a_malformed_story_file_names_the_field(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "story.yaml"
    path.write_text(text)
    with pytest.raises(SimulatorError, match=error):
        load_story(path)


# --- sprites and renderer -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SpriteKind))
def test_sprites_are_whole_people(kind: SpriteKind) -> None:
    found = sprites(kind)
    assert len(found) >= 2
    for sprite in found:
        alpha = sprite.bgra[..., 3]
        assert alpha.dtype == np.uint8
        # Cropped to the person: opaque pixels touch the top and the bottom row.
        assert alpha[0].max() > 32 and alpha[-1].max() > 32
        covered = (alpha > 127).mean()
        assert 0.3 < covered < 0.95, (sprite.name, covered)
        if kind is SpriteKind.standing:
            assert sprite.aspect <= MAX_STANDING_ASPECT
            assert sprite.height > 2 * sprite.width  # head to feet
            assert sprite.cover_fraction == 1.0
        else:
            assert 0.3 < sprite.cover_fraction < 0.9


@pytest.fixture(scope="module")
def renderers(site: SiteConfig) -> dict[str, tuple[CameraConfig, SceneRenderer]]:
    return {
        f"{hall.id}/{camera.id}": (camera, SceneRenderer(camera, WIDTH, HEIGHT, seed=7))
        for hall, camera in site.cameras()
    }


def test_same_truth_renders_the_same_image(site: SiteConfig, renderers: dict) -> None:
    camera, renderer = renderers["cc-nanguan/cam1"]
    truth = full_truth(camera, renderer)
    image = renderer.render(truth)
    assert image.shape == (HEIGHT, WIDTH, 3) and image.dtype == np.uint8
    assert np.array_equal(image, renderer.render(truth))
    assert np.array_equal(image, SceneRenderer(camera, WIDTH, HEIGHT, seed=7).render(truth))
    assert not np.array_equal(image, SceneRenderer(camera, WIDTH, HEIGHT, seed=8).render(truth))
    assert not np.array_equal(image, renderer.render(empty_truth(camera)))


def test_empty_truth_draws_nobody(renderers: dict) -> None:
    for camera, renderer in renderers.values():
        _, placed = renderer.render_with_boxes(empty_truth(camera))
        assert placed == []


def test_officers_sit_in_their_desk_zone_behind_the_counter(renderers: dict) -> None:
    for camera, renderer in renderers.values():
        staffed, placed = renderer.render_with_boxes(full_truth(camera, renderer))
        unstaffed = renderer.render(empty_truth(camera))
        desks = [z for z in camera.zones if z.kind is ZoneKind.desk]
        officers = [p for p in placed if p.role is ZoneKind.desk]
        assert sorted(p.zone_id for p in officers) == sorted(z.id for z in desks)
        for officer in officers:
            zone = next(z for z in desks if z.id == officer.zone_id)
            points = zone_points(zone, WIDTH, HEIGHT)
            (zx0, zy0), (zx1, zy1) = points.min(axis=0), points.max(axis=0)
            x0, y0, x1, y1 = officer.box
            assert distance_inside(zone, officer.centre) > 0, officer
            assert 0.65 <= (y1 - y0) / (zy1 - zy0) <= 0.85, officer
            assert 0.75 <= (y1 - zy0) / (zy1 - zy0) <= 0.85, "the counter top cuts the officer"
            assert abs(officer.centre[0] - (zx0 + zx1) / 2) <= 2, "horizontally centred"
            # The person is really drawn above the counter, and the counter hides the rest.
            above = np.abs(staffed[y0:y1, x0:x1].astype(int) - unstaffed[y0:y1, x0:x1]).mean()
            below = np.abs(staffed[y1 : y1 + 20, x0:x1].astype(int) - unstaffed[y1 : y1 + 20, x0:x1]).max()
            assert above > 20, officer
            assert below == 0, officer


@pytest.mark.parametrize("fill", [1, 2, "full"])
def test_standing_people_have_their_feet_in_their_own_zone(renderers: dict, fill: int | str) -> None:
    margin = margin_px(HEIGHT)
    for camera, renderer in renderers.values():
        truth = full_truth(camera, renderer, staffed=False)
        if fill != "full":
            truth = CameraTruth(
                desks=truth.desks,
                queues={k: min(int(fill), v) for k, v in truth.queues.items()},
                self_service={k: min(int(fill), v) for k, v in truth.self_service.items()},
            )
        image, placed = renderer.render_with_boxes(truth)
        background = renderer.render(empty_truth(camera))
        expected = {**truth.queues, **truth.self_service}
        for zone_id, count in expected.items():
            assert sum(p.zone_id == zone_id for p in placed) == count, zone_id
        for person in placed:
            zone = next(z for z in camera.zones if z.id == person.zone_id)
            assert person.role is zone.kind and zone.kind is not ZoneKind.desk
            assert distance_inside(zone, person.foot) >= margin - 1, person
            for other in camera.zones:
                if other.id != zone.id:
                    assert distance_inside(other, person.foot) < 0, (person, other.id)
            x0, y0, x1, y1 = person.box
            assert 0 <= x0 < x1 <= WIDTH and 0 <= y0 < y1 <= HEIGHT, "whole person in the frame"
            assert 0.32 * HEIGHT - 2 <= y1 - y0 <= 0.42 * HEIGHT + 2, person
            drawn = np.abs(image[y0:y1, x0:x1].astype(int) - background[y0:y1, x0:x1]).mean()
            assert drawn > 15, person
        for a, b in combinations(placed, 2):
            if a.zone_id != b.zone_id:
                continue
            overlap = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
            narrower = min(a.box[2] - a.box[0], b.box[2] - b.box[0])
            assert overlap <= 0.15 * narrower, (a, b)


def test_zone_capacity_of_the_example_site(renderers: dict) -> None:
    for camera, renderer in renderers.values():
        for zone in camera.zones:
            if zone.kind is ZoneKind.queue:
                assert renderer.capacity(zone.id) == 5
            elif zone.kind is ZoneKind.self_service:
                assert renderer.capacity(zone.id) == 2


# --- truth files ----------------------------------------------------------------------------------


def test_truth_file_round_trip(tmp_path: Path) -> None:
    writer = TruthWriter(tmp_path, "hall-a", "cam1")
    first = CameraTruth(desks={"w1": True}, queues={"q1": 2}, self_service={})
    second = CameraTruth(desks={"w1": False}, queues={"q1": 0}, self_service={})
    writer.write(100.0, first)
    writer.write(110.5, second)
    path = tmp_path / "hall-a__cam1.jsonl"
    with path.open("a") as handle:  # a line still being written is not read
        handle.write('{"ts": 120.0, "hall": "hall-a"')
    changes = load_truth(path)
    assert [(c.ts, c.hall, c.camera, c.truth) for c in changes] == [
        (100.0, "hall-a", "cam1", first),
        (110.5, "hall-a", "cam1", second),
    ]
    assert truth_at(changes, 99.9) is None
    assert truth_at(changes, 100.0) == first
    assert truth_at(changes, 110.4) == first
    assert truth_at(changes, 1e12) == second
    writer.close()


def test_a_broken_truth_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "x__y.jsonl"
    path.write_text('{"ts": 1}\n')
    with pytest.raises(SimulatorError, match="x__y.jsonl:1"):
        load_truth(path)


# --- the RTSP server ------------------------------------------------------------------------------

PASSWORD = "s3cret-Pass"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The simulator serving a two-camera site (one with credentials) on a free port."""
    tmp = tmp_path_factory.mktemp("simulator")
    port = free_port()
    raw = yaml.safe_load(EXAMPLE_SITE.read_text())
    hall = raw["halls"][0]
    hall["cameras"][0]["url"] = f"rtsp://viewer:{PASSWORD}@127.0.0.1:{port}/locked"
    hall["cameras"][1]["url"] = f"rtsp://127.0.0.1:{port}/open"
    raw["halls"] = [hall]
    site_path = tmp / "site.yaml"
    site_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    site = load_site(site_path)
    truth_dir = tmp / "truth"
    ready, stop = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            run_simulator(site, truth_dir=truth_dir, seed=5, width=640, height=360, fps=10, ready=ready.set, stop=stop)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
            raise

    thread = threading.Thread(target=serve, name="simulator", daemon=True)
    thread.start()
    assert ready.wait(60), errors
    yield {
        "locked": f"rtsp://viewer:{PASSWORD}@127.0.0.1:{port}/locked",
        "wrong": f"rtsp://viewer:not-{PASSWORD}@127.0.0.1:{port}/locked",
        "anonymous": f"rtsp://127.0.0.1:{port}/locked",
        "open": f"rtsp://127.0.0.1:{port}/open",
        "truth_dir": truth_dir,
        "thread": thread,
        "stop": stop,
        "errors": errors,
    }
    stop.set()
    thread.join(15)


def open_stream(url: str) -> av.container.InputContainer:
    return av.open(url, options=RTSP_OPTIONS, timeout=(5, 3))


def test_streams_decode_at_the_configured_size(served: dict) -> None:
    for name in ("locked", "open"):
        with open_stream(served[name]) as container:
            frames = container.decode(video=0)
            for _ in range(5):
                frame = next(frames)
                assert (frame.width, frame.height) == (640, 360)
            image = frame.to_ndarray(format="bgr24")
            assert image.std() > 10, "a picture, not a blank frame"


def test_two_clients_share_a_camera(served: dict) -> None:
    with open_stream(served["locked"]) as first, open_stream(served["locked"]) as second:
        a, b = first.decode(video=0), second.decode(video=0)
        for _ in range(12):
            fa, fb = next(a), next(b)
            assert fa.width == fb.width == 640


@pytest.mark.parametrize("which", ["wrong", "anonymous"])
def test_bad_credentials_are_refused_without_leaking_them(
    served: dict, which: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(av.error.FFmpegError) as failure:
        open_stream(served[which]).close()
    message = redact_text(str(failure.value))
    assert "401" in message
    assert PASSWORD not in message
    assert PASSWORD not in caplog.text


def test_truth_files_are_written_without_any_client(served: dict) -> None:
    files = sorted(p.name for p in served["truth_dir"].glob("*.jsonl"))
    assert files == ["cc-nanguan__cam1.jsonl", "cc-nanguan__cam2.jsonl"]
    for path in served["truth_dir"].glob("*.jsonl"):
        changes = load_truth(path)
        assert changes, path
        raw = json.loads(path.read_text().splitlines()[0])
        assert set(raw) == {"ts", "hall", "camera", "desks", "queues", "self_service"}
    cam1 = load_truth(served["truth_dir"] / "cc-nanguan__cam1.jsonl")[0]
    assert (cam1.hall, cam1.camera) == ("cc-nanguan", "cam1")
    assert set(cam1.truth.desks) == {"w1", "w2"} and set(cam1.truth.queues) == {"q1"}
    assert set(cam1.truth.self_service) == {"ss"}
    assert cam1.truth == Script(load_site(EXAMPLE_SITE), seed=5, frame_size=(640, 360)).truth_at(
        "cc-nanguan", "cam1", 0.0
    )


def test_stop_ends_the_simulator(served: dict) -> None:
    """Runs last in this module: stopping with a client connected ends the thread promptly."""
    container = open_stream(served["open"])
    next(container.decode(video=0))
    served["stop"].set()
    served["thread"].join(15)
    assert not served["thread"].is_alive()
    assert served["errors"] == []
    container.close()
