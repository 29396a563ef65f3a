"""Decoding only what analysis needs.

A camera sends 10-25 frames a second and analysis looks at one or two, but every P-frame needs the
frames before it, so analysing few frames alone saves nothing at the decoder. Three modes:

- `keyframes`: a keyframe decodes on its own. When keyframes come at least as often as analysis
  wants frames, only keyframes are decoded (FFmpeg `skip_frame=NONKEY`): FACTS measured ~18-40
  cameras per core with every frame decoded, ~140-270 with keyframes only.
- `sparse`: when keyframes are further apart than analyses (hall cameras: 25 fps, a keyframe every
  2-4 s), the packets are read but held back, undecoded, until the frame the next analysis takes
  arrives; then the held packets from the last keyframe up to it are decoded in one go and only that
  frame is handed on. When the next keyframe comes first, the held packets are dropped unseen and the
  decoder restarts at the keyframe. B-frames that no other frame refers to are skipped while catching
  up (`skip_frame=NONREF`): no analysed picture depends on them, so every picture handed on is the
  one a full decode gives, bit for bit. When the keyframe is due within `SNAP_SHARE` of an analysis
  interval after an analysis instant, that analysis waits for the keyframe instead of decoding a GOP
  for it, and the next instants follow from the keyframe, so analyses stay in step with keyframes
  (a camera's GOP of 2.04 s costs at most 2 % of the analyses, not a GOP of decoding). With a 2 s GOP
  and one analysis a second, 26 of 50 frames are decoded; with a 4 s GOP 76 of 100, fewer with
  unreferenced B-frames (measured CPU: docs/ingest.md).
- `full`: every frame (the consumer wants every frame, or analyses come too often for either).

The keyframe interval and the frame rate are measured on the stream, never taken on trust from
configuration, and the mode changes only at a keyframe, where every mode starts from a clean picture.
Frames are dated by the stream's own timestamps (`StreamClock`), since sparse decoding decodes a
GOP's frames in a burst, long after some of them were captured.

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
SPARSE_MIN_FRAMES = 4     # sparse decoding only with at least this many frames per analysis: below it the
                          # P-frame chain means decoding nearly every frame anyway
SNAP_SHARE = 0.1          # an analysis waits for a keyframe due this share of its interval after its instant
MAX_HELD_PACKETS = 1024   # held packets beyond this are decoded (a GOP of minutes must not fill memory)
CLOCK_DRIFT = 2e-4        # camera clocks drift up to ~1e-4 (0.1 s per 1,000 s) against ours; followed at twice that
CLOCK_RESYNC_S = 30.0     # a packet this much later than its timestamp says: the stream's clock jumped back


def packet_time(packet: av.Packet) -> float | None:
    """The packet's presentation time in seconds of stream time, if it has one."""
    if packet.pts is None or packet.time_base is None:
        return None
    return float(packet.pts * packet.time_base)


def frame_time(frame: av.VideoFrame) -> float | None:
    """The frame's presentation time in seconds of stream time, if it has one."""
    if frame.pts is None or frame.time_base is None:
        return None
    return float(frame.pts * frame.time_base)


class StreamClock:
    """Places a session's stream timestamps on this machine's clock. A frame cannot arrive before it
    was captured, so the smallest (arrival - timestamp) of the session's packets is the best estimate
    of the offset; it may rise by CLOCK_DRIFT of the time that passes, so that a camera clock running
    slow does not leave capture times ever further behind, and it is taken afresh when the stream's
    clock jumps back (a camera restarting its timestamps)."""

    def __init__(self) -> None:
        self.offset: float | None = None
        self._at = 0.0  # arrival of the last packet

    def observe(self, stream_s: float | None, arrival: float) -> None:
        """A packet stamped `stream_s` (stream seconds; None: unstamped) arrived at `arrival`."""
        if stream_s is None:
            return
        offset = arrival - stream_s
        if self.offset is None or offset - self.offset > CLOCK_RESYNC_S:
            self.offset = offset
        else:
            self.offset = min(self.offset + CLOCK_DRIFT * max(0.0, arrival - self._at), offset)
        self._at = arrival

    def capture(self, frame: av.VideoFrame, now: float) -> tuple[float, float]:
        """(capture time, lag): when `frame` was captured, and how much later than that it is ready, `now`."""
        stream_s = frame_time(frame)
        if stream_s is None or self.offset is None:
            return now, 0.0
        captured = stream_s + self.offset
        return captured, round(max(0.0, now - captured), 3)


