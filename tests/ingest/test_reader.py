"""The camera reader against endpoints that fail (nothing listening, a server that answers with
garbage, an FFmpeg call that never returns), its decoder on real H.264 packets (resolution change,
corruption, keyframe-only decoding), error classification and the reader's config. Readers against
the real RTSP simulator are in test_reader_live.py."""

import random
import socket
import threading
import time
from collections.abc import Iterator
from fractions import Fraction

import av
import av.error
import numpy as np
import pytest
from av.video.codeccontext import VideoCodecContext
from pydantic import ValidationError

from core.config import CameraConfig, IngestConfig
from core.errors import StreamStalled
from ingest.decode import KeyframeMeter, StreamDecoder, keyframes_suffice
from ingest.health import CameraState, DecodeMode
from ingest.reader import CameraReader, NoVideoStream, classify_error
from tests.fix_sites import free_port
from tests.fix_wait import await_true

FAST = IngestConfig(open_timeout_s=2, read_timeout_s=1, reconnect_min_s=0.1, reconnect_max_s=0.4)


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


@pytest.mark.parametrize("port", [55401, 401])
def test_refused_connection_is_offline_whatever_the_port(port: int) -> None:
    import av

    refused = av.error.ConnectionRefusedError(111, "Connection refused", f"rtsp://u:p@127.0.0.1:{port}/stream")
    assert classify_error(refused) is CameraState.offline


def test_nothing_listening_is_offline_and_retried() -> None:
    url = f"rtsp://admin:p4ssw0rd@127.0.0.1:{free_port()}/stream"
    reader = CameraReader("dead", url, FAST).start()
    try:
        await_true(lambda: reader.health().reconnects >= 2, 15, "two reconnects")
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
        await_true(lambda: reader.health().reconnects >= 2, 15, "two reconnects")
        assert reader.health().state in (CameraState.offline, CameraState.bad_stream)
        assert reader.latest() is None
    finally:
        reader.stop()
    assert not any(t.name == "ingest:garbage" for t in threading.enumerate())


# --- decoding: real H.264 packets from PyAV's x264 encoder ------------------------------------------

FPS = 10


