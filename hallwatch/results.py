"""From analysis results and reader health to the rows the database stores. The pipeline, workers
and `hallwatch analyze` share these, so a frame gives the same answer on every path."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np

from analytics.camera import CameraAnalyzer, CameraResult
from core.config import CameraConfig, HallConfig, ZoneKind
from ingest.health import CameraHealth
from ingest.reader import CameraReader, Frame
from models import Detector
from models.detections import Detections
from models.scene import frame_features
from storage.samples import (
    DeskSample,
    EventCloseSample,
    EventOpenSample,
    HealthSample,
    OfflineSpellSample,
    Sample,
    WaitSample,
    ZoneSample,
)


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
    rows += [
        WaitSample(ts=utc(m.minute_start), hall_id=hall.id, zone_id=m.zone_id, camera_id=camera.id, served=m.served,
                   dwell_p50_s=m.dwell_p50_s, dwell_p90_s=m.dwell_p90_s, littles_s=m.littles_s,
                   mean_queue=m.mean_queue)
        for m in result.waits
    ]
    for change in result.events:
        event = change.event
        if change.action == "opened":
            rows.append(EventOpenSample(ts=utc(event.started_at), hall_id=hall.id, camera_id=camera.id,
                                        kind=event.kind.value, subject=event.subject,
                                        details=json.dumps(event.details, sort_keys=True, default=str)))
        elif event.ended_at is not None:
            rows.append(EventCloseSample(ts=utc(event.started_at), hall_id=hall.id, kind=event.kind.value,
                                         subject=event.subject, ended_at=utc(event.ended_at)))
    return rows


def health_sample(hall_id: str, camera_id: str, health: CameraHealth, ts: float) -> HealthSample:
    return HealthSample(
        ts=utc(ts), hall_id=hall_id, camera_id=camera_id, state=health.state.value, fps=health.fps,
        last_frame_at=utc(health.last_frame_at) if health.last_frame_at is not None else None,
        reconnects=health.reconnects, error=health.error, decode_mode=health.decode_mode.value,
        decode_errors=health.rejected_packets, corrupt_frames=health.corrupt_frames,
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
    return analyse(analyzer, detector.detect(frame.image), frame.ts, frame.size, frame.image)


def analyse(analyzer: CameraAnalyzer, detections: Detections, ts: float, size: tuple[int, int],
            image: np.ndarray) -> CameraResult:
    """A frame's result once its people are found: the detections plus the frame's own
    measurements (desk evidence, view checks), taken from `image`, the BGR frame or its brightness
    plane. A camera's frames must all come as one or the other: its learned references compare them."""
    features = frame_features(image, analyzer.camera, patch_px=analyzer.config.desk.patch_px)
    return analyzer.update(detections, ts, size, features)
