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

    @model_validator(mode="after")
    def _ordered(self) -> IngestConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self
