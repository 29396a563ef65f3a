"""The analysis loop: camera readers -> detector -> per-camera analytics -> sample rows -> writer.

One thread runs the detector over the cameras in turn at each camera's analysis rate, always on the
newest frame; a camera whose frame is missing or stale yields `unknown` desk states rather than a
guess. Health of every camera is sampled once a second."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from analytics.camera import CameraAnalyzer
from hallwatch.config import CameraConfig, HallConfig, SiteConfig
from hallwatch.db.samples import Sample
from hallwatch.results import analyse_frame, health_rows, result_samples
from ingest.reader import CameraReader, Frame
from models import Detector

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 1.0
SAME_FRAME_RETRY_S = 0.1


@dataclass
class CameraWork:
    hall: HallConfig
    camera: CameraConfig
    analyzer: CameraAnalyzer
    next_due: float = 0.0
    last_seq: int = -1

    @property
    def interval_s(self) -> float:
        return 1.0 / self.camera.analysis_fps



class Pipeline:
    """Analyses a set of the site's cameras: all of them by default (`hallwatch run`), or the ones a
    worker holds leases on, changed at run time with `set_cameras`."""

    def __init__(
        self, site: SiteConfig, detector: Detector, sink: Callable[[Iterable[Sample]], None],
        *, cameras: Iterable[tuple[str, str]] | None = None, clock: Callable[[], float] = time.time,
    ) -> None:
        self.site = site
        self._detector = detector
        self._sink = sink
        self._clock = clock
        self.work = {(hall.id, camera.id): self._new_work(hall, camera) for hall, camera in site.cameras()}
        self.readers: dict[tuple[str, str], CameraReader] = {}  # the cameras being analysed now
        self.frames_analysed = 0
        self._wanted = self._known(self.work if cameras is None else cameras)
        self._running = False
        # Guards the set of cameras. Results are passed on under it, and only while their camera is
        # still in the set: once set_cameras returns, no result of a camera outside the new set is
        # passed on, though a frame of it may still be in the detector.
        self._lock = threading.Lock()

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

    def run(self, stop: threading.Event) -> None:
        with self._lock:
            self._running = True
            self._reconcile()
        try:
            self._loop(stop)
        finally:
            with self._lock:
                self._running = False
                stopped = self._reconcile()
            _stop_readers(stopped)

    def _known(self, cameras: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
        keys = frozenset(cameras)
        unknown = keys - self.work.keys()
        if unknown:
            raise ValueError(f"not cameras of the site: {sorted(unknown)}")
        return keys

    def _new_work(self, hall: HallConfig, camera: CameraConfig) -> CameraWork:
        return CameraWork(hall, camera, CameraAnalyzer(camera, self.site.presence))

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
                rows = self._analyse(work, reader, now)  # outside the lock: set_cameras never waits on it
                with self._lock:
                    if self.readers.get(key) is reader:  # not taken away meanwhile: the rows count
                        self._sink(rows)
            with self._lock:
                upcoming = min([self.work[key].next_due for key in self.readers] + [next_health])
            stop.wait(max(0.0, upcoming - self._clock()))

    def _analyse(self, work: CameraWork, reader: CameraReader, now: float) -> list[Sample]:
        health = reader.health()
        frame = reader.latest() if health.healthy else None
        max_age_s = max(2 * work.interval_s, 2.0)
        if frame is not None and frame.seq == work.last_seq and now - frame.ts <= max_age_s:
            # No new frame yet: with keyframe-only decoding the analysis interval can equal the
            # keyframe interval, so look again shortly instead of reporting the desk unknown.
            work.next_due = now + min(SAME_FRAME_RETRY_S, work.interval_s)
            return []
        work.next_due += work.interval_s
        if work.next_due <= now:  # first round, or fell behind: keep the rate, skip the backlog
            work.next_due = now + work.interval_s
        if frame is None or now - frame.ts > max_age_s:
            return result_samples(work.hall, work.camera, work.analyzer.update(None, now, (0, 0)))
        return self.process(work, frame)

    def process(self, work: CameraWork, frame: Frame) -> list[Sample]:
        """Analyse one frame of a camera and return the rows it produces."""
        work.last_seq = frame.seq
        self.frames_analysed += 1
        return result_samples(work.hall, work.camera, analyse_frame(self._detector, work.analyzer, frame))


def _stop_readers(readers: list[CameraReader]) -> None:
    """Ask all to stop at once, then wait for each: stopping many takes as long as the slowest."""
    for reader in readers:
        reader.stop(timeout_s=0.0)
    for reader in readers:
        reader.stop()
