"""How analytics turns detections into desk states, queue counts, waits and events."""

from __future__ import annotations

from pydantic import Field

from hallwatch.config.base import Strict


class PresenceConfig(Strict):
    present_after_s: float = Field(default=0.0, ge=0.0, le=600.0, description="seen this long: present")
    absent_after_s: float = Field(default=4.0, ge=0.0, le=3600.0, description="unseen this long: absent")
