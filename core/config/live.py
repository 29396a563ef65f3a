"""The live wall's settings (`live:` in the site file): how many streams one user may hold open, how
often an open stream's right to be watched is checked again, and how cameras browsers cannot play
as they are (H.265) are played: from their H.264 sub-stream, or transcoded once per camera within
these bounds."""

from __future__ import annotations

from pydantic import Field

from core.config.base import Strict


class LiveConfig(Strict):
    max_streams_per_user: int = Field(
        default=32, ge=1, le=1000,
        description="MJPEG and WebRTC streams one user may hold open at once in one web process (two full "
                    "4x4 walls); more are refused with 429")
    recheck_s: float = Field(
        default=2.0, ge=0.2, le=60.0,
        description="how often every open stream's session or API token, user, role and scope are checked "
                    "again (one query for all streams): a stream ends at most this long after its right ends")
    substream: bool = Field(
        default=True,
        description="play a camera's H.264 sub-stream (`detect_url`) to viewers who may see faces when its main "
                    "stream is H.265 or an H.264 profile browsers refuse, instead of transcoding the main stream")
    reencode_max_height: int = Field(
        default=720, ge=144, le=2160,
        description="lines of the streams the wall encodes itself (H.265 transcoded to H.264, face-blurred): "
                    "taller cameras are scaled down")
    reencode_max_fps: float = Field(
        default=25.0, ge=1.0, le=60.0,
        description="frames per second at most of the streams the wall encodes itself; faster cameras are thinned")
    reencode_kbps: int = Field(
        default=2000, ge=200, le=20_000,
        description="bit rate cap (kbit/s) of the streams the wall encodes itself")
