"""Alerts: the events analytics and ingest store (`event_span`), listed open first inside the user's scope,
with acknowledgements (append-only `event_ack` rows) and the case each one became.

An alert's id is `hall:kind:subject:<microseconds since 1970 UTC of its start>` (SQL `event_ref`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from core.i18n import N_
from storage.auth.audit import audit
from storage.auth.model import User
from storage.auth.scope import scope_sql
from storage.records.common import HALLS_TIMEZONE, NotFound, WorkflowError


class AlertKind(StrEnum):
    unstaffed_while_waiting = "unstaffed_while_waiting"
    queue_over_limit = "queue_over_limit"
    wait_over_sla = "wait_over_sla"
    camera_offline = "camera_offline"
    camera_obstructed = "camera_obstructed"
    camera_moved = "camera_moved"


class AlertState(StrEnum):
    open = "open"
    closed = "closed"


class AckCreate(BaseModel):
    note: str = Field(default="", max_length=2000, description="what was done or seen")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ID = re.compile(r"^([a-z0-9][a-z0-9_-]{0,62}):([a-z_]{1,40}):(.{1,200}):(-?\d{1,19})$")


@dataclass(frozen=True)
class AlertKey:
    hall_id: str
    kind: str
    subject: str
    started_at: datetime

    @classmethod
    def parse(cls, alert_id: str) -> AlertKey:
        match = _ID.match(alert_id)
        if match is None:
            raise NotFound(N_("no alert '%(alert)s'"), alert=alert_id)
        hall, kind, subject, micros = match.groups()
        try:
            started = _EPOCH + timedelta(microseconds=int(micros))
        except OverflowError:
            raise NotFound(N_("no alert '%(alert)s'"), alert=alert_id) from None
        return cls(hall, kind, subject, started)


_KEY = "(o.hall_id, o.kind, o.subject, o.ts)"
_CLOSED = sql.SQL(f"EXISTS (SELECT 1 FROM event_close c WHERE (c.hall_id, c.kind, c.subject, c.ts) = {_KEY})")
_ACK = sql.SQL(f" LEFT JOIN event_ack a ON (a.hall_id, a.kind, a.subject, a.ts) = {_KEY}")
# The rows of one page (`page`: hall_id, kind, subject, ts), with hall, closing, acknowledgement and case.
_DETAIL = sql.SQL(
    "SELECT event_ref(o.hall_id, o.kind, o.subject, o.ts) AS id, o.hall_id, h.name AS hall_name, h.city_id,"
    " o.camera_id, o.kind, o.subject, o.ts AS started_at, c.ended_at, o.details, (c.ended_at IS NULL) AS open,"
    " a.at AS acked_at, a.user_name AS acked_by, a.note AS ack_note, wc.id AS case_id, wc.status AS case_status,"
    # an unstaffed window inside an approved absence is excused (migration 045); roster times in %(tz)s
    " CASE WHEN o.kind = 'unstaffed_while_waiting' THEN (SELECT x.excused_by FROM unstaffed_excuse(o.hall_id,"
    " o.subject, o.ts, coalesce(c.ended_at, now()), %(tz)s) x) END AS excused_by"
    " FROM page p JOIN event_open o ON " + _KEY + " = (p.hall_id, p.kind, p.subject, p.ts)"
    " JOIN hall h ON h.id = o.hall_id"
    " LEFT JOIN event_close c ON (c.hall_id, c.kind, c.subject, c.ts) = " + _KEY
    + " LEFT JOIN event_ack a ON (a.hall_id, a.kind, a.subject, a.ts) = " + _KEY
    + " LEFT JOIN work_case wc ON wc.source_kind = 'event'"
    " AND wc.source_ref = event_ref(o.hall_id, o.kind, o.subject, o.ts)")
_ORDER = sql.SQL(" ORDER BY o.ts DESC, o.hall_id, o.kind, o.subject")


@dataclass(frozen=True)
class AlertFilter:
    state: AlertState | None = None
    acknowledged: bool | None = None
    kind: AlertKind | None = None
    hall_id: str | None = None
    city_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _conditions(user: User, where: AlertFilter) -> tuple[sql.Composable, sql.Composable, dict[str, Any]]:
    """(joins, WHERE, params) over event_open `o` (and hall `h`, ack `a` when a filter needs them), for the
    filters other than the state."""
    scope, params = scope_sql(user.scope, "o.hall_id")
    conditions: list[sql.Composable] = [scope]
    values: dict[str, Any] = dict(params)
    joins: list[sql.Composable] = []
    if where.city_id is not None:
        joins.append(sql.SQL(" JOIN hall h ON h.id = o.hall_id"))
    if where.acknowledged is not None:
        joins.append(_ACK)
        conditions.append(sql.SQL("a.at IS NOT NULL" if where.acknowledged else "a.at IS NULL"))
    for column, key, value in (("o.kind", "kind", where.kind), ("o.hall_id", "hall_id", where.hall_id),
                               ("h.city_id", "city_id", where.city_id)):
        if value is not None:
            conditions.append(sql.SQL("{} = {}").format(sql.Identifier(*column.split(".")), sql.Placeholder(key)))
            values[key] = str(value)
    if where.since is not None:
        conditions.append(sql.SQL("o.ts >= %(since)s"))
        values["since"] = where.since
    if where.until is not None:
        conditions.append(sql.SQL("o.ts < %(until)s"))
        values["until"] = where.until
    return sql.Composed(joins), sql.SQL(" AND ").join(conditions), values


def _page(cur: psycopg.Cursor[dict[str, Any]], keys: sql.Composable, values: dict[str, Any]) -> list[dict[str, Any]]:
    cur.execute(sql.SQL("WITH page AS ({}) {}{}").format(keys, _DETAIL, _ORDER), values)
    return list(cur.fetchall())


def list_alerts(conn: psycopg.Connection, *, user: User, where: AlertFilter, limit: int = 50, offset: int = 0,
                timezone: str = HALLS_TIMEZONE) -> tuple[list[dict[str, Any]], int]:
    """A page of alerts inside the user's scope, open ones first, each group newest first; and the count.
    `timezone`: the halls' (roster times, to tell whether an unstaffed window was excused).

    Open alerts come from `event_live` (the few events open now), closed ones from walking `event_open` newest
    first, so a page costs about `offset + limit` rows however many events are stored."""
    joins, condition, values = _conditions(user, where)
    values["tz"] = timezone
    key = sql.SQL("SELECT o.hall_id, o.kind, o.subject, o.ts")
    live = sql.SQL(" FROM event_live l JOIN event_open o ON {} = (l.hall_id, l.kind, l.subject, l.ts){}"
                   " WHERE NOT {} AND {}").format(sql.SQL(_KEY), joins, _CLOSED, condition)
    stored = sql.SQL(" FROM event_open o{} WHERE {}").format(joins, condition)
    closed = sql.SQL("{} AND {}").format(stored, _CLOSED)
    with conn.cursor(row_factory=dict_row) as cur:
        def count(rows_sql: sql.Composable) -> int:
            return int(cur.execute(sql.SQL("SELECT count(*) AS n{}").format(rows_sql), values).fetchone()["n"])  # type: ignore[index]

        n_open = 0 if where.state is AlertState.closed else count(live)
        if where.state is AlertState.open:
            total = n_open
        else:
            total = count(closed if where.state is AlertState.closed else stored)
        rows: list[dict[str, Any]] = []
        if offset < n_open:
            rows = _page(cur, sql.SQL("{}{}{} LIMIT %(limit)s OFFSET %(offset)s").format(key, live, _ORDER),
                         {**values, "limit": limit, "offset": offset})
        wanted = limit - len(rows)
        if where.state is not AlertState.open and wanted > 0:
            rows += _page(cur, sql.SQL("{}{}{} LIMIT %(limit)s OFFSET %(offset)s").format(key, closed, _ORDER),
                          {**values, "limit": wanted, "offset": max(0, offset - n_open)})
    return rows, total


def get_alert(conn: psycopg.Connection, *, user: User, alert_id: str,
              timezone: str = HALLS_TIMEZONE) -> dict[str, Any]:
    """One alert inside the user's scope (NotFound otherwise)."""
    key = AlertKey.parse(alert_id)
    scope, params = scope_sql(user.scope, "o.hall_id")
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.SQL("WITH page AS (SELECT %(hall)s::text AS hall_id, %(kind)s::text AS kind,"
                            " %(subject)s::text AS subject, %(started)s::timestamptz AS ts) {} WHERE {}"
                            ).format(_DETAIL, scope),
                    {**params, "hall": key.hall_id, "kind": key.kind, "subject": key.subject,
                     "started": key.started_at, "tz": timezone})
        row = cur.fetchone()
    if row is None:
        raise NotFound(N_("no alert '%(alert)s'"), alert=alert_id)
    return row


def acknowledge(conn: psycopg.Connection, *, user: User, alert_id: str, ack: AckCreate,
                timezone: str = HALLS_TIMEZONE) -> dict[str, Any]:
    """Record who acknowledged the alert, when, with a note; an alert is acknowledged once."""
    row = get_alert(conn, user=user, alert_id=alert_id)
    with conn.transaction():
        inserted = conn.execute(
            "INSERT INTO event_ack (hall_id, kind, subject, ts, user_id, user_name, note)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING at",
            (row["hall_id"], row["kind"], row["subject"], row["started_at"], user.id, user.name, ack.note)).fetchone()
    if inserted is None:
        again = get_alert(conn, user=user, alert_id=alert_id)
        raise WorkflowError(N_("alert %(alert)s was acknowledged by %(user)s at %(at)s UTC"), alert=alert_id,
                            user=again["acked_by"], at=f"{again['acked_at'].astimezone(UTC):%Y-%m-%d %H:%M:%S}")
    audit(conn, user=user, action="alert.acknowledge", subject=f"alert/{alert_id}",
          details={"hall": row["hall_id"], "kind": row["kind"], "note": ack.note})
    return get_alert(conn, user=user, alert_id=alert_id, timezone=timezone)
