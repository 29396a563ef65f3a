"""Run clips through the one frame path (`pipeline.measure.analyse_frame`) and score them.

Frames come from `ingest.sources.iter_frames` at the camera's analysis rate, so every clip is
analysed exactly as `hallwatch analyze` would analyse the file. The state at second t is the result
of the last frame analysed at or before t (the state the pipeline would have stored then).

Beside the analytics, every clip is scored for the plain detector on the same frames
(`CameraAnalyzer.plain`: the same detections, thresholds and zone rules, no memory), the baseline the
analytics must never be worse than (issue 12). Synthetic clips are labelled every second; real clips
(tag `real`) at their labelled seconds only, and only there are they scored."""

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
class Series:
    """Per-second states of one way of reading a clip (the analytics, or the plain detector)."""

    seconds: int
    desks: dict[str, list[str | None]] = field(default_factory=dict)
    zones: dict[str, list[int | None]] = field(default_factory=dict)

    def record(self, second: int, desks: dict[str, str], zones: dict[str, int | None]) -> None:
        for window, state in desks.items():
            self.desks.setdefault(window, [None] * self.seconds)[second] = state
        for zone, count in zones.items():
            self.zones.setdefault(zone, [None] * self.seconds)[second] = count

    def carry_forward(self, analysed: set[int]) -> None:
        every: list[list[Any]] = [*self.desks.values(), *self.zones.values()]
        for series in every:
            for t in range(1, self.seconds):
                if t not in analysed:
                    series[t] = series[t - 1]


@dataclass
class ClipRun:
    """Per-second states of one analysed clip: the analytics', and the plain detector's on the same
    frames (`CameraAnalyzer.plain`: each frame's detections by the same rules, with no memory)."""

    seconds: int
    desks: dict[str, list[str | None]] = field(default_factory=dict)
    zones: dict[str, list[int | None]] = field(default_factory=dict)
    waits: dict[tuple[str, int], PredictedWait] | None = None  # None: the analyzer reports no waits
    frames: int = 0
    analyse_s: float = 0.0
    analysed: set[int] = field(default_factory=set)  # seconds with a frame of their own
    plain: Series | None = None

    def record(self, second: int, desks: dict[str, str], zones: dict[str, int | None],
               plain: tuple[dict[str, str], dict[str, int | None]] | None = None) -> None:
        """The result of a frame in `second`; a later frame of the same second replaces it. A zone count
        of None (the analyzer does not trust the view) stays None: it scores as 0 people."""
        if not 0 <= second < self.seconds:
            return
        self.analysed.add(second)
        Series(self.seconds, self.desks, self.zones).record(second, desks, zones)
        if plain is not None:
            self.plain = self.plain or Series(self.seconds)
            self.plain.record(second, *plain)

    def carry_forward(self) -> None:
        """A second without a frame of its own keeps the last analysed state."""
        Series(self.seconds, self.desks, self.zones).carry_forward(self.analysed)
        if self.plain is not None:
            self.plain.carry_forward(self.analysed)


def run_clip(clip: Clip, detector: Detector, site: SiteConfig, *, on_frame: Any = None) -> ClipRun:
    from ingest.sources import iter_frames
    from pipeline.loop import camera_detector
    from pipeline.measure import analyse

    _, camera = site.find_camera(clip.camera)
    detector = camera_detector(detector, camera, site.detector)  # whole frame or zone crops, as the pipeline
    analyzer = build_analyzer(site, camera)
    waits: dict[tuple[str, int], PredictedWait] = {}
    run = ClipRun(seconds=max(clip.duration_s, clip.seconds[-1].t + 1 if clip.seconds else 0), waits=waits)
    started = time.perf_counter()
    for frame in iter_frames(str(clip.video), analysis_fps=camera.analysis_fps, ingest=site.ingest):
        # `pipeline.measure.analyse_frame`, with the detections kept for the plain reading
        detections = detector.detect(frame.image)
        result = analyse(analyzer, detections, frame.ts, frame.size, frame.image)
        plain = analyzer.plain(detections, frame.size)
        run.frames += 1
        run.record(math.floor(result.ts + 1e-6), {w: r.state.value for w, r in result.desks.items()},
                   dict(result.zones),
                   ({w: "present" if seen else "absent" for w, seen in plain.desks.items()}, dict(plain.zones)))
        for wait in result.waits:
            minute = int(round(_seconds(wait.minute_start))) // 60
            waits[(str(wait.zone_id), minute)] = PredictedWait(
                p50_s=_optional(wait.dwell_p50_s), littles_s=_optional(wait.littles_s))
        if on_frame is not None:
            on_frame()
    run.analyse_s = time.perf_counter() - started
    run.carry_forward()
    return run


