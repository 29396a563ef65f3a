"""Checking a camera URL before it goes into the site file (`ingest.probe`), against the project's live
RTSP simulator: H.264 and H.265 cameras with a keyframe every second at 10 fps, one of them behind a
password; and a URL where nothing listens."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.config import IngestConfig, SiteConfig, load_site
from ingest.health import CameraState
from ingest.probe import probe_camera
from tests.fix_sites import free_port, site_with_port, write_site
from tools.simulator import run_simulator

FPS, GOP_S = 10, 1.0
INGEST = IngestConfig(open_timeout_s=3.0, read_timeout_s=2.0)


@pytest.fixture(scope="module")
def cameras(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The example's first hall served live: cam1 in H.265, cam2 in H.264 (both 640x360); their URLs."""
    tmp = tmp_path_factory.mktemp("probe")
    raw = site_with_port(free_port())
    raw["halls"] = raw["halls"][:1]
    site: SiteConfig = load_site(write_site(tmp / "site.yaml", raw))
    hall = site.halls[0]
    ready, stop = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            run_simulator(site, truth_dir=tmp / "truth", seed=5, width=640, height=360, fps=FPS, gop_s=GOP_S,
                          ready=ready.set, stop=stop, codecs={f"{hall.id}/cam1": "h265"})
        except BaseException as exc:  # reported by the fixture, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=serve, name="simulator", daemon=True)
    thread.start()
    assert ready.wait(60), errors
    yield {"h265": hall.cameras[0].url, "h264": hall.cameras[1].url}
    stop.set()
    thread.join(15)


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_probe_reports_codec_size_and_keyframe_interval(cameras: dict[str, str], codec: str) -> None:
    result = probe_camera(cameras[codec], INGEST, budget_s=10.0)
    assert result.ok, result.error
    assert result.state is CameraState.live and result.error is None
    assert result.codec == codec
    assert (result.width, result.height) == (640, 360)
    assert result.keyframes >= 2
    gop = GOP_S * FPS
    assert result.keyframe_interval_frames is not None and abs(result.keyframe_interval_frames - gop) <= 1
    assert result.keyframe_interval_s is not None and abs(result.keyframe_interval_s - GOP_S) <= 1.0 / FPS
    assert result.fps is not None and abs(result.fps - FPS) <= 1
    picture = cv2.imdecode(np.frombuffer(result.jpeg or b"", np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape == (360, 640, 3)
    assert "demo-secret" not in str(result.public()) and "viewer:***@" in result.url


def test_probe_of_a_dead_url_says_why_with_the_password_masked() -> None:
    url = f"rtsp://admin:Very-Secret-9@127.0.0.1:{free_port()}/stream1"
    result = probe_camera(url, INGEST, budget_s=5.0)
    assert not result.ok
    assert result.state is CameraState.offline
    assert result.error and "Connection refused" in result.error
    assert result.codec is None and result.jpeg is None
    text = str(result.public())
    assert "Very-Secret-9" not in text
    assert result.url == url.replace("Very-Secret-9", "***")


def test_probe_with_a_wrong_password_says_unauthorized(cameras: dict[str, str]) -> None:
    url = cameras["h264"].replace("demo-secret", "wrong-secret")
    result = probe_camera(url, INGEST, budget_s=5.0)
    assert result.state is CameraState.unauthorized, result.error
    assert "wrong-secret" not in str(result.public())


def test_probe_needs_a_budget(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="budget_s"):
        probe_camera("rtsp://127.0.0.1/x", INGEST, budget_s=0)
