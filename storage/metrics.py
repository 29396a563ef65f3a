"""Site-wide figures for the Prometheus scrape (`monitor.metrics`), read from the database at scrape
time: how far the rollups trail the raw samples, and how many logins failed lately. Camera states and
the age of the newest samples come from `storage.status.latest_samples`."""

from __future__ import annotations

import psycopg

from storage.rollups import ROLLUPS, rollup_mode

# The plain path's watermark: rows inserted since `inserted_from` are not in the rollups yet (see
# storage.rollups). -infinity means never refreshed: no lag to give.
_ROLLUP_LAG = """
SELECT source, extract(epoch FROM now() - inserted_from)::float8
FROM rollup_watermark WHERE inserted_from > '-infinity' ORDER BY source
"""
# TimescaleDB: the end of what each minute-level continuous aggregate has materialized. Before its first
# refresh the watermark is the minimum time there is: no lag to give.
_CAGG_LAG = """
SELECT ca.user_view_name, extract(epoch FROM now() - _timescaledb_functions.to_timestamp(
    _timescaledb_functions.cagg_watermark(ca.mat_hypertable_id)))::float8
FROM _timescaledb_catalog.continuous_agg ca WHERE ca.user_view_name = ANY(%(views)s)
"""
_NEVER_S = 100 * 365 * 86400.0

LOGIN_FAILURES = {"auth.login_failed": "login", "auth.token_failed": "token"}

# The audit log is indexed by time: a short window reads only its newest rows.
_LOGIN_FAILURES = """
SELECT action, count(*) FROM audit_log
WHERE at > now() - make_interval(secs => %(window_s)s) AND action = ANY(%(actions)s)
GROUP BY action
"""


def rollup_lag_seconds(conn: psycopg.Connection) -> dict[str, float]:
    """Raw table -> how far its rollups trail, in seconds; none before the first refresh. Plain
    PostgreSQL: since the oldest sample not yet in the rollups could have been inserted (about the time
    since the last refresh). TimescaleDB: since the end of what its minute aggregate has materialized."""
    if rollup_mode(conn) == "plain":
        return {source: max(0.0, lag) for source, lag in conn.execute(_ROLLUP_LAG)}
    source_of = {rollup.levels[0].target: rollup.source for rollup in ROLLUPS}
    rows = conn.execute(_CAGG_LAG, {"views": list(source_of)})
    return {source_of[view]: max(0.0, lag) for view, lag in rows if lag < _NEVER_S}


def login_failures(conn: psycopg.Connection, *, window_s: float) -> dict[str, int]:
    """"login" (the form) and "token" (`/api/v1/auth/token`) -> failures in the last `window_s` seconds."""
    counts = dict.fromkeys(LOGIN_FAILURES.values(), 0)
    rows = conn.execute(_LOGIN_FAILURES, {"window_s": window_s, "actions": list(LOGIN_FAILURES)})
    for action, count in rows:
        counts[LOGIN_FAILURES[action]] = count
    return counts
