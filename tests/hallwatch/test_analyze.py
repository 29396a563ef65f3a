"""`hallwatch analyze` on an image and on a video file made from the simulator's scenes with known
ground truth; and the pipeline, given the same frames, stores the same states and counts."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import pytest

from core.config import load_site
from hallwatch.cli import main
from ingest.sources import iter_frames
from models import load_detector
from pipeline.loop import Pipeline
from pipeline.rows import DeskSample, ZoneSample
from tests.fix_sites import EXAMPLE_SITE
from tools.simulator import CameraTruth, SceneRenderer

SITE = load_site(EXAMPLE_SITE)
HALL, CAMERA = SITE.find_camera("cc-nanguan/cam1")
FPS = 5
# (seconds, truth): a scripted clip of one camera with two desks, a queue and a self-service zone
CLIP = [
    (6, CameraTruth(desks={"w1": True, "w2": True}, queues={"q1": 3}, self_service={"ss": 1})),
    (8, CameraTruth(desks={"w1": False, "w2": True}, queues={"q1": 5}, self_service={"ss": 0})),
    (6, CameraTruth(desks={"w1": True, "w2": False}, queues={"q1": 1}, self_service={"ss": 2})),
]


def truth_at(t: float) -> CameraTruth:
    start = 0.0
    for seconds, truth in CLIP:
        if t < start + seconds:
            return truth
        start += seconds
    return CLIP[-1][1]


def changed_near(t: float, before: float, after: float) -> bool:
    start = 0.0
    for seconds, _ in CLIP[:-1]:
        start += seconds
        if t - after <= start <= t + before:
            return True
    return False


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "hall.mp4"
    renderer = SceneRenderer(CAMERA, 1280, 720, seed=3)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        pts = 0
        for seconds, truth in CLIP:
            image = renderer.render(truth)
            for _ in range(seconds * FPS):
                frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                frame.pts = pts
                pts += 1
                out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def run_analyze(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    assert main(["analyze", "--site", str(EXAMPLE_SITE), "--camera", "cc-nanguan/cam1", "--json", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_analyze_image_shows_what_the_image_shows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cv2

    truth = CameraTruth(desks={"w1": True, "w2": False}, queues={"q1": 4}, self_service={"ss": 1})
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), SceneRenderer(CAMERA, 1280, 720, seed=5).render(truth))
    [record] = run_analyze(capsys, str(path))
    assert record["desks"] == {"w1": "present", "w2": "absent"}
    assert record["queues"] == {"q1": 4} and record["self_service"] == {"ss": 1}
    assert record["people"] == 6  # the officer at w1, four in the queue, one at the kiosk


def test_analyze_video_matches_ground_truth(clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = run_analyze(capsys, str(clip))
    assert len(records) == sum(s for s, _ in CLIP)  # one per second at analysis_fps 1
    desk_hits = desk_total = queue_error = queue_total = 0
    for record in records:
        truth = truth_at(record["ts"])
        if not changed_near(record["ts"], before=0.5, after=SITE.presence.absent_after_s + 1):
            desk_total += 1
            desk_hits += record["desks"] == {w: "present" if s else "absent" for w, s in truth.desks.items()}
        if not changed_near(record["ts"], before=0.5, after=0.5):
            queue_total += 1
            queue_error += abs(record["queues"]["q1"] - truth.queues["q1"])
            queue_error += abs(record["self_service"]["ss"] - truth.self_service["ss"])
    assert desk_total >= 8 and desk_hits / desk_total >= 0.95
    assert queue_total >= 15 and queue_error / queue_total <= 0.5


def test_pipeline_gives_the_same_answers_on_the_same_frames(clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = run_analyze(capsys, str(clip))
    stored: list = []
    pipeline = Pipeline(SITE, load_detector(SITE.detector), stored.extend)
    work = pipeline.work[(HALL.id, CAMERA.id)]
    frames = list(iter_frames(str(clip), analysis_fps=CAMERA.analysis_fps, ingest=SITE.ingest))
    assert len(frames) == len(records)
    for frame, record in zip(frames, records, strict=True):
        rows = pipeline.process(work, frame)
        desks = {r.window_id: r.state for r in rows if isinstance(r, DeskSample)}
        zones = {r.zone_id: r.people for r in rows if isinstance(r, ZoneSample)}
        assert desks == record["desks"]
        assert zones == {**record["queues"], **record["self_service"]}
        assert all(r.ts.timestamp() == pytest.approx(record["ts"], abs=1e-3) for r in rows)
