"""Cameras as they are, over real RTSP: the clip server's realistic profile (a busy hall with sensor
noise, 25 fps, 1280x720) in H.264 main, H.264 high with B-frames, H.265 and H.265 with B-frames, a
keyframe every 2 or 4 s, and the 640x360 H.264 sub-stream. Like a camera, the server serves a joining
client from the current frame, mid-GOP.

Each camera is read by two clients at once, over the same stretch of stream:
- the decoder as the reader drives it (`StreamDecoder`, one analysis a second), beside a plain decoder
  given every packet: the sparse decoder's pictures must be the plain decoder's, bit for bit, one a
  stream second apart, from fewer decoded frames; counted over whole GOPs;
- a `CameraReader`, as the pipeline uses it: one frame a second by capture time, none skipped, none
  doubled, with capture times from the stream's clock (their gaps are the timestamps' gaps, whatever
  the decoding bursts and the machine's load do to arrival)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np
import pytest
from av.video.codeccontext import VideoCodecContext

from core.config import IngestConfig
from ingest.decode import StreamDecoder, frame_time
from ingest.health import CameraState, DecodeMode
from ingest.reader import CameraReader, RawFrame, open_options
from pipeline.rows import health_rows
from tests.fix_sites import REPO, free_port

FPS = 25
CLIP_S = 8  # whole GOPs of 2 and 4 s; the server loops it
SPARSE_S = 8  # seconds of stream read in sparse mode, in whole GOPs
# Generous timeouts: these tests are about decoding, and a loaded machine may hold up the server.
LIVE = IngestConfig(open_timeout_s=10, read_timeout_s=20, stall_after_s=30, reconnect_min_s=0.2, reconnect_max_s=2)


@dataclass(frozen=True)
class Camera:
    args: tuple[str, ...]
    gop_s: int
    path: str = "cam0"
    bframes: bool = False

    @property
    def decoded_share(self) -> float:
        """At most this share of the frames is decoded in sparse mode with one analysis a second: from
        each keyframe up to the last analysed frame of its GOP (26 of 50, 76 of 100; one more when the
        decoder holds a frame back), fewer when B-frames that nothing refers to are skipped."""
        share = (FPS * (self.gop_s - 1) + 2) / (FPS * self.gop_s)
        return share * (0.85 if self.bframes else 1.0)


CAMERAS = {
    "h264-main-2s": Camera(("--codec", "h264", "--gop-s", "2"), 2),
    "h264-high-bframes-4s": Camera(("--codec", "h264", "--gop-s", "4", "--bframes", "2"), 4, bframes=True),
    "h265-main-2s": Camera(("--codec", "h265", "--gop-s", "2"), 2),
    "h265-bframes-4s": Camera(("--codec", "h265", "--gop-s", "4", "--bframes", "2"), 4, bframes=True),
    "h264-substream-2s": Camera(("--codec", "h264", "--gop-s", "2", "--substream"), 2, path="cam0/sub"),
}


@pytest.fixture(scope="module", params=sorted(CAMERAS))
def camera(request: pytest.FixtureRequest) -> Iterator[tuple[str, Camera, str]]:
    """One camera of the clip server (its clips are cached between runs: encoding takes a while)."""
    spec = CAMERAS[request.param]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tools.simulator.clip", "--cameras", "1", "--port", str(port),
                             "--profile", "realistic", "--seconds", str(CLIP_S), *spec.args],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield request.param, spec, f"rtsp://127.0.0.1:{port}/{spec.path}"
    finally:
        proc.terminate()
        proc.wait(10)


def plain_decoder(codec: VideoCodecContext) -> VideoCodecContext:
    plain = av.CodecContext.create(codec.name, "r")
    assert isinstance(plain, VideoCodecContext)
    plain.extradata = codec.extradata
    plain.thread_count = 1
    return plain


@dataclass
class SparseRun:
    first_packet_is_keyframe: bool
    first_frame: av.VideoFrame | None
    first_keyframe_pts: int | None
    picks: list[float]       # stream seconds of the frames handed on in sparse mode
    packets: int             # over whole GOPs in sparse mode
    decoded: int             # of those, frames decoded
    mismatches: list[float]  # picks whose picture differs from the plain decode


def read_sparsely(url: str, gop_s: int) -> SparseRun:
    """Read the camera for the GOP to be measured and SPARSE_S seconds of sparse decoding after it,
    then decode the same packets the plain way (afterwards, so that this client keeps up with the
    camera on a loaded machine as the reader does)."""
    with av.open(url, options=open_options(LIVE), timeout=(LIVE.open_timeout_s, LIVE.read_timeout_s)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = LIVE.decoder_threads  # as the reader has it
        decoder = StreamDecoder(stream.codec_context, analysis_fps=1.0, sparse_allowed=True)
        plain = plain_decoder(stream.codec_context)
        run = SparseRun(False, None, None, [], 0, 0, [])
        packets: list[av.Packet] = []
        picked: dict[int, np.ndarray] = {}  # the sparse decoder's pictures by timestamp
        counting_from: int | None = None  # keyframes seen in sparse mode, from the one counting starts at
        for packet in container.demux(stream):
            if not packet.size:
                continue
            if not packets:
                run.first_packet_is_keyframe = packet.is_keyframe
            packets.append(packet)
            if packet.is_keyframe and run.first_keyframe_pts is None:
                run.first_keyframe_pts = packet.pts
            if packet.is_keyframe and decoder.mode is DecodeMode.sparse:
                counting_from = 0 if counting_from is None else counting_from + 1
                if counting_from == SPARSE_S // gop_s:
                    break
            decoded = decoder.decoded
            frames = decoder.decode(packet, time.monotonic())
            if counting_from is not None:
                run.packets += 1
                run.decoded += decoder.decoded - decoded
            if run.first_frame is None and frames:
                run.first_frame = frames[0]
            if decoder.mode is DecodeMode.sparse and counting_from is not None:
                assert len(frames) <= 1
                for frame in frames:
                    ts = frame_time(frame)
                    assert ts is not None and frame.pts is not None
                    run.picks.append(ts)
                    picked[frame.pts] = frame.to_ndarray(format="yuv420p")
    for pending in [*packets, None]:
        for frame in plain.decode(pending):
            if frame.pts in picked:
                if not np.array_equal(frame.to_ndarray(format="yuv420p"), picked.pop(frame.pts)):
                    run.mismatches.append(frame_time(frame) or 0.0)
    assert not picked, "the plain decoder shows every picked timestamp"
    return run


def collect(reader: CameraReader, stop: threading.Event, into: list[tuple[RawFrame, float]]) -> None:
    """Each new frame of the reader (with when it was seen), as the pipeline's scheduler takes them."""
    seq = -1
    while not stop.is_set():
        raw = reader.latest_raw()
        if raw is not None and raw.seq != seq:
            seq = raw.seq
            into.append((raw, time.time()))
        stop.wait(0.01)


