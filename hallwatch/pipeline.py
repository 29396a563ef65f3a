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
from datetime import UTC, datetime

from analytics.camera import CameraAnalyzer, CameraResult
from hallwatch.config import CameraConfig, HallConfig, SiteConfig, ZoneKind
from hallwatch.db.samples import DeskSample, HealthSample, Sample, ZoneSample
from ingest.health import CameraHealth
from ingest.reader import CameraReader, Frame
from models import Detector

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 1.0


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


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

    @property
    def zone_kinds(self) -> dict[str, str]:
        return {z.id: z.kind.value for z in self.camera.zones if z.kind is not ZoneKind.desk}


def result_samples(work: CameraWork, result: CameraResult) -> list[Sample]:
    """The rows one analysed frame produces."""
    ts = utc(result.ts)
    hall, camera = work.hall.id, work.camera.id
    rows: list[Sample] = [
        DeskSample(ts=ts, hall_id=hall, window_id=window, camera_id=camera, state=reading.state.value,
                   state_since=utc(reading.since), people=result.desk_people.get(window, 0))
        for window, reading in result.desks.items()
    ]
    kinds = work.zone_kinds
    rows += [
        ZoneSample(ts=ts, hall_id=hall, zone_id=zone, camera_id=camera, kind=kinds[zone], people=count)
        for zone, count in result.zones.items()
    ]
    return rows


def health_sample(hall_id: str, camera_id: str, health: CameraHealth, ts: float) -> HealthSample:
    return HealthSample(
        ts=utc(ts), hall_id=hall_id, camera_id=camera_id, state=health.state.value, fps=health.fps,
        last_frame_at=utc(health.last_frame_at) if health.last_frame_at is not None else None,
        reconnects=health.reconnects, error=health.error,
    )


class Pipeline:
    def __init__(
        self, site: SiteConfig, detector: Detector, sink: Callable[[Iterable[Sample]], None],
        *, clock: Callable[[], float] = time.time,
    ) -> None:
        self.site = site
        self._detector = detector
        self._sink = sink
        self._clock = clock
        self.work = {(hall.id, camera.id): CameraWork(hall, camera, CameraAnalyzer(camera, site.presence))
                     for hall, camera in site.cameras()}
        self.readers = {
            key: CameraReader("/".join(key), w.camera.url, site.ingest, clock=clock) for key, w in self.work.items()
        }
        self.frames_analysed = 0

    def run(self, stop: threading.Event) -> None:
        for reader in self.readers.values():
            reader.start()
        try:
            self._loop(stop)
        finally:
            for reader in self.readers.values():
                reader.stop()

    def _loop(self, stop: threading.Event) -> None:
        next_health = self._clock()
        while not stop.is_set():
            now = self._clock()
            if now >= next_health:
                self._sink([health_sample(hall, camera, reader.health(), now)
                            for (hall, camera), reader in self.readers.items()])
                next_health = now + HEALTH_INTERVAL_S
            due = [w for w in self.work.values() if w.next_due <= now]
            for work in due:
                self._analyse(work, now)
            upcoming = min([w.next_due for w in self.work.values()] + [next_health])
            stop.wait(max(0.0, upcoming - self._clock()))

    def _analyse(self, work: CameraWork, now: float) -> None:
        reader = self.readers[(work.hall.id, work.camera.id)]
        work.next_due += work.interval_s
        if work.next_due <= now:  # first round, or fell behind: keep the rate, skip the backlog
            work.next_due = now + work.interval_s
        health = reader.health()
        frame = reader.latest() if health.healthy else None
        max_age_s = max(2 * work.interval_s, 2.0)
        if frame is None or frame.seq == work.last_seq or now - frame.ts > max_age_s:
            self._sink(result_samples(work, work.analyzer.update(None, now, (0, 0))))
        else:
            self._sink(self.process(work, frame))

    def process(self, work: CameraWork, frame: Frame) -> list[Sample]:
        """Analyse one frame of a camera and return the rows it produces."""
        work.last_seq = frame.seq
        self.frames_analysed += 1
        return result_samples(work, analyse_frame(self._detector, work.analyzer, frame))


def analyse_frame(detector: Detector, analyzer: CameraAnalyzer, frame: Frame) -> CameraResult:
    """The one path from a frame to a result, shared by the pipeline and `hallwatch analyze`."""
    return analyzer.update(detector.detect(frame.image), frame.ts, frame.size)
