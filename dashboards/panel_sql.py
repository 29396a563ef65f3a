"""The SQL behind every Grafana panel and variable, written for Grafana's PostgreSQL data source:
`$__timeFilter`, `$__timeGroupAlias`, `$__timeFrom()`/`$__timeTo()`, `$__unixEpochFrom()/To()`,
`$__interval` and the template variables `$city`, `$hall`, `$window`.

Trends read the coarsest rollup that fits the range and Grafana's interval: the minute rollups for
ranges up to LONG_RANGE_S, beyond that the day rollups when the interval is a whole number of days
and the hour rollups otherwise (every branch is in the query; PostgreSQL skips those whose constant
condition is false). Province trends read the city-level rollups (one row per city and minute, hour or day),
sum them per city into buckets of Grafana's interval (`date_bin` from the epoch, as `$__timeGroup` cuts) and
return those buckets as the time column; the halls table sums whole days from the hall-day rollups and only
the hours at the range's edges from the hall-hour ones. A rollup bucket counts when its start lies in the range.
"Now" panels look at the last two minutes before the end of the dashboard's range."""

from __future__ import annotations

LONG_RANGE_S = 172800  # 2 days: beyond this, trends read hour or day rollups
DAY_MS = 86400000
_SHORT = f"$__unixEpochTo() - $__unixEpochFrom() <= {LONG_RANGE_S}"
_LONG = f"$__unixEpochTo() - $__unixEpochFrom() > {LONG_RANGE_S}"
_HOURS = f"{_LONG} AND $__interval_ms % {DAY_MS} <> 0"
_DAYS = f"{_LONG} AND $__interval_ms % {DAY_MS} = 0"
_RECENT = "BETWEEN $__timeTo()::timestamptz - interval '2 minutes' AND $__timeTo()::timestamptz"
_ORIGIN = "'2000-01-01 00:00+00'"  # rollup buckets are UTC minutes, hours and days from here
# The days whose 24 hour buckets all start within the range: from _FIRST_DAY up to (not including) _END_DAY.
_FIRST_DAY = f"date_bin('1 day', $__timeFrom()::timestamptz - interval '1 microsecond', {_ORIGIN}) + interval '1 day'"
_END_DAY = f"date_bin('1 day', $__timeTo()::timestamptz + interval '1 hour', {_ORIGIN})"

# --- template variables ----------------------------------------------------------------------
VAR_CITY = "SELECT id AS __value, name AS __text FROM city ORDER BY name"
VAR_HALL_OF_CITY = "SELECT id AS __value, name AS __text FROM hall WHERE active AND city_id = '$city' ORDER BY name"
VAR_HALLS_OF_CITIES = "SELECT id AS __value, name AS __text FROM hall WHERE active AND city_id IN ($city) ORDER BY name"
VAR_WINDOW = ("SELECT id AS __value, name AS __text FROM service_window WHERE active AND hall_id = '$hall'"
              " ORDER BY id")


def _city_trend(value: str, inner: str, prefix: str, extra: str = "") -> str:
    """A per-city trend: `inner` sums columns per (bucket, city) from the city-day, -hour or -minute rollup, and
    `value` computes the point from them."""
    # date_bin to Grafana's interval from the epoch (the buckets $__timeGroup would give) and return the bucket
    # itself as the time column: one row per point and city, without $__timeGroup's numeric epoch arithmetic
    # and a second grouping
    branch = """  SELECT date_bin($__interval_ms * interval '1 millisecond', r.bucket, '1970-01-01 00:00+00') AS time,
         c.name AS metric, {inner}
  FROM {prefix}_city_{level} r JOIN city c ON c.id = r.city_id
  WHERE $__timeFilter(r.bucket) AND r.city_id IN ($city){extra} AND {cond}
  GROUP BY 1, 2"""
    branches = "\n  UNION ALL\n".join(
        branch.format(inner=inner, prefix=prefix, level=level, extra=extra, cond=cond)
        for level, cond in (("day", _DAYS), ("hour", _HOURS), ("minute", _SHORT)))
    return f"""SELECT time, metric, {value}
FROM (
{branches}
) t
ORDER BY 1, 2"""


