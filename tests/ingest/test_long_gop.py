"""Cameras as they are: 25 fps, a keyframe every 2-4 s, H.264 with and without B-frames, H.265 with
open GOPs. Sparse decoding (`ingest.decode`) must hand analysis the same pictures a full decode gives,
at the analysis instants, for much less decoding; a camera joining mid-GOP gets its first picture at
the next keyframe; and the reader does all this on a real RTSP camera (the realistic clip server).

Streams are encoded here from the `crowded-queue` evaluation clip (real photographs of people, a
busy hall) with fresh sensor noise (sigma 2.5) on every frame, and muxed and demuxed as a camera's
stream is, so packets carry their own timestamps."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
import pytest
from av.video.codeccontext import VideoCodecContext

from ingest.decode import StreamClock, StreamDecoder, frame_time, packet_time
from ingest.health import DecodeMode
from tests.fix_sites import REPO

FPS = 25
SECONDS = 20
WIDTH, HEIGHT = 320, 180
SOURCE = REPO / "eval" / "clips" / "crowded-queue" / "video.mp4"  # 4 fps, 1280x720

X264 = "scenecut=0:keyint={gop}:min-keyint={gop}"
# name: (encoder, options, GOP in frames)
STREAMS = {
    "h264-main-2s": ("libx264", {"preset": "ultrafast", "tune": "zerolatency",
                                 "x264-params": X264.format(gop=50) + ":bframes=0"}, 50),
    "h264-high-bframes-2s": ("libx264", {"preset": "veryfast", "profile": "high",
                                         "x264-params": X264.format(gop=50) + ":bframes=3:b-pyramid=normal"}, 50),
    "h264-high-bframes-4s": ("libx264", {"preset": "veryfast", "profile": "high",
                                         "x264-params": X264.format(gop=100) + ":bframes=2:b-pyramid=none"}, 100),
    "h265-open-gop-2s": ("libx265", {"preset": "ultrafast",
                                     "x265-params": X264.format(gop=50) + ":open-gop=1:log-level=error"}, 50),
}


@pytest.fixture(scope="module")
def hall_frames() -> list[np.ndarray]:
    """SECONDS s of the busy hall at 25 fps (each 4 fps frame held), with fresh noise on every frame."""
    rng = np.random.default_rng(14)
    sources: list[np.ndarray] = []
    with av.open(str(SOURCE)) as container:
        for frame in container.decode(video=0):
            if len(sources) == SECONDS * 4:
                break
            sources.append(frame.reformat(width=WIDTH, height=HEIGHT, format="bgr24").to_ndarray())
    frames = []
    for i in range(SECONDS * FPS):
        base = sources[i * 4 // FPS].astype(np.float32)
        noisy = base + rng.normal(0.0, 2.5, base.shape).astype(np.float32)
        frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return frames


def camera_stream(frames: list[np.ndarray], name: str) -> bytes:
    """The frames encoded as `name` says, in an MP4 (packets keep their timestamps)."""
    encoder, options, _ = STREAMS[name]
    return encoded(frames, encoder, options)


def encoded(frames: list[np.ndarray], encoder: str, options: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream(encoder, rate=FPS)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = 400_000
        stream.codec_context.thread_count = 1  # deterministic
        stream.codec_context.options = options
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def demuxed(data: bytes) -> tuple[VideoCodecContext, list[av.Packet]]:
    """A fresh decoder for the stream and its packets in decoding order, as a reader gets them."""
    container = av.open(io.BytesIO(data), "r")
    stream = container.streams.video[0]
    packets = [packet for packet in container.demux(stream) if packet.size]
    codec = av.CodecContext.create(stream.codec_context.name, "r")
    assert isinstance(codec, VideoCodecContext)
    codec.extradata = stream.codec_context.extradata
    codec.thread_count = 1
    container.close()
    return codec, packets


def pictures(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="yuv420p")


def full_decode(data: bytes) -> dict[int, np.ndarray]:
    """Every picture of the stream by its timestamp, decoded the plain way."""
    codec, packets = demuxed(data)
    out = {}
    for packet in [*packets, None]:
        for frame in codec.decode(packet):
            assert frame.pts is not None
            out[frame.pts] = pictures(frame)
    return out


@pytest.fixture(scope="module", params=sorted(STREAMS))
def stream(request: pytest.FixtureRequest, hall_frames: list[np.ndarray]) -> tuple[str, bytes, dict[int, np.ndarray]]:
    data = camera_stream(hall_frames, request.param)
    return request.param, data, full_decode(data)


def test_sparse_decoding_hands_on_the_full_decodes_pictures_once_a_second(
        stream: tuple[str, bytes, dict[int, np.ndarray]]) -> None:
    name, data, reference = stream
    gop = STREAMS[name][2]
    codec, packets = demuxed(data)
    keyframes = [t for p in packets if p.is_keyframe and (t := packet_time(p)) is not None]
    decoder = StreamDecoder(codec, analysis_fps=1.0, sparse_allowed=True)
    picked: list[tuple[float, np.ndarray]] = []
    sparse_packets = sparse_decoded = 0
    for packet in packets:
        was_sparse, decoded = decoder.mode is DecodeMode.sparse, decoder.decoded
        frames = decoder.decode(packet, 0.0)
        if decoder.mode is DecodeMode.sparse:
            assert len(frames) <= 1
            if was_sparse:  # from the first keyframe of the sparse spell on
                sparse_packets += 1
                sparse_decoded += decoder.decoded - decoded
            for frame in frames:
                ts = frame_time(frame)
                assert ts is not None and frame.pts is not None
                picked.append((ts, pictures(frame)))
                # The picture analysis gets is the full decode's picture of that instant, bit for bit.
                assert np.array_equal(pictures(frame), reference[frame.pts]), (name, ts)
    # The GOP is measured from the 4th keyframe on; from there, one picture a second, the first at the
    # keyframe where the mode changed, every one a second after the one before.
    assert decoder.mode is DecodeMode.sparse and decoder.errors == 0
    times = [ts for ts, _ in picked]
    assert times[0] == pytest.approx(keyframes[3])
    assert np.diff(times) == pytest.approx([1.0] * (len(times) - 1))
    assert len(times) == pytest.approx(SECONDS - keyframes[3], abs=1)
    # Decoding stops after the analysed frame until the next keyframe: with one analysis a second, a
    # 2 s GOP without B-frames decodes 26 of its 50 frames, a 4 s GOP 76 of 100; unreferenced B-frames
    # are skipped on top.
    share = sparse_decoded / sparse_packets
    bframes = "bframes" in name or "h265" in name
    limit = {50: 26 / 50, 100: 76 / 100}[gop] + 0.02
    assert share <= (limit * 0.8 if bframes else limit), (name, share)


def test_without_sparse_decoding_every_frame_is_decoded(stream: tuple[str, bytes, dict[int, np.ndarray]]) -> None:
    """The comparison: one analysis a second with keyframes 2-4 s apart used to decode every frame."""
    _, data, reference = stream
    codec, packets = demuxed(data)
    decoder = StreamDecoder(codec, analysis_fps=1.0, sparse_allowed=False)
    frames = sum(len(decoder.decode(packet, 0.0)) for packet in packets)
    assert decoder.mode is DecodeMode.full
    assert frames + len(codec.decode(None)) == len(reference) == len(packets)


def test_a_camera_joining_mid_gop_is_first_seen_at_the_next_keyframe(
        stream: tuple[str, bytes, dict[int, np.ndarray]]) -> None:
    name, data, reference = stream
    gop = STREAMS[name][2]
    codec, packets = demuxed(data)
    joined = packets[gop + gop // 3:]  # a third into the second GOP
    assert not joined[0].is_keyframe
    next_key = next(p for p in joined if p.is_keyframe)
    decoder = StreamDecoder(codec, analysis_fps=1.0, sparse_allowed=True)
    first: av.VideoFrame | None = None
    for packet in joined:
        frames = decoder.decode(packet, 0.0)
        if frames:
            first = frames[0]
            break
    assert first is not None and first.pts is not None and first.pts == next_key.pts, name
    assert np.array_equal(pictures(first), reference[first.pts])


def test_the_analysis_waits_for_a_keyframe_due_just_after_its_instant(hall_frames: list[np.ndarray]) -> None:
    """A keyframe every 2.04 s (51 frames): every second analysis would otherwise cost a whole GOP.
    It is taken at the keyframe, 0.04 s late, and the next instant follows from there."""
    data = encoded(hall_frames, "libx264", {"preset": "ultrafast", "tune": "zerolatency",
                                            "x264-params": X264.format(gop=51)})
    codec, packets = demuxed(data)
    keyframes = sorted(t for p in packets if p.is_keyframe and (t := packet_time(p)) is not None)
    decoder = StreamDecoder(codec, analysis_fps=1.0, sparse_allowed=True)
    times: list[float] = []
    for packet in packets:
        for frame in decoder.decode(packet, 0.0):
            ts = frame_time(frame)
            if decoder.mode is DecodeMode.sparse and ts is not None:
                times.append(ts)
    assert decoder.mode is DecodeMode.sparse and len(times) >= 8
    # Every keyframe from the first analysis on is analysed, and each second analysis is one second
    # after a keyframe: nothing but the keyframe and the 25 frames after it is decoded.
    assert [k for k in keyframes if k >= times[0]] == times[::2]
    assert times[1::2] == pytest.approx([k + 1.0 for k in times[::2]][: len(times[1::2])])
    gaps = np.diff(times)
    assert np.all((gaps >= 1.0 - 1e-6) & (gaps <= 1.0 + 0.1 + 1e-6)), gaps


def stamped(seconds: float) -> av.VideoFrame:
    frame = av.VideoFrame(16, 16, "yuv420p")
    frame.time_base = Fraction(1, 90_000)
    frame.pts = round(seconds * 90_000)
    return frame


def test_capture_time_comes_from_the_streams_clock() -> None:
    """Packets arrive late by a varying delay; a frame is captured at its timestamp on the clock of
    the earliest arrival, however late it is decoded."""
    clock = StreamClock()
    start = 1_764_200_000.0
    for i, delay in enumerate([0.30, 0.05, 0.12, 0.02, 0.40, 0.03]):  # stream second i arrived `delay` late
        clock.observe(10.0 + i, start + i + delay)
    captured, lag = clock.capture(stamped(14.0), start + 4 + 0.9)  # decoded in a burst, 0.9 s after capture
    assert captured == pytest.approx(start + 4 + 0.02)
    assert lag == pytest.approx(0.88)
    assert clock.capture(stamped(15.0), start + 6)[0] - captured == pytest.approx(1.0, abs=1e-3)


def test_capture_time_follows_a_drifting_camera_and_a_restarted_one() -> None:
    clock = StreamClock()
    start = 1_764_200_000.0
    # A camera clock 100 ppm slow: after a day its timestamps trail ours by 8.6 s.
    for second in range(0, 86_400, 10):
        clock.observe(second * (1 - 1e-4), start + second + 0.05)
    captured, _ = clock.capture(stamped(86_390 * (1 - 1e-4)), start + 86_390.1)
    assert captured == pytest.approx(start + 86_390.05, abs=0.1)
    # The camera restarts its timestamps at 0: capture times carry on from the arrival.
    clock.observe(0.0, start + 86_400.05)
    assert clock.capture(stamped(0.0), start + 86_400.1)[0] == pytest.approx(start + 86_400.05)
    # Unstamped frames are captured when they come.
    assert clock.capture(av.VideoFrame(16, 16, "yuv420p"), start + 86_401) == (start + 86_401, 0.0)