def test_camera_is_analysed_once_a_second_from_a_fraction_of_its_frames(camera: tuple[str, Camera, str]) -> None:
    name, spec, url = camera
    reader = CameraReader(name, url, LIVE, analysis_fps=1.0).start()
    seen: list[tuple[RawFrame, float]] = []
    stop = threading.Event()
    collector = threading.Thread(target=collect, args=(reader, stop, seen), daemon=True)
    collector.start()
    try:
        run = read_sparsely(url, spec.gop_s)
        health = reader.health()
        rows = health_rows(("hall", name), reader, time.time())
    finally:
        stop.set()
        collector.join(5)
        reader.stop()

    # Joined mid-GOP, as a camera is: the first picture is the first keyframe's.
    assert not run.first_packet_is_keyframe
    assert run.first_frame is not None and run.first_frame.pts == run.first_keyframe_pts
    assert run.first_frame.key_frame
    # The sparse decoder handed on the plain decoder's pictures, one a second of stream time (or up to
    # 0.1 s later, when it waited for a keyframe rather than decode a GOP).
    assert not run.mismatches, (name, run.mismatches)
    assert len(run.picks) >= SPARSE_S - 1, run.picks
    gaps = np.diff(run.picks)
    assert np.all((gaps > 1.0 - 0.5 / FPS) & (gaps < 1.1 + 0.5 / FPS)), (name, gaps)
    # ...for a fraction of the decoding, counted over whole GOPs.
    assert run.packets == SPARSE_S * FPS
    assert run.decoded <= spec.decoded_share * run.packets, (name, run.decoded, run.packets)

    # The reader, over the same stretch: live throughout, sparse at the end.
    assert health.state is CameraState.live and health.reconnects == 0 and health.stalls == 0
    assert health.decode_mode is DecodeMode.sparse and health.decode_errors == 0
    assert health.keyframe_interval_s == pytest.approx(spec.gop_s, abs=0.1)
    assert health.frames_decoded < health.frames_received
    assert any(getattr(row, "decode_mode", None) == "sparse" for row in rows)  # as stored
    start = len(seen) - 1  # the frames of the sparse spell: ~1 s apart, where full decoding gave 0.04 s
    while start > 0 and seen[start][0].ts - seen[start - 1][0].ts > 0.5:
        start -= 1
    sparse = seen[start:]
    assert len(sparse) >= SPARSE_S - 2, [raw.ts for raw, _ in seen[-SPARSE_S:]]
    # Capture times come from the stream's clock: their gaps are the timestamps' gaps.
    offsets = [raw.ts - frame_time(raw.frame) for raw, _ in sparse]  # type: ignore[operator]
    assert max(offsets) - min(offsets) < 0.02, offsets
    assert all(raw.ts <= at for raw, at in sparse)
    # One frame a second: a frame skipped shows as a gap of ~2 s between consecutive frames, a frame
    # doubled as a gap of 0 (the collector may miss a frame on a loaded box: seq says so).
    for (a, _), (b, _) in zip(sparse, sparse[1:], strict=False):
        if b.seq == a.seq + 1:
            assert 1.0 - 0.5 / FPS < b.ts - a.ts < 1.1 + 0.5 / FPS, (name, a.ts, b.ts)
    span, frames = sparse[-1][0].ts - sparse[0][0].ts, sparse[-1][0].seq - sparse[0][0].seq
    assert frames >= SPARSE_S - 3 and frames * (1.0 - 0.5 / FPS) < span < frames * 1.1, (span, frames)
