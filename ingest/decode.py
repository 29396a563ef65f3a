"""Decoding only what analysis needs.

A camera sends 10-25 frames a second and analysis looks at one or two, but every P-frame needs the
frames before it, so analysing few frames alone saves nothing at the decoder. A keyframe decodes
on its own: when keyframes come at least as often as analysis wants frames, decoding only keyframes
(FFmpeg `skip_frame=NONKEY`) gives analysis all it needs for a fraction of the work (FACTS: ~18-40
cameras per core with every frame decoded, ~140-270 with keyframes only). The keyframe interval is
measured on the stream, never taken on trust from configuration, and the mode changes only at a
keyframe, where both modes start from a clean picture.

Broken input is a count, not a failure: a packet the decoder rejects is skipped, and a frame the
decoder marks corrupt is dropped, since analysis on a smeared picture is worse than none.
"""

from __future__ import annotations

import statistics
from collections import deque

import av
import av.error
from av.video.codeccontext import VideoCodecContext

from ingest.health import DecodeMode

KEYFRAME_SAMPLES = 5      # keyframe intervals kept; their median is the interval
MIN_KEYFRAME_SAMPLES = 3  # intervals needed before deciding: the median of 3 ignores one odd gap
MAX_KEYFRAME_GAP_S = 60.0  # a longer gap (or a jump back) is a timestamp reset: measure again
JITTER = 0.05             # live timestamps wobble: a 1.00 s GOP may measure 1.03 s
LEAVE_JITTER = 3 * JITTER  # hysteresis: a few slow GOPs do not end keyframe-only decoding


def packet_time(packet: av.Packet) -> float | None:
    """The packet's presentation time in seconds of stream time, if it has one."""
    if packet.pts is None or packet.time_base is None:
        return None
    return float(packet.pts * packet.time_base)


class KeyframeMeter:
    """The time between keyframes, from their timestamps: the median of the last few intervals."""

    def __init__(self) -> None:
        self._last: float | None = None
        self._intervals: deque[float] = deque(maxlen=KEYFRAME_SAMPLES)

    def observe(self, ts: float) -> None:
        """A keyframe at `ts` seconds."""
        if self._last is not None:
            gap = ts - self._last
            if 0.0 < gap <= MAX_KEYFRAME_GAP_S:
                self._intervals.append(gap)
            else:
                self._intervals.clear()
        self._last = ts

    @property
    def interval_s(self) -> float | None:
        if len(self._intervals) < MIN_KEYFRAME_SAMPLES:
            return None
        return float(statistics.median(self._intervals))


def keyframes_suffice(analysis_fps: float | None, keyframe_interval_s: float | None, *,
                      jitter: float = JITTER) -> bool:
    """Whether decoding keyframes only still gives analysis a new frame every time it asks:
    1 / analysis_fps >= keyframe interval (with room for timestamp jitter)."""
    if analysis_fps is None or keyframe_interval_s is None:
        return False
    return 1.0 / analysis_fps >= keyframe_interval_s * (1.0 - jitter)


class StreamDecoder:
    """Decodes one video stream's packets for a camera analysed at `analysis_fps` (None: analysis
    needs every frame, so never keyframes only)."""

    def __init__(self, codec: VideoCodecContext, *, analysis_fps: float | None, keyframes_allowed: bool = True):
        self._codec = codec
        self._analysis_fps = analysis_fps if keyframes_allowed else None
        self.meter = KeyframeMeter()
        self.mode = DecodeMode.full
        self.decoded = 0  # frames the decoder produced, corrupt ones included
        self.errors = 0   # packets rejected plus corrupt frames dropped
        self.rejected = 0  # packets the decoder refused
        self.corrupt = 0   # frames the decoder marked corrupt (dropped)
        self.last_error: str | None = None
        self._clock_is_pts: bool | None = None  # decided at the first keyframe
        codec.skip_frame = "DEFAULT"

    def decode(self, packet: av.Packet, arrival_s: float) -> list[av.VideoFrame]:
        """The good frames this packet completes; `arrival_s` (monotonic seconds) dates keyframes
        that carry no timestamp."""
        if packet.is_keyframe:
            self._keyframe(packet, arrival_s)
        try:
            frames = self._codec.decode(packet)
        except (av.error.FFmpegError, ValueError) as exc:  # corrupt data: skip this packet, keep going
            self.errors += 1
            self.rejected += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return []
        self.decoded += len(frames)
        good = [frame for frame in frames if not frame.is_corrupt]
        if len(good) < len(frames):
            self.errors += len(frames) - len(good)
            self.corrupt += len(frames) - len(good)
            self.last_error = "the decoder marked a frame corrupt"
        return good

    def _keyframe(self, packet: av.Packet, arrival_s: float) -> None:
        ts = packet_time(packet)
        if self._clock_is_pts is None:
            self._clock_is_pts = ts is not None
        if self._clock_is_pts:
            if ts is None:
                return  # one keyframe without a timestamp: skip it rather than mix clocks
        else:
            ts = arrival_s
        self.meter.observe(ts)
        jitter = LEAVE_JITTER if self.mode is DecodeMode.keyframes else JITTER
        suffice = keyframes_suffice(self._analysis_fps, self.meter.interval_s, jitter=jitter)
        want = DecodeMode.keyframes if suffice else DecodeMode.full
        if want is not self.mode:
            # At a keyframe: nothing decoded after it refers to a frame skipped before it.
            self._codec.skip_frame = "NONKEY" if want is DecodeMode.keyframes else "DEFAULT"
            self.mode = want