def h264_packets(width: int, height: int, frames: int, gop: int = FPS, start: int = 0) -> list[av.Packet]:
    """`frames` frames of a moving bar, one keyframe every `gop` frames, timestamps in 1/FPS s."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, FPS)
    encoder.framerate = Fraction(FPS)
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency",
                       "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1"}
    packets: list[av.Packet] = []
    for i in range(frames):
        image = np.full((height, width, 3), 40, np.uint8)
        image[:, (i * 7) % width] = 255
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = i
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    for packet in packets:
        packet.pts = (packet.pts or 0) + start
        packet.time_base = Fraction(1, FPS)
    return packets


def h264_decoder(analysis_fps: float | None, keyframes_allowed: bool = True) -> StreamDecoder:
    codec = av.CodecContext.create("h264", "r")
    assert isinstance(codec, VideoCodecContext)
    return StreamDecoder(codec, analysis_fps=analysis_fps, keyframes_allowed=keyframes_allowed)


def test_resolution_change_mid_stream_gives_frames_of_the_new_size() -> None:
    decoder = h264_decoder(analysis_fps=None)
    sizes = []
    for packet in h264_packets(320, 240, 20) + h264_packets(160, 128, 20, start=20):
        sizes += [(f.width, f.height) for f in decoder.decode(packet, 0.0)]
    assert sizes == [(320, 240)] * 20 + [(160, 128)] * 20
    assert decoder.errors == 0 and decoder.mode is DecodeMode.full


def test_corrupt_and_garbage_packets_are_counted_not_raised() -> None:
    rng = random.Random(5)
    packets = h264_packets(320, 240, 40)
    decoder = h264_decoder(analysis_fps=None)
    good_after = 0
    for i, packet in enumerate(packets):
        data = bytearray(bytes(packet))
        if 12 <= i < 18:  # flipped bits inside a GOP
            for _ in range(20):
                data[rng.randrange(8, len(data))] ^= 1 << rng.randrange(8)
        if i == 18:  # bytes that are no H.264 at all
            data = bytearray(b"\x00\x00\x00\x01" + rng.randbytes(500))
        damaged = av.Packet(bytes(data))
        damaged.pts, damaged.time_base = packet.pts, packet.time_base
        frames = decoder.decode(damaged, 0.0)
        if i >= 20:  # from the next keyframe on
            good_after += len(frames)
    assert decoder.errors >= 2 and decoder.last_error
    assert good_after == 20


def test_keyframes_only_once_the_gop_is_measured() -> None:
    decoder = h264_decoder(analysis_fps=1.0)
    decoded_per_gop = []
    for gop, start in enumerate(range(0, 80, FPS)):
        packets = h264_packets(160, 128, FPS, start=start)
        decoded_per_gop.append(sum(len(decoder.decode(p, 0.0)) for p in packets))
        assert decoder.meter.interval_s == (None if gop < 3 else pytest.approx(1.0)), gop
    # 3 intervals (4 keyframes) measured: from the 4th GOP on, one frame per GOP.
    assert decoded_per_gop == [FPS] * 3 + [1] * 5
    assert decoder.mode is DecodeMode.keyframes and decoder.errors == 0


@pytest.mark.parametrize(("analysis_fps", "allowed", "mode"), [
    (1.0, True, DecodeMode.keyframes),
    (0.2, True, DecodeMode.keyframes),
    (2.0, True, DecodeMode.full),   # two analyses a second, one keyframe a second
    (None, True, DecodeMode.full),  # the consumer may want every frame
    (1.0, False, DecodeMode.full),  # switched off in the config
])
def test_decode_mode_follows_the_analysis_rate(analysis_fps: float | None, allowed: bool, mode: DecodeMode) -> None:
    decoder = h264_decoder(analysis_fps=analysis_fps, keyframes_allowed=allowed)
    for start in range(0, 60, FPS):
        for packet in h264_packets(160, 128, FPS, start=start):
            decoder.decode(packet, 0.0)
    assert decoder.mode is mode


@pytest.mark.parametrize(("keyframes_at", "interval"), [
    ([0.0, 1.0], None),                               # one interval is not enough
    ([0.0, 1.0, 2.0, 3.0], 1.0),
    ([0.0, 2.0, 4.0, 6.0, 8.0], 2.0),
    ([0.0, 1.0, 5.0, 6.0, 7.0], 1.0),                 # the median ignores one odd gap
    ([0.0, 1.0, 2.0, 3.0, 0.5, 1.5, 2.5], None),      # timestamps went back: measure again
    ([0.0, 1.0, 2.0, 3.0, 100.0, 101.0], None),       # a gap of minutes is a reset, not a GOP
])
def test_keyframe_meter(keyframes_at: list[float], interval: float | None) -> None:
    meter = KeyframeMeter()
    for ts in keyframes_at:
        meter.observe(ts)
    assert meter.interval_s == (None if interval is None else pytest.approx(interval))


@pytest.mark.parametrize(("analysis_fps", "interval", "expected"), [
    (1.0, 1.0, True), (1.0, 1.03, True), (1.0, 1.2, False), (0.5, 1.9, True), (2.0, 1.0, False),
    (None, 1.0, False), (1.0, None, False),
])
def test_keyframes_suffice(analysis_fps: float | None, interval: float | None, expected: bool) -> None:
    assert keyframes_suffice(analysis_fps, interval) is expected


def test_keyframe_mode_does_not_flap_on_a_slow_gop() -> None:
    """Entered at a GOP of up to ~1.05 analysis intervals, left only beyond ~1.18."""
    decoder = h264_decoder(analysis_fps=1.0)
    starts = [0, 10, 20, 30, 41, 52, 63]  # keyframes 1.0 s apart, then 1.1 s apart
    for start in starts:
        for packet in h264_packets(160, 128, FPS, start=start):
            decoder.decode(packet, 0.0)
    assert decoder.meter.interval_s == pytest.approx(1.1) and decoder.mode is DecodeMode.keyframes
    for start in (76, 89, 102):  # 1.3 s apart: too slow for one analysis a second
        for packet in h264_packets(160, 128, FPS, start=start):
            decoder.decode(packet, 0.0)
    assert decoder.mode is DecodeMode.full


# --- errors, config -----------------------------------------------------------------------------------

URL = "rtsp://u:p4ss@127.0.0.1:1/x"


@pytest.mark.parametrize(("exc", "elapsed_s", "state"), [
    (av.error.HTTPUnauthorizedError(825242872, "Server returned 401 Unauthorized", URL), 0.0,
     CameraState.unauthorized),
    (av.error.ConnectionRefusedError(111, "Connection refused", URL), 0.0, CameraState.offline),
    (av.error.ExitError(1414092869, "Immediate exit requested", URL), 1.0, CameraState.stalled),
    (av.error.InvalidDataError(1094995529, "Invalid data found", URL), 0.01, CameraState.bad_stream),
    (av.error.InvalidDataError(1094995529, "Invalid data found", URL), 1.0, CameraState.stalled),  # socket timeout
    (StreamStalled("no frame"), 0.0, CameraState.stalled),
    (NoVideoStream("no video"), 0.0, CameraState.bad_stream),
    (OSError(5, "Input/output error"), 0.0, CameraState.offline),
])
def test_classify_error(exc: BaseException, elapsed_s: float, state: CameraState) -> None:
    assert classify_error(exc, elapsed_s=elapsed_s, socket_timeout_s=1.0) is state


def camera(**fields: object) -> CameraConfig:
    return CameraConfig.model_validate({"id": "cam1", "url": "rtsp://viewer:main-pw@10.0.0.1/main", **fields})


def test_detect_url_is_validated_expanded_and_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    assert camera().detect_url is None and camera().analysis_url == "rtsp://viewer:main-pw@10.0.0.1/main"
    with pytest.raises(ValidationError, match="not an rtsp:// URL"):
        camera(detect_url="http://viewer:sub-pw@10.0.0.1/sub")
    with pytest.raises(ValidationError, match="SUB_PW is not set"):
        camera(detect_url="rtsp://viewer:${SUB_PW}@10.0.0.1/sub")
    monkeypatch.setenv("SUB_PW", "sub-pw")
    cam = camera(detect_url="rtsp://viewer:${SUB_PW}@10.0.0.1/sub", analysis_fps=2.0)
    assert cam.detect_url == cam.analysis_url == "rtsp://viewer:sub-pw@10.0.0.1/sub"
    assert "sub-pw" not in repr(cam) and "main-pw" not in repr(cam)
    reader = CameraReader.for_camera("hall/cam1", cam, FAST)
    assert reader.safe_url == "rtsp://viewer:***@10.0.0.1/sub"
    assert reader.analysis_fps == 2.0


# --- the watchdog -------------------------------------------------------------------------------------


def test_a_thread_stuck_in_ffmpeg_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """An FFmpeg call that ignores every timeout must not take the camera with it: the watchdog
    abandons the thread, a new one takes over, and the stuck one leaves quietly when it returns."""
    release = threading.Event()
    calls: list[str] = []

    def fake_open(url: str, **_: object) -> av.container.InputContainer:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            release.wait(30)  # stuck
            raise RuntimeError("the stuck call returned")
        raise av.error.ConnectionRefusedError(111, "Connection refused", url)

    monkeypatch.setattr("ingest.reader.av.open", fake_open)
    config = IngestConfig(open_timeout_s=0.2, read_timeout_s=0.2, reconnect_min_s=0.1, reconnect_max_s=0.2)
    reader = CameraReader("stuck", "rtsp://127.0.0.1:9/x", config).start()
    try:
        await_true(lambda: len(calls) == 1, 15, "the first open")
        (stuck,) = [t for t in threading.enumerate() if t.name == "ingest:stuck"]
        waited = time.monotonic()
        await_true(lambda: len(calls) >= 3, reader.stuck_after_s + 3, "a third open past the stuck one")
        assert time.monotonic() - waited >= reader.stuck_after_s - 0.5
        health = reader.health()
        assert health.state is CameraState.offline and "Connection refused" in (health.error or "")
        assert stuck.is_alive()
        release.set()
        stuck.join(5)
        assert not stuck.is_alive()
        time.sleep(0.2)
        assert "stuck call" not in (reader.health().error or ""), "an abandoned thread reported"
    finally:
        release.set()
        reader.stop()