def _reading_scores(clip: Clip, desks: dict[str, list[str | None]], zones: dict[str, list[int | None]],
                    site: SiteConfig) -> dict[str, Any]:
    """Presence and count scores of one reading of the clip, at its labelled seconds."""
    presence = site.presence
    times = [s.t for s in clip.seconds]
    correct = compared = skipped = episodes = still_episodes = false_absent = false_present = unknown = 0
    for window in clip.seconds[0].desks if clip.seconds else {}:
        truth = [s.desks[window] for s in clip.seconds]
        skip = lag_skips(truth, present_after_s=presence.present_after_s, absent_after_s=presence.absent_after_s,
                         times=times)
        predicted = desks.get(window)
        score = presence_score(truth, [predicted[t] if predicted else None for t in times], skip)
        correct += score.correct
        compared += score.seconds
        skipped += score.skipped
        episodes += score.false_absent_episodes
        still_episodes += score.false_absent_episodes if window in clip.still_officers else 0
        false_absent += score.false_absent_s
        false_present += score.false_present_s
        unknown += score.unknown_s
    errors: dict[str, list[int]] = {"queues": [], "self_service": []}
    for kind, found in errors.items():
        for zone in getattr(clip.seconds[0], kind) if clip.seconds else {}:
            predicted_counts = zones.get(zone)
            found += count_errors([getattr(s, kind)[zone] for s in clip.seconds],
                                  [predicted_counts[t] if predicted_counts else None for t in times])
    return {
        "presence_accuracy": _ratio(correct, compared), "window_seconds": compared, "skipped_window_seconds": skipped,
        "absent_flicker_episodes": episodes, "still_officer_absent_episodes": still_episodes,
        "false_absent_s": false_absent, "false_present_s": false_present, "unknown_s": unknown,
        "queue_mae": mean(errors["queues"]), "self_service_mae": mean(errors["self_service"]),
        "_sums": {"correct": correct, "compared": compared, "queue_errors": errors["queues"],
                  "self_service_errors": errors["self_service"]},
    }


def score_clip(clip: Clip, run: ClipRun, site: SiteConfig) -> dict[str, Any]:
    """One clip's scores, the plain detector's beside them, with the raw sums that the totals add up."""
    scores = _reading_scores(clip, run.desks, run.zones, site)
    plain = _reading_scores(clip, run.plain.desks, run.plain.zones, site) if run.plain is not None else None
    p50_errors: list[float] = []
    littles_errors: list[float] = []
    minutes_true = minutes_missed = 0
    for zone in sorted({v.zone for v in clip.queue_visits}):
        known = ((v.enter_s, v.exit_s) for v in clip.queue_visits if v.zone == zone and not v.censored)
        truth_minutes = minute_waits(known, until_s=clip.duration_s - WAIT_CLOSE_MARGIN_S)
        predicted = {m: w for (z, m), w in (run.waits or {}).items() if z == zone}
        waits = wait_score(truth_minutes, predicted)
        p50_errors += waits.p50_errors
        littles_errors += waits.littles_errors
        minutes_true += waits.minutes_true
        minutes_missed += waits.minutes_missed
    sums = scores.pop("_sums")
    return {
        "clip": clip.id, "tags": list(clip.tags), "real": clip.real, "seconds": clip.duration_s,
        "labelled_seconds": len(clip.seconds), "frames": run.frames, **scores,
        "wait_error_s": mean(p50_errors) if run.waits is not None else None,
        "littles_error_s": mean(littles_errors) if run.waits is not None else None,
        "wait_minutes": minutes_true, "wait_minutes_missed": minutes_missed if run.waits is not None else None,
        "ms_per_frame": round(1000 * run.analyse_s / run.frames, 1) if run.frames else None,
        "plain": None if plain is None else {k: v for k, v in plain.items() if k != "_sums"},
        "no_harm": no_harm(scores, plain),
        "_sums": {**sums, "p50_errors": p50_errors, "littles_errors": littles_errors, "waits": run.waits is not None,
                  "plain": None if plain is None else plain["_sums"]},
    }


