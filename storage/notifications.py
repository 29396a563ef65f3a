"""The SQL of alert notifications (migration 065; the dispatcher is `monitor.notify`, docs/notifications.md).

A change of an alert (it opened, it closed) is queued once per channel: `queue_change` inserts the row
ON CONFLICT DO NOTHING, so dispatchers in several processes may all see the change and only one row results.
`claim_due` takes due rows with FOR UPDATE SKIP LOCKED and marks them `sending` until a lease runs out, so a
row is sent by one dispatcher at a time; a dispatcher that dies mid-send leaves its rows to be taken again when
the lease ends. `finish_attempt` logs each attempt and sets the row sent, pending again (with a backoff) or
failed. Times are the caller's (`now`), so the dispatcher's clock decides what is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row, dict_row

Change = Literal["opened", "closed"]
_KEY = "(n.hall_id, n.kind, n.subject, n.ts)"


@dataclass(frozen=True)
class Route:
    """Which alerts a channel carries: everywhere, or in these cities and halls; of these kinds (empty: all)."""

    channel_id: str
    everywhere: bool
    cities: tuple[str, ...] = ()
    halls: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    on_close: bool = True


@dataclass(frozen=True)
class AlertChange:
    hall_id: str
    kind: str
    subject: str
    ts: datetime  # when the alert started: its key
    change: Change
    at: datetime  # when it opened or closed


@dataclass(frozen=True)
class Claimed:
    """A notification taken to be sent, with what its message says."""

    id: int
    channel_id: str
    hall_id: str
    kind: str
    subject: str
    ts: datetime
    change: Change
    attempts: int  # this one included
    alert_id: str
    camera_id: str
    hall_name: str
    city_id: str
    ended_at: datetime | None


_NEW_CHANGES = """
SELECT o.hall_id, o.kind, o.subject, o.ts, 'opened' AS change, o.ts AS at
FROM event_open o JOIN hall h ON h.id = o.hall_id
WHERE o.ts >= %(since)s AND o.ts <= %(now)s
  AND (%(everywhere)s OR o.hall_id = ANY(%(halls)s) OR h.city_id = ANY(%(cities)s))
  AND (cardinality(%(kinds)s::text[]) = 0 OR o.kind = ANY(%(kinds)s))
  AND NOT EXISTS (SELECT 1 FROM notification n WHERE n.channel_id = %(channel)s AND n.change = 'opened'
                  AND (n.hall_id, n.kind, n.subject, n.ts) = (o.hall_id, o.kind, o.subject, o.ts))
UNION ALL
SELECT c.hall_id, c.kind, c.subject, c.ts, 'closed', c.ended_at
FROM event_close c
JOIN notification n ON n.channel_id = %(channel)s AND n.change = 'opened' AND n.status <> 'suppressed'
  AND (n.hall_id, n.kind, n.subject, n.ts) = (c.hall_id, c.kind, c.subject, c.ts)
WHERE %(on_close)s AND c.ended_at >= %(since)s AND c.ended_at <= %(now)s
  AND NOT EXISTS (SELECT 1 FROM notification d WHERE d.channel_id = %(channel)s AND d.change = 'closed'
                  AND (d.hall_id, d.kind, d.subject, d.ts) = (c.hall_id, c.kind, c.subject, c.ts))
ORDER BY at, hall_id, kind, subject
"""


def new_changes(conn: psycopg.Connection, *, route: Route, since: datetime, now: datetime) -> list[AlertChange]:
    """The alert changes between `since` and `now` that `route` carries and that are not queued for its channel
    yet: openings, and the closings of alerts whose opening was queued (not suppressed) for it."""
    with conn.cursor(row_factory=class_row(AlertChange)) as cur:
        cur.execute(_NEW_CHANGES, {"since": since, "now": now, "everywhere": route.everywhere,
                                   "halls": list(route.halls), "cities": list(route.cities),
                                   "kinds": list(route.kinds), "channel": route.channel_id,
                                   "on_close": route.on_close})
        return cur.fetchall()


def queue_change(conn: psycopg.Connection, *, channel_id: str, change: AlertChange, now: datetime,
                 suppressed_because: str | None = None) -> int | None:
    """Queue `change` for the channel (or log it as suppressed); None when it was queued already (by this or
    another dispatcher)."""
    status = "pending" if suppressed_because is None else "suppressed"
    row = conn.execute(
        "INSERT INTO notification (channel_id, hall_id, kind, subject, ts, change, status, reason, queued_at,"
        " next_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
        (channel_id, change.hall_id, change.kind, change.subject, change.ts, change.change, status,
         suppressed_because or "", now, now)).fetchone()
    return None if row is None else int(row[0])


_CLAIM = f"""
WITH due AS (
  SELECT n.id FROM notification n
  WHERE n.channel_id = ANY(%(channels)s)
    AND ((n.status = 'pending' AND n.next_at <= %(now)s) OR (n.status = 'sending' AND n.claimed_until < %(now)s))
    -- an ending waits for its opening's message
    AND NOT (n.change = 'closed' AND EXISTS (
      SELECT 1 FROM notification p WHERE p.channel_id = n.channel_id AND p.change = 'opened'
        AND (p.hall_id, p.kind, p.subject, p.ts) = {_KEY} AND p.status IN ('pending', 'sending')))
  ORDER BY n.next_at, n.id
  LIMIT %(limit)s
  FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE notification n SET status = 'sending', claimed_by = %(worker)s, claimed_until = %(until)s,
    attempts = n.attempts + 1
  FROM due WHERE n.id = due.id
  RETURNING n.*
)
SELECT n.id, n.channel_id, n.hall_id, n.kind, n.subject, n.ts, n.change, n.attempts,
  event_ref(n.hall_id, n.kind, n.subject, n.ts) AS alert_id, o.camera_id, h.name AS hall_name, h.city_id,
  c.ended_at
