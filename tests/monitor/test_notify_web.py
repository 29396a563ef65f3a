"""The alerts page's opt-in sound and desktop notification, in headless Chromium with the notifications permission
granted: nothing until the reader switches it on; then a new open alert plays the app's own sound and shows a
Notification (recorded by a hook installed before the page's scripts run); the choice survives a reload, and the
alerts already listed when the page opens are not news."""

from __future__ import annotations

from datetime import timedelta

from psycopg_pool import ConnectionPool

from tests.fix_auth import add_user, page_login
from tests.fix_records import NOW, event
from tests.fix_sites import SITE

# Records every Notification made and every sound played, then lets the real ones go ahead.
HOOK = """
window.__shown = [];
window.__played = [];
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options = {}) {
    super(title, options);
    window.__shown.push({title, body: options.body, tag: options.tag});
  }
};
const realPlay = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () { window.__played.push(this.src); return realPlay.call(this); };
"""


def test_new_alert_plays_a_sound_and_shows_a_notification_once_switched_on(pool: ConnectionPool, served: str,
                                                                            browser) -> None:
    add_user(pool, "op", "center_operator")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["notifications"], origin=served)
    context.add_init_script(HOOK)
    page = context.new_page()
    sound = page.request.get(f"{served}/static/alerts/alert.wav")
    assert sound.ok and sound.body()[:4] == b"RIFF" and sound.body()[8:12] == b"WAVE"

    earlier = event(pool, kind="camera_offline", subject="cam2", started=NOW - timedelta(minutes=30))
    page_login(page, served, "/alerts", "op")
    page.wait_for_selector(f'tr[data-alert="{earlier}"]')
    toggle = page.locator("#alert-notify")
    assert not toggle.is_checked() and page.evaluate("Notification.permission") == "granted"

    # switched off (the default): a new alert is listed, nothing else happens
    quiet = event(pool, subject="w3", started=NOW - timedelta(minutes=2))
    page.wait_for_selector(f'tr[data-alert="{quiet}"]')
    assert page.evaluate("window.__shown") == []

    toggle.check()
    assert page.evaluate("localStorage.getItem('hallwatch.alerts.notify')") == "on"
    played_before = len(page.evaluate("window.__played"))
    news = event(pool, kind="queue_over_limit", subject="q1", started=NOW - timedelta(minutes=1))
    page.wait_for_selector(f'tr[data-alert="{news}"]')
    page.wait_for_function("window.__shown.length > 0")
    [shown] = page.evaluate("window.__shown")
    hall = next(h.name for h in SITE.halls if h.id == "cc-nanguan")
    assert shown["title"] == "New alert: Queue too long" and shown["tag"] == news
    assert shown["body"].startswith(f"{hall} · q1 · ")
    played = page.evaluate("window.__played")[played_before:]
    assert played and played[-1].endswith("/static/alerts/alert.wav")

    # the choice is kept; on opening the page the alerts already there are not announced
    page.reload()
    page.wait_for_selector(f'tr[data-alert="{news}"]')
    page.wait_for_function("document.getElementById('alerts-page').dataset.updated")
    assert page.locator("#alert-notify").is_checked()
    assert page.evaluate("window.__shown") == []
    later = event(pool, kind="wait_over_sla", subject="q3", started=NOW - timedelta(seconds=30))
    page.wait_for_selector(f'tr[data-alert="{later}"]')
    page.wait_for_function("window.__shown.length > 0")
    assert [s["tag"] for s in page.evaluate("window.__shown")] == [later]

    # switched off again: silence
    page.locator("#alert-notify").uncheck()
    last = event(pool, kind="camera_moved", subject="cam1", started=NOW - timedelta(seconds=10))
    page.wait_for_selector(f'tr[data-alert="{last}"]')
    assert [s["tag"] for s in page.evaluate("window.__shown")] == [later]
    context.close()
