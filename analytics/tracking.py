"""People's identities over time: Roboflow's ByteTrack (`trackers` package) on our `Detections`.

Tuned for about one analysed frame per second: the lost-track time is in seconds of capture time
(the tracker is given timestamps), and only confident detections start tracks while weak ones (the
desk's lower threshold) merely continue them, as ByteTrack's two-stage matching intends.
`trackers` imports supervision (and through it OpenCV), so it is imported when a tracker is built,
not when analytics is."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from models.detections import Detections

UNTRACKED = -1


@dataclass(frozen=True, eq=False)
class Tracked:
    """Detections of one frame, in their original order, with a track id each (-1: no track yet)."""

    detections: Detections
    tracker_id: np.ndarray  # int64 (N,)
    born_at: dict[int, float]  # track id -> capture time of the track's first detection

    def __post_init__(self) -> None:
        if self.tracker_id.shape != (len(self.detections),):
            raise ValueError("tracker_id must have one id per detection")

    @classmethod
    def untracked(cls, detections: Detections) -> Tracked:
        return cls(detections, np.full(len(detections), UNTRACKED, dtype=np.int64), {})


class PersonTracker:
    def __init__(self, *, track_confidence: float = 0.25, match_iou: float = 0.1, lost_after_s: float = 10.0,
                 confirm_frames: int = 2) -> None:
        if not 0 < track_confidence < 1 or not 0 < match_iou < 1 or lost_after_s <= 0 or confirm_frames < 1:
            raise ValueError("track_confidence and match_iou must be in (0, 1), lost_after_s > 0, confirm_frames >= 1")
        from trackers import ByteTrackTracker

        # `lost_track_buffer` counts 30 fps frames; with timestamps the tracker turns it into seconds.
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(lost_after_s * 30)), frame_rate=1.0,
            track_activation_threshold=track_confidence, high_conf_det_threshold=track_confidence,
            minimum_iou_threshold=match_iou, minimum_consecutive_frames=confirm_frames,
        )
        self._confirm_frames = confirm_frames
        self._recent: deque[float] = deque(maxlen=confirm_frames)  # capture times of the last updates
        self._born: dict[int, float] = {}
        self._last_ts: float | None = None

    def update(self, detections: Detections, ts: float) -> Tracked:
        """Track the people of the frame captured at `ts`; frames must come in capture order (a
        frame older than the last one is returned untracked)."""
        import supervision as sv

        if self._last_ts is not None and ts <= self._last_ts:
            return Tracked.untracked(detections)
        self._last_ts = ts
        self._recent.append(ts)
        frame = sv.Detections(
            xyxy=detections.xyxy.astype(np.float64), confidence=detections.confidence.astype(np.float64),
            class_id=detections.class_id.astype(int), data={"index": np.arange(len(detections))},
        )
        out = self._tracker.update(frame, timestamp=ts)
        ids = np.full(len(detections), UNTRACKED, dtype=np.int64)
        if len(out):
            ids[np.asarray(out.data["index"], dtype=int)] = np.asarray(out.tracker_id, dtype=np.int64)
        for track_id in ids[ids != UNTRACKED].tolist():
            # A track gets its id `confirm_frames - 1` updates after its first detection.
            self._born.setdefault(track_id, self._recent[0])
        alive = {int(t.tracker_id) for t in self._tracker.tracks}
        self._born = {k: v for k, v in self._born.items() if k in alive}
        return Tracked(detections, ids, dict(self._born))

    def reset(self) -> None:
        """Forget every track (after a gap in the video: people seen before it are not followed)."""
        self._tracker.reset()
        self._recent.clear()
        self._born.clear()
        self._last_ts = None
