"""The public on-duty board against a real PostgreSQL: no login, the officer rostered now per window, whether
the window is staffed now, and nothing but those public facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from monitor.app import create_app
from storage.records.rosters import add_absence
from tests.fix_records import desk, roster_now
from tests.fix_sites import SITE


def seed_hall(pool: ConnectionPool) -> None:
    """Chaoyang: Li Wei at w1 (present), Wang Fang at w2 (absent, on training now). Nanguan: Zhao at w1.
    A complaint with the citizen's phone and a covert visit exist; neither may show on the board."""
    roster_now(pool, "cc-chaoyang", "w1", "JL0001", "Li Wei")
    wang = roster_now(pool, "cc-chaoyang", "w2", "JL0002", "Wang Fang")
    roster_now(pool, "cc-nanguan", "w1", "JL0099", "Zhao Lei")
    t = datetime.now(UTC)
    with pool.connection() as conn:
        add_absence(conn, hall_id="cc-chaoyang", window_id=None, officer_id=wang, reason="training",
                    starts_at=t - timedelta(minutes=30), ends_at=t + timedelta(minutes=30), note="first aid course")
        conn.execute(
            "INSERT INTO complaint (hall_id, window_id, channel, category, summary, contact_name, contact_phone,"
            " received_at, assign_due_at, resolve_due_at) VALUES ('cc-chaoyang', 'w1', 'hotline', 'delay',"
            " 'slow service', 'Zhang San', '13800000000', %s, %s, %s)",
            (t, t + timedelta(days=1), t + timedelta(days=5)))
        conn.execute(
            "INSERT INTO inspection (kind, hall_id, planned_at, inspector, covert) VALUES"
            " ('secret_shopper', 'cc-chaoyang', %s, 'mystery-shopper-7', true)", (t + timedelta(hours=2),))
    desk(pool, "cc-chaoyang", "w1", "present")
    desk(pool, "cc-chaoyang", "w2", "absent")


def test_board_shows_rostered_officers_and_desk_state_without_login(pool: ConnectionPool) -> None:
    seed_hall(pool)
    client = TestClient(create_app(SITE, pool), follow_redirects=False)
    response = client.get("/api/v1/board/cc-chaoyang")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    board = response.json()
    assert set(board) == {"hall_id", "hall_name", "at", "windows"}
    windows = {w["id"]: w for w in board["windows"]}
    assert windows["w1"] == {"id": "w1", "name": "Window 1", "duty": "staffed",
                             "officers": [{"name": "Li Wei", "badge": "JL0001", "away": False}]}
    assert windows["w2"]["duty"] == "unstaffed"
    assert windows["w2"]["officers"] == [{"name": "Wang Fang", "badge": "JL0002", "away": True}]

    desk(pool, "cc-chaoyang", "w1", "absent")
    assert client.get("/api/v1/board/cc-chaoyang").json()["windows"][0]["duty"] == "unstaffed"

    nanguan = {w["id"]: w for w in client.get("/api/v1/board/cc-nanguan").json()["windows"]}
    assert nanguan["w1"]["duty"] == "unknown" and nanguan["w1"]["officers"][0]["name"] == "Zhao Lei"
    assert nanguan["w2"] == {"id": "w2", "name": "Window 2", "duty": "unknown", "officers": []}


def test_board_page_leaks_nothing_else(pool: ConnectionPool) -> None:
    seed_hall(pool)
    client = TestClient(create_app(SITE, pool), follow_redirects=False)
    page = client.get("/board/cc-chaoyang")
    assert page.status_code == 200
    text = page.text
    assert "Li Wei" in text and "JL0001" in text and "在岗" in text
    for secret in ("13800000000", "Zhang San", "slow service", "mystery-shopper", "secret_shopper", "first aid",
                   "training", "Zhao Lei", "score", "csrf", "logout", "rtsp://", "demo-secret"):
        assert secret not in text, secret
        assert secret not in client.get("/api/v1/board/cc-chaoyang").text, secret
    assert not client.cookies  # no session is made


@pytest.mark.parametrize("path", ["/board/nowhere", "/api/v1/board/nowhere", "/board/..%2Fetc"])
def test_unknown_hall_is_404(pool: ConnectionPool, path: str) -> None:
    assert TestClient(create_app(SITE, pool)).get(path).status_code == 404
