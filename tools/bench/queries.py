"""`hallwatch bench queries`: how fast the Grafana dashboards' province trends answer over months
of minute data, read from the rollups.

Data: a synthetic province of `windows` service windows (halls of 5 windows, 5 halls per city, one
queue zone and two cameras per hall), one sample per minute for `days` days of every window
(desk state), queue zone (people) and camera (health), written by binary COPY, then
`ANALYZE` and `refresh_rollups` (timed: it is the first, whole refresh). Then each province-overview panel's SQL,
expanded as Grafana expands it for the whole range with every city selected and a 2-hour interval
(90 days over a ~1,000-pixel panel), runs `repeats` times; the report gives p50 and p95 ms of each (and of the
staffed trend over the dashboard's default range, the last 24 hours at a 1-minute interval). The web
trend page's query for the whole province over the same range (`storage.trends.trend`, every window, queue
zone and camera; daily buckets beyond 31 days) is timed the same way.
Target: p95 <= 100 ms for the staffed-windows trend over 90 days and 200 windows. Everything runs in
a scratch database, dropped at the end."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg

from core.errors import HallwatchError
from storage.rollups import refresh_rollups
from tools.bench.db import _load, bench_database

TARGET_P95_MS = 100.0
WINDOWS_PER_HALL, HALLS_PER_CITY = 5, 5
END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
TIMED = {  # report key -> province-overview panel title
    "staffed_trend": "Windows staffed, by city",
    "queue_trend": "Mean queue length per queue zone, by city",
    "live_trend": "Cameras live, by city",
    "halls_table": "Halls over the range (whole hours)",
}
# Also timed: the staffed trend over the dashboard's default range, the last 24 hours, at the 1-minute interval
# Grafana gives it (the panels' minimum interval; 86.4 s per point over ~1,000 pixels).
LAST_DAY = ("staffed_trend_24h", "Windows staffed, by city", 1.0, "1m")


def _geography(windows: int) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
    halls = [f"h{i:03d}" for i in range((windows + WINDOWS_PER_HALL - 1) // WINDOWS_PER_HALL)]
    cities = sorted({f"c{int(h[1:]) // HALLS_PER_CITY:02d}" for h in halls})
    window_rows = [(halls[i // WINDOWS_PER_HALL], f"w{i % WINDOWS_PER_HALL}") for i in range(windows)]
    cameras = [(h, f"cam{c}") for h in halls for c in range(2)]
    return cities, window_rows, cameras


# Rows in capture order, minute by minute, as the writers store them: the rollup refresh reads time
# ranges through the BRIN index on ts, which only helps when physical order follows time.
def _desk_rows(windows: list[tuple[str, str]], start: dt.datetime, minutes: int) -> Iterator[tuple[Any, ...]]:
    seeds = [hash(w) & 0xFFFF for w in windows]
    for m in range(minutes):
        ts = start + dt.timedelta(minutes=m)
        open_hours = 8 <= (m // 60) % 24 < 18
        for (hall, window), seed in zip(windows, seeds, strict=True):
            v = (m * 7 + seed) % 100
            state = ("present" if v < 80 else "absent" if v < 97 else "unknown") if open_hours else "absent"
            yield ts, hall, window, "cam0", state, ts, 1 if state == "present" else 0


def _zone_rows(halls: list[str], start: dt.datetime, minutes: int) -> Iterator[tuple[Any, ...]]:
    for m in range(minutes):
        ts = start + dt.timedelta(minutes=m)
        open_hours = 8 <= (m // 60) % 24 < 18
        for i, hall in enumerate(halls):
            yield ts, hall, "q1", "cam1", "queue", ((m + i) % 13) if open_hours else 0


def _health_rows(cameras: list[tuple[str, str]], start: dt.datetime, minutes: int) -> Iterator[tuple[Any, ...]]:
    for m in range(minutes):
        ts = start + dt.timedelta(minutes=m)
        for i, (hall, camera) in enumerate(cameras):
            live = (m + i * 37) % 500 != 0
            yield ts, hall, camera, "live" if live else "stalled", 1.0 if live else 0.0, ts, 0, None


_COPIES = (
    ("desk_sample", "ts, hall_id, window_id, camera_id, state, state_since, people",
     ["timestamptz", "text", "text", "text", "text", "timestamptz", "int2"]),
    ("zone_sample", "ts, hall_id, zone_id, camera_id, kind, people",
     ["timestamptz", "text", "text", "text", "text", "int2"]),
    ("camera_health", "ts, hall_id, camera_id, state, fps, last_frame_at, reconnects, error",
     ["timestamptz", "text", "text", "text", "float4", "timestamptz", "int4", "text"]),
)


def load_province(conn: psycopg.Connection, *, windows: int, days: float) -> dict[str, int]:
    """Geography and `days` of minute samples ending at END, by binary COPY; rows per table."""
    cities, window_rows, cameras = _geography(windows)
    halls = sorted({h for h, _ in window_rows})
    minutes = int(days * 1440)
    start = END - dt.timedelta(minutes=minutes)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("INSERT INTO province VALUES ('p', 'Bench province')")
        cur.executemany("INSERT INTO city VALUES (%s, 'p', %s)", [(c, f"City {c}") for c in cities])
        cur.executemany("INSERT INTO hall (id, city_id, name, size, flow) VALUES (%s, %s, %s, 'medium',"
                        " 'one_window_quick')",
                        [(h, f"c{int(h[1:]) // HALLS_PER_CITY:02d}", f"Hall {h}") for h in halls])
        cur.executemany("INSERT INTO service_window (hall_id, id, name) VALUES (%s, %s, %s)",
                        [(h, w, f"Window {w}") for h, w in window_rows])
        cur.executemany("INSERT INTO camera (hall_id, id, url_redacted) VALUES (%s, %s, 'rtsp://bench')", cameras)
    counts = {}
    sources = (_desk_rows(window_rows, start, minutes), _zone_rows(halls, start, minutes),
               _health_rows(cameras, start, minutes))
    for (table, columns, types), rows in zip(_COPIES, sources, strict=True):
        n = 0
        with conn.transaction(), conn.cursor() as cur, \
                cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
                n += 1
        counts[table] = n
    return counts


def time_panels(conn: psycopg.Connection, *, days: float, repeats: int, interval: str = "2h") -> dict[str, Any]:
    """p50/p95 ms of each timed province panel over the last `days` before END, all cities."""
    from dashboards.grafana import all_dashboards, variable_specs
    from dashboards.grafana_sql import Variable, expand, parse_interval

    dashboard = all_dashboards()["province-overview"]
    spec = variable_specs(dashboard)["city"]
    cities = [r[0] for r in conn.execute("SELECT id FROM city ORDER BY id")]
    sqls = {p["title"]: p["targets"][0]["rawSql"] for p in dashboard["panels"]}
    out: dict[str, Any] = {}
    timed = [(key, title, days, interval) for key, title in TIMED.items()]
    for key, title, span, step in [*timed, LAST_DAY]:
        sql = expand(sqls[title], start=END - dt.timedelta(days=span), end=END, interval=parse_interval(step),
                     variables={"city": Variable(cities, spec.multi, spec.include_all)})
        conn.execute(sql.encode()).fetchall()  # warm the cache: dashboards refresh the same query
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            rows = conn.execute(sql.encode()).fetchall()
            runs.append((time.perf_counter() - started) * 1000)
        if not rows:
            raise HallwatchError(f"panel {title!r} returned no rows")
        out[key] = {"p50_ms": round(statistics.median(runs), 1), "p95_ms": round(_p95(runs), 1), "rows": len(rows)}
    return out


def time_web_trend(conn: psycopg.Connection, *, days: float, repeats: int) -> dict[str, Any]:
    """p50/p95 ms of the web trend of every window, queue zone and camera over the last `days` before END."""
    from storage.trends import trend

    def pairs(query: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in conn.execute(query)]

    windows = pairs("SELECT hall_id, id FROM service_window ORDER BY 1, 2")
    queues = pairs("SELECT DISTINCT hall_id, zone_id FROM zone_hour WHERE kind = 'queue' ORDER BY 1, 2")
    cameras = pairs("SELECT hall_id, id FROM camera ORDER BY 1, 2")
    since = END - dt.timedelta(days=days)
    trend(conn, queues=queues, windows=windows, cameras=cameras, since=since, until=END)  # warm the cache
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        series = trend(conn, queues=queues, windows=windows, cameras=cameras, since=since, until=END)
        runs.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(runs), 1), "p95_ms": round(_p95(runs), 1), "buckets": len(series.t),
            "bucket_s": series.bucket_s}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def run_queries_bench(*, dsn: str | None, data_dir: Path | None, days: float = 90, windows: int = 200,
                      repeats: int = 20, as_json: bool) -> dict[str, Any]:
    if days <= 0 or windows < 1 or repeats < 1:
        raise HallwatchError(f"days, windows and repeats must be positive, not {days}, {windows}, {repeats}")
    load_before = _load()
    with ExitStack() as stack:
        db = bench_database(stack, dsn=dsn, data_dir=data_dir, pool_size=2)
        with db.pool.connection() as conn:
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            conn.commit()
            started = time.perf_counter()
            counts = load_province(conn, windows=windows, days=days)
            load_s = time.perf_counter() - started
            conn.autocommit = True
            # what autovacuum does on a live database: without statistics the planner takes a
            # bulk-loaded table for a small one and scans all of it for every recomputed range
            conn.execute("ANALYZE desk_sample, zone_sample, camera_health")
            conn.autocommit = False
            refresh = refresh_rollups(conn, until=END)
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
            sizes = {t: conn.execute("SELECT count(*) FROM " + t).fetchone()[0]  # type: ignore[index]
                     for t in ("desk_minute", "desk_hour", "desk_day", "desk_hall_hour", "desk_hall_day",
                               "desk_city_minute", "desk_city_hour", "desk_city_day")}
            timings = time_panels(conn, days=days, repeats=repeats)
            web = time_web_trend(conn, days=days, repeats=repeats)
    p95 = timings["staffed_trend"]["p95_ms"]
    report: dict[str, Any] = {
        "days": days, "windows": windows, "repeats": repeats, "interval": "2h",
        "rows": counts, "load_rows_per_s": round(sum(counts.values()) / load_s),
        "refresh_s": refresh.seconds, "rollup_mode": refresh.mode, "rollup_rows": sizes,
        "queries": timings, "web_trend": web, "target_p95_ms": TARGET_P95_MS, "meets_target": p95 <= TARGET_P95_MS,
        "database": "external" if dsn else "embedded", "postgres_version": version,
        "cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
        "load_average_1m": load_before, "load_average_1m_after": _load(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(report, indent=2) if as_json else format_report(report))
    return report


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"dashboard query bench, {r['date']}: {r['days']} days of minute data, {r['windows']} windows, "
        f"{sum(r['rows'].values()):,} sample rows loaded at {r['load_rows_per_s']:,} rows/s",
        f"PostgreSQL {r['postgres_version']} ({r['database']}, rollups: {r['rollup_mode']}), {r['cpu_count']} CPUs, "
        f"load average {r['load_average_1m']} before, {r['load_average_1m_after']} after",
        f"  first rollup refresh {r['refresh_s']:.1f} s; rollup rows {r['rollup_rows']}",
    ]
    for key, t in r["queries"].items():
        lines.append(f"  {key:<14} p50 {t['p50_ms']:>7.1f} ms  p95 {t['p95_ms']:>7.1f} ms  ({t['rows']} rows)")
    w = r["web_trend"]
    lines.append(f"  {'web_trend':<14} p50 {w['p50_ms']:>7.1f} ms  p95 {w['p95_ms']:>7.1f} ms  "
                 f"({w['buckets']} buckets of {w['bucket_s']} s)")
    lines.append(f"  staffed trend p95 target <= {r['target_p95_ms']:.0f} ms: "
                 + ("met" if r["meets_target"] else "NOT met"))
    return "\n".join(lines)
