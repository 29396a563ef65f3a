"""How cameras are read."""

from __future__ import annotations

from pydantic import Field, model_validator

from core.config.base import Strict


class IngestConfig(Strict):
    open_timeout_s: float = Field(default=5.0, gt=0.0, le=60.0, description="connect and RTSP handshake limit")
    read_timeout_s: float = Field(default=3.0, gt=0.0, le=60.0,
                                  description="longest wait for data on an open stream before reconnecting")
    stall_after_s: float = Field(default=5.0, gt=0.0, le=120.0,
                                 description="no decoded frame this long on an open stream: stalled, reconnect; "
                                             "keep it above the cameras' keyframe interval")
    reconnect_min_s: float = Field(default=0.5, gt=0.0, le=60.0, description="first reconnect delay")
    reconnect_max_s: float = Field(default=10.0, gt=0.0, le=600.0, description="reconnect delay cap (doubling)")
    keyframe_decoding: bool = Field(
        default=True,
        description="decode only keyframes when, as measured on the stream, they come at least as often as "
                    "the camera's analysis_fps asks for",
    )
    sparse_decoding: bool = Field(
        default=True,
        description="when keyframes are further apart than analyses, decode from each keyframe only up to the "
                    "frame the next analysis takes (and skip B-frames no other frame refers to); the analysed "
                    "frames are the same as with every frame decoded",
    )
    decoder_threads: int = Field(
        default=1, ge=0, le=16,
        description="decoder threads per camera; 1 suits many cameras per core (threads add work without adding "
                    "cores), 0 lets FFmpeg choose (for a few very large streams)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> IngestConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self
