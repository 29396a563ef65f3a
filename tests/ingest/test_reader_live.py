"""The camera reader against the real RTSP simulator, failing in the ways real cameras fail: killed
and restarted, frozen (SIGSTOP), refusing the password, not listening, sending corrupt video,
changing resolution; and decoding only keyframes when analysis needs no more.

Simulators run as child processes so that they can be frozen and killed. Cutting the simulator's
people out of their photos takes ~5 s per process, so one warm parent process does it once and
forks a fresh simulator for each request (ready in ~0.1 s)."""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from core.config import IngestConfig
from ingest.health import CameraHealth, CameraState, DecodeMode
from ingest.reader import CameraReader, Frame
from pipeline.rows import OfflineSpellSample, health_rows
from tests.fix_sites import EXAMPLE_SITE, REPO, free_port
from tests.fix_wait import await_true

PASSWORD = "Sim-pa55word"
WIDTH, HEIGHT = 640, 360
# The simulator: 10 fps, a keyframe every 10 frames (1 s GOP). stall_after_s stays above the GOP.
LIVE = IngestConfig(open_timeout_s=2, read_timeout_s=1.5, stall_after_s=2.0, reconnect_min_s=0.1, reconnect_max_s=1.0)

# The warm parent: prepares the simulator once, then forks one simulator per line on stdin.
ZYGOTE = r"""
import json, os, signal, sys
from pathlib import Path
import cv2
cv2.setNumThreads(1)  # this process forks: no OpenCV worker threads
from core.config import SiteConfig
from tools.simulator import SceneRenderer, run_simulator

SceneRenderer(SiteConfig.model_validate(json.loads(sys.argv[1])).halls[0].cameras[0], 640, 360)
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the simulators
print("warm", flush=True)
for line in sys.stdin:
    spec = json.loads(line)
    if os.fork() == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        try:
            run_simulator(SiteConfig.model_validate(spec["site"]), truth_dir=Path(spec["truth_dir"]), seed=3,
                          width=spec["width"], height=spec["height"], fps=10,
                          ready=lambda: print(f"ready {os.getpid()}", flush=True))
        except BaseException as exc:
            print(f"failed {os.getpid()} {type(exc).__name__}", flush=True)
        finally:
            os._exit(0)
"""


def site_for(port: int) -> dict:
    """One hall with one camera, served with credentials on `port`."""
    raw = yaml.safe_load(EXAMPLE_SITE.read_text())
    hall = raw["halls"][2]
    hall["cameras"] = hall["cameras"][:1]
    hall["cameras"][0]["url"] = f"rtsp://viewer:{PASSWORD}@127.0.0.1:{port}/cam"
    raw["halls"] = [hall]
    return raw


def camera_url(port: int, password: str = PASSWORD) -> str:
    return f"rtsp://viewer:{password}@127.0.0.1:{port}/cam"


class Simulators:
    """Forks simulator processes from one warm parent."""

    def __init__(self, tmp: Path):
        self._tmp = tmp
        self._log = open(tmp / "simulators.log", "w")  # closed in close()
        self._parent = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, json.dumps(site_for(1))], cwd=REPO, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._children: list[int] = []
        threading.Thread(target=self._pump, name="simulators-stdout", daemon=True).start()
        self._expect("warm", 60)

    def _pump(self) -> None:
        assert self._parent.stdout is not None
        for line in self._parent.stdout:
            self._lines.put(line.strip())

    def _expect(self, word: str, timeout_s: float) -> str:
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"the simulator parent did not say {word!r} in {timeout_s} s") from None
        assert line.startswith(word), line
        return line

    def serve(self, port: int, *, width: int = WIDTH, height: int = HEIGHT) -> int:
        """Start a simulator on `port`; returns its pid once it listens."""
        spec = {"site": site_for(port), "truth_dir": str(self._tmp / f"truth-{port}"), "width": width,
                "height": height}
        assert self._parent.stdin is not None
        self._parent.stdin.write(json.dumps(spec) + "\n")
        self._parent.stdin.flush()
        pid = int(self._expect("ready", 30).split()[1])
        self._children.append(pid)
        return pid

    def signal(self, pid: int, sig: signal.Signals) -> None:
        os.kill(pid, sig)

    def close(self) -> None:
        for pid in self._children:
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        assert self._parent.stdin is not None
        self._parent.stdin.close()
        try:
            self._parent.wait(10)
        except subprocess.TimeoutExpired:
            self._parent.kill()
            self._parent.wait()
        self._log.close()