class KeyframeMeter:
    """The time between keyframes, from their timestamps: the median of the last few intervals; and
    the frames per interval, from the packets between them."""

    def __init__(self) -> None:
        self._last: float | None = None
        self._intervals: deque[float] = deque(maxlen=KEYFRAME_SAMPLES)
        self._packets: deque[int] = deque(maxlen=KEYFRAME_SAMPLES)
        self.last_keyframe_s: float | None = None  # stream time of the newest keyframe

    def observe(self, ts: float, packets: int | None = None) -> None:
        """A keyframe at `ts` seconds, `packets` packets after the one before (itself included)."""
        if self._last is not None:
            gap = ts - self._last
            if 0.0 < gap <= MAX_KEYFRAME_GAP_S:
                self._intervals.append(gap)
                if packets is not None:
                    self._packets.append(packets)
            else:
                self._intervals.clear()
                self._packets.clear()
        self._last = self.last_keyframe_s = ts

    @property
    def interval_s(self) -> float | None:
        if len(self._intervals) < MIN_KEYFRAME_SAMPLES:
            return None
        return float(statistics.median(self._intervals))

    @property
    def longest_s(self) -> float | None:
        """The longest recent interval (one suffices): how long a wait for a keyframe may be."""
        return max(self._intervals) if self._intervals else None

    @property
    def frame_interval_s(self) -> float | None:
        """Seconds per frame, once the interval is measured and packets were counted."""
        interval = self.interval_s
        if interval is None or len(self._packets) < MIN_KEYFRAME_SAMPLES:
            return None
        return interval / max(1.0, float(statistics.median(self._packets)))


def keyframes_suffice(analysis_fps: float | None, keyframe_interval_s: float | None, *,
                      jitter: float = JITTER) -> bool:
    """Whether decoding keyframes only still gives analysis a new frame every time it asks:
    1 / analysis_fps >= keyframe interval (with room for timestamp jitter)."""
    if analysis_fps is None or keyframe_interval_s is None:
        return False
    return 1.0 / analysis_fps >= keyframe_interval_s * (1.0 - jitter)


def sparse_pays(analysis_fps: float | None, frame_interval_s: float | None) -> bool:
    """Whether analyses are far enough apart (SPARSE_MIN_FRAMES frames) for sparse decoding to pay."""
    if analysis_fps is None or frame_interval_s is None:
        return False
    return 1.0 / analysis_fps >= SPARSE_MIN_FRAMES * frame_interval_s * (1.0 - JITTER)


