"""The rows one analysed frame and one camera's health give: plain frozen dataclasses, one per
timeseries table, and the mapping from analysis results and reader health to them. The pipeline,
workers and `hallwatch analyze` share these, so a frame gives the same answer on every path; storage
writes them (`storage.samples`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.config import CameraConfig, HallConfig, ZoneKind

if TYPE_CHECKING:  # types only: storage imports these rows without loading the analysis stack
    from analytics.camera import CameraResult
    from ingest.health import CameraHealth
    from ingest.reader import CameraReader


@dataclass(frozen=True)
class DeskSample:
    ts: datetime
    hall_id: str
    window_id: str
    camera_id: str
    state: str
    state_since: datetime
    people: int


@dataclass(frozen=True)
class ZoneSample:
    ts: datetime
    hall_id: str
    zone_id: str
    camera_id: str
    kind: str
    people: int


@dataclass(frozen=True)
class HealthSample:
    ts: datetime
    hall_id: str
    camera_id: str
    state: str
    fps: float
    last_frame_at: datetime | None
    reconnects: int
    error: str | None
    decode_mode: str | None = None  # an ingest.health.DecodeMode; None: not known (a row from before migration 005)
    decode_errors: int = 0          # packets the decoder refused, since the reader started
    corrupt_frames: int = 0         # frames the decoder marked corrupt and analysis never saw, since then


@dataclass(frozen=True)
class OfflineSpellSample:
    ts: datetime  # the start of the spell
    hall_id: str
    camera_id: str
    ended_at: datetime
    cause: str


@dataclass(frozen=True)
class EventOpenSample:
    ts: datetime  # when the event started
    hall_id: str
    camera_id: str
    kind: str
    subject: str
    details: str  # a JSON object


@dataclass(frozen=True)
class EventCloseSample:
    ts: datetime  # when the event started: the key of its opening
    hall_id: str
    kind: str
    subject: str
    ended_at: datetime


@dataclass(frozen=True)
class WaitSample:
    ts: datetime  # start of the minute
    hall_id: str
    zone_id: str
    camera_id: str
    served: int
    dwell_p50_s: float | None
    dwell_p90_s: float | None
    littles_s: float | None
    mean_queue: float | None


Sample = (DeskSample | ZoneSample | HealthSample | OfflineSpellSample | EventOpenSample | EventCloseSample
          | WaitSample)


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
