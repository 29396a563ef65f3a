"""The SQL behind every Grafana panel and variable, written for Grafana's PostgreSQL data source:
`$__timeFilter`, `$__timeGroupAlias`, `$__timeFrom()`/`$__timeTo()`, `$__unixEpochFrom()/To()`,
`$__interval` and the template variables `$city`, `$hall`, `$window`.

Trends read the minute rollups for ranges up to LONG_RANGE_S and the hour rollups beyond (both
branches are in the query; PostgreSQL skips the one whose constant condition is false). Province
and city trends aggregate per bucket first, on the hall-level hour rollups, and only then apply
Grafana's `$__timeGroup`, so the epoch arithmetic runs on thousands of rows, not millions.
"Now" panels look at the last two minutes before the end of the dashboard's range."""

from __future__ import annotations

LONG_RANGE_S = 172800  # 2 days: beyond this, trends read hour rollups
_SHORT = f"$__unixEpochTo() - $__unixEpochFrom() <= {LONG_RANGE_S}"
_LONG = f"$__unixEpochTo() - $__unixEpochFrom() > {LONG_RANGE_S}"
_RECENT = "BETWEEN $__timeTo()::timestamptz - interval '2 minutes' AND $__timeTo()::timestamptz"

# --- template variables ----------------------------------------------------------------------
VAR_CITY = "SELECT id AS __value, name AS __text FROM city ORDER BY name"
VAR_HALL_OF_CITY = "SELECT id AS __value, name AS __text FROM hall WHERE active AND city_id = '$city' ORDER BY name"
VAR_HALLS_OF_CITIES = "SELECT id AS __value, name AS __text FROM hall WHERE active AND city_id IN ($city) ORDER BY name"
VAR_WINDOW = ("SELECT id AS __value, name AS __text FROM service_window WHERE active AND hall_id = '$hall'"
              " ORDER BY id")


def _city_trend(value: str, inner: str, hour_table: str, minute_table: str, extra: str = "") -> str:
    """A per-city trend: `inner` sums columns per (bucket, city) from either rollup."""
    # date_bin to Grafana's interval (from the epoch, as $__timeGroup rounds) in native timestamp
    # arithmetic, so that $__timeGroup's numeric arithmetic runs once per point
    branch = """  SELECT date_bin($__interval_ms * interval '1 millisecond', r.bucket, '1970-01-01 00:00+00') AS bucket,
         c.name AS city, {inner}
  FROM {table} r JOIN hall h ON h.id = r.hall_id JOIN city c ON c.id = h.city_id
  WHERE $__timeFilter(r.bucket) AND h.city_id IN ($city){extra} AND {cond}
  GROUP BY 1, 2"""
    return f"""SELECT $__timeGroupAlias(bucket, $__interval), city AS metric, {value}
FROM (
{branch.format(inner=inner, table=hour_table, extra=extra, cond=_LONG)}
  UNION ALL
{branch.format(inner=inner, table=minute_table, extra=extra, cond=_SHORT)}
) t
GROUP BY 1, 2
ORDER BY 1, 2"""


# --- province overview -----------------------------------------------------------------------
PROVINCE_STAFFED = _city_trend(
    "100.0 * sum(present) / nullif(sum(present) + sum(absent), 0) AS staffed",
    "sum(r.present) AS present, sum(r.absent) AS absent", "desk_hall_hour", "desk_minute")

PROVINCE_QUEUE = _city_trend(
    "sum(people_sum)::float8 / nullif(sum(samples), 0) AS mean_queue",
    "sum(r.people_sum) AS people_sum, sum(r.samples) AS samples", "zone_hall_hour", "zone_minute",
    extra=" AND r.kind = 'queue'")

PROVINCE_LIVE = _city_trend(
    "100.0 * sum(live) / nullif(sum(samples), 0) AS live",
    "sum(r.live) AS live, sum(r.samples) AS samples", "health_hall_hour", "health_minute")

_WINDOWS_NOW = f"""SELECT count(*) FILTER (WHERE s.state = 'present') AS staffed,
       count(*) FILTER (WHERE s.state = 'absent') AS unstaffed,
       count(*) FILTER (WHERE s.state IS NULL OR s.state = 'unknown') AS unknown
FROM service_window w
JOIN hall h ON h.id = w.hall_id
LEFT JOIN LATERAL (
  SELECT d.state FROM desk_sample d
  WHERE d.hall_id = w.hall_id AND d.window_id = w.id AND d.ts {_RECENT}
  ORDER BY d.ts DESC LIMIT 1
) s ON true
WHERE w.active AND h.active AND {{scope}}"""
PROVINCE_WINDOWS_NOW = _WINDOWS_NOW.format(scope="h.city_id IN ($city)")

PROVINCE_CAMERAS_NOW = f"""SELECT count(*) FILTER (WHERE s.state = 'live') AS live,
       count(*) FILTER (WHERE s.state IS DISTINCT FROM 'live') AS down
FROM camera cam
JOIN hall h ON h.id = cam.hall_id
LEFT JOIN LATERAL (
  SELECT ch.state FROM camera_health ch
  WHERE ch.hall_id = cam.hall_id AND ch.camera_id = cam.id AND ch.ts {_RECENT}
  ORDER BY ch.ts DESC LIMIT 1
) s ON true
WHERE cam.active AND h.active AND h.city_id IN ($city)"""