class StreamDecoder:
    """Decodes one video stream's packets for a camera analysed at `analysis_fps` (None: analysis
    needs every frame, so always `full`). `keyframes_allowed`, `sparse_allowed`: the modes the
    configuration permits."""

    def __init__(self, codec: VideoCodecContext, *, analysis_fps: float | None, keyframes_allowed: bool = True,
                 sparse_allowed: bool = False):
        self._codec = codec
        self._analysis_fps = analysis_fps
        self._keyframes_allowed = keyframes_allowed
        self._sparse_allowed = sparse_allowed
        self.meter = KeyframeMeter()
        self.mode = DecodeMode.full
        self.decoded = 0  # frames the decoder produced, corrupt ones included
        self.errors = 0   # packets rejected plus corrupt frames dropped
        self.rejected = 0  # packets the decoder refused
        self.corrupt = 0   # frames the decoder marked corrupt (dropped)
        self.last_error: str | None = None
        self._clock_is_pts: bool | None = None  # decided at the first keyframe
        self._packets_since_key = 0
        # sparse mode
        self._held: list[av.Packet] = []      # packets since the last keyframe, not given to the decoder
        self._target: float | None = None     # stream time of the next analysis; None: the next keyframe
        self._chasing = False                 # the target's packets are in the decoder; its frame is not out yet
        self._gap = False                     # packets were dropped undecoded: restart at the next keyframe
        codec.skip_frame = "DEFAULT"

    def decode(self, packet: av.Packet, arrival_s: float) -> list[av.VideoFrame]:
        """The good frames this packet completes (in sparse mode: the frame the next analysis takes,
        when this packet completes it); `arrival_s` (monotonic seconds) dates keyframes that carry no
        timestamp."""
        self._packets_since_key += 1
        if packet.is_keyframe:
            self._keyframe(packet, arrival_s)
        if self.mode is DecodeMode.sparse:
            return self._sparse(packet)
        return self._feed(packet)

    def _feed(self, packet: av.Packet) -> list[av.VideoFrame]:
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

    # -- sparse mode --------------------------------------------------------------------------------

    def _sparse(self, packet: av.Packet) -> list[av.VideoFrame]:
        ts = packet_time(packet)  # None: one packet without a timestamp; it is held with its GOP
        if ts is not None and self._target is not None and self._analysis_fps is not None \
                and ts < self._target - 2.0 / self._analysis_fps:  # the stream's clock went back
            self._target = None
        if packet.is_keyframe and not self._chasing and ts is not None:
            if self._gap or self._held:
                # Packets before this keyframe never reached the decoder: start it afresh here, so it
                # drops pictures that would refer to them (HEVC RASL pictures after a CRA).
                self._codec.flush_buffers()
                self._held.clear()
                self._gap = False
            if self._target is None or ts >= self._target - self._early():
                if self._target is None:  # frames still due out of the decoder come before the keyframe
                    self._target = ts
                self._chasing = True
                return self._take(self._feed_for_target(packet, ts))
            self._held.append(packet)
            return []
        if self._chasing:
            return self._take(self._feed_for_target(packet, ts))
        if self._target is not None and ts is not None and ts >= self._due(self._target):
            self._chasing = True
            frames = self._release()
            return self._take(frames + self._feed_for_target(packet, ts))
        self._held.append(packet)
        if self._target is None:  # waiting for the first keyframe: nothing before it decodes
            self._held.clear()
            self._gap = True
        elif len(self._held) > MAX_HELD_PACKETS:
            self._take(self._release())
        return []

    def _early(self) -> float:
        """How far before its instant a frame still counts for an analysis: half a frame."""
        frame = self.meter.frame_interval_s
        return 0.5 * frame if frame is not None else 0.0

    def _due(self, target: float) -> float:
        """When to stop waiting for the frame at `target`: at once, or a little later when a keyframe
        (cheaper than the GOP before it) is expected by then."""
        interval, last = self.meter.interval_s, self.meter.last_keyframe_s
        if interval is None or last is None or self._analysis_fps is None:
            return target
        snap = SNAP_SHARE / self._analysis_fps
        upcoming = last + interval
        if target - self._early() <= upcoming <= target + snap:
            return target + snap
        return target

    def _release(self) -> list[av.VideoFrame]:
        """Decode the held packets: only as far as the analysed frame needs them."""
        held, self._held = self._held, []
        frames: list[av.VideoFrame] = []
        for packet in held:
            frames += self._feed_for_target(packet, packet_time(packet))
        return frames

    def _feed_for_target(self, packet: av.Packet, ts: float | None) -> list[av.VideoFrame]:
        """Decode a packet on the way to the target frame: a frame before the target that no other
        frame refers to is skipped."""
        before = self._target is not None and ts is not None and ts < self._target - self._early()
        self._codec.skip_frame = "NONREF" if before else "DEFAULT"
        return self._feed(packet)

    def _take(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        """Of decoded frames, the one the analysis takes (the first at or after the target), if any;
        the next target is one analysis interval on (or after this frame, when it came late)."""
        if not self._chasing or self._analysis_fps is None:
            return []
        for frame in frames:
            ts = frame_time(frame)
            if ts is None or self._target is None or ts >= self._target - self._early():
                interval = 1.0 / self._analysis_fps
                if ts is None:
                    self._target = None
                elif self._target is None or ts > self._target + interval - self._early() or (
                        frame.key_frame and ts > self._target):
                    self._target = ts + interval  # late (or waited for a keyframe): the schedule moves with it
                else:
                    self._target += interval
                self._chasing = False
                self._codec.skip_frame = "DEFAULT"
                return [frame]
        return []

    # -- mode changes -------------------------------------------------------------------------------

    def _keyframe(self, packet: av.Packet, arrival_s: float) -> None:
        ts = packet_time(packet)
        if self._clock_is_pts is None:
            self._clock_is_pts = ts is not None
        packets, self._packets_since_key = self._packets_since_key - 1, 1
        if self._clock_is_pts:
            if ts is None:
                return  # one keyframe without a timestamp: skip it rather than mix clocks
        else:
            ts = arrival_s
        self.meter.observe(ts, packets)
        want = self._wanted_mode()
        if want is self.mode:
            return
        # At a keyframe: nothing decoded after it refers to a frame skipped before it.
        if self.mode is DecodeMode.sparse and (self._held or self._gap or self._chasing):
            self._codec.flush_buffers()
        self._held.clear()
        self._gap = self._chasing = False
        self._target = None  # a new sparse spell starts with this keyframe
        self._codec.skip_frame = "NONKEY" if want is DecodeMode.keyframes else "DEFAULT"
        self.mode = want

    def _wanted_mode(self) -> DecodeMode:
        fps = self._analysis_fps
        if self._keyframes_allowed:
            jitter = LEAVE_JITTER if self.mode is DecodeMode.keyframes else JITTER
            if keyframes_suffice(fps, self.meter.interval_s, jitter=jitter):
                return DecodeMode.keyframes
        if self._sparse_allowed and self._clock_is_pts and sparse_pays(fps, self.meter.frame_interval_s):
            return DecodeMode.sparse
        return DecodeMode.full
