"""The SQL of camera leases: worker registration and heartbeats, and claiming, renewing and releasing
cameras (the protocol is in hallwatch/leases.py).

Every time is the server's `clock_timestamp()`, not the transaction's `now()`: a claim that runs
right after another worker's release must be stamped after it, so that the history in
`camera_lease_event` orders handovers the way they happened."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

CameraKey = tuple[str, str]  # (hall_id, camera_id)


@dataclass(frozen=True)
class WorkerRow:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class LeaseEvent:
    ts: datetime
    hall_id: str
    camera_id: str
    worker_id: str
    event: str  # acquired | released | expired


def _columns(cameras: Iterable[CameraKey]) -> tuple[list[str], list[str]]:
    keys = sorted(cameras)
    return [hall for hall, _ in keys], [camera for _, camera in keys]


def seed_leases(conn: psycopg.Connection, *, cameras: Iterable[CameraKey]) -> None:
    """Make sure every camera has a lease row (free until someone claims it)."""
    halls, ids = _columns(cameras)
    conn.execute(
        "INSERT INTO camera_lease (hall_id, camera_id)"
        " SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT DO NOTHING",
        (halls, ids),
    )


def register_worker(conn: psycopg.Connection, *, worker_id: str, host: str, pid: int, ttl_s: float) -> bool:
    """Register a starting worker; False while a live worker has the same id."""
    row = conn.execute(
        """
        INSERT INTO worker (id, host, pid, started_at, heartbeat_at, expires_at)
        VALUES (%(id)s, %(host)s, %(pid)s, clock_timestamp(), clock_timestamp(),
                clock_timestamp() + make_interval(secs => %(ttl)s))
        ON CONFLICT (id) DO UPDATE
          SET host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at,
              heartbeat_at = EXCLUDED.heartbeat_at, expires_at = EXCLUDED.expires_at
          WHERE worker.expires_at <= clock_timestamp()
        RETURNING id
        """,
        {"id": worker_id, "host": host, "pid": pid, "ttl": ttl_s},
    ).fetchone()
    return row is not None


def renew_worker(conn: psycopg.Connection, *, worker_id: str, host: str, pid: int, ttl_s: float) -> None:
    """Keep a worker live for another `ttl_s` (registering it again if its row is gone)."""
    conn.execute(
        """
        INSERT INTO worker (id, host, pid, started_at, heartbeat_at, expires_at)
        VALUES (%(id)s, %(host)s, %(pid)s, clock_timestamp(), clock_timestamp(),
                clock_timestamp() + make_interval(secs => %(ttl)s))
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, expires_at = EXCLUDED.expires_at
        """,
        {"id": worker_id, "host": host, "pid": pid, "ttl": ttl_s},
    )


def retire_worker(conn: psycopg.Connection, *, worker_id: str) -> None:
    """A worker that stops cleanly is no longer counted as live."""
    conn.execute("UPDATE worker SET expires_at = clock_timestamp() WHERE id = %s", (worker_id,))


def live_workers(conn: psycopg.Connection) -> list[WorkerRow]:
    """Workers whose registration has not expired, oldest first."""
    with conn.cursor(row_factory=class_row(WorkerRow)) as cur:
        return cur.execute(
            "SELECT id, host, pid, started_at, heartbeat_at, expires_at FROM worker"
            " WHERE expires_at > clock_timestamp() ORDER BY started_at, id"
        ).fetchall()


def renew_leases(
    conn: psycopg.Connection, *, worker_id: str, cameras: Iterable[CameraKey], ttl_s: float
) -> set[CameraKey]:
    """Extend this worker's leases on `cameras`; returns those it still holds. A lease that expired
    is renewed too as long as nobody took it over, since then nobody else analysed the camera."""
    halls, ids = _columns(cameras)
    rows = conn.execute(
        """
        UPDATE camera_lease
        SET heartbeat_at = clock_timestamp(), expires_at = clock_timestamp() + make_interval(secs => %(ttl)s)
        WHERE worker_id = %(worker)s
          AND (hall_id, camera_id) IN (SELECT * FROM unnest(%(halls)s::text[], %(ids)s::text[]))
        RETURNING hall_id, camera_id
        """,
        {"worker": worker_id, "ttl": ttl_s, "halls": halls, "ids": ids},
    ).fetchall()
    return {(hall, camera) for hall, camera in rows}


def claim_leases(
    conn: psycopg.Connection, *, worker_id: str, cameras: Iterable[CameraKey], count: int, ttl_s: float
) -> set[CameraKey]:
    """Take up to `count` of `cameras` that are free or whose lease expired, skipping rows another
    worker is claiming at this moment; returns the cameras taken."""
    if count <= 0:
        return set()
    halls, ids = _columns(cameras)
    with conn.transaction():
        candidates = conn.execute(
            """
            SELECT hall_id, camera_id, worker_id, expires_at FROM camera_lease
            WHERE (worker_id IS NULL OR expires_at < clock_timestamp())
              AND (hall_id, camera_id) IN (SELECT * FROM unnest(%(halls)s::text[], %(ids)s::text[]))
            ORDER BY hall_id, camera_id
            LIMIT %(count)s
            FOR UPDATE SKIP LOCKED
            """,
            {"halls": halls, "ids": ids, "count": count},
        ).fetchall()
        if not candidates:
            return set()
        taken = [(hall, camera) for hall, camera, _, _ in candidates]
        expired = [(expires_at, hall, camera, previous, "expired")
                   for hall, camera, previous, expires_at in candidates if previous is not None]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO camera_lease_event (ts, hall_id, camera_id, worker_id, event)"
                " VALUES (%s, %s, %s, %s, %s)",
                expired,
            )
            cur.executemany(
                "UPDATE camera_lease SET worker_id = %(worker)s, acquired_at = clock_timestamp(),"
                " heartbeat_at = clock_timestamp(), expires_at = clock_timestamp() + make_interval(secs => %(ttl)s)"
                " WHERE hall_id = %(hall)s AND camera_id = %(camera)s",
                [{"worker": worker_id, "ttl": ttl_s, "hall": hall, "camera": camera} for hall, camera in taken],
            )
            _record(cur, worker_id, taken, "acquired")
    return set(taken)


def release_leases(conn: psycopg.Connection, *, worker_id: str, cameras: Iterable[CameraKey]) -> set[CameraKey]:
    """Give up this worker's leases on `cameras` (the caller has stopped analysing them); returns
    those that were still this worker's."""
    halls, ids = _columns(cameras)
    with conn.transaction():
        rows = conn.execute(
            """
            UPDATE camera_lease
            SET worker_id = NULL, acquired_at = NULL, heartbeat_at = NULL, expires_at = NULL
            WHERE worker_id = %(worker)s
              AND (hall_id, camera_id) IN (SELECT * FROM unnest(%(halls)s::text[], %(ids)s::text[]))
            RETURNING hall_id, camera_id
            """,
            {"worker": worker_id, "halls": halls, "ids": ids},
        ).fetchall()
        released = sorted((hall, camera) for hall, camera in rows)
        with conn.cursor() as cur:
            _record(cur, worker_id, released, "released")
    return set(released)


def _record(cur: psycopg.Cursor, worker_id: str, cameras: list[CameraKey], event: str) -> None:
    cur.executemany(
        "INSERT INTO camera_lease_event (ts, hall_id, camera_id, worker_id, event)"
        " VALUES (clock_timestamp(), %s, %s, %s, %s)",
        [(hall, camera, worker_id, event) for hall, camera in cameras],
    )


def lease_holders(conn: psycopg.Connection) -> dict[CameraKey, str | None]:
    """Who holds each camera now: a worker id, or None when the lease is free or expired."""
    rows = conn.execute(
        "SELECT hall_id, camera_id, CASE WHEN expires_at > clock_timestamp() THEN worker_id END"
        " FROM camera_lease ORDER BY hall_id, camera_id"
    ).fetchall()
    return {(hall, camera): worker for hall, camera, worker in rows}


def lease_history(conn: psycopg.Connection) -> list[LeaseEvent]:
    """Every acquisition, release and expiry, in the order they happened."""
    with conn.cursor(row_factory=class_row(LeaseEvent)) as cur:
        return cur.execute(
            "SELECT ts, hall_id, camera_id, worker_id, event FROM camera_lease_event ORDER BY ts, id"
        ).fetchall()