# --- province overview -----------------------------------------------------------------------
PROVINCE_STAFFED = _city_trend(
    "100.0 * present / nullif(present + absent, 0) AS staffed",
    "sum(r.present)::float8 AS present, sum(r.absent)::float8 AS absent", "desk")

PROVINCE_QUEUE = _city_trend(
    "people_sum / nullif(samples, 0) AS mean_queue",
    "sum(r.people_sum)::float8 AS people_sum, sum(r.samples)::float8 AS samples", "zone", extra=" AND r.kind = 'queue'")

PROVINCE_LIVE = _city_trend(
    "100.0 * live / nullif(samples, 0) AS live",
    "sum(r.live)::float8 AS live, sum(r.samples)::float8 AS samples", "health")

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


def _whole_hours(prefix: str, columns: str, where: str = "") -> str:
    """The hall rollup's rows of the hours that start in the range: whole days from the hall-day level, the
    hours before the first and after the last of them from the hall-hour level."""
    return f"""SELECT {columns} FROM {prefix}_hall_day
    WHERE bucket >= {_FIRST_DAY} AND bucket < {_END_DAY}{where}
    UNION ALL
    SELECT {columns} FROM {prefix}_hall_hour
    WHERE $__timeFilter(bucket) AND (bucket < {_FIRST_DAY} OR bucket >= {_END_DAY}){where}"""


PROVINCE_HALLS = f"""SELECT h.name AS hall, c.name AS city, d.staffed, z.mean_queue, z.max_queue, l.live
FROM hall h
JOIN city c ON c.id = h.city_id
LEFT JOIN (
  SELECT hall_id, 100.0 * sum(present) / nullif(sum(present) + sum(absent), 0) AS staffed FROM (
    {_whole_hours("desk", "hall_id, present, absent")}
  ) x GROUP BY 1
) d ON d.hall_id = h.id
LEFT JOIN (
  SELECT hall_id, sum(people_sum)::float8 / nullif(sum(samples), 0) AS mean_queue, max(people_max) AS max_queue
  FROM (
    {_whole_hours("zone", "hall_id, samples, people_sum, people_max", " AND kind = 'queue'")}
  ) x GROUP BY 1
) z ON z.hall_id = h.id
LEFT JOIN (
  SELECT hall_id, 100.0 * sum(live) / nullif(sum(samples), 0) AS live FROM (
    {_whole_hours("health", "hall_id, samples, live")}
  ) x GROUP BY 1
) l ON l.hall_id = h.id
WHERE h.active AND h.city_id IN ($city)
ORDER BY d.staffed ASC NULLS LAST, h.name"""


# --- hall detail -----------------------------------------------------------------------------
def _subject_trend(value: str, prefix: str, metric: str, where: str) -> str:
    """A per-subject trend within one hall, from the per-subject day, hour or minute rollups."""
    branch = """  SELECT bucket, {metric} AS metric, {cols}
  FROM {table}
  WHERE $__timeFilter(bucket) AND hall_id = '$hall'{where} AND {cond}"""
    cols = "samples, present, absent" if "present" in value else "samples, people_sum, people_max"
    branches = "\n  UNION ALL\n".join(
        branch.format(metric=metric, cols=cols, table=f"{prefix}_{level}", where=where, cond=cond)
        for level, cond in (("day", _DAYS), ("hour", _HOURS), ("minute", _SHORT)))
    return f"""SELECT $__timeGroupAlias(bucket, $__interval), metric, {value}
FROM (
{branches}
) t
GROUP BY 1, 2
ORDER BY 1, 2"""


HALL_STAFFED = _subject_trend(
    "100.0 * sum(present) / nullif(sum(present) + sum(absent), 0) AS staffed",
    "desk", "window_id", " AND window_id IN ($window)")

HALL_QUEUE = _subject_trend(
    "sum(people_sum)::float8 / nullif(sum(samples), 0) AS mean, max(people_max) AS max",
    "zone", "zone_id", " AND kind = 'queue'")

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
{_CAMERA_BRANCH.format(table="health_day", cond=_DAYS)}
  UNION ALL
{_CAMERA_BRANCH.format(table="health_hour", cond=_HOURS)}
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