FROM claimed n
JOIN event_open o ON (o.hall_id, o.kind, o.subject, o.ts) = {_KEY}
JOIN hall h ON h.id = n.hall_id
LEFT JOIN event_close c ON (c.hall_id, c.kind, c.subject, c.ts) = {_KEY}
ORDER BY n.id
"""


def claim_due(conn: psycopg.Connection, *, channels: list[str], worker: str, now: datetime, lease_s: float,
              limit: int = 20) -> list[Claimed]:
    """Take up to `limit` notifications of these channels that are due (or whose sender's lease ran out) for
    `worker`, marked `sending` until `now + lease_s`; each attempt counted."""
    with conn.transaction(), conn.cursor(row_factory=class_row(Claimed)) as cur:
        cur.execute(_CLAIM, {"channels": channels, "now": now, "until": now + timedelta(seconds=lease_s),
                             "worker": worker, "limit": limit})
        return cur.fetchall()


def finish_attempt(conn: psycopg.Connection, *, notification_id: int, attempt: int, worker: str, now: datetime,
                   error: str | None, retry_at: datetime | None) -> bool:
    """Log the attempt (`error` None: delivered; its text must be masked already) and set the notification sent,
    pending until `retry_at`, or failed when there is no retry. False when `worker` no longer held it (its lease
    ran out and another took it): the attempt is logged, the state left to the holder."""
    with conn.transaction():
        conn.execute("INSERT INTO notification_attempt (notification_id, attempt, at, worker, ok, error)"
                     " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                     (notification_id, attempt, now, worker, error is None, (error or "")[:2000]))
        if error is None:
            status, next_at, reason = "sent", now, ""
        elif retry_at is not None:
            status, next_at, reason = "pending", retry_at, ""
        else:
            status, next_at, reason = "failed", now, f"gave up after {attempt} attempts"
        row = conn.execute(
            "UPDATE notification SET status = %s, next_at = %s, reason = %s, claimed_until = NULL,"
            " sent_at = CASE WHEN %s = 'sent' THEN %s END"
            " WHERE id = %s AND status = 'sending' AND claimed_by = %s AND attempts = %s RETURNING id",
            (status, next_at, reason, status, now, notification_id, worker, attempt)).fetchone()
    return row is not None


def delivery_log(conn: psycopg.Connection, *, limit: int = 100, channel_id: str | None = None,
                 alert_id: str | None = None) -> list[dict[str, Any]]:
    """The latest notifications, newest first, each with its attempts (`attempts_log`: attempt, at, worker,
    ok, error)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT n.id, n.channel_id, event_ref(n.hall_id, n.kind, n.subject, n.ts) AS alert_id, n.hall_id,"
            " n.kind, n.subject, n.ts AS started_at, n.change, n.status, n.reason, n.attempts, n.queued_at,"
            " n.sent_at, coalesce((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, 'at', a.at,"
            " 'worker', a.worker, 'ok', a.ok, 'error', a.error) ORDER BY a.attempt) FROM notification_attempt a"
            " WHERE a.notification_id = n.id), '[]') AS attempts_log"
            " FROM notification n"
            " WHERE (%(channel)s::text IS NULL OR n.channel_id = %(channel)s)"
            " AND (%(alert)s::text IS NULL OR event_ref(n.hall_id, n.kind, n.subject, n.ts) = %(alert)s)"
            " ORDER BY n.queued_at DESC, n.id DESC LIMIT %(limit)s",
            {"channel": channel_id, "alert": alert_id, "limit": limit})
        return cur.fetchall()
