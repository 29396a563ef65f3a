"""How long stored data is kept (`retention:` in the site file), applied by `storage.retention` (docs/operations.md).

Raw per-second samples (desk, zone, camera health) are the bulk of the database and are kept for `raw_days`; the
rollups made from them (minute, hour and day) outlive them, so trends over months and years still answer. Evidence
is kept unless `evidence_days` says otherwise, and never while a case that is not closed is attached to it.
Events, alerts, cases, complaints, inspections, rosters and the audit log are never deleted by retention."""

from __future__ import annotations

from pydantic import Field, model_validator

from core.config.base import Strict


class RetentionConfig(Strict):
    raw_days: int = Field(
        default=90, ge=2, le=3650,
        description="days the raw per-second samples (desk_sample, zone_sample, camera_health) are kept")
    minute_rollup_days: int = Field(
        default=400, ge=2, le=36500,
        description="days the per-minute rollups are kept (a year of per-window minutes, plus a month)")
    rollup_days: int = Field(
        default=1830, ge=2, le=36500,
        description="days the hour and day rollups are kept (five years), and the per-minute waits and the "
                    "cameras' offline spells")
    evidence_days: int | None = Field(
        default=None, ge=30, le=36500,
        description="days evidence (snapshots, uploads) is kept; none: kept for ever. Evidence of an "
                    "inspection or finding with a case that is not closed is kept whatever its age")
    partitions_ahead_days: int = Field(
        default=7, ge=1, le=60,
        description="plain PostgreSQL: daily partitions of the raw samples made this many days ahead")
    compress_after_days: int = Field(
        default=7, ge=1, le=3650,
        description="TimescaleDB: raw samples are compressed once they are this many days old")
    interval_s: float = Field(
        default=3600.0, ge=60.0, le=86400.0,
        description="how often the service applies retention (and makes partitions ahead)")

    @model_validator(mode="after")
    def _rollups_outlive_their_sources(self) -> RetentionConfig:
        """A rollup level is refreshed from the one below it: kept for less time, trends would have holes."""
        if self.minute_rollup_days < self.raw_days:
            raise ValueError(f"minute_rollup_days ({self.minute_rollup_days}) must be at least raw_days "
                             f"({self.raw_days})")
        if self.rollup_days < self.minute_rollup_days:
            raise ValueError(f"rollup_days ({self.rollup_days}) must be at least minute_rollup_days "
                             f"({self.minute_rollup_days})")
        if self.compress_after_days >= self.raw_days:
            raise ValueError(f"compress_after_days ({self.compress_after_days}) must be less than raw_days "
                             f"({self.raw_days})")
        return self
