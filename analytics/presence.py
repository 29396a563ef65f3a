"""Officer presence at one desk: a small state machine with hysteresis.

The first observation decides at once (so a single image shows what it shows); after that the desk
turns present only once someone has been seen for `present_after_s` and absent only once nobody has
been seen for `absent_after_s`, so a detector that misses a seated officer for a frame or two does
not flicker the window to "absent". Evidence from the desk zone itself (`hold`, see
`analytics.desk_evidence`) counts like a sighting for staying present (also across a gap), never
for turning an absent desk present.
Without a healthy camera the state is `unknown`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeskState(StrEnum):
    present = "present"
    absent = "absent"
    unknown = "unknown"


@dataclass(frozen=True)
class DeskReading:
    state: DeskState
    since: float  # when the desk entered this state (seconds, same clock as the updates)


class DeskPresence:
    def __init__(self, *, present_after_s: float = 0.0, absent_after_s: float = 4.0) -> None:
        if present_after_s < 0 or absent_after_s < 0:
            raise ValueError("hysteresis times must be non-negative")
        self.present_after_s = present_after_s
        self.absent_after_s = absent_after_s
        self._state = DeskState.unknown
        self._since = 0.0
        self._last_seen: float | None = None
        self._seen_since: float | None = None  # start of the current unbroken run of sightings

    def update(self, seen: bool | None, ts: float, *, hold: bool = False) -> DeskReading:
        """`seen` is whether someone is at the desk in the frame at `ts`; None means no usable frame.
        `hold`: the zone's own evidence says the officer is still there, though not detected."""
        if seen is None:
            self._last_seen = self._seen_since = None
            self._enter(DeskState.unknown, ts)
            return self.reading
        if seen or (hold and self._state is not DeskState.absent):
            self._last_seen = ts
        if seen:
            if self._seen_since is None:
                self._seen_since = ts
        else:
            self._seen_since = None
        if self._state is DeskState.unknown:
            # After a gap the zone evidence may tell that the officer seen before it is still there.
            self._enter(DeskState.present if seen or hold else DeskState.absent, ts)
        elif self._state is DeskState.absent and self._seen_since is not None:
            if ts - self._seen_since >= self.present_after_s:
                self._enter(DeskState.present, self._seen_since)
        elif self._state is DeskState.present and not seen:
            if self._last_seen is None or ts - self._last_seen >= self.absent_after_s:
                self._enter(DeskState.absent, ts)
        return self.reading

    @property
    def reading(self) -> DeskReading:
        return DeskReading(self._state, self._since)

    def _enter(self, state: DeskState, ts: float) -> None:
        if state is not self._state:
            self._state = state
            self._since = ts
