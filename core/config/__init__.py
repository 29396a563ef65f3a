"""The site file: one YAML document validated by one pydantic tree.

Every model forbids unknown keys and bounds its numbers, so a typo is an error that names the field
path (`halls[cc-nanguan].cameras[cam1].zones[q1].polygon`), never a silently ignored setting.
Camera URLs may say `${VAR}` so that passwords can live in the environment instead of the file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from core.config.analytics import AnalyticsConfig, PresenceConfig
from core.config.auth import AuthConfig, RecordsConfig
from core.config.base import Id, Point, Strict, field_path, load_yaml_model, unique
from core.config.detector import DetectorConfig
from core.config.geography import (
    CameraConfig,
    CityConfig,
    HallConfig,
    HallFlow,
    HallSize,
    ProvinceConfig,
    WindowConfig,
    ZoneConfig,
    ZoneKind,
)
from core.config.ingest import IngestConfig
from core.config.live import LiveConfig
from core.config.metrics import MetricsConfig
from core.config.notify import NotifyConfig
from core.config.retention import RetentionConfig
from core.config.scorecards import ScorecardConfig
from core.errors import ConfigError

__all__ = [
    "AnalyticsConfig", "AuthConfig", "CameraConfig", "CityConfig", "DetectorConfig", "HallConfig", "HallFlow",
    "HallSize", "Id", "IngestConfig", "LiveConfig", "MetricsConfig", "NotifyConfig", "Point", "PresenceConfig",
    "ProvinceConfig", "RecordsConfig", "RetentionConfig", "ScorecardConfig", "SiteConfig", "Strict", "WindowConfig",
    "ZoneConfig", "ZoneKind", "field_path", "load_site", "load_yaml_model",
]


class SiteConfig(Strict):
    province: ProvinceConfig
    cities: list[CityConfig] = Field(min_length=1)
    halls: list[HallConfig] = Field(default_factory=list)
    detector: DetectorConfig = DetectorConfig()
    ingest: IngestConfig = IngestConfig()
    presence: PresenceConfig = PresenceConfig()
    analytics: AnalyticsConfig = AnalyticsConfig()
    auth: AuthConfig = AuthConfig()
    live: LiveConfig = LiveConfig()
    records: RecordsConfig = RecordsConfig()
    scorecards: ScorecardConfig = ScorecardConfig()
    retention: RetentionConfig = RetentionConfig()
    metrics: MetricsConfig = MetricsConfig()
    notify: NotifyConfig = NotifyConfig()

    @model_validator(mode="after")
    def _consistent(self) -> SiteConfig:
        unique("cities", [c.id for c in self.cities])
        unique("halls", [h.id for h in self.halls])
        cities = {c.id for c in self.cities}
        for hall in self.halls:
            if hall.city not in cities:
                raise ValueError(f"hall {hall.id}: city {hall.city!r} is not one of {sorted(cities)}")
        self._detector_reports_what_analytics_count()
        return self

    def _detector_reports_what_analytics_count(self) -> None:
        """A box the detector drops never reaches the analytics' lower thresholds (the desk's)."""
        thresholds = {"analytics.confidence.floor": self.analytics.confidence.floor,
                      "analytics.confidence.desk": self.analytics.confidence.desk}
        for hall in self.halls:
            for camera in hall.cameras:
                for zone in camera.zones:
                    if zone.confidence is not None:
                        thresholds[f"halls[{hall.id}].cameras[{camera.id}].zones[{zone.id}].confidence"] = \
                            zone.confidence
        field, lowest = min(thresholds.items(), key=lambda item: item[1])
        if self.detector.confidence > lowest:
            raise ValueError(f"detector.confidence {self.detector.confidence} is above {field} {lowest}: the "
                             f"detector would drop the boxes that threshold counts; set it to {lowest} or lower")

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


def load_site(path: str | Path) -> SiteConfig:
    """Read and validate a site file; every problem is a ConfigError naming the file and field."""
    return load_yaml_model(Path(path), SiteConfig, ConfigError, what="the site file")
