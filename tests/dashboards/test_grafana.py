"""Grafana dashboards: every panel's and variable's SQL, taken from the exported dashboard JSON and
expanded as Grafana's PostgreSQL data source expands it, runs on a real database holding three days
of samples of the example site; its rows are checked against values computed here from the same
samples. Also the exported files, and the provisioning requests (no Grafana server can be installed
here, and none is faked: the request bodies are checked, and a refused connection must give a clear
error without the token)."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from core.config import load_site
from dashboards.grafana import DATASOURCE_UID, all_dashboards, variable_specs
from dashboards.grafana_sql import Variable, expand, format_interval, parse_interval
from dashboards.provision import PASSWORD_ENV, DatabaseTarget, dashboard_request, datasource_payload, export
from pipeline.rows import DeskSample, HealthSample, OfflineSpellSample, ZoneSample
from storage import Database, open_database
from storage.migrate import apply_migrations
from storage.rollups import refresh_rollups
from storage.samples import copy_samples, sync_site
from tests.fix_sites import EXAMPLE_SITE, free_port

END = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
START = END - dt.timedelta(days=3)
STEP = dt.timedelta(seconds=30)
DOWN_CAMERA = ("cc-chaoyang", "cam1")  # stalled for the last 3 minutes
DOWN_FROM = END - dt.timedelta(minutes=3)
SITE = load_site(EXAMPLE_SITE)
CITY_NAME = {c.id: c.name for c in SITE.cities}
HALL = {h.id: h for h in SITE.halls}


def desk_state(hall: str, window: str, t: dt.datetime) -> str:
    m = int(t.timestamp()) // 60
    if m % 31 == 0:
        return "unknown"
    return "present" if (m + len(hall) + int(window[1:])) % 7 < 5 else "absent"


def queue_people(hall: str, zone: str, t: dt.datetime) -> int:
    return (int(t.timestamp()) // 60 + len(zone) * 3 + len(hall)) % 6


def live(hall: str, camera: str, t: dt.datetime) -> bool:
    return not ((hall, camera) == DOWN_CAMERA and t >= DOWN_FROM)


def make_samples() -> list[Any]:
    out: list[Any] = []
    t = START
    while t <= END:
        for hall, camera in SITE.cameras():
            for z in camera.zones:
                if z.kind.value == "desk":
                    state = desk_state(hall.id, str(z.window), t)
                    out.append(DeskSample(t, hall.id, str(z.window), camera.id, state, t, int(state == "present")))
                else:
                    out.append(ZoneSample(t, hall.id, z.id, camera.id, z.kind.value, queue_people(hall.id, z.id, t)))
            ok = live(hall.id, camera.id, t)
            out.append(HealthSample(t, hall.id, camera.id, "live" if ok else "stalled", 1.0 if ok else 0.0,
                                    t if ok else DOWN_FROM, 0, None if ok else "no frame for 8.0 s"))
        t += STEP
    out.append(OfflineSpellSample(END - dt.timedelta(hours=5), "cc-nanguan", "cam2",
                                  END - dt.timedelta(hours=5) + dt.timedelta(seconds=95), "stalled"))
    return out


SAMPLES = make_samples()


@pytest.fixture(scope="module")
def db(pg_server: str) -> Iterator[Database]:
    """One database for the module: the panels only read it."""
    name = "t_grafana_panels"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with open_database(dsn=psycopg.conninfo.make_conninfo(pg_server, dbname=name), migrate=False) as database:
            apply_migrations(database.pool)
            with database.pool.connection() as conn:
                sync_site(conn, SITE)
                copy_samples(conn, SAMPLES)
                refresh_rollups(conn)
            yield database
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


DASHBOARDS = all_dashboards()


def panel(dashboard: str, title: str) -> tuple[str, str]:
    """(rawSql, format) of the panel with this title in the exported JSON."""
    for p in DASHBOARDS[dashboard]["panels"]:
        if p["title"] == title:
            (target,) = p["targets"]
            assert target["datasource"]["uid"] == DATASOURCE_UID and target["rawQuery"] is True
            return target["rawSql"], target["format"]
    raise KeyError(title)


def run(db: Database, dashboard: str, title: str, *, start: dt.datetime, end: dt.datetime, interval: str,
        **values: str | list[str]) -> tuple[list[str], list[tuple[Any, ...]]]:
    raw, fmt = panel(dashboard, title)
    specs = variable_specs(DASHBOARDS[dashboard])
    variables = {n: Variable(v, specs[n].multi, specs[n].include_all) for n, v in values.items()}
    sql = expand(raw, start=start, end=end, interval=parse_interval(interval), variables=variables)
    with db.pool.connection() as conn, conn.cursor() as cur:
        cur.execute(sql.encode())
        columns = [c.name for c in cur.description or []]
        rows = cur.fetchall()
    if fmt == "time_series":  # what Grafana needs of a time series frame
        assert columns[0] == "time" and columns[1] == "metric", columns
        assert [r[0] for r in rows] == sorted(r[0] for r in rows)
        # a time column is either epoch seconds ($__timeGroupAlias) or a timestamptz (seconds from here on)
        assert all(r[0].tzinfo is not None for r in rows if isinstance(r[0], dt.datetime))
        rows = [(r[0].timestamp() if isinstance(r[0], dt.datetime) else r[0], *r[1:]) for r in rows]
        assert all(isinstance(r[1], str) for r in rows)
        assert all(v is None or isinstance(v, int | float | Decimal) for r in rows for v in r[2:])
    return columns, rows


def group_time(bucket: dt.datetime, interval: str) -> int:
    seconds = int(parse_interval(interval).total_seconds())
    return int(bucket.timestamp()) // seconds * seconds


def floor(t: dt.datetime, unit: str) -> dt.datetime:
    if unit == "day":
        return t.replace(hour=0, minute=0, second=0, microsecond=0)
    return t.replace(second=0, microsecond=0) if unit == "minute" else t.replace(minute=0, second=0, microsecond=0)


ALL_CITIES = ["cc", "jlc"]
RANGES = [  # (start, end, interval, rollup the panel reads)
    pytest.param(END - dt.timedelta(hours=2), END, "30m", "minute", id="2h-minutes"),
    pytest.param(START, END, "6h", "hour", id="3d-hours"),
    pytest.param(START, END, "1d", "day", id="3d-days"),
]


@pytest.mark.parametrize(("start", "end", "interval", "unit"), RANGES)
def test_province_staffed_by_city(db: Database, start: dt.datetime, end: dt.datetime, interval: str,
                                  unit: str) -> None:
    expected: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for s in SAMPLES:
        if isinstance(s, DeskSample) and start <= floor(s.ts, unit) <= end and s.state != "unknown":
            key = (group_time(floor(s.ts, unit), interval), CITY_NAME[HALL[s.hall_id].city])
            expected[key][s.state == "absent"] += 1
    columns, rows = run(db, "province-overview", "Windows staffed, by city", start=start, end=end,
                        interval=interval, city=ALL_CITIES)
    assert columns == ["time", "metric", "staffed"]
    got = {(int(r[0]), r[1]): float(r[2]) for r in rows}
    assert len(expected) > 3 and got.keys() == expected.keys()
    for key, (present, absent) in expected.items():
        assert math.isclose(got[key], 100.0 * present / (present + absent), rel_tol=1e-9), key


@pytest.mark.parametrize(("start", "end", "interval", "unit"), RANGES)
def test_province_queue_and_live_by_city(db: Database, start: dt.datetime, end: dt.datetime, interval: str,
                                         unit: str) -> None:
    people: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    health: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for s in SAMPLES:
        if isinstance(s, ZoneSample | HealthSample) and start <= floor(s.ts, unit) <= end:
            key = (group_time(floor(s.ts, unit), interval), CITY_NAME[HALL[s.hall_id].city])
            if isinstance(s, ZoneSample) and s.kind == "queue":
                people[key][0] += s.people
                people[key][1] += 1
            elif isinstance(s, HealthSample):
                health[key][0] += s.state == "live"
                health[key][1] += 1
    assert len(people) > 3 and len(health) > 3
    _, rows = run(db, "province-overview", "Mean queue length per queue zone, by city", start=start, end=end,
                  interval=interval, city=ALL_CITIES)
    assert {(int(r[0]), r[1]): pytest.approx(float(r[2])) for r in rows} == {k: v[0] / v[1] for k, v in people.items()}
    _, rows = run(db, "province-overview", "Cameras live, by city", start=start, end=end, interval=interval,
                  city=["cc"])
    assert {(int(r[0]), r[1]): pytest.approx(float(r[2])) for r in rows} == {
        k: 100.0 * v[0] / v[1] for k, v in health.items() if k[1] == CITY_NAME["cc"]}
    assert any(float(r[2]) < 100 for r in rows)  # the stalled camera shows


def test_province_now_panels(db: Database) -> None:
    states = [desk_state(h.id, w.id, END) for h in SITE.halls for w in h.windows]
    columns, rows = run(db, "province-overview", "Windows now", start=END - dt.timedelta(hours=1), end=END,
                        interval="1m", city=ALL_CITIES)
    assert columns == ["staffed", "unstaffed", "unknown"]
    assert rows == [(states.count("present"), states.count("absent"), states.count("unknown"))]
    _, rows = run(db, "province-overview", "Cameras now", start=END - dt.timedelta(hours=1), end=END,
                  interval="1m", city=ALL_CITIES)
    assert rows == [(len(SITE.cameras()) - 1, 1)]
    _, rows = run(db, "province-overview", "Windows now", start=END - dt.timedelta(hours=1),
                  end=END + dt.timedelta(hours=1), interval="1m", city=["jlc"])
    assert rows == [(0, 0, 1)]  # no samples in the last two minutes of the range: unknown, not absent


@pytest.mark.parametrize(("start", "end"), [
    pytest.param(END - dt.timedelta(days=1), END, id="1d-hours"),
    pytest.param(START, END, id="3d-days-and-edge-hours"),
    pytest.param(dt.datetime(2026, 10, 31, tzinfo=dt.UTC), dt.datetime(2026, 11, 2, tzinfo=dt.UTC), id="midnights"),
])
def test_province_halls_table(db: Database, start: dt.datetime, end: dt.datetime) -> None:
    """Every hour that starts in the range counts once, whether it comes from a hall-day or a hall-hour row."""
    staffed: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    queue: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    health: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in SAMPLES:
        if start <= floor(s.ts, "hour") <= end:
            if isinstance(s, DeskSample) and s.state != "unknown":
                staffed[s.hall_id][s.state == "absent"] += 1
            if isinstance(s, ZoneSample) and s.kind == "queue":
                q = queue[s.hall_id]
                q[0], q[1], q[2] = q[0] + s.people, q[1] + 1, max(q[2], s.people)
            if isinstance(s, HealthSample):
                health[s.hall_id][0] += s.state == "live"
                health[s.hall_id][1] += 1
    columns, rows = run(db, "province-overview", "Halls over the range (whole hours)", start=start, end=end,
                        interval="5m", city=ALL_CITIES)
    assert columns == ["hall", "city", "staffed", "mean_queue", "max_queue", "live"]
    by_name = {r[0]: r for r in rows}
    assert by_name.keys() == {h.name for h in SITE.halls}
    for h in SITE.halls:
        present, absent = staffed[h.id]
        total, n, top = queue[h.id]
        live_n, health_n = health[h.id]
        assert float(by_name[h.name][2]) == pytest.approx(100.0 * present / (present + absent))
        assert float(by_name[h.name][3]) == pytest.approx(total / n) and by_name[h.name][4] == top
        assert float(by_name[h.name][5]) == pytest.approx(100.0 * live_n / health_n)
        assert by_name[h.name][1] == CITY_NAME[h.city]
    assert [float(r[2]) for r in rows] == sorted(float(r[2]) for r in rows)  # worst staffed first


@pytest.mark.parametrize(("start", "end", "interval", "unit"), RANGES)
def test_camera_live_share_trend(db: Database, start: dt.datetime, end: dt.datetime, interval: str,
                                 unit: str) -> None:
    health: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for s in SAMPLES:
        if isinstance(s, HealthSample) and s.hall_id == "cc-chaoyang" and start <= floor(s.ts, unit) <= end:
            h = health[(group_time(floor(s.ts, unit), interval), f"{s.hall_id}/{s.camera_id}")]
            h[0], h[1] = h[0] + (s.state == "live"), h[1] + 1
    _, rows = run(db, "camera-health", "Live share per camera", start=start, end=end, interval=interval,
                  city=ALL_CITIES, hall=["cc-chaoyang"])
    assert len(health) > 2
    assert {(int(r[0]), r[1]): pytest.approx(float(r[2])) for r in rows} == {
        k: 100.0 * live_n / n for k, (live_n, n) in health.items()}


@pytest.mark.parametrize(("start", "end", "interval", "unit"), RANGES)
def test_hall_detail_trends(db: Database, start: dt.datetime, end: dt.datetime, interval: str, unit: str) -> None:
    hall = "cc-nanguan"
    staffed: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    queue: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for s in SAMPLES:
        if getattr(s, "hall_id", None) != hall or not start <= floor(s.ts, unit) <= end:
            continue
        if isinstance(s, DeskSample) and s.window_id in ("w1", "w3") and s.state != "unknown":
            staffed[(group_time(floor(s.ts, unit), interval), s.window_id)][s.state == "absent"] += 1
        if isinstance(s, ZoneSample) and s.kind == "queue":
            q = queue[(group_time(floor(s.ts, unit), interval), s.zone_id)]
            q[0], q[1], q[2] = q[0] + s.people, q[1] + 1, max(q[2], s.people)
    assert len(staffed) > 3 and len(queue) > 3
    _, rows = run(db, "hall-detail", "Staffed share per window", start=start, end=end, interval=interval,
                  city="cc", hall=hall, window=["w1", "w3"])
    assert {(int(r[0]), r[1]): pytest.approx(float(r[2])) for r in rows} == {
        k: 100.0 * p / (p + a) for k, (p, a) in staffed.items()}
    columns, rows = run(db, "hall-detail", "Queue length per zone (mean, max)", start=start, end=end,
                        interval=interval, city="cc", hall=hall, window=["w1"])
    assert columns == ["time", "metric", "mean", "max"]
    assert {(int(r[0]), r[1]): (pytest.approx(float(r[2])), r[3]) for r in rows} == {
        k: (total / n, top) for k, (total, n, top) in queue.items()}


def test_hall_windows_now(db: Database) -> None:
    columns, rows = run(db, "hall-detail", "Windows now", start=END - dt.timedelta(hours=1), end=END,
                        interval="1m", city="cc", hall="cc-nanguan", window=["w1", "w2", "w3"])
    assert columns == ["window", "state", "people", "state_for_s"]
    assert [(r[0], r[1]) for r in rows] == [(w.name, desk_state("cc-nanguan", w.id, END))
                                            for w in HALL["cc-nanguan"].windows]


def test_hall_waiting_time(db: Database) -> None:
    t = END - dt.timedelta(minutes=30)
    with db.pool.connection() as conn:
        conn.execute("INSERT INTO wait_sample (ts, hall_id, zone_id, camera_id, served, dwell_p50_s, dwell_p90_s)"
                     " VALUES (%s, 'cc-nanguan', 'q1', 'cam1', 3, 60, 120),"
                     " (%s, 'cc-nanguan', 'q1', 'cam1', 1, 100, 300)",
                     (t, t + dt.timedelta(minutes=1)))
        conn.commit()
    try:
        _, rows = run(db, "hall-detail", "Waiting time per zone (p50, p90 of people served)",
                      start=END - dt.timedelta(hours=1), end=END, interval="1h", city="cc", hall="cc-nanguan",
                      window=["w1"])
        assert [(r[1], float(r[2]), float(r[3])) for r in rows] == [("q1", (3 * 60 + 100) / 4, (3 * 120 + 300) / 4)]
    finally:
        with db.pool.connection() as conn:
            conn.execute("DELETE FROM wait_sample")
            conn.commit()


def test_camera_health_panels(db: Database) -> None:
    halls = [h.id for h in SITE.halls]
    columns, rows = run(db, "camera-health", "Cameras now", start=END - dt.timedelta(hours=1), end=END,
                        interval="1m", city=ALL_CITIES, hall=halls)
    assert columns[:3] == ["hall", "camera", "state"] and len(rows) == len(SITE.cameras())
    assert (rows[0][0], rows[0][1], rows[0][2]) == (HALL[DOWN_CAMERA[0]].name, DOWN_CAMERA[1], "stalled")
    assert rows[0][4] == pytest.approx(180.0) and all(r[2] == "live" for r in rows[1:])
    _, rows = run(db, "camera-health", "Live share per camera", start=END - dt.timedelta(minutes=10), end=END,
                  interval="5m", city=ALL_CITIES, hall=["cc-chaoyang"])
    assert [r[1] for r in rows] == ["cc-chaoyang/cam1"] * 3
    assert [float(r[2]) for r in rows] == [100.0, pytest.approx(100.0 * 4 / 10), 0.0]
    columns, rows = run(db, "camera-health", "Offline spells in the range", start=END - dt.timedelta(hours=6),
                        end=END, interval="1m", city=ALL_CITIES, hall=halls)
    assert columns == ["hall", "camera", "started", "ended", "duration_s", "cause"]
    assert [(r[1], float(r[4]), r[5]) for r in rows] == [("cam2", 95.0, "stalled")]


def test_variable_queries(db: Database) -> None:
    def values(dashboard: str, name: str, **given: str) -> list[tuple[str, str]]:
        specs = variable_specs(DASHBOARDS[dashboard])
        sql = expand(specs[name].sql, start=START, end=END, interval=parse_interval("1m"),
                     variables={n: Variable(v, specs[n].multi, specs[n].include_all) for n, v in given.items()})
        with db.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(sql.encode())
            assert [c.name for c in cur.description or []] == ["__value", "__text"]
            return cur.fetchall()

    assert values("province-overview", "city") == sorted(CITY_NAME.items(), key=lambda kv: kv[1])
    assert {v for v, _ in values("hall-detail", "hall", city="cc")} == {"cc-nanguan", "cc-chaoyang"}
    assert values("hall-detail", "window", city="cc", hall="cc-chaoyang") == [("w1", "Window 1"), ("w2", "Window 2")]


def test_macro_expansion_matches_grafana() -> None:
    sql = "SELECT $__timeGroupAlias(ts, $__interval) WHERE $__timeFilter(ts) AND c IN ($city) AND h = '$hall' " \
          "AND $__unixEpochTo() > 0 AND $__timeFrom() < $__timeTo() -- $__interval_ms"
    out = expand(sql, start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), end=dt.datetime(2026, 1, 2, 0, 0, 1, 500000,
                 tzinfo=dt.UTC), interval=dt.timedelta(hours=2),
                 variables={"city": Variable(["a", "o'b"], True, True), "hall": Variable("x'y")})
    assert out == ("SELECT floor(extract(epoch from ts)/7200)*7200 AS \"time\" WHERE ts BETWEEN "
                   "'2026-01-01T00:00:00Z' AND '2026-01-02T00:00:01.5Z' AND c IN ('a','o''b') AND h = 'x''y' "
                   "AND 1767312001 > 0 AND '2026-01-01T00:00:00Z' < '2026-01-02T00:00:01.5Z' -- 7200000")
    assert [format_interval(parse_interval(t)) for t in ("90s", "2h", "36h", "1w")] == ["1m", "2h", "1d", "7d"]


def test_dashboards_json_structure() -> None:
    assert set(DASHBOARDS) == {"province-overview", "hall-detail", "camera-health"}
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(set(uids)) == 3
    for name, dash in DASHBOARDS.items():
        assert dash["title"].startswith("Hallwatch") and "hallwatch" in dash["tags"]
        titles = [p["title"] for p in dash["panels"]]
        assert len(titles) == len(set(titles)), name
        for p in dash["panels"]:
            assert p["gridPos"]["w"] > 0 and p["gridPos"]["h"] > 0 and isinstance(p["options"], dict)
            assert p["targets"][0]["format"] in ("time_series", "table") and p["targets"][0]["rawSql"].strip()
    cities = variable_specs(DASHBOARDS["province-overview"])["city"]
    assert cities.multi and cities.include_all


def test_export_writes_provisioning_without_the_password(tmp_path: Path) -> None:
    target = DatabaseTarget.from_url("postgresql://grafana_ro:s3cret-pw@db.example:6543/hallwatch?sslmode=require")
    written = export(tmp_path, target)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {
        "dashboards/province-overview.json", "dashboards/hall-detail.json", "dashboards/camera-health.json",
        "provisioning/datasources/hallwatch.yaml", "provisioning/dashboards/hallwatch.yaml"}
    assert all("s3cret-pw" not in p.read_text() for p in written)
    (source,) = yaml.safe_load((tmp_path / "provisioning/datasources/hallwatch.yaml").read_text())["datasources"]
    assert source["uid"] == DATASOURCE_UID and source["url"] == "db.example:6543" and source["user"] == "grafana_ro"
    assert source["jsonData"]["database"] == "hallwatch" and source["jsonData"]["sslmode"] == "require"
    assert source["secureJsonData"] == {"password": f"${PASSWORD_ENV}"}
    (provider,) = yaml.safe_load((tmp_path / "provisioning/dashboards/hallwatch.yaml").read_text())["providers"]
    assert provider["options"]["path"] == str((tmp_path / "dashboards").resolve())
    assert json.loads((tmp_path / "dashboards/hall-detail.json").read_text()) == DASHBOARDS["hall-detail"]


def test_provisioning_requests() -> None:
    target = DatabaseTarget.from_url("postgresql://grafana_ro:pw@db:5432/hw")
    payload = datasource_payload(target, password=target.password, type_="postgres", timescaledb=True)
    assert payload["type"] == "postgres" and payload["secureJsonData"] == {"password": "pw"}
    assert payload["jsonData"]["timescaledb"] is True and "password" not in payload and "database" not in payload
    assert "pw" not in repr(target)
    body = dashboard_request({**DASHBOARDS["camera-health"], "id": 42})
    assert body["overwrite"] is True and body["folderUid"] == "hallwatch" and "id" not in body["dashboard"]
    with pytest.raises(Exception, match="TCP"):
        DatabaseTarget.from_url("postgresql://postgres:@/postgres?host=/tmp/sock")


def test_provision_command_fails_clearly_when_grafana_is_unreachable(monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from hallwatch.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("glsa_secret-token-123\n"))
    code = main(["grafana", "provision", "--url", f"http://127.0.0.1:{free_port()}", "--token-stdin",
                 "--db-url", "postgresql://ro:dbpw@db:5432/hw", "--timeout-s", "2"])
    err = capsys.readouterr().err
    assert code != 0 and "cannot reach Grafana" in err
    assert "glsa_secret-token-123" not in err and "dbpw" not in err
