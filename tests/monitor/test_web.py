"""The web app against a real database: the status API, and the status page in headless Chromium
updating itself when new samples arrive (after logging in)."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from monitor.app import create_app
from pipeline.rows import DeskSample, HealthSample, ZoneSample
from tests.fix_auth import PASSWORD, add_user, api_client
from tests.fix_records import put
from tests.fix_sites import SITE
from tests.fix_web import ARTIFACTS


@pytest.fixture
def pool(pool: ConnectionPool) -> ConnectionPool:
    """tests/fix_db.py's pool with an operator of the province."""
    add_user(pool, "operator", "center_operator")
    return pool


def now() -> datetime:
    return datetime.now(UTC)


def test_status_api(pool: ConnectionPool) -> None:
    t = now()
    put(pool,
        DeskSample(t, "cc-nanguan", "w1", "cam1", "present", t - timedelta(minutes=5), 1),
        DeskSample(t - timedelta(minutes=2), "cc-nanguan", "w2", "cam1", "absent", t, 0),  # stale
        ZoneSample(t, "cc-nanguan", "q1", "cam1", "queue", 3),
        HealthSample(t, "cc-nanguan", "cam1", "live", 10.0, t - timedelta(seconds=0.4), 0, None),
        HealthSample(t, "cc-nanguan", "cam2", "unauthorized", 0.0, None, 3, "401 Unauthorized"))
    app = create_app(SITE, pool)
    assert TestClient(app).get("/api/v1/status").status_code == 401
    client = api_client(app, "operator")
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/api/v1/status")
    assert response.status_code == 200, response.text
    body = response.json()
    halls = {h["id"]: h for h in body["halls"]}
    assert list(halls) == ["cc-nanguan", "cc-chaoyang", "jlc-chuanying"]
    windows = {w["id"]: w for w in halls["cc-nanguan"]["windows"]}
    assert windows["w1"]["state"] == "present" and windows["w1"]["camera"] == "cam1"
    assert windows["w1"]["since"] is not None
    assert windows["w2"]["state"] == "unknown"       # its newest sample is too old to be current
    assert windows["w3"]["state"] == "unknown"       # never seen
    zones = {z["id"]: z for z in halls["cc-nanguan"]["zones"]}
    assert zones["q1"]["people"] == 3 and zones["ss"]["people"] is None
    cameras = {c["id"]: c for c in halls["cc-nanguan"]["cameras"]}
    assert cameras["cam1"]["state"] == "live" and 0.3 < cameras["cam1"]["last_frame_age_s"] < 30
    assert cameras["cam2"]["state"] == "unauthorized" and cameras["cam2"]["reconnects"] == 3
    assert halls["cc-chaoyang"]["cameras"][0]["state"] == "no_data"
    assert "demo-secret" not in client.get("/api/v1/status").text
    assert cameras["cam1"]["url"] == "rtsp://viewer:***@127.0.0.1:8554/cc-nanguan-1"
    assert "/api/v1/status" in client.get("/openapi.json").json()["paths"]


def test_status_when_database_is_gone(pool: ConnectionPool) -> None:
    client = TestClient(create_app(SITE, pool))
    pool.close()
    assert client.get("/healthz").status_code == 503
    response = client.get("/api/v1/status")
    assert response.status_code == 503 and response.json() == {"detail": "database unavailable"}


def test_status_page_updates_itself(pool: ConnectionPool, served: str, browser) -> None:
    t = now()
    put(pool, DeskSample(t, "cc-chaoyang", "w1", "cam1", "present", t, 1),
        ZoneSample(t, "cc-chaoyang", "q1", "cam1", "queue", 2),
        HealthSample(t, "cc-chaoyang", "cam1", "live", 10.0, t, 0, None))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(served)
    assert "/login" in page.url
    page.fill("input[name=name]", "operator")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(served + "/")
    window = page.locator('[data-window="cc-chaoyang/w1"]')
    assert window.locator(".state").inner_text() == "Staffed"
    assert page.locator('[data-zone="cc-chaoyang/q1"] .count').inner_text() == "2"
    assert page.locator('[data-camera="cc-chaoyang/cam1"] .state').inner_text() == "Live"
    assert page.locator('[data-window="cc-nanguan/w1"] .state').inner_text() == "Unknown"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page-before.png"), full_page=True)

    t = now()
    put(pool, DeskSample(t, "cc-chaoyang", "w1", "cam1", "absent", t, 0),
        ZoneSample(t, "cc-chaoyang", "q1", "cam1", "queue", 5))
    page.wait_for_function(
        "() => document.querySelector('[data-window=\"cc-chaoyang/w1\"] .state').textContent === 'Unstaffed'",
        timeout=15_000)
    page.wait_for_function(
        "() => document.querySelector('[data-zone=\"cc-chaoyang/q1\"] .count').textContent === '5'",
        timeout=15_000)
    assert "state-absent" in (window.get_attribute("class") or "")
    page.screenshot(path=str(ARTIFACTS / "status-page-after.png"), full_page=True)
