"""Many cameras through one detector: the motion gate that lets unchanged frames reuse the last
detections, and the pipeline's detector queue, on real RTSP streams of the clip server (tests/fix_sim.py)."""

from __future__ import annotations

import threading
import time

import av
import numpy as np
import pytest

from ingest.motion import MotionGate
from models.detections import Detections
from pipeline.loop import Pipeline
from pipeline.rows import DeskSample, Sample, ZoneSample
from tests.fix_wait import await_true
from tools.bench.trial import bench_site

ZONE = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]  # the middle of the picture


def scene(seed: int = 0, noise: float = 0.0, blob: tuple[int, int] | None = None) -> np.ndarray:
    """A 180x320 brightness plane: a fixed texture, optional noise, optional person-sized blob."""
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(42).integers(60, 200, size=(180, 320)).astype(np.float64)
    base = np.kron(base[::8, ::8], np.ones((8, 8)))[:180, :320]  # smooth-ish texture
    image = base + rng.normal(0, noise, base.shape) if noise else base
    if blob is not None:
        x, y = blob
        image[y : y + 30, x : x + 12] = 20  # ~ a person 120 px tall in 1280x720, at scale 4
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("later", "changed"), [
    (scene(), False),                        # the same picture
    (scene(seed=1, noise=4.0), False),        # compression-like noise
    (scene(blob=(150, 70)), True),            # someone inside the zone
    (scene(blob=(10, 10)), False),            # someone far outside it
    (scene()[:90, :160], True),               # a new frame size
])
def test_motion_gate_sees_what_changed_in_the_zones(later: np.ndarray, changed: bool) -> None:
    gate = MotionGate([ZONE], refresh_s=15.0)
    first = scene()
    assert gate.changed(first, 100.0)  # nothing seen yet
    gate.looked(first, 100.0)
    assert gate.changed(later, 101.0) is changed


def test_motion_gate_refreshes_a_still_scene_within_refresh_s() -> None:
    gate = MotionGate([ZONE], refresh_s=10.0, seed="h/c")
    still = scene()
    gate.looked(still, 0.0)
    checks = [gate.changed(still, t / 10) for t in range(1, 101)]  # 0.1 s .. 10.0 s
    first_refresh = checks.index(True) + 1
    assert 75 <= first_refresh <= 100, first_refresh  # after 75-100 % of refresh_s
    assert not any(checks[: first_refresh - 1]) and all(checks[first_refresh - 1 :])


def test_motion_gate_counts_change_since_the_last_detection_not_the_last_frame() -> None:
    gate = MotionGate([ZONE], refresh_s=100.0, min_changed=0.02)
    gate.looked(scene(), 0.0)
    blobs = [(100 + 4 * i, 70) for i in range(8)]
    # Each step alone moves a person 4 px; since the reference frame it adds up.
    assert [gate.changed(scene(blob=b), 1.0 + i) for i, b in enumerate(blobs)][-1] is True


@pytest.mark.parametrize("settings", [
    {"refresh_s": 0.0}, {"refresh_s": 1.0, "pixel_threshold": 0}, {"refresh_s": 1.0, "min_changed": 1.0},
    {"refresh_s": 1.0, "margin": -0.1},
])
def test_motion_gate_rejects_bad_settings(settings: dict) -> None:
    with pytest.raises(ValueError):
        MotionGate([ZONE], **settings)


# --- the pipeline on real streams -----------------------------------------------------------------


class GatedDetector:
    """No people; blocks while `gate` is clear, and records which frames it saw and how many waited."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()
        self.calls = 0
        self.lock = threading.Lock()

    def detect(self, frame: np.ndarray) -> Detections:
        self.open.wait()
        with self.lock:
            self.calls += 1
        return Detections.empty()


def test_unchanged_frames_reuse_detections_and_the_queue_stays_bounded(clip_server: int) -> None:
    site = bench_site(3, clip_server)
    # A refresh every ~2 s: some frames reuse boxes, and while the detector stalls every camera asks
    # for it within the 6 s watched (the clip's own scene changes may fall outside that window).
    motion = site.detector.motion.model_copy(update={"refresh_s": 2.5})
    site = site.model_copy(update={"detector": site.detector.model_copy(update={"motion": motion})})
    keys = [(hall.id, camera.id) for hall, camera in site.cameras()]
    rows: list[Sample] = []
    detector = GatedDetector()
    pipeline = Pipeline(site, detector, rows.extend)
    stop = threading.Event()
    thread = threading.Thread(target=pipeline.run, args=(stop,))
    thread.start()
    try:
        await_true(lambda: all(pipeline.stats.per_camera[k] >= 6 for k in keys), 60, "six analyses per camera")
        stats = pipeline.stats
        assert stats.reused > 0 and stats.detected >= len(keys)  # first frames always go to the detector
        assert stats.detected + stats.reused == stats.analysed == detector.calls + stats.reused

        # The detector stalls: each camera has at most one frame waiting, and analysis waits for it.
        detector.open.clear()
        most_queued = 0
        deadline = time.monotonic() + 6.0
        while time.monotonic() < deadline:
            most_queued = max(most_queued, pipeline.queued)
            time.sleep(0.05)
        assert 1 <= most_queued <= len(keys)
        before = pipeline.stats.analysed
        detector.open.set()
        await_true(lambda: pipeline.stats.analysed >= before + 3 * len(keys), 30, "analysis resumes")
    finally:
        detector.open.set()
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    for key in keys:  # each camera's rows in capture order, one set per analysed frame
        times = [r.ts for r in rows if isinstance(r, DeskSample | ZoneSample) and (r.hall_id, r.camera_id) == key]
        assert times == sorted(times)


def test_clip_cameras_play_at_their_frame_rate_with_a_keyframe_a_second(clip_server: int) -> None:
    """The server stamps each access unit when its clock pushes it: 10 fps of stream time, however
    often the clip loops (a looped file with its own timestamps played ~10 % fast)."""
    container = av.open(f"rtsp://127.0.0.1:{clip_server}/cam1", options={"rtsp_transport": "tcp"}, timeout=(10, 10))
    try:
        stream = container.streams.video[0]
        times: list[float] = []  # stream time of each packet that has one (the first may not, before RTCP)
        keyframes: list[bool] = []
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            keyframes.append(packet.is_keyframe)
            if packet.pts is not None and packet.time_base is not None:
                times.append(float(packet.pts * packet.time_base))
            if len(keyframes) == 41:
                break
    finally:
        container.close()
    assert [i for i, key in enumerate(keyframes) if key] == [0, 10, 20, 30, 40]  # served from a keyframe on
    assert len(times) >= 35
    assert np.median(np.diff(times)) == pytest.approx(0.1, abs=0.005)
    assert (times[-1] - times[0]) / (len(times) - 1) == pytest.approx(0.1, abs=0.01)


def test_a_clip_camera_answers_a_client_arriving_as_its_last_one_leaves(clip_server: int) -> None:
    """GStreamer unprepares a shared media its last client leaves while it still hands it out: a client
    arriving then was refused (503), one time in three. As a camera, the server gives each session its own."""
    for _ in range(12):
        with av.open(f"rtsp://127.0.0.1:{clip_server}/cam2", timeout=(10, 10),
                     options={"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32"}) as container:
            first = next(p for p in container.demux(container.streams.video[0]) if p.size)
            assert first.is_keyframe
