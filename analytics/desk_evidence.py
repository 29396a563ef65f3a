"""Evidence from a desk zone's own pixels that the officer is still there while the detector
misses them (seated still, half hidden by the counter or a monitor).

Three comparisons of the zone's grey thumbnail, each over the zone's pixels that no citizen's box
covers (a citizen at the counter is not the officer):
- against a learned empty-desk reference: a person keeps the zone different from the empty desk;
  the reference is learned only while the desk has been absent, undetected and still for a while;
- against the thumbnail at the officer's last detection: nobody leaves without changing the zone;
- against the previous frame: motion.

Each comparison counts only over at least `min_visible` of the zone: a detection seen while citizens
covered most of the desk says nothing about the pixels they hid (large people at the counter).

The zone `holds` the desk present when it does not look like the empty desk and either still looks
as at the last detection, moves, or differs from the empty desk; never longer than `hold_max_s`
after the last detection (so a coat left on the chair cannot keep a window staffed all day). When
citizens cover most of the zone, or most of where the officer was last seen, the evidence keeps its
last verdict, within the same limit: the desk pixels around a hidden officer look empty."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.features import ZonePatch, masked_difference
from core.config.analytics import DeskEvidenceConfig


@dataclass(frozen=True)
class DeskEvidence:
    hold: bool
    changed: float | None  # difference from the empty-desk reference
    same: float | None     # difference from the zone at the last detection
    motion: float | None   # difference from the previous frame
    visible: float         # share of the zone not covered by citizens
    empty_learned: bool


class DeskEvidenceTracker:
    def __init__(self, config: DeskEvidenceConfig) -> None:
        self.config = config
        self._empty: np.ndarray | None = None
        self._empty_since: float | None = None  # start of the current absent, undetected, still run
        self._seen: tuple[np.ndarray, np.ndarray] | None = None  # grey, valid at the last detection
        self._previous: tuple[np.ndarray, np.ndarray] | None = None
        self._last_detected: float | None = None
        self._hold = False
        self._officer: np.ndarray | None = None  # zone pixels of the officer's box at the last detection

    def update(self, patch: ZonePatch | None, ts: float, *, detected: bool, desk_absent: bool,
               citizens: np.ndarray, officers: np.ndarray | None = None) -> DeskEvidence:
        """`patch`: the zone in this frame (None: no pixels); `detected`: the officer was detected;
        `desk_absent`: the desk was absent before this frame; `citizens`: (N, 4) boxes of people
        standing on the citizen side; `officers`: (N, 4) boxes of the people detected at the desk
        (None: not known, the whole zone counts as where the officer is)."""
        cfg = self.config
        if detected:
            self._last_detected = ts
        if patch is None or not cfg.enabled:
            self._previous = None
            self._hold = False
            return DeskEvidence(False, None, None, None, 0.0, self._empty is not None)
        valid = patch.mask & ~patch.box_mask(citizens)
        visible = float(valid.sum()) / max(1, int(patch.mask.sum()))
        motion = same = changed = None
        if self._previous is not None:
            motion = self._compare(patch, self._previous[0], valid & self._previous[1])
        if self._seen is not None:
            same = self._compare(patch, self._seen[0], valid & self._seen[1])
        if self._empty is not None:
            changed = self._compare(patch, self._empty, valid)
        self._previous = (patch.gray, valid)
        if detected:
            self._seen = (patch.gray, valid)
            self._officer = None if officers is None or not len(officers) else patch.box_mask(officers) & patch.mask
        officer_hidden = (self._officer is not None and self._officer.any()
                          and (valid & self._officer).sum() < cfg.min_visible * self._officer.sum())

        in_time = self._last_detected is not None and ts - self._last_detected <= cfg.hold_max_s
        if detected:
            self._hold = True
        elif visible >= cfg.min_visible and not officer_hidden:
            looks_empty = changed is not None and changed < cfg.changed_threshold
            looks_as_seen = same is not None and same <= cfg.same_threshold
            moving = motion is not None and motion >= cfg.motion_threshold
            differs = changed is not None and changed >= cfg.changed_threshold
            self._hold = not looks_empty and (looks_as_seen or moving or differs)
        self._hold = self._hold and in_time

        still = motion is None or motion < cfg.motion_threshold
        if desk_absent and not detected and still and visible >= 0.9:
            if self._empty_since is None:
                self._empty_since = ts
            if ts - self._empty_since >= cfg.empty_learn_after_s:
                self._learn_empty(patch.gray, valid)
        else:
            self._empty_since = None
        return DeskEvidence(self._hold, changed, same, motion, visible, self._empty is not None)

    def _compare(self, patch: ZonePatch, reference: np.ndarray, valid: np.ndarray) -> float | None:
        """The zone's difference from `reference` over `valid`; None when too little of the zone is
        visible in both to tell."""
        if valid.sum() < self.config.min_visible * max(1, int(patch.mask.sum())):
            return None
        return masked_difference(patch.gray, reference, valid)

    def _learn_empty(self, gray: np.ndarray, valid: np.ndarray) -> None:
        if self._empty is None:
            self._empty = gray.copy()
            return
        rate = self.config.empty_learn_rate
        self._empty = np.where(valid, (1 - rate) * self._empty + rate * gray, self._empty).astype(np.float32)

    def forget_frames(self) -> None:
        """After a gap in the video: the previous frame is no base for motion. The references stay."""
        self._previous = None
        self._empty_since = None
