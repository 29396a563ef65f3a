"""The /alerts page in headless Chromium against a real PostgreSQL: an event stored as the pipeline stores it
shows up on the open page without a reload, is acknowledged, and is turned into a case that shows in the list
of open work. Screenshots go to artifacts/alerts-*.png. (tests/hallwatch/test_alerts_e2e.py gets the event
from the camera simulator through the whole pipeline.)"""

from __future__ import annotations

from datetime import datetime, timedelta

from psycopg_pool import ConnectionPool

from analytics.camera import CameraResult
from analytics.events import Event, EventChange, EventKind
from pipeline.rows import result_samples
from storage.samples import copy_samples
from tests.fix_auth import add_user, page_login
from tests.fix_records import NOW, event
from tests.fix_sites import SITE
from tests.fix_web import ARTIFACTS


def stored_by_pipeline(pool: ConnectionPool, window: str, started: datetime) -> str:
    """An unstaffed event as the pipeline stores it (analysis result -> rows -> binary COPY); its alert id."""
    hall, camera = SITE.find_camera("cc-nanguan/cam1")
    details = {"waiting": 3, "queues": ["q1"]}
    opened = Event(EventKind.unstaffed_while_waiting, window, started.timestamp(), None, details)
    result = CameraResult(ts=started.timestamp() + 60, people=3, desks={}, desk_people={},
                          events=[EventChange("opened", opened)])
    with pool.connection() as conn:
        copy_samples(conn, result_samples(hall, camera, result))
        row = conn.execute("SELECT event_ref(hall_id, kind, subject, ts), details FROM event_open"
                           " WHERE subject = %s AND ts = %s", (window, started)).fetchone()
    assert row is not None and row[1] == details, row  # a JSON object, not a string holding one
    return str(row[0])


def test_live_alert_acknowledged_and_turned_into_case(pool: ConnectionPool, served: str, browser) -> None:
    add_user(pool, "op", "center_operator")
    add_user(pool, "staff", "hall_staff", "hall/cc-nanguan")
    ARTIFACTS.mkdir(exist_ok=True)
    earlier = event(pool, kind="camera_offline", subject="cam2", started=NOW - timedelta(hours=1),
                    ended=NOW - timedelta(minutes=50))
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page_login(page, served, "/alerts", "op")
    page.wait_for_selector(f'tr[data-alert="{earlier}"]')
    page.evaluate("window.notReloaded = true")

    alert = stored_by_pipeline(pool, "w2", NOW - timedelta(seconds=30))
    row = page.locator(f'tr[data-alert="{alert}"]')
    row.wait_for()
    assert page.evaluate("window.notReloaded") is True
    assert page.locator("#alerts tbody tr").first.get_attribute("data-alert") == alert  # open first
    assert "Window unstaffed while people wait" in row.inner_text() and "open" in row.locator(".state").inner_text()
    page.screenshot(path=str(ARTIFACTS / "alerts-new.png"), full_page=True)

    row.locator("input[name=note]").fill("phoned the hall, officer back at w2")
    row.locator(".ack-button").click()
    page.locator(f'tr[data-alert="{alert}"] .ack').wait_for()
    assert "op" in page.locator(f'tr[data-alert="{alert}"] .ack').inner_text()
    page.locator(f'tr[data-alert="{alert}"] .case-button').click()
    link = page.locator(f'tr[data-alert="{alert}"] a.case-link')
    link.wait_for()
    page.screenshot(path=str(ARTIFACTS / "alerts-handled.png"), full_page=True)
    link.click()
    page.wait_for_url(f"{served}/cases/*")
    assert page.locator("#source").inner_text() == f"Alert {alert}"
    page.click("#source")  # the case links back to its alert
    page.wait_for_url(f"{served}/alerts?*")
    page.locator(f'tr[data-alert="{alert}"] a.case-link').wait_for()

    page.goto(f"{served}/cases?source_kind=event")
    case_row = page.locator(f'#cases tr[data-source="event/{alert}"]')
    assert case_row.count() == 1 and "Open" in case_row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "alerts-case-list.png"), full_page=True)
    with pool.connection() as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE user_name = 'op'"
                                              " AND action NOT LIKE 'auth.%' ORDER BY id")]
    assert actions == ["alert.acknowledge", "case.create"]

    # Hall staff on a phone: their hall's alerts, with who handled them, and no buttons.
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page_login(phone, served, "/alerts", "staff")
    phone.locator(f'tr[data-alert="{alert}"] a.case-link').wait_for()
    assert phone.locator(".ack-button, .case-button").count() == 0
    phone.screenshot(path=str(ARTIFACTS / "alerts-staff-phone.png"), full_page=True)