@pytest.fixture(scope="module")
def simulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulators]:
    sims = Simulators(tmp_path_factory.mktemp("simulators"))
    yield sims
    sims.close()


@pytest.fixture(scope="module")
def steady(simulators: Simulators) -> int:
    """The port of a simulator that runs for the whole module, untouched."""
    port = free_port()
    simulators.serve(port)
    return port


@pytest.fixture
def readers() -> Iterator[Callable[..., CameraReader]]:
    """Starts readers and stops them after the test."""
    started: list[CameraReader] = []

    def start(name: str, url: str, config: IngestConfig = LIVE, analysis_fps: float | None = None) -> CameraReader:
        reader = CameraReader(name, url, config, analysis_fps=analysis_fps).start()
        started.append(reader)
        return reader

    yield start
    for reader in started:
        reader.stop(timeout_s=0.0)
    for reader in started:
        reader.stop()


def is_live(reader: CameraReader) -> bool:
    return reader.health().state is CameraState.live and reader.latest() is not None


def newest(reader: CameraReader) -> Frame:
    frame = reader.latest()
    assert frame is not None, "no frame yet"
    return frame


def thread_alive(name: str) -> bool:
    return any(t.name == f"ingest:{name}" and t.is_alive() for t in threading.enumerate())


# --- failures of the camera -----------------------------------------------------------------------


def test_killed_camera_goes_offline_and_comes_back(simulators: Simulators, readers: Callable) -> None:
    port = free_port()
    pid = simulators.serve(port)
    reader = readers("killed", camera_url(port))
    await_true(lambda: is_live(reader), 10, "live")
    killed_at = time.time()
    simulators.signal(pid, signal.SIGKILL)
    await_true(lambda: reader.health().state is CameraState.offline, 3, "offline")
    health = reader.health()
    # The spell starts at the last frame, which may still have been on its way at the kill.
    assert health.offline_since is not None and killed_at - 1.0 <= health.offline_since <= killed_at + 0.5
    assert reader.take_spells() == [], "the spell has not ended"

    simulators.serve(port)
    back_at = time.time()
    waited = await_true(lambda: is_live(reader), 5, "live again within 5 s of the server's return")
    rows = health_rows(("h1", "killed"), reader, time.time())  # what the pipeline stores
    (spell,) = [row for row in rows if isinstance(row, OfflineSpellSample)]
    assert spell.cause == CameraState.offline.value
    assert spell.ts.timestamp() == pytest.approx(health.offline_since, abs=1e-3)
    assert back_at <= spell.ended_at.timestamp() <= back_at + waited + 0.5
    after = reader.health()
    assert after.offline_since is None and after.reconnects >= 1
    assert reader.take_spells() == []


def test_frozen_camera_is_stalled_then_recovers(simulators: Simulators, readers: Callable) -> None:
    port = free_port()
    pid = simulators.serve(port)
    reader = readers("frozen", camera_url(port))
    await_true(lambda: is_live(reader), 10, "live")
    simulators.signal(pid, signal.SIGSTOP)  # the connection stays open; nothing comes
    try:
        await_true(lambda: reader.health().state is CameraState.stalled, LIVE.stall_after_s + 1.5, "stalled")
        # The reader gives up on the dead connection and keeps trying while the server is frozen;
        # the server still accepts connections (the kernel does), so the camera stays `stalled`.
        reconnects = reader.health().reconnects
        await_true(lambda: reader.health().reconnects >= reconnects + 1, 2 * LIVE.read_timeout_s + 2, "reopened")
        assert reader.health().state is CameraState.stalled
    finally:
        simulators.signal(pid, signal.SIGCONT)
    await_true(lambda: is_live(reader), 8, "live after SIGCONT")
    (spell,) = reader.take_spells()
    assert spell.cause is CameraState.stalled and spell.duration_s > LIVE.stall_after_s
    assert reader.health().stalls >= 1 or reader.health().reconnects >= 1


