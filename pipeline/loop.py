"""The analysis loop: camera readers -> detector -> per-camera analytics -> sample rows -> writer.

Two threads carry every camera of the process, whatever their number:
- the scheduler takes each camera's newest frame at the camera's analysis rate and asks its motion
  gate (`ingest.motion`) whether the picture changed in and near the zones since the detector last
  looked, using the brightness plane at reduced size, with no colour conversion. When nothing
  changed (and the refresh is not due) the detector's last boxes stand for this frame and the rows
  are made at once; otherwise the frame goes to the detector's queue;
- the detector thread converts queued frames to BGR, runs the detector (one onnxruntime session
  using the configured threads) and makes their rows.

A camera has at most one frame with the detector; while it is there, that camera's analysis ticks
wait, so the queue is bounded by the number of cameras and each camera's
analyzer sees its frames in order. Batching frames of several cameras into one inference was
measured and does not pay on the CPU (`docs/benchmarks.md`). A camera whose frame is missing or
stale yields `unknown` desk states rather than a guess. Health of every camera is sampled once a
second.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from analytics.camera import CameraAnalyzer, CameraResult
from core.config import CameraConfig, DetectorConfig, HallConfig, SiteConfig
from core.config.detector import DetectionMode
from ingest.motion import MotionGate
from ingest.reader import CameraReader, Frame, RawFrame
from models import Detections, Detector
from pipeline.measure import analyse, analyse_frame
from pipeline.rows import Sample, health_rows, result_samples

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 1.0
SAME_FRAME_RETRY_S = 0.05
RATE_SLACK = 0.08  # a frame this share of the interval early still counts (arrival jitter)
LATENCY_SAMPLES = 8192  # frame-to-row latencies kept for stats()
QUEUE_POLL_S = 0.2


# (hall id, camera id, result, the detections it used (None without a frame), frame (width, height))
ResultListener = Callable[[str, str, CameraResult, Detections | None, tuple[int, int]], None]

@dataclass
class CameraWork:
    hall: HallConfig
    camera: CameraConfig
    analyzer: CameraAnalyzer
    detector: Detector
    gate: MotionGate | None = None
    next_due: float = 0.0
    last_seq: int = -1
    last_ts: float = float("-inf")  # capture time of the last frame analysed, or of the last unknown instant
    detections: Detections | None = None  # the detector's last answer, standing for unchanged frames
    busy: bool = False                    # a frame of this camera is with the detector

    @property
    def interval_s(self) -> float:
        return 1.0 / self.camera.analysis_fps


@dataclass
class PipelineStats:
    """Counters since the start (or `reset`); latencies are seconds from a frame's capture (its
    timestamp, see `RawFrame.ts`) to its rows being handed to the sink."""

    analysed: int = 0  # frames that gave rows
    detected: int = 0  # of those, frames the detector looked at
    reused: int = 0    # of those, frames the motion gate let through on the last detections
    per_camera: Counter[tuple[str, str]] = field(default_factory=Counter)  # frames that gave rows, by camera
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    detect_latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))


@dataclass(frozen=True)
class _Job:
    key: tuple[str, str]
    work: CameraWork
    reader: CameraReader
    raw: RawFrame
    luma: np.ndarray | None


def camera_detector(detector: Detector, camera: CameraConfig, config: DetectorConfig) -> Detector:
    """What the detector sees of this camera's frames: the whole frame, or crops of its zones."""
    if config.mode is DetectionMode.frame or not camera.zones:
        return detector
    from models.onnx_detector import OnnxDetector
    from models.regions import RegionDetector

    if not isinstance(detector, OnnxDetector):
        raise ValueError(f"detector.mode 'zones' needs an ONNX detector, not {type(detector).__name__}")
    return RegionDetector.for_zones(detector, [zone.polygon for zone in camera.zones])


