"""From analysis results and reader health to the rows the database stores. The pipeline, workers
and `hallwatch analyze` share these, so a frame gives the same answer on every path."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics.camera import CameraAnalyzer, CameraResult
from hallwatch.config import CameraConfig, HallConfig, ZoneKind
from hallwatch.db.samples import DeskSample, HealthSample, OfflineSpellSample, Sample, ZoneSample
from ingest.health import CameraHealth
from ingest.reader import CameraReader, Frame
from models import Detector
from models.detections import Detections
from models.scene import frame_features


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def result_samples(hall: HallConfig, camera: CameraConfig, result: CameraResult) -> list[Sample]:
    """The rows one analysed frame produces."""
    ts = utc(result.ts)
    rows: list[Sample] = [
        DeskSample(ts=ts, hall_id=hall.id, window_id=window, camera_id=camera.id, state=reading.state.value,
                   state_since=utc(reading.since), people=result.desk_people.get(window, 0))
        for window, reading in result.desks.items()
    ]
    kinds = {z.id: z.kind.value for z in camera.zones if z.kind is not ZoneKind.desk}
    rows += [  # no zone row while the view is untrusted: a dead view is not "nobody waiting"
        ZoneSample(ts=ts, hall_id=hall.id, zone_id=zone, camera_id=camera.id, kind=kinds[zone], people=count)
        for zone, count in result.zones.items() if count is not None
    ]
    return rows


def health_sample(hall_id: str, camera_id: str, health: CameraHealth, ts: float) -> HealthSample:
    return HealthSample(
        ts=utc(ts), hall_id=hall_id, camera_id=camera_id, state=health.state.value, fps=health.fps,
        last_frame_at=utc(health.last_frame_at) if health.last_frame_at is not None else None,
        reconnects=health.reconnects, error=health.error,
    )


def health_rows(key: tuple[str, str], reader: CameraReader, now: float) -> list[Sample]:
    """A camera's health sample, and the spells without video that ended since the last call."""
    hall_id, camera_id = key
    rows: list[Sample] = [health_sample(hall_id, camera_id, reader.health(), now)]
    rows += [OfflineSpellSample(ts=utc(spell.start), hall_id=hall_id, camera_id=camera_id,
                                ended_at=utc(spell.end), cause=spell.cause.value)
             for spell in reader.take_spells()]
    return rows


def analyse_frame(detector: Detector, analyzer: CameraAnalyzer, frame: Frame) -> CameraResult:
    """The one path from a frame to a result, shared by the pipeline and `hallwatch analyze`."""
    return analyse_detections(analyzer, frame, detector.detect(frame.image))


def analyse_detections(analyzer: CameraAnalyzer, frame: Frame, detections: Detections) -> CameraResult:
    """A frame's result once its people are found (by one detector call, or a batch of them):
    the detections plus the frame's own measurements (desk evidence, view checks)."""
    features = frame_features(frame.image, analyzer.camera, patch_px=analyzer.config.desk.patch_px)
    return analyzer.update(detections, frame.ts, frame.size, features)
