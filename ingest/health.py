"""What a camera reader knows about its stream, as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CameraState(StrEnum):
    connecting = "connecting"
    live = "live"
    stalled = "stalled"            # open, but no frame for longer than the stall limit
    offline = "offline"            # cannot connect, or the connection dropped
    unauthorized = "unauthorized"  # the camera refused the credentials
    bad_stream = "bad_stream"      # connected, but the data cannot be decoded


@dataclass(frozen=True)
class CameraHealth:
    state: CameraState
    fps: float                   # frames received per second over the last few seconds
    last_frame_at: float | None  # unix seconds of the newest frame
    reconnects: int
    error: str | None            # the last error, credentials masked

    @property
    def healthy(self) -> bool:
        return self.state is CameraState.live
