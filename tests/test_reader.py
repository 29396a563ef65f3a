"""The camera reader against endpoints that fail: nothing listening, and a server that answers
with garbage. (Readers against the real RTSP simulator are covered in the end-to-end tests.)"""

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from hallwatch.config import IngestConfig
from ingest.health import CameraState
from ingest.reader import CameraReader
from tests.conftest import free_port

FAST = IngestConfig(open_timeout_s=2, read_timeout_s=1, reconnect_min_s=0.1, reconnect_max_s=0.4)


def wait_for(predicate, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def garbage_server() -> Iterator[int]:
    """A TCP server that answers every connection with bytes that are not RTSP."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    conn.recv(4096)
                    conn.sendall(b"\x00\xffNOT RTSP AT ALL\r\n\r\n" * 64)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    listener.close()


def test_nothing_listening_is_offline_and_retried() -> None:
    url = f"rtsp://admin:p4ssw0rd@127.0.0.1:{free_port()}/stream"
    reader = CameraReader("dead", url, FAST).start()
    try:
        wait_for(lambda: reader.health().reconnects >= 2)
        health = reader.health()
        assert health.state is CameraState.offline
        assert health.fps == 0 and health.last_frame_at is None
        assert reader.latest() is None
        assert "p4ssw0rd" not in (health.error or "") and "p4ssw0rd" not in reader.safe_url
    finally:
        reader.stop()


def test_garbage_answers_do_not_crash_the_reader(garbage_server: int) -> None:
    reader = CameraReader("garbage", f"rtsp://127.0.0.1:{garbage_server}/x", FAST).start()
    try:
        wait_for(lambda: reader.health().reconnects >= 2)
        assert reader.health().state in (CameraState.offline, CameraState.bad_stream)
        assert reader.latest() is None
    finally:
        reader.stop()
    assert not any(t.name == "ingest:garbage" for t in threading.enumerate())
