"""The overview, trends, rankings and public board in headless Chromium against a real PostgreSQL: drill down
province → city → hall → window, a trend chart plotting the inserted samples, the board following a new desk
sample without a reload. Screenshots go to artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg_pool import ConnectionPool

from tests.fix_auth import add_user, page_login
from tests.fix_records import TRENDS_BASE, desk, live_scene, roster_now, seed_trends
from tests.fix_web import ARTIFACTS


@pytest.fixture
def pool(pool: ConnectionPool) -> ConnectionPool:
    """tests/fix_db.py's pool with a manager of the province and hall staff of cc-chaoyang."""
    add_user(pool, "boss", "manager")
    add_user(pool, "chaoyang", "hall_staff", "hall/cc-chaoyang")
    return pool


def login(browser, served: str, name: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page_login(page, served, "/overview", name)
    return page


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def test_drill_down_province_to_window(pool: ConnectionPool, served: str, browser) -> None:
    live_scene(pool)
    page = login(browser, served, "boss")
    assert page.locator('[data-city="cc"] > .node-state').get_attribute("data-unstaffed") == "1"
    shot(page, "overview-province")
    page.click('[data-city="cc"] > a')
    page.wait_for_url(served + "/overview/cities/cc")
    hall = page.locator('[data-hall="cc-nanguan"]')
    assert hall.locator("> .node-state").get_attribute("data-cameras-down") == "1"
    assert "alerting" in (hall.get_attribute("class") or "")
    page.click('[data-hall="cc-nanguan"] > a')
    page.wait_for_url(served + "/overview/halls/cc-nanguan")
    assert page.locator('[data-window="cc-nanguan/w2"] .state').inner_text() == "Unstaffed"
    shot(page, "overview-hall")
    desk(pool, "cc-nanguan", "w2", "present")  # the page follows the newest samples without a reload
    page.wait_for_function("() => document.querySelector('[data-window=\"cc-nanguan/w2\"] .state')"
                           ".textContent === 'Staffed'", timeout=15_000)
    assert page.locator('.node-state[data-node="hall/cc-nanguan"]').get_attribute("data-unstaffed") == "0"
    desk(pool, "cc-nanguan", "w2", "absent")
    page.click('[data-window="cc-nanguan/w2"] > a')
    page.wait_for_url(served + "/overview/halls/cc-nanguan/windows/w2")
    assert page.locator("#window-now .state").get_attribute("data-state") == "absent"
    page.wait_for_function("() => document.querySelectorAll('#timeline-bar .seg').length === 3")
    states = page.locator("#timeline-bar .seg").evaluate_all("ss => ss.map(s => s.className)")
    assert states == ["seg state-absent", "seg state-present", "seg state-absent"]
    shot(page, "overview-window")


def test_trend_chart_plots_inserted_samples(pool: ConnectionPool, served: str, browser) -> None:
    seed_trends(pool)
    page = login(browser, served, "boss")
    since = TRENDS_BASE.isoformat().replace("+00:00", "Z")
    until = (TRENDS_BASE + timedelta(hours=1)).isoformat()[:19] + "Z"
    page.goto(f"{served}/trends?hall_id=cc-chaoyang&since={since}&until={until}")
    page.wait_for_function("() => window.hwCharts && window.hwCharts['chart-coverage']")
    # each chart holds a point per minute of the hour; the samples fill the first two, the rest are gaps
    lengths = page.evaluate("() => Object.values(window.hwCharts).flatMap(c => c.plot.data.map(s => s.length))")
    assert set(lengths) == {60}
    plotted = page.evaluate("() => Object.fromEntries(Object.entries(window.hwCharts).map("
                            "([id, c]) => [id, c.plot.data.map(s => s.slice(0, 2))]))")
    t = [TRENDS_BASE.timestamp(), TRENDS_BASE.timestamp() + 60]
    assert plotted["chart-queue"] == [t, [3, 6], [4, 6]]
    assert plotted["chart-wait"] == [t, [1, 1.5], [2, 1.5]]  # minutes
    assert plotted["chart-staffing"] == [t, [1.5, 2], [3, 6]]
    assert plotted["chart-coverage"] == [t, [0.5, 1]]
    marks = page.evaluate("() => window.hwCharts['chart-queue'].spec.markers.map(m => m.kind)")
    assert marks == ["complaint", "finding", "inspection"]
    assert page.locator("#chart-queue canvas").count() == 1
    assert page.locator("#markers tr[data-kind]").count() == 3
    shot(page, "trends")


def test_rankings_switch_levels(pool: ConnectionPool, served: str, browser) -> None:
    t = datetime.now(UTC)
    with pool.connection() as conn:  # an upheld complaint this month costs Nanguan window 2 its three zeros
        conn.execute(
            "INSERT INTO complaint (hall_id, window_id, channel, category, summary, received_at, status, assign_due_at,"
            " resolve_due_at, resolution, upheld) VALUES ('cc-nanguan', 'w2', 'hotline', 'attitude', 'rude', %s,"
            " 'resolved', %s, %s, 'apologised', true)", (t, t + timedelta(days=1), t + timedelta(days=5)))
    page = login(browser, served, "boss")
    page.goto(served + "/rankings?level=city")
    assert page.locator("#rankings tbody tr[data-unit]").count() == 2
    page.click('#rankings tr[data-unit="cc"] a')
    page.wait_for_url("**level=hall**")
    assert sorted(page.locator("#rankings tbody tr[data-unit]").evaluate_all("rs => rs.map(r => r.dataset.unit)")) \
        == ["cc-chaoyang", "cc-nanguan"]
    page.click('#rankings tr[data-unit="cc-nanguan"] a')
    page.wait_for_url("**level=window**")
    units = page.locator("#rankings tbody tr[data-unit]").evaluate_all("rs => rs.map(r => r.dataset.unit)")
    assert sorted(units) == ["cc-nanguan/w1", "cc-nanguan/w2", "cc-nanguan/w3"] and units[-1] == "cc-nanguan/w2"
    row = page.locator('#rankings tr[data-unit="cc-nanguan/w2"]')
    assert row.locator('td[data-label="Three zeros"]').inner_text() == "no"
    assert row.locator('td[data-label="Complaints"]').inner_text() == "1"
    assert page.locator('.level-switch a[data-level="province"]').count() == 1
    shot(page, "rankings")


def test_public_board_follows_the_desk_without_reload(pool: ConnectionPool, served: str, browser) -> None:
    roster_now(pool, "cc-chaoyang", "w1", "JL0001", "Li Wei")
    desk(pool, "cc-chaoyang", "w1", "present")
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(served + "/board/cc-chaoyang")
    assert page.url == served + "/board/cc-chaoyang"  # no login
    card = page.locator('[data-window="w1"]')
    assert card.get_attribute("data-duty") == "staffed"
    assert "Li Wei" in card.inner_text()
    page.evaluate("() => { window.sameDocument = true; }")
    shot(page, "board-staffed")
    desk(pool, "cc-chaoyang", "w1", "absent")
    page.wait_for_function(
        "() => document.querySelector('[data-window=\"w1\"]').dataset.duty === 'unstaffed'", timeout=15_000)
    assert page.evaluate("() => window.sameDocument") is True
    assert "Li Wei" in page.locator('[data-window="w1"]').inner_text()
    shot(page, "board-unstaffed")


def test_hall_user_cannot_open_another_hall(pool: ConnectionPool, served: str, browser) -> None:
    page = login(browser, served, "chaoyang")
    assert page.locator("[data-hall]").evaluate_all("hs => hs.map(h => h.dataset.hall)") == ["cc-chaoyang"]
    assert page.goto(served + "/overview/halls/cc-nanguan").status == 404
    assert page.goto(served + "/trends?hall_id=cc-nanguan").status == 403
    assert page.goto(served + "/trends?hall_id=cc-chaoyang").status == 200
