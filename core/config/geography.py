"""The geography of the site: halls with their windows, cameras and the zones drawn on each camera."""

from __future__ import annotations

import os
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from core.config.base import ENV_REF, Id, Point, Strict, unique
from core.redact import redact_url


class HallSize(StrEnum):
    large = "large"
    medium = "medium"
    small = "small"


class HallFlow(StrEnum):
    one_window_quick = "one_window_quick"
    precheck_assisted = "precheck_assisted"
    self_service_first = "self_service_first"


class ZoneKind(StrEnum):
    desk = "desk"
    queue = "queue"
    self_service = "self_service"


Locale = Literal["zh_CN", "en"]


class ProvinceConfig(Strict):
    id: Id
    name: str = Field(min_length=1)
    locale: Locale = Field(default="en", description="the language of pages and messages for users who "
                           "have not chosen one: zh_CN (Simplified Chinese) or en")


class CityConfig(Strict):
    id: Id
    name: str = Field(min_length=1)


class WindowConfig(Strict):
    id: Id
    name: str = Field(min_length=1)


class ZoneConfig(Strict):
    id: Id
    kind: ZoneKind
    window: Id | None = Field(default=None, description="the window a desk zone belongs to, or a queue zone serves")
    windows: list[Id] = Field(default_factory=list, description="the windows a queue zone serves, when several")
    polygon: list[Point] = Field(min_length=3, description="vertices in [0,1] frame coordinates")
    confidence: float | None = Field(default=None, gt=0.0, lt=1.0,
                                     description="least detection confidence counted in this zone; default: "
                                                 "analytics.confidence.desk or .floor")
    limit: int | None = Field(default=None, ge=1, le=1000,
                              description="a queue zone is over limit above this many people; default: "
                                          "analytics.events.queue_limit")

    @model_validator(mode="after")
    def _window_matches_kind(self) -> ZoneConfig:
        if self.kind is ZoneKind.desk and self.window is None:
            raise ValueError("a desk zone needs `window`")
        if self.kind is ZoneKind.self_service and self.window is not None:
            raise ValueError("a self_service zone serves no window")
        if self.windows and self.kind is not ZoneKind.queue:
            raise ValueError("only queue zones list `windows`")
        if self.windows and self.window is not None:
            raise ValueError("say `window` or `windows`, not both")
        if self.limit is not None and self.kind is not ZoneKind.queue:
            raise ValueError("only queue zones have a `limit`")
        return self

    @property
    def served_windows(self) -> list[str]:
        """The windows a queue zone names; empty: it serves every window on its camera."""
        if self.kind is not ZoneKind.queue:
            return []
        return [self.window] if self.window is not None else list(self.windows)

    @field_validator("polygon")
    @classmethod
    def _has_area(cls, polygon: list[Point]) -> list[Point]:
        area = 0.0
        for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
            area += x1 * y2 - x2 * y1
        if abs(area) / 2 < 1e-4:
            raise ValueError("polygon has no area")
        return polygon


class CameraConfig(Strict):
    id: Id
    name: str | None = None
    url: str = Field(description="rtsp://[user:password@]host[:port]/path; ${VAR} reads the environment")
    detect_url: str | None = Field(
        default=None,
        description="a lower-resolution sub-stream for detection, read instead of `url` when set; "
                    "same form as `url`",
    )
    analysis_fps: float = Field(default=1.0, gt=0.0, le=10.0, description="frames analysed per second")
    zones: list[ZoneConfig] = Field(default_factory=list)

    @field_validator("url", "detect_url")
    @classmethod
    def _valid_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        missing = [name for name in ENV_REF.findall(url) if name not in os.environ]
        if missing:
            raise ValueError(f"environment variable {missing[0]} is not set")
        url = ENV_REF.sub(lambda m: os.environ[m.group(1)], url)
        if not re.match(r"^(rtsp|rtsps)://[^/\s]+", url):
            raise ValueError(f"not an rtsp:// URL: {redact_url(url)!r}")
        return url

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)

    @property
    def analysis_url(self) -> str:
        """The stream the readers decode: the detection sub-stream when the camera has one."""
        return self.detect_url or self.url

    def __repr_args__(self) -> Any:
        # Keep passwords out of reprs, which end up in logs and tracebacks.
        for key, value in super().__repr_args__():
            yield key, (redact_url(value) if key in ("url", "detect_url") and isinstance(value, str) else value)


class HallConfig(Strict):
    id: Id
    city: Id
    name: str = Field(min_length=1)
    size: HallSize
    flow: HallFlow
    windows: list[WindowConfig] = Field(default_factory=list)
    cameras: list[CameraConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> HallConfig:
        unique("windows", [w.id for w in self.windows])
        unique("cameras", [c.id for c in self.cameras])
        unique("zones", [z.id for c in self.cameras for z in c.zones])
        windows = {w.id for w in self.windows}
        unique("desk zones' windows (one desk zone per window)",
                [z.window for c in self.cameras for z in c.zones if z.kind is ZoneKind.desk and z.window])
        for camera in self.cameras:
            for zone in camera.zones:
                for window in ([zone.window] if zone.window is not None else []) + zone.windows:
                    if window not in windows:
                        raise ValueError(
                            f"camera {camera.id} zone {zone.id}: window {window!r} is not one of "
                            f"this hall's windows {sorted(windows)}"
                        )
        return self
