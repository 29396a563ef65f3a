"""Run clips through the one frame path (`pipeline.rows.analyse_frame`) and score them.

Frames come from `ingest.sources.iter_frames` at the camera's analysis rate, so every clip is
analysed exactly as `hallwatch analyze` would analyse the file. The state at second t is the result
of the last frame analysed at or before t (the state the pipeline would have stored then)."""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tools.evaluate.dataset import Clip
from tools.evaluate.metrics import (
    PredictedWait,
    count_errors,
    lag_skips,
    mean,
    minute_waits,
    presence_score,
    wait_score,
)

if TYPE_CHECKING:
    from analytics.camera import CameraAnalyzer
    from core.config import CameraConfig, DetectorConfig, SiteConfig
    from models import Detector

log = logging.getLogger(__name__)

# A minute counts for waiting time if it ended this long before the clip did: the analyzer closes a
# minute only once its last departures are certain.
WAIT_CLOSE_MARGIN_S = 10
TARGETS = {"presence_accuracy": 0.98, "still_officer_absent_episodes": 0, "queue_mae": 0.5}


def build_analyzer(site: SiteConfig, camera: CameraConfig) -> CameraAnalyzer:
    """The analyzer the pipeline builds for this camera."""
    from analytics.camera import CameraAnalyzer

    from_site = getattr(CameraAnalyzer, "from_site", None)
    if from_site is not None:
        return from_site(site, camera)  # type: ignore[no-any-return]
    return CameraAnalyzer(camera, site.presence)


@dataclass
class ClipRun:
    """Per-second states of one analysed clip."""

    seconds: int
    desks: dict[str, list[str | None]] = field(default_factory=dict)
    zones: dict[str, list[int | None]] = field(default_factory=dict)
    waits: dict[tuple[str, int], PredictedWait] | None = None  # None: the analyzer reports no waits
    frames: int = 0
    analyse_s: float = 0.0
    analysed: set[int] = field(default_factory=set)  # seconds with a frame of their own

    def record(self, second: int, desks: dict[str, str], zones: dict[str, int | None]) -> None:
        """The result of a frame in `second`; a later frame of the same second replaces it. A zone count
        of None (the analyzer does not trust the view) stays None: it scores as 0 people."""
        if not 0 <= second < self.seconds:
            return
        self.analysed.add(second)
        for window, state in desks.items():
            self.desks.setdefault(window, [None] * self.seconds)[second] = state
        for zone, count in zones.items():
            self.zones.setdefault(zone, [None] * self.seconds)[second] = count

    def carry_forward(self) -> None:
        """A second without a frame of its own keeps the last analysed state."""
        every: list[list[Any]] = [*self.desks.values(), *self.zones.values()]
        for series in every:
            for t in range(1, self.seconds):
                if t not in self.analysed:
                    series[t] = series[t - 1]


def run_clip(clip: Clip, detector: Detector, site: SiteConfig, *, on_frame: Any = None) -> ClipRun:
    from ingest.sources import iter_frames
    from pipeline.loop import camera_detector
    from pipeline.measure import analyse_frame

    _, camera = site.find_camera(clip.camera)
    detector = camera_detector(detector, camera, site.detector)  # whole frame or zone crops, as the pipeline
    analyzer = build_analyzer(site, camera)
    run = ClipRun(seconds=len(clip.seconds))
    started = time.perf_counter()
    for frame in iter_frames(str(clip.video), analysis_fps=camera.analysis_fps, ingest=site.ingest):
        result = analyse_frame(detector, analyzer, frame)
        run.frames += 1
        run.record(math.floor(result.ts + 1e-6), {w: r.state.value for w, r in result.desks.items()},
                   dict(result.zones))
        waits = getattr(result, "waits", None)
        if waits is not None:
            run.waits = run.waits if run.waits is not None else {}
            for wait in waits:
                minute = int(round(_seconds(wait.minute_start))) // 60
                run.waits[(str(wait.zone_id), minute)] = PredictedWait(
                    p50_s=_optional(getattr(wait, "dwell_p50_s", None)),
                    littles_s=_optional(getattr(wait, "littles_s", None)))
        if on_frame is not None:
            on_frame()
    run.analyse_s = time.perf_counter() - started
    run.carry_forward()
    return run