class Pipeline:
    """Analyses a set of the site's cameras: all of them by default (`hallwatch run`), or the ones a
    worker holds leases on, changed at run time with `set_cameras`."""

    def __init__(
        self, site: SiteConfig, detector: Detector, sink: Callable[[Iterable[Sample]], None],
        *, cameras: Iterable[tuple[str, str]] | None = None, clock: Callable[[], float] = time.time,
        on_result: ResultListener | None = None,
    ) -> None:
        """`on_result` hears of every analysed frame (e.g. the live wall's overlays), on the thread
        that analysed it; it must be quick and must not raise."""
        self.site = site
        self._on_result = on_result
        self._detector = detector
        self._sink = sink
        self._clock = clock
        self.work = {(hall.id, camera.id): self._new_work(hall, camera) for hall, camera in site.cameras()}
        self.readers: dict[tuple[str, str], CameraReader] = {}  # the cameras being analysed now
        self.stats = PipelineStats()
        self._wanted = self._known(self.work if cameras is None else cameras)
        self._running = False
        self._jobs: queue.Queue[_Job] = queue.Queue()  # at most one per camera (CameraWork.busy)
        # Guards the set of cameras. Results are passed on under it, and only while their camera is
        # still in the set: once set_cameras returns, no result of a camera outside the new set is
        # passed on, though a frame of it may still be in the detector.
        self._lock = threading.Lock()

    @property
    def frames_analysed(self) -> int:
        return self.stats.analysed

    @property
    def queued(self) -> int:
        """Frames waiting for the detector."""
        return self._jobs.qsize()

    def reset_stats(self) -> PipelineStats:
        """Start counting afresh; returns the counts so far."""
        with self._lock:
            old, self.stats = self.stats, PipelineStats()
        return old

    def set_cameras(self, cameras: Iterable[tuple[str, str]]) -> None:
        """Analyse exactly these (hall id, camera id) from now on: readers start for new cameras and
        stop for the others. When it returns, no result of the others is passed on any more (their
        readers finish closing their streams in the background)."""
        wanted = self._known(cameras)
        with self._lock:
            if wanted == self._wanted:
                return
            self._wanted = wanted
            stopped = self._reconcile()
        if stopped:
            threading.Thread(target=_stop_readers, args=(stopped,), name="ingest-stop", daemon=True).start()

    def update_site(self, site: SiteConfig, cameras: Iterable[tuple[str, str]]) -> None:
        """A changed site file: `site` from now on, and for `cameras` (changed or added) work made afresh
        from it, used from their next start (a running one keeps its work until it is restarted)."""
        keys = frozenset(cameras)
        with self._lock:
            self.site = site
            for hall, camera in site.cameras():
                if (hall.id, camera.id) in keys:
                    self.work[(hall.id, camera.id)] = self._new_work(hall, camera)

    def forget(self, cameras: Iterable[tuple[str, str]]) -> None:
        """Drop the work of cameras the site no longer has; they must not be analysed any more."""
        with self._lock:
            for key in cameras:
                if key not in self.readers:
                    self.work.pop(key, None)

    def run(self, stop: threading.Event) -> None:
        with self._lock:
            self._running = True
            self._reconcile()
        done = threading.Event()  # the detector thread's stop: also when the loop fails
        detector = threading.Thread(target=self._detect_loop, args=(done,), name="pipeline:detector", daemon=True)
        detector.start()
        try:
            self._loop(stop)
        finally:
            done.set()
            detector.join(30.0)
            with self._lock:
                self._running = False
                stopped = self._reconcile()
            _stop_readers(stopped)

    def process(self, work: CameraWork, frame: Frame) -> list[Sample]:
        """Analyse one frame of a camera with the detector, whatever the motion gate would say, and
        return the rows it produces (the path `hallwatch analyze` takes)."""
        work.last_seq, work.last_ts = frame.seq, frame.ts
        self.stats.analysed += 1
        self.stats.detected += 1
        return result_samples(work.hall, work.camera, analyse_frame(work.detector, work.analyzer, frame))

    def _known(self, cameras: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
        keys = frozenset(cameras)
        unknown = keys - self.work.keys()
        if unknown:
            raise ValueError(f"not cameras of the site: {sorted(unknown)}")
        return keys

    def _new_work(self, hall: HallConfig, camera: CameraConfig) -> CameraWork:
        config = self.site.detector
        motion = config.motion
        gate = None
        if motion.enabled:
            gate = MotionGate([zone.polygon for zone in camera.zones], refresh_s=motion.refresh_s,
                              pixel_threshold=motion.pixel_threshold, min_changed=motion.min_changed,
                              seed=f"{hall.id}/{camera.id}")
        return CameraWork(hall, camera, CameraAnalyzer.from_site(self.site, camera),
                          camera_detector(self._detector, camera, config), gate)

    def _reconcile(self) -> list[CameraReader]:
        """Under the lock: start readers for the wanted cameras (with fresh analysis state) and
        detach the others' readers, which the caller stops."""
        wanted = self._wanted if self._running else frozenset()
        stopped = [self.readers.pop(key) for key in sorted(self.readers.keys() - wanted)]
        for key in sorted(wanted - self.readers.keys()):
            work = self.work[key] = self._new_work(self.work[key].hall, self.work[key].camera)
            self.readers[key] = CameraReader.for_camera(
                "/".join(key), work.camera, self.site.ingest, clock=self._clock,
            ).start()
        return stopped

    # -- the scheduler ---------------------------------------------------------------------------

    def _loop(self, stop: threading.Event) -> None:
        next_health = self._clock()
        while not stop.is_set():
            now = self._clock()
            if now >= next_health:
                with self._lock:
                    health = [row for key, reader in self.readers.items() for row in health_rows(key, reader, now)]
                    if health:
                        self._sink(health)
                next_health = now + HEALTH_INTERVAL_S
            with self._lock:
                due = [(key, reader, self.work[key]) for key, reader in sorted(self.readers.items())
                       if self.work[key].next_due <= now]
            for key, reader, work in due:
                rows = self._analyse(key, work, reader, now)  # outside the lock: set_cameras never waits on it
                if rows:
                    self._deliver(key, reader, rows)
            with self._lock:
                upcoming = min([self.work[key].next_due for key in self.readers] + [next_health])
            stop.wait(max(0.0, upcoming - self._clock()))

    def _analyse(self, key: tuple[str, str], work: CameraWork, reader: CameraReader, now: float) -> list[Sample]:
        raw = reader.latest_raw()
        max_age_s = max(2 * work.interval_s, 2.0)
        fresh = raw is not None and now - raw.ts <= max_age_s
        with self._lock:
            busy = work.busy
        if busy or (raw is not None and fresh and not _ready(work, raw)):
            # No new frame yet (or the last one is still with the detector): look again shortly, so
            # that a frame is analysed as soon as it comes (with keyframe-only or sparse decoding one
            # comes per analysis interval).
            work.next_due = now + min(SAME_FRAME_RETRY_S, work.interval_s)
            return []
        if raw is not None and fresh:
            work.next_due = raw.ts + (1.0 - RATE_SLACK) * work.interval_s  # locked to the frames' phase
        else:
            work.next_due += work.interval_s
        if work.next_due <= now:  # first round, or fell behind: keep the rate, skip the backlog
            work.next_due = now + work.interval_s
        if raw is None or not fresh:
            # The instant goes down as unknown at `now`; a frame captured before it that arrives late
            # (a stream catching up after a stall) is not analysed, so a camera's rows stay in time order.
            work.last_ts = now
            health = reader.health().state.value
            return self._rows(work, work.analyzer.update(None, now, (0, 0), health=health), None, (0, 0))
        work.last_seq, work.last_ts = raw.seq, raw.ts
        luma = None
        if work.gate is not None:
            luma = raw.luma(self.site.detector.motion.scale)
            if work.detections is not None and not work.gate.changed(luma, raw.ts):
                self._count(key, raw, detected=False)
                result = analyse(work.analyzer, work.detections, raw.ts, raw.size, raw.luma())
                return self._rows(work, result, work.detections, raw.size)
        with self._lock:
            work.busy = True
        self._jobs.put(_Job(key, work, reader, raw, luma))
        return []

    def _rows(self, work: CameraWork, result: CameraResult, detections: Detections | None,
              size: tuple[int, int]) -> list[Sample]:
        if self._on_result is not None:
            try:
                self._on_result(work.hall.id, work.camera.id, result, detections, size)
            except Exception:  # a listener's fault must not stop the analysis
                log.exception("camera %s/%s: result listener failed", work.hall.id, work.camera.id)
        return result_samples(work.hall, work.camera, result)

    def _deliver(self, key: tuple[str, str], reader: CameraReader, rows: list[Sample]) -> None:
        with self._lock:
            if self.readers.get(key) is reader:  # not taken away meanwhile: the rows count
                self._sink(rows)

    def _count(self, key: tuple[str, str], raw: RawFrame, *, detected: bool) -> None:
        latency = self._clock() - raw.ts
        with self._lock:
            stats = self.stats
            stats.analysed += 1
            stats.per_camera[key] += 1
            stats.latencies.append(latency)
            if detected:
                stats.detected += 1
                stats.detect_latencies.append(latency)
            else:
                stats.reused += 1

    # -- the detector thread ---------------------------------------------------------------------

    def _detect_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                job = self._jobs.get(timeout=QUEUE_POLL_S)
            except queue.Empty:
                continue
            try:
                rows = self._detect(job)
                self._deliver(job.key, job.reader, rows)
            except Exception:  # one camera's bad frame must not end the analysis of all
                log.exception("camera %s: analysis failed", "/".join(job.key))
            finally:
                with self._lock:
                    job.work.busy = False

    def _detect(self, job: _Job) -> list[Sample]:
        work, raw = job.work, job.raw
        frame = job.reader.convert(raw)
        detections = work.detector.detect(frame.image)
        if work.gate is not None and job.luma is not None:
            work.gate.looked(job.luma, raw.ts)
        work.detections = detections
        # The frame's measurements from its brightness plane on both paths (reused boxes or fresh
        # ones), so the analyzer's learned references always compare like with like.
        result = analyse(work.analyzer, detections, frame.ts, frame.size, raw.luma())
        rows = self._rows(work, result, detections, frame.size)
        self._count(job.key, raw, detected=True)
        return rows


def _ready(work: CameraWork, raw: RawFrame) -> bool:
    """Whether `raw` is a new frame, due by the camera's analysis rate (by capture time, from the
    stream's own clock: frames decoded in a burst count as captured)."""
    return raw.seq != work.last_seq and raw.ts >= work.last_ts + (1.0 - RATE_SLACK) * work.interval_s


def _stop_readers(readers: list[CameraReader]) -> None:
    """Ask all to stop at once, then wait for each: stopping many takes as long as the slowest."""
    for reader in readers:
        reader.stop(timeout_s=0.0)
    for reader in readers:
        reader.stop()
