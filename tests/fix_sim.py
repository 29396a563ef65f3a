"""Simulated cameras for tests: the clip server (a pre-encoded clip played as RTSP cameras, started in a few
tenths of a second) as a process of the test's own or as a module's fixture."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fix_sites import REPO, free_port


def start_clip_server(port: int, *, cameras: int = 1, seconds: int = 4) -> subprocess.Popen[str]:
    """`cameras` RTSP cameras (rtsp://127.0.0.1:port/cam1, ...) of a `seconds`-long clip, ready to read."""
    proc = subprocess.Popen([sys.executable, "-m", "tools.simulator.clip", "--cameras", str(cameras), "--port",
                             str(port), "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture(scope="module")
def clip_server() -> Iterator[int]:
    """Three cameras of the pre-encoded clip; yields the port."""
    port = free_port()
    proc = start_clip_server(port, cameras=3, seconds=20)
    yield port
    proc.terminate()
    proc.wait(10)