def score_clip(clip: Clip, run: ClipRun, site: SiteConfig) -> dict[str, Any]:
    """One clip's scores, with the raw sums that the totals add up."""
    presence = site.presence
    correct = compared = skipped = episodes = still_episodes = false_absent = false_present = unknown = 0
    for window in clip.seconds[0].desks if clip.seconds else {}:
        truth = [s.desks[window] for s in clip.seconds]
        skip = lag_skips(truth, present_after_s=getattr(presence, "present_after_s", 0.0),
                         absent_after_s=getattr(presence, "absent_after_s", 0.0))
        score = presence_score(truth, run.desks.get(window, [None] * len(truth)), skip)
        correct += score.correct
        compared += score.seconds
        skipped += score.skipped
        episodes += score.false_absent_episodes
        still_episodes += score.false_absent_episodes if window in clip.still_officers else 0
        false_absent += score.false_absent_s
        false_present += score.false_present_s
        unknown += score.unknown_s
    queue_errors: list[int] = []
    self_service_errors: list[int] = []
    for kind, errors in (("queues", queue_errors), ("self_service", self_service_errors)):
        for zone in getattr(clip.seconds[0], kind) if clip.seconds else {}:
            truth_counts = [getattr(s, kind)[zone] for s in clip.seconds]
            errors += count_errors(truth_counts, run.zones.get(zone, [None] * len(truth_counts)))
    p50_errors: list[float] = []
    littles_errors: list[float] = []
    minutes_true = minutes_missed = 0
    for zone in sorted({v.zone for v in clip.queue_visits}):
        known = ((v.enter_s, v.exit_s) for v in clip.queue_visits if v.zone == zone and not v.censored)
        truth_minutes = minute_waits(known, until_s=len(clip.seconds) - WAIT_CLOSE_MARGIN_S)
        predicted = {m: w for (z, m), w in (run.waits or {}).items() if z == zone}
        waits = wait_score(truth_minutes, predicted)
        p50_errors += waits.p50_errors
        littles_errors += waits.littles_errors
        minutes_true += waits.minutes_true
        minutes_missed += waits.minutes_missed
    return {
        "clip": clip.id, "tags": list(clip.tags), "seconds": len(clip.seconds), "frames": run.frames,
        "presence_accuracy": _ratio(correct, compared), "window_seconds": compared, "skipped_window_seconds": skipped,
        "absent_flicker_episodes": episodes, "still_officer_absent_episodes": still_episodes,
        "false_absent_s": false_absent, "false_present_s": false_present, "unknown_s": unknown,
        "queue_mae": mean(queue_errors), "self_service_mae": mean(self_service_errors),
        "wait_error_s": mean(p50_errors) if run.waits is not None else None,
        "littles_error_s": mean(littles_errors) if run.waits is not None else None,
        "wait_minutes": minutes_true, "wait_minutes_missed": minutes_missed if run.waits is not None else None,
        "ms_per_frame": round(1000 * run.analyse_s / run.frames, 1) if run.frames else None,
        "_sums": {"correct": correct, "compared": compared, "queue_errors": queue_errors,
                  "self_service_errors": self_service_errors, "p50_errors": p50_errors,
                  "littles_errors": littles_errors, "waits": run.waits is not None},
    }


def evaluate(clips: list[Clip], *, progress: bool = True) -> dict[str, Any]:
    """Analyse and score every clip; the report `hallwatch eval --json` prints."""
    from tqdm import tqdm

    from core.config import load_site
    from models import load_detector

    started = time.monotonic()
    sites = {clip.id: load_site(clip.site) for clip in clips}
    total = sum(len(c.seconds) * sites[c.id].find_camera(c.camera)[1].analysis_fps for c in clips)
    detectors: dict[DetectorConfig, Detector] = {}
    per_clip: list[dict[str, Any]] = []
    with tqdm(total=round(total), unit="frame", file=sys.stderr, disable=not progress, desc="eval") as bar:
        for clip in clips:
            site = sites[clip.id]
            if site.detector not in detectors:
                detectors[site.detector] = load_detector(site.detector)
            bar.set_postfix_str(clip.id)
            run = run_clip(clip, detectors[site.detector], site, on_frame=lambda: bar.update(1))
            per_clip.append(score_clip(clip, run, site))
            log.debug("%s: %s", clip.id, {k: v for k, v in per_clip[-1].items() if not k.startswith("_")})
    return summarise(per_clip, elapsed_s=time.monotonic() - started)


def summarise(per_clip: list[dict[str, Any]], *, elapsed_s: float) -> dict[str, Any]:
    sums = [c.pop("_sums") for c in per_clip]
    waits = all(s["waits"] for s in sums)
    queue_errors = [e for s in sums for e in s["queue_errors"]]
    report: dict[str, Any] = {
        "clips": len(per_clip),
        "video_s": sum(c["seconds"] for c in per_clip),
        "presence_accuracy": _ratio(sum(s["correct"] for s in sums), sum(s["compared"] for s in sums)),
        "window_seconds": sum(s["compared"] for s in sums),
        "absent_flicker_episodes": sum(c["absent_flicker_episodes"] for c in per_clip),
        "still_officer_absent_episodes": sum(c["still_officer_absent_episodes"] for c in per_clip),
        "queue_mae": mean(queue_errors),
        "queue_seconds": len(queue_errors),
        "self_service_mae": mean([e for s in sums for e in s["self_service_errors"]]),
        "wait_error_s": mean([e for s in sums for e in s["p50_errors"]]) if waits else None,
        "littles_error_s": mean([e for s in sums for e in s["littles_errors"]]) if waits else None,
        "wait_minutes": sum(c["wait_minutes"] for c in per_clip),
        "waits_reported": waits,
        "targets": TARGETS,
        "elapsed_s": round(elapsed_s, 1),
        "per_clip": per_clip,
    }
    report["meets_targets"] = meets_targets(report)
    return report


def meets_targets(report: dict[str, Any]) -> bool:
    accuracy, mae = report["presence_accuracy"], report["queue_mae"]
    return (accuracy is not None and accuracy >= TARGETS["presence_accuracy"]
            and report["still_officer_absent_episodes"] <= TARGETS["still_officer_absent_episodes"]
            and (mae is None or mae <= TARGETS["queue_mae"]))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _seconds(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)
