"""The overview tree and the window page against a real PostgreSQL: each node's live state from the newest
samples and open events, and the user's scope (another hall answers 404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from monitor.app import create_app
from pipeline.rows import DeskSample, ZoneSample
from tests.fix_auth import add_user, api_client, browser_login
from tests.fix_records import live_scene, put
from tests.fix_sites import SITE


@pytest.fixture
def pool(pool: ConnectionPool) -> ConnectionPool:
    """tests/fix_db.py's pool with a manager of the province, one of city cc and hall staff of cc-chaoyang."""
    add_user(pool, "boss", "manager")
    add_user(pool, "chaoyang", "hall_staff", "hall/cc-chaoyang")
    add_user(pool, "cc-mgr", "manager", "city/cc")
    return pool


def test_overview_tree_counts_live_state(pool: ConnectionPool) -> None:
    live_scene(pool)
    app = create_app(SITE, pool)
    assert TestClient(app).get("/api/v1/overview").status_code == 401
    body = api_client(app, "boss").get("/api/v1/overview").json()
    assert [c["id"] for c in body["cities"]] == ["cc", "jlc"]
    halls = {h["id"]: h for c in body["cities"] for h in c["halls"]}
    nanguan = halls["cc-nanguan"]["state"]
    assert nanguan == {"windows": 3, "unstaffed": 1, "long_queues": 1, "waits_over_sla": 1, "cameras": 2,
                       "cameras_down": 1}
    assert halls["cc-chaoyang"]["state"] == {"windows": 2, "unstaffed": 0, "long_queues": 0, "waits_over_sla": 0,
                                             "cameras": 1, "cameras_down": 0}
    assert halls["jlc-chuanying"]["state"]["cameras_down"] == 1  # no data is not "up"
    windows = {w["id"]: w for w in halls["cc-nanguan"]["windows"]}
    # q1 names no window: it is the queue of w1 and w2 (and w3); q3 likewise
    assert windows["w2"]["state"] == "absent" and windows["w2"]["queue"] == 14
    assert windows["w2"]["alerts"] == ["wait_over_sla"]
    cc = body["cities"][0]["state"]
    assert cc["windows"] == 5 and cc["unstaffed"] == 1 and cc["cameras_down"] == 1
    assert body["state"]["cameras"] == 4 and body["state"]["cameras_down"] == 2


def test_window_detail_has_todays_timeline_and_queue(pool: ConnectionPool) -> None:
    tz = SITE.scorecards.tz
    start = datetime.combine(datetime.now(tz).date(), datetime.min.time(), tz).astimezone(UTC)
    first = start + timedelta(minutes=1)
    put(pool, *[DeskSample(first + timedelta(seconds=10 * i), "cc-chaoyang", "w1", "cam1", state, first, 0)
                for i, state in enumerate(["present", "present", "absent", "absent", "present"])],
        ZoneSample(first, "cc-chaoyang", "q1", "cam1", "queue", 4),
        ZoneSample(first + timedelta(seconds=30), "cc-chaoyang", "q1", "cam1", "queue", 6))
    app = create_app(SITE, pool)
    detail = api_client(app, "boss").get("/api/v1/overview/halls/cc-chaoyang/windows/w1").json()
    assert [r["state"] for r in detail["timeline"]] == ["present", "absent", "present"]
    assert detail["queue_zones"] == ["q1"]
    assert len(detail["queue_t"]) == len(detail["queue"]) == 1440  # a point a minute, gaps as null
    assert detail["queue_t"][1] == first.timestamp() and detail["queue"][1] == 5.0
    assert [v for v in detail["queue"] if v is not None] == [5.0]


def test_scope_hides_other_halls(pool: ConnectionPool) -> None:
    live_scene(pool)
    app = create_app(SITE, pool)
    staff = api_client(app, "chaoyang")
    body = staff.get("/api/v1/overview").json()
    assert [h["id"] for c in body["cities"] for h in c["halls"]] == ["cc-chaoyang"]
    assert body["state"]["unstaffed"] == 0 and body["state"]["cameras"] == 1
    assert staff.get("/api/v1/overview/halls/cc-nanguan/windows/w1").status_code == 404
    assert staff.get("/api/v1/overview/halls/cc-chaoyang/windows/w9").status_code == 404
    city = api_client(app, "cc-mgr").get("/api/v1/overview").json()
    assert [c["id"] for c in city["cities"]] == ["cc"]

    pages = browser_login(app, "chaoyang")
    assert pages.get("/overview/halls/cc-nanguan").status_code == 404
    assert pages.get("/overview/cities/jlc").status_code == 404
    assert pages.get("/overview/halls/cc-nanguan/windows/w2").status_code == 404
    page = pages.get("/overview")
    assert page.status_code == 200 and "Chaoyang district hall" in page.text and "Nanguan" not in page.text
    assert pages.get("/overview/halls/cc-chaoyang/windows/w1").status_code == 200
    assert TestClient(app, follow_redirects=False).get("/overview").status_code == 303