PROVINCE_HALLS = """SELECT h.name AS hall, c.name AS city, d.staffed, z.mean_queue, z.max_queue, l.live
FROM hall h
JOIN city c ON c.id = h.city_id
LEFT JOIN (
  SELECT hall_id, 100.0 * sum(present) / nullif(sum(present) + sum(absent), 0) AS staffed
  FROM desk_hall_hour WHERE $__timeFilter(bucket) GROUP BY 1
) d ON d.hall_id = h.id
LEFT JOIN (
  SELECT hall_id, sum(people_sum)::float8 / nullif(sum(samples), 0) AS mean_queue, max(people_max) AS max_queue
  FROM zone_hall_hour WHERE kind = 'queue' AND $__timeFilter(bucket) GROUP BY 1
) z ON z.hall_id = h.id
LEFT JOIN (
  SELECT hall_id, 100.0 * sum(live) / nullif(sum(samples), 0) AS live
  FROM health_hall_hour WHERE $__timeFilter(bucket) GROUP BY 1
) l ON l.hall_id = h.id
WHERE h.active AND h.city_id IN ($city)
ORDER BY d.staffed ASC NULLS LAST, h.name"""


# --- hall detail -----------------------------------------------------------------------------
def _subject_trend(value: str, hour_table: str, minute_table: str, metric: str, where: str) -> str:
    """A per-subject trend within one hall, from the per-subject rollups."""
    branch = """  SELECT bucket, {metric} AS metric, {cols}
  FROM {table}
  WHERE $__timeFilter(bucket) AND hall_id = '$hall'{where} AND {cond}"""
    cols = "samples, present, absent" if "present" in value else "samples, people_sum, people_max"
    return f"""SELECT $__timeGroupAlias(bucket, $__interval), metric, {value}
FROM (
{branch.format(metric=metric, cols=cols, table=hour_table, where=where, cond=_LONG)}
  UNION ALL
{branch.format(metric=metric, cols=cols, table=minute_table, where=where, cond=_SHORT)}
) t
GROUP BY 1, 2
ORDER BY 1, 2"""


HALL_STAFFED = _subject_trend(
    "100.0 * sum(present) / nullif(sum(present) + sum(absent), 0) AS staffed",
    "desk_hour", "desk_minute", "window_id", " AND window_id IN ($window)")

HALL_QUEUE = _subject_trend(
    "sum(people_sum)::float8 / nullif(sum(samples), 0) AS mean, max(people_max) AS max",
    "zone_hour", "zone_minute", "zone_id", " AND kind = 'queue'")

HALL_WINDOWS_NOW = f"""SELECT w.name AS "window", coalesce(s.state, 'no data') AS state, s.people,
       extract(epoch from ($__timeTo()::timestamptz - s.state_since)) AS state_for_s
FROM service_window w
LEFT JOIN LATERAL (
  SELECT d.state, d.people, d.state_since FROM desk_sample d
  WHERE d.hall_id = w.hall_id AND d.window_id = w.id AND d.ts {_RECENT}
  ORDER BY d.ts DESC LIMIT 1
) s ON true
WHERE w.active AND w.hall_id = '$hall' AND w.id IN ($window)
ORDER BY w.id"""

HALL_WAIT = """SELECT $__timeGroupAlias(ts, $__interval), zone_id AS metric,
       sum(dwell_p50_s * served) / nullif(sum(served) FILTER (WHERE dwell_p50_s IS NOT NULL), 0) AS p50_s,
       sum(dwell_p90_s * served) / nullif(sum(served) FILTER (WHERE dwell_p90_s IS NOT NULL), 0) AS p90_s
FROM wait_sample
WHERE $__timeFilter(ts) AND hall_id = '$hall'
GROUP BY 1, 2
ORDER BY 1, 2"""

# --- camera health ---------------------------------------------------------------------------
CAMERAS_NOW = f"""SELECT h.name AS hall, cam.id AS camera, coalesce(s.state, 'no data') AS state, s.fps,
       extract(epoch from ($__timeTo()::timestamptz - s.last_frame_at)) AS last_frame_age_s,
       s.reconnects, s.error
FROM camera cam
JOIN hall h ON h.id = cam.hall_id
LEFT JOIN LATERAL (
  SELECT ch.state, ch.fps, ch.last_frame_at, ch.reconnects, ch.error FROM camera_health ch
  WHERE ch.hall_id = cam.hall_id AND ch.camera_id = cam.id AND ch.ts {_RECENT}
  ORDER BY ch.ts DESC LIMIT 1
) s ON true
WHERE cam.active AND h.city_id IN ($city) AND cam.hall_id IN ($hall)
ORDER BY s.state = 'live' NULLS FIRST, h.name, cam.id"""

_CAMERA_BRANCH = """  SELECT bucket, hall_id || '/' || camera_id AS metric, samples, live
  FROM {table}
  WHERE $__timeFilter(bucket) AND hall_id IN ($hall) AND {cond}"""
CAMERAS_LIVE = f"""SELECT $__timeGroupAlias(bucket, $__interval), metric,
       100.0 * sum(live) / nullif(sum(samples), 0) AS live
FROM (
{_CAMERA_BRANCH.format(table="health_hour", cond=_LONG)}
  UNION ALL
{_CAMERA_BRANCH.format(table="health_minute", cond=_SHORT)}
) t
GROUP BY 1, 2
ORDER BY 1, 2"""

CAMERAS_OFFLINE_SPELLS = """SELECT h.name AS hall, s.camera_id AS camera, s.ts AS started, s.ended_at AS ended,
       extract(epoch from (s.ended_at - s.ts)) AS duration_s, s.cause
FROM camera_offline_spell s
JOIN hall h ON h.id = s.hall_id
WHERE s.ts <= $__timeTo() AND s.ended_at >= $__timeFrom() AND s.hall_id IN ($hall)
ORDER BY s.ts DESC
LIMIT 500"""