def no_harm(scores: dict[str, Any], plain: dict[str, Any] | None) -> bool | None:
    """Whether the analytics did at least as well as the plain detector on the same frames: queue MAE
    no higher, and no more false absent seconds at desks (None: nothing to compare)."""
    if plain is None:
        return None
    mae, plain_mae = scores["queue_mae"], plain["queue_mae"]
    return bool((mae is None or plain_mae is None or mae <= plain_mae)
                and scores["false_absent_s"] <= plain["false_absent_s"])


def evaluate(clips: list[Clip], *, progress: bool = True, detector: dict[str, Any] | None = None) -> dict[str, Any]:
    """Analyse and score every clip; the report `hallwatch eval --json` prints. `detector`: fields of
    `detector` in every clip's site file to replace, as the site file spells them (e.g. `{"model": "yolov8n-coco"}`)."""
    from tqdm import tqdm

    from core.config import SiteConfig, load_site
    from models import load_detector

    def with_detector(site: SiteConfig) -> SiteConfig:
        if not detector:
            return site
        raw = site.model_dump(mode="json")
        raw["detector"] = {**raw["detector"], **detector}
        return SiteConfig.model_validate(raw)

    started = time.monotonic()
    sites = {clip.id: with_detector(load_site(clip.site)) for clip in clips}
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
    """Totals over every clip, and over the real and the synthetic clips apart, each with the plain
    detector's figures on the same frames beside the analytics'."""
    sums = [c.pop("_sums") for c in per_clip]
    report: dict[str, Any] = {
        "clips": len(per_clip),
        "video_s": sum(c["seconds"] for c in per_clip),
        **_totals(per_clip, sums),
        "targets": TARGETS,
        "groups": _groups(per_clip, sums),
        "elapsed_s": round(elapsed_s, 1),
        "per_clip": per_clip,
    }
    report["meets_targets"] = meets_targets(report)
    return report


def _groups(per_clip: list[dict[str, Any]], sums: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, Any] = {}
    for name, real in (("real", True), ("synthetic", False)):
        pairs = [(c, s) for c, s in zip(per_clip, sums, strict=True) if c["real"] is real]
        if pairs:
            groups[name] = {"clips": [c["clip"] for c, _ in pairs],
                            **_totals([c for c, _ in pairs], [s for _, s in pairs])}
    return groups


def _totals(per_clip: list[dict[str, Any]], sums: list[dict[str, Any]]) -> dict[str, Any]:
    waits = all(s["waits"] for s in sums)
    queue_errors = [e for s in sums for e in s["queue_errors"]]
    plains = [s["plain"] for s in sums if s["plain"] is not None]
    harm = [c["no_harm"] for c in per_clip if c["no_harm"] is not None]
    return {
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
        "plain": {
            "presence_accuracy": _ratio(sum(p["correct"] for p in plains), sum(p["compared"] for p in plains)),
            "queue_mae": mean([e for p in plains for e in p["queue_errors"]]),
            "self_service_mae": mean([e for p in plains for e in p["self_service_errors"]]),
            "false_absent_s": sum(c["plain"]["false_absent_s"] for c in per_clip if c["plain"] is not None),
        } if plains else None,
        "no_harm": all(harm) if harm else None,
    }


def meets_targets(report: dict[str, Any]) -> bool:
    """Synthetic clips: presence, still officers and queue MAE against TARGETS. Real clips: no harm on
    every clip (the analytics no worse than the plain detector), no false absent run of a still
    officer, and presence at the target where desks are labelled."""
    groups = report.get("groups", {})
    synthetic, real = groups.get("synthetic"), groups.get("real")
    return ((synthetic is not None or real is not None)
            and (synthetic is None or (
                synthetic["presence_accuracy"] is not None
                and synthetic["presence_accuracy"] >= TARGETS["presence_accuracy"]
                and synthetic["still_officer_absent_episodes"] <= TARGETS["still_officer_absent_episodes"]
                and (synthetic["queue_mae"] is None or synthetic["queue_mae"] <= TARGETS["queue_mae"])))
            and (real is None or (
                real["no_harm"] is not False
                and real["still_officer_absent_episodes"] <= TARGETS["still_officer_absent_episodes"]
                and (real["presence_accuracy"] is None or real["presence_accuracy"] >= TARGETS["presence_accuracy"]))))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _seconds(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)
