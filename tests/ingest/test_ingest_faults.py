"""Camera faults seen by the reader as state transitions (`take_transitions`), on real RTSP: a camera
killed and started again, and a host that never answers, told apart from a refusing password."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator

import pytest

from core.config import IngestConfig
from ingest.health import CameraState
from ingest.reader import CameraReader
from tests.fix_sim import start_clip_server
from tests.fix_sites import free_port
from tests.fix_wait import await_true

FAST = IngestConfig(open_timeout_s=1.5, read_timeout_s=1.5, stall_after_s=2.5, reconnect_min_s=0.1,
                    reconnect_max_s=1.0)
UNROUTABLE = "rtsp://viewer:Secret-99@192.0.2.1:554/cam"  # TEST-NET-1: never answers


@pytest.fixture
def readers() -> Iterator[Callable[[str, str], CameraReader]]:
    started: list[CameraReader] = []

    def start(name: str, url: str) -> CameraReader:
        reader = CameraReader(name, url, FAST, analysis_fps=1.0).start()
        started.append(reader)
        return reader

    yield start
    for reader in started:
        reader.stop()


def test_killed_camera_transitions_and_resumes_within_5_s(readers: Callable[[str, str], CameraReader]) -> None:
    port = free_port()
    server = start_clip_server(port)
    try:
        reader = readers("killed", f"rtsp://127.0.0.1:{port}/cam0")
        await_true(lambda: reader.health().state is CameraState.live, 15, "live")
        server.send_signal(signal.SIGKILL)
        server.wait()
        await_true(lambda: reader.health().state is CameraState.offline, 5, "offline")
        server = start_clip_server(port)
        back = time.monotonic()
        await_true(lambda: reader.health().state is CameraState.live, 5, "live within 5 s of the camera's return")
        assert time.monotonic() - back <= 5.0
        changes = reader.take_transitions()
        spells = reader.take_spells()
    finally:
        server.kill()
        server.wait()
    assert [(c.previous, c.state) for c in changes] == [
        (CameraState.connecting, CameraState.live), (CameraState.live, CameraState.offline),
        (CameraState.offline, CameraState.live)]
    assert changes[1].error and changes[2].error is None
    assert [c.ts for c in changes] == sorted(c.ts for c in changes)
    (spell,) = spells
    assert spell.cause is CameraState.offline
    assert spell.start <= changes[1].ts and spell.end == pytest.approx(changes[2].ts, abs=0.5)
    await_true(lambda: reader.health().state is CameraState.offline, 5, "offline again")
    assert [(c.previous, c.state) for c in reader.take_transitions()] == [(CameraState.live, CameraState.offline)]


def test_unreachable_host_is_offline_and_says_so_without_the_password(
    readers: Callable[[str, str], CameraReader],
) -> None:
    reader = readers("unreachable", UNROUTABLE)
    await_true(lambda: reader.health().reconnects >= 2, 15, "two attempts")
    health = reader.health()
    assert health.state is CameraState.offline, health
    assert health.error and "Secret-99" not in health.error
    assert "Secret-99" not in reader.safe_url
    assert [(c.previous, c.state) for c in reader.take_transitions()] == [(CameraState.connecting, CameraState.offline)]
    assert reader.latest_raw() is None and health.offline_since is not None
