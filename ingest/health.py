"""What a camera reader knows about its stream, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CameraState(StrEnum):
    connecting = "connecting"      # started, no frame and no failure yet
    live = "live"
    stalled = "stalled"            # connected (or the server accepts connections) but no frame comes
    offline = "offline"            # cannot connect, or the connection dropped
    unauthorized = "unauthorized"  # the camera refused the credentials
    bad_stream = "bad_stream"      # connected, but the data cannot be decoded


class DecodeMode(StrEnum):
    full = "full"            # every frame is decoded: P-frames need the frames before them
    keyframes = "keyframes"  # only keyframes (FFmpeg skip_frame=NONKEY): they come as often as analysis needs
    sparse = "sparse"        # from each keyframe only up to the frames analysis takes (see ingest.decode)


@dataclass(frozen=True)
class OfflineSpell:
    """A finished period without video, in unix seconds: from the last frame before it (or from the
    reader's start, if it never had one) to the first frame after it."""

    start: float
    end: float
    cause: CameraState  # the state that began it: offline, stalled, unauthorized or bad_stream

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class StateChange:
    """The reader's state changed: at `ts` (unix seconds) from `previous` to `state`."""

    ts: float
    previous: CameraState
    state: CameraState
    error: str | None  # why, credentials masked; None when it went live


@dataclass(frozen=True)
class CameraHealth:
    state: CameraState
    fps: float                   # frames the camera sent per second, over the last few seconds
    last_frame_at: float | None  # unix seconds of the newest decoded frame
    reconnects: int
    error: str | None            # the last error, credentials masked
    last_frame_age_s: float | None = None  # seconds since the newest decoded frame
    offline_since: float | None = None     # start of the current spell without video (see OfflineSpell)
    decoded_fps: float = 0.0               # frames decoded per second (lower than fps in keyframe and sparse mode)
    decode_mode: DecodeMode = DecodeMode.full
    keyframe_interval_s: float | None = None  # measured on the stream; None until a few keyframes came
    frames_received: int = 0      # video packets (frames) received since the reader started
    frames_decoded: int = 0       # frames the decoder produced
    decode_errors: int = 0        # packets the decoder rejected plus frames it marked corrupt (dropped)
    stalls: int = 0               # times the watchdog found an open stream without frames
    rejected_packets: int = 0     # of decode_errors: packets the decoder refused
    corrupt_frames: int = 0       # of decode_errors: frames the decoder marked corrupt
    lag_s: float = 0.0            # how far behind live the newest frame arrived (see Frame.lag_s)

    @property
    def healthy(self) -> bool:
        return self.state is CameraState.live
