"""Rows of the timeseries tables and the SQL that stores them. A sample that is written twice
(a retry after an outage, a replay) is stored once: every insert is ON CONFLICT DO NOTHING."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from datetime import datetime

import psycopg

from hallwatch.config import SiteConfig


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


Sample = DeskSample | ZoneSample | HealthSample

_INSERTS: dict[type, str] = {
    DeskSample: "INSERT INTO desk_sample (ts, hall_id, window_id, camera_id, state, state_since, people)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
    ZoneSample: "INSERT INTO zone_sample (ts, hall_id, zone_id, camera_id, kind, people)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
    HealthSample: "INSERT INTO camera_health"
    " (ts, hall_id, camera_id, state, fps, last_frame_at, reconnects, error)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
}


def insert_samples(conn: psycopg.Connection, samples: Sequence[Sample]) -> None:
    """Insert in one transaction, grouped by table (executemany pipelines the statements)."""
    by_type: dict[type, list[tuple[object, ...]]] = {}
    for sample in samples:
        by_type.setdefault(type(sample), []).append(astuple(sample))
    with conn.transaction(), conn.cursor() as cur:
        for kind, rows in by_type.items():
            cur.executemany(_INSERTS[kind], rows)


def sync_site(conn: psycopg.Connection, site: SiteConfig) -> None:
    """Mirror the site file's geography into the database; what the file no longer has is kept
    (samples and records refer to it) but marked inactive."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO province (id, name) VALUES (%s, %s)"
            " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
            (site.province.id, site.province.name),
        )
        cur.executemany(
            "INSERT INTO city (id, province_id, name) VALUES (%s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET province_id = EXCLUDED.province_id, name = EXCLUDED.name",
            [(c.id, site.province.id, c.name) for c in site.cities],
        )
        for table in ("hall", "service_window", "camera", "zone"):
            cur.execute(f"UPDATE {table} SET active = false")
        cur.executemany(
            "INSERT INTO hall (id, city_id, name, size, flow) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET city_id = EXCLUDED.city_id, name = EXCLUDED.name,"
            " size = EXCLUDED.size, flow = EXCLUDED.flow, active = true",
            [(h.id, h.city, h.name, h.size.value, h.flow.value) for h in site.halls],
        )
        cur.executemany(
            "INSERT INTO service_window (hall_id, id, name) VALUES (%s, %s, %s)"
            " ON CONFLICT (hall_id, id) DO UPDATE SET name = EXCLUDED.name, active = true",
            [(h.id, w.id, w.name) for h in site.halls for w in h.windows],
        )
        cur.executemany(
            "INSERT INTO camera (hall_id, id, name, url_redacted) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (hall_id, id) DO UPDATE SET name = EXCLUDED.name,"
            " url_redacted = EXCLUDED.url_redacted, active = true",
            [(h.id, c.id, c.name, c.safe_url) for h, c in site.cameras()],
        )
        cur.executemany(
            "INSERT INTO zone (hall_id, id, camera_id, kind, window_id, polygon)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (hall_id, id) DO UPDATE SET camera_id = EXCLUDED.camera_id, kind = EXCLUDED.kind,"
            " window_id = EXCLUDED.window_id, polygon = EXCLUDED.polygon, active = true",
            list(_zone_rows(site)),
        )


def _zone_rows(site: SiteConfig) -> Iterable[tuple[object, ...]]:
    for hall, camera in site.cameras():
        for zone in camera.zones:
            yield (hall.id, zone.id, camera.id, zone.kind.value, zone.window, json.dumps(zone.polygon))
