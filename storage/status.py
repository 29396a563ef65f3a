"""What is true now: the newest desk state, zone count and camera health of every subject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row


@dataclass(frozen=True)
class LatestSamples:
    desks: dict[tuple[str, str], dict[str, Any]]    # (hall, window) -> row
    zones: dict[tuple[str, str], dict[str, Any]]    # (hall, zone) -> row
    cameras: dict[tuple[str, str], dict[str, Any]]  # (hall, camera) -> row
    now: datetime


# DISTINCT ON walks each table's (subject, ts) primary key backwards: one index probe per subject.
_LATEST_DESK = """
SELECT DISTINCT ON (hall_id, window_id) hall_id, window_id, camera_id, ts, state, state_since, people
FROM desk_sample WHERE ts > now() - %(horizon)s::interval
ORDER BY hall_id, window_id, ts DESC
"""
_LATEST_ZONE = """
SELECT DISTINCT ON (hall_id, zone_id) hall_id, zone_id, camera_id, ts, kind, people
FROM zone_sample WHERE ts > now() - %(horizon)s::interval
ORDER BY hall_id, zone_id, ts DESC
"""
_LATEST_HEALTH = """
SELECT DISTINCT ON (hall_id, camera_id) hall_id, camera_id, ts, state, fps, last_frame_at, reconnects, error
FROM camera_health WHERE ts > now() - %(horizon)s::interval
ORDER BY hall_id, camera_id, ts DESC
"""


def latest_samples(conn: psycopg.Connection, *, horizon: str = "1 hour") -> LatestSamples:
    params = {"horizon": horizon}
    with conn.cursor(row_factory=dict_row) as cur:
        desks = {(r["hall_id"], r["window_id"]): r for r in cur.execute(_LATEST_DESK, params)}
        zones = {(r["hall_id"], r["zone_id"]): r for r in cur.execute(_LATEST_ZONE, params)}
        cameras = {(r["hall_id"], r["camera_id"]): r for r in cur.execute(_LATEST_HEALTH, params)}
        now = cur.execute("SELECT now() AS now").fetchone()
    assert now is not None
    return LatestSamples(desks=desks, zones=zones, cameras=cameras, now=now["now"])
