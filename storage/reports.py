"""What a monthly report counts beyond the scorecards: waits per local day, complaints by status and category,
inspections by kind with their findings by severity, and cases by status with the overdue ones.

Every query takes the user and applies their scope in SQL; inspections, their findings and the cases made from
them pass the covert rule (`storage.records.inspections.visible_sql`), so a covert plan not yet published is
never counted for anyone who may not see it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql

from storage.auth.model import User
from storage.auth.scope import scope_sql
from storage.records.cases import visible_cases_sql
from storage.records.inspections import visible_sql

# The minutes' waits per local day: the median of their medians and the 90th percentile of their 90th
# percentiles (Little's-law estimates where no tracked dwell was measured), as the trend charts summarise them.
_WAITS = """
SELECT (w.ts AT TIME ZONE %(tz)s)::date AS day,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(w.dwell_p50_s, w.littles_s)) AS p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY coalesce(w.dwell_p90_s, w.littles_s)) AS p90,
       sum(w.served)::int AS served, count(*)::int AS minutes
FROM wait_sample w
WHERE w.ts >= %(since)s AND w.ts < %(until)s AND w.hall_id = ANY(%(halls)s) AND {scope}
  AND coalesce(w.dwell_p90_s, w.littles_s) IS NOT NULL
GROUP BY 1 ORDER BY 1
"""


@dataclass(frozen=True)
class DayWait:
    day: date
    p50_s: float
    p90_s: float
    served: int
    minutes: int  # queue minutes measured


def waits_by_day(conn: psycopg.Connection, *, user: User, halls: Sequence[str], since: datetime, until: datetime,
                 timezone: str) -> list[DayWait]:
    """The waits of these halls' queues per day in `timezone`, days without a measured wait left out."""
    scope, params = scope_sql(user.scope, "w.hall_id")
    rows = conn.execute(sql.SQL(_WAITS).format(scope=scope),
                        {**params, "tz": timezone, "since": since, "until": until, "halls": list(halls)})
    return [DayWait(r[0], round(float(r[1]), 1), round(float(r[2]), 1), int(r[3] or 0), int(r[4])) for r in rows]


def _counts(conn: psycopg.Connection, query: sql.Composed, params: dict[str, Any]) -> dict[tuple[str, ...], int]:
    return {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in conn.execute(query, params)}


# Complaints by the month received, as the scorecards count them.
_COMPLAINTS = """
SELECT c.status, c.category, count(*) FROM complaint c
WHERE {scope} AND c.hall_id = ANY(%(halls)s) AND c.received_at >= %(since)s AND c.received_at < %(until)s
GROUP BY 1, 2
"""


def complaint_counts(conn: psycopg.Connection, *, user: User, halls: Sequence[str], since: datetime,
                     until: datetime) -> dict[tuple[str, str], int]:
    """(status, category) -> complaints received between `since` and `until`, as they stand now."""
    scope, params = scope_sql(user.scope, "c.hall_id")
    found = _counts(conn, sql.SQL(_COMPLAINTS).format(scope=scope),
                    {**params, "halls": list(halls), "since": since, "until": until})
    return {(k[0], k[1]): n for k, n in found.items()}


# Inspections carried out in the month (by the visit, as the scorecards count findings), and their findings.
_INSPECTIONS = """
SELECT i.kind, count(*) FROM inspection i
WHERE {visible} AND i.hall_id = ANY(%(halls)s) AND i.status IN ('carried_out', 'published')
  AND i.carried_out_at >= %(since)s AND i.carried_out_at < %(until)s
GROUP BY 1
"""
_FINDINGS = """
SELECT f.severity, f.category, count(*) FROM finding f JOIN inspection i ON i.id = f.inspection_id
WHERE {visible} AND i.hall_id = ANY(%(halls)s) AND i.status IN ('carried_out', 'published')
  AND i.carried_out_at >= %(since)s AND i.carried_out_at < %(until)s
GROUP BY 1, 2
"""


def inspection_counts(conn: psycopg.Connection, *, user: User, halls: Sequence[str], since: datetime,
                      until: datetime) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Inspections the user may see carried out between `since` and `until`: kind -> count, and their findings
    as (severity, category) -> count."""
    visible, params = visible_sql(user, "i")
    values = {**params, "halls": list(halls), "since": since, "until": until}
    kinds = _counts(conn, sql.SQL(_INSPECTIONS).format(visible=visible), values)
    findings = _counts(conn, sql.SQL(_FINDINGS).format(visible=visible), values)
    return {k[0]: n for k, n in kinds.items()}, {(k[0], k[1]): n for k, n in findings.items()}


# Cases opened in the month, with their status at `cutoff` (the end of the month, or now) from their history,
# and whether they were overdue then (still open after their due date).
_CASES = """
SELECT at_cutoff.status, count(*), count(*) FILTER (WHERE at_cutoff.status = 'open' AND wc.due_at < %(cutoff)s)
FROM work_case wc JOIN hall h ON h.id = wc.hall_id
CROSS JOIN LATERAL (
  SELECT coalesce((SELECT s.to_status FROM work_case_step s WHERE s.case_id = wc.id AND s.at < %(cutoff)s
                   ORDER BY s.at DESC, s.ctid DESC LIMIT 1), 'open') AS status
) at_cutoff
WHERE {visible} AND wc.hall_id = ANY(%(halls)s) AND wc.created_at >= %(since)s AND wc.created_at < %(until)s
GROUP BY 1
"""


def case_counts(conn: psycopg.Connection, *, user: User, halls: Sequence[str], since: datetime, until: datetime,
                cutoff: datetime) -> tuple[dict[str, int], int]:
    """Cases the user may see opened between `since` and `until`: status at `cutoff` -> count, and how many
    were overdue at `cutoff`."""
    visible, params = visible_cases_sql(user)
    rows = conn.execute(sql.SQL(_CASES).format(visible=visible),
                        {**params, "halls": list(halls), "since": since, "until": until, "cutoff": cutoff})
    by_status: dict[str, int] = {}
    overdue = 0
    for status, n, late in rows:
        by_status[str(status)] = int(n)
        overdue += int(late)
    return by_status, overdue