def test_wrong_password_is_unauthorized_and_closed_port_is_offline(
    steady: int, readers: Callable, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-secret"
    refused = readers("wrong-password", camera_url(steady, wrong))
    closed = readers("closed-port", camera_url(free_port()))
    await_true(lambda: refused.health().state is CameraState.unauthorized, 5, "unauthorized")
    await_true(lambda: closed.health().state is CameraState.offline and closed.health().reconnects >= 2, 5, "offline")
    for reader, secret in ((refused, wrong), (closed, PASSWORD)):
        health = reader.health()
        assert health.error and secret not in health.error, health.error
        assert secret not in reader.safe_url
        assert reader.latest() is None and health.offline_since is not None
    assert wrong not in caplog.text and PASSWORD not in caplog.text
    assert "401" in (refused.health().error or "")


# --- what arrives is broken -----------------------------------------------------------------------


class CorruptingProxy:
    """A TCP proxy for RTSP over TCP. While `corrupting` is set it flips random bits (seeded) in the
    payload of the interleaved RTP packets from the server, leaving the RTSP messages, the
    interleaving headers and the RTP headers intact: the reader gets valid RTP carrying broken
    H.264."""

    def __init__(self, upstream_port: int, seed: int):
        self._upstream = upstream_port
        self._rng = random.Random(seed)
        self.corrupting = threading.Event()
        self.corrupted = 0  # RTP packets damaged so far
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = [self._listener]
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def close(self) -> None:
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._upstream))
            self._sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._from_server, args=(server, client), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass

    def _from_server(self, source: socket.socket, target: socket.socket) -> None:
        buffer = bytearray()
        try:
            while data := source.recv(65536):
                buffer += data
                while (message := self._take_message(buffer)) is not None:
                    target.sendall(message)
        except OSError:
            pass

    def _take_message(self, buffer: bytearray) -> bytes | None:
        """The next whole RTSP message or interleaved packet at the front of `buffer`, if complete."""
        if buffer[:1] == b"$":
            if len(buffer) < 4:
                return None
            size = int.from_bytes(buffer[2:4], "big")
            if len(buffer) < 4 + size:
                return None
            packet = bytearray(buffer[: 4 + size])
            del buffer[: 4 + size]
            if packet[1] % 2 == 0 and self.corrupting.is_set():  # even channels: RTP
                self._damage(packet)
            return bytes(packet)
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        length = re.search(rb"(?im)^content-length:\s*(\d+)", bytes(buffer[:end]))
        total = end + 4 + (int(length.group(1)) if length else 0)
        if len(buffer) < total:
            return None
        message = bytes(buffer[:total])
        del buffer[:total]
        return message

    def _damage(self, packet: bytearray) -> None:
        rtp = 4  # after the interleaving header
        header = 12 + 4 * (packet[rtp] & 0x0F)
        if packet[rtp] & 0x10 and len(packet) >= rtp + header + 4:  # header extension
            header += 4 + 4 * int.from_bytes(packet[rtp + header + 2 : rtp + header + 4], "big")
        start = rtp + header
        if len(packet) <= start:
            return
        for _ in range(1 + (len(packet) - start) // 200):
            packet[self._rng.randrange(start, len(packet))] ^= 1 << self._rng.randrange(8)
        self.corrupted += 1


@pytest.fixture
def proxy(steady: int) -> Iterator[CorruptingProxy]:
    proxy = CorruptingProxy(steady, seed=11)
    yield proxy
    proxy.close()


def test_corrupt_video_is_survived(proxy: CorruptingProxy, readers: Callable) -> None:
    reader = readers("corrupt", camera_url(proxy.port), analysis_fps=5.0)
    await_true(lambda: is_live(reader), 10, "live")
    before = reader.health()
    proxy.corrupting.set()
    await_true(lambda: proxy.corrupted >= 400, 10, "corruption")  # ~3 s of video
    proxy.corrupting.clear()
    during = reader.health()
    assert during.decode_errors > before.decode_errors  # counted, not raised; a stall may follow
    assert thread_alive("corrupt")
    last_seq = newest(reader).seq
    await_true(lambda: is_live(reader) and newest(reader).seq > last_seq + 10, 10, "clean frames after the corruption")
    frame = newest(reader)
    assert frame.size == (WIDTH, HEIGHT) and frame.image.std() > 10
    assert thread_alive("corrupt")


def test_new_resolution_after_a_restart(simulators: Simulators, readers: Callable) -> None:
    port = free_port()
    pid = simulators.serve(port)
    reader = readers("resized", camera_url(port))
    await_true(lambda: is_live(reader), 10, "live")
    assert newest(reader).size == (WIDTH, HEIGHT)
    simulators.signal(pid, signal.SIGKILL)
    simulators.serve(port, width=320, height=240)
    await_true(lambda: is_live(reader) and newest(reader).size == (320, 240), 8, "frames of the new size")
    assert newest(reader).image.shape == (240, 320, 3)


# --- decoding only what analysis needs ------------------------------------------------------------


def test_keyframes_only_when_analysis_needs_no_more(steady: int, readers: Callable) -> None:
    sparse = readers("one-per-second", camera_url(steady), analysis_fps=1.0)
    dense = readers("five-per-second", camera_url(steady), analysis_fps=5.0)
    for _attempt in range(3):
        await_true(lambda: sparse.health().decode_mode is DecodeMode.keyframes, 10, "keyframe mode")
        start_sparse, start_dense = sparse.health(), dense.health()
        seen: set[tuple[DecodeMode, DecodeMode, int, int]] = set()  # what the window went through

        def thirty_frames(a: CameraHealth = start_sparse, b: CameraHealth = start_dense,
                          seen: set[tuple[DecodeMode, DecodeMode, int, int]] = seen) -> bool:
            now_a, now_b = sparse.health(), dense.health()
            seen.add((now_a.decode_mode, now_b.decode_mode, now_a.reconnects, now_b.reconnects))
            return now_a.frames_received >= a.frames_received + 30 and now_b.frames_received >= b.frames_received + 30

        await_true(thirty_frames, 8, "30 frames")
        end_sparse, end_dense = sparse.health(), dense.health()
        # The window counts if both stayed connected and in one mode (a loaded machine may delay a GOP).
        if seen == {(DecodeMode.keyframes, DecodeMode.full, start_sparse.reconnects, start_dense.reconnects)}:
            break
    else:
        raise AssertionError(f"no steady 30-frame window in 3 tries; the last went through {seen}")
    received = end_sparse.frames_received - start_sparse.frames_received
    decoded = end_sparse.frames_decoded - start_sparse.frames_decoded
    assert received >= 30 and 2 <= decoded <= received // 10 + 1, (received, decoded)
    assert end_sparse.keyframe_interval_s is not None and 0.9 <= end_sparse.keyframe_interval_s <= 1.1
    assert end_sparse.state is CameraState.live and end_sparse.decode_errors == 0
    assert time.time() - newest(sparse).ts < 1.5, "keyframes are at most a GOP old"
    # Five analyses a second need more than one keyframe a second: every frame is decoded.
    dense_received = end_dense.frames_received - start_dense.frames_received
    dense_decoded = end_dense.frames_decoded - start_dense.frames_decoded
    assert dense_decoded >= dense_received - 1, (dense_received, dense_decoded)
