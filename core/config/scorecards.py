"""How monthly scorecards are computed: the halls' time zone, the waiting-time SLA, the weights and
penalties of the star rating and its thresholds."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from core.config.base import Strict

Weight = Annotated[float, Field(ge=0.0, le=100.0)]
Penalty = Annotated[float, Field(ge=0.0, le=100.0, description="points off 100 per incident per window")]
Threshold = Annotated[float, Field(ge=0.0, le=100.0)]


class ScoreWeights(Strict):
    overtime: Weight = 0.3
    errors: Weight = 0.2
    complaints: Weight = 0.3
    presence: Weight = 0.2

    @model_validator(mode="after")
    def _not_all_zero(self) -> ScoreWeights:
        if sum(self.model_dump().values()) <= 0:
            raise ValueError("at least one weight must be above 0")
        return self


class ScorePenalties(Strict):
    overtime: Penalty = 2.0
    errors: Penalty = 10.0
    complaints: Penalty = 20.0


class ScorecardConfig(Strict):
    """How scorecards are computed (`scorecards:` in the site file)."""

    timezone: str = Field(default="Asia/Shanghai",
                          description="the halls' local time: roster times and month boundaries")
    wait_sla_s: float = Field(default=1800.0, gt=0, le=86400, description="a queue wait over this is overtime")
    sample_hold_s: float = Field(default=15.0, gt=0, le=3600,
                                 description="a desk sample stands for at most this long; gaps are unknown")
    weights: ScoreWeights = ScoreWeights()
    penalties: ScorePenalties = ScorePenalties()
    star_thresholds: tuple[Threshold, Threshold, Threshold, Threshold, Threshold] = Field(
        default=(60.0, 70.0, 80.0, 90.0, 95.0), description="minimum score for 1, 2, 3, 4 and 5 stars")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("star_thresholds")
    @classmethod
    def _ascending(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if list(value) != sorted(value):
            raise ValueError("star thresholds must ascend")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
