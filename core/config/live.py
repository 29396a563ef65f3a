"""The live wall's limits (`live:` in the site file): how many streams one user may hold open, and how
often an open stream's right to be watched is checked again."""

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
