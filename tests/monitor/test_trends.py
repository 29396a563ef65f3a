"""Trend series and record markers against a real PostgreSQL: bucketed queue length, waits, staffing and
camera coverage from inserted samples; markers obey the covert rule; scope and range checks of the API."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from psycopg_pool import ConnectionPool

from monitor.app import create_app
from pipeline.rows import DeskSample, HealthSample, ZoneSample
from storage.migrate import apply_migrations
from storage.samples import insert_samples, sync_site
from storage.trends import bucket_for
from tests.fix_auth import add_user, api_client
from tests.fix_records import TRENDS_BASE, seed_trends, trends_at
from tests.fix_sites import SITE
from tests.fix_web import fuzz_api

RANGE = {"since": TRENDS_BASE.isoformat(), "until": (TRENDS_BASE + timedelta(hours=1)).isoformat()}


@pytest.fixture
def app(pool: ConnectionPool):
    """The web app on `seed_trends`' hall, with a manager of the province and hall staff of cc-chaoyang."""
    add_user(pool, "boss", "manager")
    add_user(pool, "chaoyang", "hall_staff", "hall/cc-chaoyang")
    seed_trends(pool)
    return create_app(SITE, pool)


@pytest.mark.parametrize(("span", "width"), [
    (timedelta(hours=1), timedelta(minutes=1)), (timedelta(hours=6), timedelta(minutes=1)),
    (timedelta(days=1), timedelta(minutes=15)), (timedelta(days=7), timedelta(hours=1)),
    (timedelta(days=90), timedelta(days=1)),
])
def test_bucket_width_follows_the_range(span: timedelta, width: timedelta) -> None:
    assert bucket_for(TRENDS_BASE, TRENDS_BASE + span) == width


def first_two(body: dict, *columns: str) -> dict:
    """The first two buckets of each column, after checking that the rest of the hour holds no data."""
    for column in columns:
        assert len(body[column]) == 60 and all(v is None for v in body[column][2:]), column
    return {column: body[column][:2] for column in columns}


SERIES = ("queue", "queue_max", "wait_p50_s", "wait_p90_s", "present_windows", "coverage")


def test_hall_trend_from_samples(app) -> None:
    full = api_client(app, "boss").get("/api/v1/trends", params={"hall_id": "cc-chaoyang"} | RANGE).json()
    assert full["bucket_s"] == 60
    assert full["t"] == [trends_at(60 * i).timestamp() for i in range(60)]  # every bucket of the range: gaps stay gaps
    body = first_two(full, *SERIES)
    assert body["queue"] == [3.0, 6.0] and body["queue_max"] == [4.0, 6.0]
    assert body["wait_p50_s"] == [60.0, 90.0] and body["wait_p90_s"] == [120.0, 90.0]
    assert body["present_windows"] == [1.5, 2.0]
    assert body["coverage"] == [0.5, 1.0]
    assert [(m["kind"], m["t"]) for m in full["markers"]] == [
        ("complaint", trends_at(600).timestamp()), ("finding", trends_at(1200).timestamp()),
        ("inspection", trends_at(1200).timestamp())]
    assert "13800000000" not in str(full) and "Zhang" not in str(full)


def test_window_trend_and_all_halls(app) -> None:
    boss = api_client(app, "boss")
    answer = boss.get("/api/v1/trends", params={"hall_id": "cc-chaoyang", "window_id": "w2"} | RANGE).json()
    window = first_two(answer, "present_windows", "queue") | {"markers": answer["markers"]}
    assert window["present_windows"] == [0.5, 1.0]
    assert window["queue"] == [3.0, 6.0]  # q1 names no window: it is every window's queue
    assert [m["kind"] for m in window["markers"]] == ["finding", "inspection"]  # the complaint is about w1
    everything = first_two(boss.get("/api/v1/trends", params=RANGE).json(), "queue")
    assert everything["queue"] == [53.0, 6.0]  # nanguan's q1 joins in minute 0


@contextmanager
def rolled_up(dsn: str, samples: list, *, until: datetime) -> Iterator[ConnectionPool]:
    """A fresh database with the site, these samples and the rollups refreshed up to `until`."""
    from storage.rollups import refresh_rollups

    with ConnectionPool(dsn, min_size=1, max_size=2) as pool:
        apply_migrations(pool)
        with pool.connection() as conn:
            sync_site(conn, SITE)
            insert_samples(conn, samples)
        with pool.connection() as conn:
            refresh_rollups(conn, until=until)
        yield pool


