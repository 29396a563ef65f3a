"""Is the camera's view usable? Dark, covered (flat grey: a lens cap, a sheet, a person right in
front), out of focus, or moved away from where its zones were drawn.

Dark and flat are absolute; contrast, sharpness and scene structure are judged against a reference
learned from the camera's own good frames (running mean over the first `learn_s`, then a slow
average over frames that pass every check). "Moved" compares the frame's edge thumbnail with the
reference's: shifted (phase correlation finds a translation: walls and counters move together,
people do not) or no longer alike at all (correlation: the camera looks somewhere else). The reference is
learned again only when the analyser starts afresh (a deliberately re-aimed camera needs its
zones redrawn anyway).

"Moved" needs its evidence on `MOVED_FRAMES` consecutive analysed frames: people crossing the view can
fake a shift on one frame (phase correlation follows a large moving group), while a real move lasts.
Dark, covered and out of focus count at once: they describe the frame itself, which then shows nothing
to count by, however briefly; the events for all of them still wait `events.view_after_s`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from analytics.features import FrameFeatures, correlation, phase_shift
from core.config.analytics import ViewConfig

MOVED_FRAMES = 2  # consecutive analysed frames judged moved before the view counts as moved


class ViewState(StrEnum):
    ok = "ok"
    learning = "learning"    # usable; the reference is still being learned
    unchecked = "unchecked"  # no frame features given: nothing to judge by
    dark = "dark"
    covered = "covered"
    blurred = "blurred"
    moved = "moved"

    @property
    def trusted(self) -> bool:
        return self in (ViewState.ok, ViewState.learning, ViewState.unchecked)

    @property
    def obstructed(self) -> bool:
        return self in (ViewState.dark, ViewState.covered, ViewState.blurred)


@dataclass(frozen=True)
class ViewReading:
    state: ViewState
    brightness: float | None = None
    contrast: float | None = None
    sharpness: float | None = None
    match: float | None = None  # edge correlation with the reference
    shift: tuple[float, float] | None = None  # translation against the reference, share of width, height

    @property
    def trusted(self) -> bool:
        return self.state.trusted


class ViewCheck:
    def __init__(self, config: ViewConfig) -> None:
        self.config = config
        self._started: float | None = None
        self._frames = 0
        self._contrast = 0.0
        self._sharpness = 0.0
        self._edges: np.ndarray | None = None
        self._moved_frames = 0  # consecutive frames judged moved, up to now

    @property
    def learned(self) -> bool:
        return self._edges is not None

    def update(self, features: FrameFeatures | None, ts: float) -> ViewReading:
        cfg = self.config
        if features is None or not cfg.enabled:
            return ViewReading(ViewState.unchecked)
        if self._edges is not None and self._edges.shape != features.edges.shape:
            self._edges = None  # the stream's aspect changed: start again
        match = shift = None
        if self._edges is not None:
            match = correlation(features.edges, self._edges)
            dx, dy = phase_shift(features.edges, self._edges)
            shift = (dx / features.edges.shape[1], dy / features.edges.shape[0])
        state = self._judge(features, match, shift)
        learning = self._started is None or ts - self._started < cfg.learn_s
        if state is ViewState.ok or (learning and state not in (ViewState.dark, ViewState.covered)):
            self._learn(features, ts, learning)
        self._moved_frames = self._moved_frames + 1 if state is ViewState.moved else 0
        if state is ViewState.moved and self._moved_frames < MOVED_FRAMES:
            state = ViewState.ok  # trusted, but not learned from (after learning): it may yet be a move
        if state is ViewState.ok and learning:
            state = ViewState.learning
        return ViewReading(state, features.brightness, features.contrast, features.sharpness, match, shift)

    def _judge(self, f: FrameFeatures, match: float | None, shift: tuple[float, float] | None) -> ViewState:
        cfg = self.config
        if f.brightness < cfg.dark_below:
            return ViewState.dark
        if f.contrast < cfg.uniform_below or (self.learned and f.contrast < cfg.contrast_drop * self._contrast):
            return ViewState.covered
        if self.learned and f.sharpness < cfg.sharpness_drop * self._sharpness:
            return ViewState.blurred
        if match is not None and match < cfg.moved_below:
            return ViewState.moved
        if shift is not None and max(abs(shift[0]), abs(shift[1])) >= cfg.moved_shift:
            return ViewState.moved
        return ViewState.ok

    def _learn(self, f: FrameFeatures, ts: float, learning: bool) -> None:
        if self._edges is None:
            self._started, self._frames = ts, 0
            self._contrast, self._sharpness, self._edges = f.contrast, f.sharpness, f.edges.astype(np.float32)
        self._frames += 1
        rate = max(self.config.learn_rate, 1.0 / self._frames) if learning else self.config.learn_rate
        self._contrast += rate * (f.contrast - self._contrast)
        self._sharpness += rate * (f.sharpness - self._sharpness)
        self._edges = (self._edges + rate * (f.edges - self._edges)).astype(np.float32)
