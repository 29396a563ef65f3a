"""What a camera URL gives, checked before it goes into the site file: whether it connects, the
codec, the picture size, the frame rate and the keyframe interval, and one picture.

The stream is opened as the readers open it (`ingest.reader.open_options`: RTSP over TCP, FFmpeg's
socket timeout and PyAV's interrupt callback bound every call) and its packets are read for up to
`budget_s` seconds without decoding, except for the first keyframe's picture. The keyframe interval
is counted in packets (one packet is one frame) between keyframes, over up to `KEYFRAME_INTERVALS`
intervals (their median), and timed with the frame step of the packets' own timestamps
(`ingest.decode.packet_time`).
A failure is classified as the readers classify it (`classify_error`) and described with the
credentials masked; so is the URL the result names.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import av
import av.error
import cv2
import numpy as np

from core.config import IngestConfig
from core.redact import redact_text, redact_url
from ingest.decode import packet_time
from ingest.health import CameraState
from ingest.reader import NoVideoStream, classify_error, describe_error, open_options

__all__ = ["KEYFRAME_INTERVALS", "ProbeResult", "probe_camera"]

KEYFRAME_INTERVALS = 3  # intervals measured when they come within the budget: the median of 3 ignores one odd gap
CODEC_NAMES = {"hevc": "h265", "h264": "h264"}  # FFmpeg's names as camera makers write them
JPEG_QUALITY = 80


@dataclass
class ProbeResult:
    url: str                                   # masked
    state: CameraState                         # live when the stream connected and sent a picture
    error: str | None = None                   # why not, masked
    codec: str | None = None                   # h264, h265, or FFmpeg's name for anything else
    profile: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None                   # from the packets' timestamps (or the stream's header)
    keyframe_interval_frames: int | None = None
    keyframe_interval_s: float | None = None
    keyframes: int = 0                         # keyframes seen
    packets: int = 0                           # video packets read
    seconds: float = 0.0                       # the probe's own duration
    jpeg: bytes | None = field(default=None, repr=False)  # the first keyframe's picture
    image: np.ndarray | None = field(default=None, repr=False, compare=False)  # ... as decoded (BGR)

    @property
    def ok(self) -> bool:
        return self.state is CameraState.live

    def public(self) -> dict[str, Any]:
        """For the API: everything but the picture, with the state as its value."""
        out = {k: v for k, v in asdict(self).items() if k not in ("jpeg", "image")}
        out["state"] = self.state.value
        out["ok"] = self.ok
        return out


def probe_camera(url: str, ingest: IngestConfig, *, budget_s: float = 12.0) -> ProbeResult:
    """Connect to `url` and measure it, within about `budget_s` seconds plus one read timeout (the
    open is bounded by `ingest.open_timeout_s`). Never raises for a camera's fault: the result says it."""
    if budget_s <= 0:
        raise ValueError(f"budget_s must be positive, not {budget_s}")
    started = time.monotonic()
    result = ProbeResult(url=redact_url(url), state=CameraState.connecting)
    container: av.container.InputContainer | None = None
    opening = True
    call_started = started
    try:
        container = av.open(url, options=open_options(ingest), timeout=(ingest.open_timeout_s, ingest.read_timeout_s))
        opening = False
        if not container.streams.video:
            raise NoVideoStream("the stream has no video")
        stream = container.streams.video[0]
        codec = stream.codec_context
        result.codec = CODEC_NAMES.get(codec.name, codec.name)
        result.profile = codec.profile
        if codec.width and codec.height:
            result.width, result.height = codec.width, codec.height
        _measure(container, stream, result, deadline=started + budget_s)
        if result.jpeg is None:
            result.state = CameraState.stalled
            result.error = f"no picture within {budget_s:.0f} s"
        else:
            result.state = CameraState.live
    except Exception as exc:  # a camera's failure is the answer, classified as the readers classify it
        elapsed = time.monotonic() - call_started
        socket_timeout = ingest.read_timeout_s
        result.state = classify_error(exc, elapsed_s=elapsed, socket_timeout_s=socket_timeout)
        if result.state is CameraState.stalled and opening:
            result.state = CameraState.offline  # nothing answered: for a new URL, that is "cannot connect"
        result.error = describe_error(exc, result.state, opening=opening, elapsed_s=elapsed)
    finally:
        if container is not None:
            try:
                container.close()
            except Exception:  # closing a broken connection may fail too; nothing to save
                pass
        result.seconds = round(time.monotonic() - started, 3)
    result.error = redact_text(result.error) if result.error else None
    return result


def _measure(container: av.container.InputContainer, stream: av.video.stream.VideoStream, result: ProbeResult,
             *, deadline: float) -> None:
    """Read packets until KEYFRAME_INTERVALS keyframe intervals are measured or the deadline passes;
    decode from the first keyframe until one picture comes out."""
    codec = stream.codec_context
    key_times: list[float] = []
    key_counts: list[int] = []   # packets from one keyframe to the next
    since_key = 0
    times: list[float] = []      # packet timestamps from the first keyframe on (for the frame rate)
    decoding = False
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        result.packets += 1
        ts = packet_time(packet)
        if packet.is_keyframe:
            if result.keyframes:
                key_counts.append(since_key)
            result.keyframes += 1
            since_key = 0
            if ts is not None:
                key_times.append(ts)
            decoding = decoding or result.jpeg is None
        if result.keyframes:
            since_key += 1
            if ts is not None:
                times.append(ts)
        if decoding:
            for frame in codec.decode(packet):
                image = frame.to_ndarray(format="bgr24")
                result.image = image
                result.height, result.width = image.shape[:2]
                ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
                result.jpeg = jpeg.tobytes() if ok else None
                decoding = False
                break
        if len(key_counts) >= KEYFRAME_INTERVALS and result.jpeg is not None or time.monotonic() >= deadline:
            break
    steps = sorted(b - a for a, b in zip(sorted(times), sorted(times)[1:], strict=False) if b > a)
    if steps:
        result.fps = round(1.0 / statistics.median(steps), 2)
    elif stream.average_rate:
        result.fps = round(float(stream.average_rate), 2)
    if key_counts:
        result.keyframe_interval_frames = round(statistics.median(key_counts))
    gaps = [b - a for a, b in zip(key_times, key_times[1:], strict=False) if b > a]
    if result.keyframe_interval_frames and steps:
        # Frames per interval times the median frame step: steadier than the keyframes' own gaps, which a
        # loaded camera's (or network's) timestamp jitter stretches and squeezes.
        result.keyframe_interval_s = round(result.keyframe_interval_frames * statistics.median(steps), 3)
    elif gaps:
        result.keyframe_interval_s = round(statistics.median(gaps), 3)