def test_long_ranges_read_the_rollups_and_stay_exact(fresh_dsn: str) -> None:
    """After a rollup refresh the hour buckets come from the rollups and equal the raw answer; a late replay of
    old samples (inserted after the refresh) sends those buckets back to the raw tables until the next one."""
    from storage.trends import trend

    pairs = {"queues": [("cc-chaoyang", "q1")], "windows": [("cc-chaoyang", "w1"), ("cc-chaoyang", "w2")],
             "cameras": [("cc-chaoyang", "cam1")]}
    span = {"since": TRENDS_BASE, "until": TRENDS_BASE + timedelta(days=3)}
    hours = [trends_at(3600 * h + 60 * m) for h in range(30) for m in (0, 20, 40)]
    samples = [s for i, t in enumerate(hours) for s in (
        ZoneSample(t, "cc-chaoyang", "q1", "cam1", "queue", i % 7),
        DeskSample(t, "cc-chaoyang", "w1", "cam1", "present" if i % 3 else "absent", t, 1),
        DeskSample(t, "cc-chaoyang", "w2", "cam1", "present", t, 1),
        HealthSample(t, "cc-chaoyang", "cam1", "live" if i % 4 else "offline", 10.0, t, 0, None))]
    with rolled_up(fresh_dsn, samples, until=TRENDS_BASE + timedelta(days=3)) as pool:
        with pool.connection() as conn:
            rolled = trend(conn, **pairs, **span)
            raw = trend(conn, **pairs, **span, use_rollups=False)
            assert rolled.bucket_s == 3600 and rolled.rolled_up_until == (TRENDS_BASE + timedelta(days=3)).timestamp()
            assert raw.rolled_up_until is None
            assert rolled == dataclasses.replace(raw, rolled_up_until=rolled.rolled_up_until)
            assert rolled.queue[0] == pytest.approx((0 + 1 + 2) / 3) and rolled.coverage[0] == pytest.approx(2 / 3)
        with pool.connection() as conn:  # a replay of hour 5's samples arrives late
            insert_samples(conn, [ZoneSample(trends_at(5 * 3600 + 30), "cc-chaoyang", "q1", "cam1", "queue", 100)])
        with pool.connection() as conn:
            late = trend(conn, **pairs, **span)
            assert late.rolled_up_until == trends_at(5 * 3600).timestamp()
            assert late == dataclasses.replace(trend(conn, **pairs, **span, use_rollups=False),
                                               rolled_up_until=late.rolled_up_until)
            assert late.queue[5] == pytest.approx((15 % 7 + 16 % 7 + 17 % 7 + 100) / 4)


def test_markers_follow_the_covert_rule_and_scope(app) -> None:
    staff = api_client(app, "chaoyang")
    own = staff.get("/api/v1/trends", params={"hall_id": "cc-chaoyang"} | RANGE)
    assert own.status_code == 200
    assert [m["kind"] for m in own.json()["markers"]] == ["complaint"]  # the covert visit stays hidden
    assert staff.get("/api/v1/trends", params={"hall_id": "cc-nanguan"} | RANGE).status_code == 403
    scoped = staff.get("/api/v1/trends", params=RANGE).json()  # no hall named: the user's own hall only
    assert first_two(scoped, "queue")["queue"] == [3.0, 6.0]
    assert staff.get("/api/v1/trends", params={"hall_id": "nowhere"}).status_code == 404
    assert staff.get("/api/v1/trends", params={"hall_id": "cc-chaoyang", "window_id": "w9"}).status_code == 404
    assert staff.get("/api/v1/trends", params={"window_id": "w1"}).status_code == 422
    backwards = {"since": RANGE["until"], "until": RANGE["since"]}
    assert staff.get("/api/v1/trends", params=backwards).status_code == 422
    assert staff.get("/api/v1/trends", params={"days": 400}).status_code == 422
    assert staff.get("/api/v1/trends", params={"until": "0001-01-01T00:00:00Z"}).status_code == 422
    assert staff.get("/api/v1/trends", params={"since": "9999-12-31T00:00:00Z"}).status_code == 422


def test_dashboard_apis_answer_generated_input_without_server_errors(app) -> None:
    """Schemathesis over this area's operations (trends, overview, board), as
    tests/monitor/test_schemathesis.py does for the whole app."""

    token = api_client(app, "boss").headers["Authorization"]
    checked = fuzz_api(app, token, prefixes=("/api/v1/trends", "/api/v1/overview", "/api/v1/board"), max_examples=40)
    assert sorted(checked) == ["GET /api/v1/board/{hall_id}", "GET /api/v1/overview",
                               "GET /api/v1/overview/halls/{hall_id}/windows/{window_id}", "GET /api/v1/trends"]


@pytest.mark.parametrize(("span", "width", "table"), [
    (timedelta(days=3), timedelta(hours=1), "zone_hour"),
    (timedelta(days=40), timedelta(days=1), "zone_day"),
])
def test_trends_read_the_coarsest_rollup_that_tiles_their_buckets(fresh_dsn: str, span: timedelta, width: timedelta,
                                                                   table: str) -> None:
    """Three days of samples every 20 minutes: a 3-day range (hourly buckets) reads the hour rollups, a 40-day
    range (daily buckets) the day rollups, and both equal the raw answer."""
    from psycopg import Rollback

    from storage.trends import trend

    pairs = {"queues": [("cc-chaoyang", "q1")], "windows": [("cc-chaoyang", "w1"), ("cc-chaoyang", "w2")],
             "cameras": [("cc-chaoyang", "cam1")]}
    since = TRENDS_BASE
    until = since + span
    samples = [s for i, t in enumerate(trends_at(1200 * n) for n in range(3 * 72)) for s in (
        ZoneSample(t, "cc-chaoyang", "q1", "cam1", "queue", i % 5),
        DeskSample(t, "cc-chaoyang", "w1", "cam1", "present" if i % 4 else "absent", t, 1),
        HealthSample(t, "cc-chaoyang", "cam1", "live" if i % 6 else "offline", 10.0, t, 0, None))]
    with rolled_up(fresh_dsn, samples, until=until) as pool:
        with pool.connection() as conn:
            rolled = trend(conn, **pairs, since=since, until=until)
            raw = trend(conn, **pairs, since=since, until=until, use_rollups=False)
            assert rolled.bucket_s == width.total_seconds() and rolled.rolled_up_until is not None
            assert rolled == dataclasses.replace(raw, rolled_up_until=rolled.rolled_up_until)
            assert sum(q is not None for q in rolled.queue) >= 3
            with conn.transaction():  # one more person in every bucket of this level only: the trend shows it
                conn.execute(f"UPDATE {table} SET people_sum = people_sum + samples")
                marked = trend(conn, **pairs, since=since, until=until)
                raise Rollback()
            assert marked.queue == [None if q is None else pytest.approx(q + 1) for q in rolled.queue]
