"""Events with a start and an end, each opened once and closed once however many frames see it.

A condition must hold for `open_after_s` before its event opens; the event starts when the
condition began. It closes once the condition has been false for `clear_after_s`, and ends when
the condition stopped. An unknown condition (None: e.g. queue counts of an obstructed camera)
neither opens nor closes anything: a camera event says why it is unknown."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from core.config.analytics import EventsConfig


class EventKind(StrEnum):
    unstaffed_while_waiting = "unstaffed_while_waiting"  # subject: window
    queue_over_limit = "queue_over_limit"                # subject: queue zone
    wait_over_sla = "wait_over_sla"                      # subject: queue zone
    camera_offline = "camera_offline"                    # subject: camera
    camera_obstructed = "camera_obstructed"              # subject: camera
    camera_moved = "camera_moved"                        # subject: camera


@dataclass(frozen=True)
class Event:
    kind: EventKind
    subject: str
    started_at: float
    ended_at: float | None = None  # None: still open
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventChange:
    action: Literal["opened", "closed"]
    event: Event


class EventLatch:
    """One kind of event about one subject."""

    def __init__(self, kind: EventKind, subject: str, *, open_after_s: float, clear_after_s: float) -> None:
        if open_after_s < 0 or clear_after_s < 0:
            raise ValueError("open_after_s and clear_after_s must be >= 0")
        self.kind = kind
        self.subject = subject
        self.open_after_s = open_after_s
        self.clear_after_s = clear_after_s
        self.event: Event | None = None
        self._true_since: float | None = None
        self._false_since: float | None = None

    def update(self, active: bool | None, ts: float, details: dict[str, Any] | None = None) -> EventChange | None:
        if active is None:
            self._true_since = self._false_since = None
            return None
        if active:
            self._false_since = None
            if self._true_since is None:
                self._true_since = ts
            if self.event is None and ts - self._true_since >= self.open_after_s:
                self.event = Event(self.kind, self.subject, self._true_since, None, dict(details or {}))
                return EventChange("opened", self.event)
            return None
        self._true_since = None
        if self._false_since is None:
            self._false_since = ts
        if self.event is not None and ts - self._false_since >= self.clear_after_s:
            closed = replace(self.event, ended_at=self._false_since)
            self.event = None
            return EventChange("closed", closed)
        return None


class EventBook:
    """The latches of one camera, made on first use."""

    def __init__(self, timings: dict[EventKind, tuple[float, float]]) -> None:
        self._timings = timings  # kind -> (open_after_s, clear_after_s)
        self._latches: dict[tuple[EventKind, str], EventLatch] = {}

    @classmethod
    def from_config(cls, e: EventsConfig) -> EventBook:
        """The site's thresholds: each kind opens after its own time and clears after `clear_after_s`."""
        return cls({
            EventKind.unstaffed_while_waiting: (e.unstaffed_after_s, e.clear_after_s),
            EventKind.queue_over_limit: (e.queue_over_after_s, e.clear_after_s),
            EventKind.wait_over_sla: (0.0, e.clear_after_s),
            EventKind.camera_offline: (e.offline_after_s, e.clear_after_s),
            EventKind.camera_obstructed: (e.view_after_s, e.clear_after_s),
            EventKind.camera_moved: (e.view_after_s, e.clear_after_s),
        })

    def update(self, kind: EventKind, subject: str, active: bool | None, ts: float,
               details: dict[str, Any] | None = None) -> EventChange | None:
        latch = self._latches.get((kind, subject))
        if latch is None:
            open_after, clear_after = self._timings[kind]
            latch = self._latches[(kind, subject)] = EventLatch(kind, subject, open_after_s=open_after,
                                                                clear_after_s=clear_after)
        return latch.update(active, ts, details)

    def open_events(self) -> list[Event]:
        return [latch.event for latch in self._latches.values() if latch.event is not None]
