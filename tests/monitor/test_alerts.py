"""Alerts against a real PostgreSQL: events as the pipeline stores them, listed open first with filters and
pagination inside the user's scope, acknowledged once (append-only, audited) and turned into a case that
links back."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from storage.records.alerts import AlertKey
from tests.fix_auth import api_client, browser_login
from tests.fix_records import NOW, audit_actions, complaint, event
from tests.fix_web import fuzz_api


def test_alert_id_round_trips_through_sql(pool: ConnectionPool) -> None:
    started = NOW - timedelta(seconds=1, microseconds=123457)
    alert_id = event(pool, subject="w:odd", started=started)
    key = AlertKey.parse(alert_id)
    assert (key.hall_id, key.kind, key.subject, key.started_at) == (
        "cc-nanguan", "unstaffed_while_waiting", "w:odd", started)


def test_list_open_first_filters_and_scope(app, pool: ConnectionPool, people) -> None:
    old_closed = event(pool, kind="queue_over_limit", subject="q1", started=NOW - timedelta(hours=3),
                       ended=NOW - timedelta(hours=2))
    old_open = event(pool, kind="camera_offline", subject="cam2", started=NOW - timedelta(hours=2))
    new_open = event(pool, subject="w2", started=NOW - timedelta(minutes=1))
    new_closed = event(pool, kind="wait_over_sla", subject="q1", started=NOW - timedelta(minutes=30),
                       ended=NOW - timedelta(minutes=10))
    elsewhere = event(pool, hall="cc-chaoyang", subject="w1", started=NOW - timedelta(minutes=20))
    far = event(pool, hall="jlc-chuanying", kind="camera_moved", subject="cam1", started=NOW - timedelta(minutes=40))
    op, staff = api_client(app, "op"), api_client(app, "staff")

    def ids(client, **params: object) -> list[str]:  # type: ignore[no-untyped-def]
        response = client.get("/api/v1/alerts", params=params)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["data"]]

    assert ids(op) == [new_open, elsewhere, far, old_open, new_closed, old_closed]
    assert ids(op, state="closed") == [new_closed, old_closed]
    assert ids(op, kind="camera_offline") == [old_open]
    assert ids(op, city_id="jlc") == [far] and ids(op, hall_id="cc-chaoyang") == [elsewhere]
    assert ids(op, since=(NOW - timedelta(minutes=35)).isoformat(), until=NOW.isoformat()) == [
        new_open, elsewhere, new_closed]
    page = op.get("/api/v1/alerts", params={"limit": 2, "offset": 1}).json()
    assert page["count"] == 6 and [a["id"] for a in page["data"]] == [elsewhere, far]
    assert ids(op, limit=2, offset=3) == [old_open, new_closed]  # a page across the open/closed boundary
    assert ids(op, limit=3, offset=5) == [old_closed]
    assert ids(op, state="open", offset=3) == [old_open] and ids(op, state="closed", offset=1) == [old_closed]
    assert op.get("/api/v1/alerts", params={"state": "open", "kind": "camera_offline"}).json()["count"] == 1
    one = op.get(f"/api/v1/alerts/{new_closed}").json()
    assert (one["open"], one["kind"], one["subject"], one["camera_id"], one["acked_by"], one["case_id"]) == (
        False, "wait_over_sla", "q1", "cam1", None, None)
    assert one["details"] == {"waiting": 3} and one["hall_name"] == "Nanguan exit-entry hall"

    assert ids(staff) == [new_open, old_open, new_closed, old_closed]  # hall staff: their own hall only
    assert staff.get(f"/api/v1/alerts/{elsewhere}").status_code == 404
    assert staff.get("/api/v1/alerts", params={"hall_id": "cc-chaoyang"}).status_code == 403
    assert op.get("/api/v1/alerts", params={"state": "half"}).json()["detail"][0]["loc"][-1] == "state"
    assert op.get("/api/v1/alerts/nonsense").status_code == 404


def test_open_events_follow_openings_and_closings_in_any_order(pool: ConnectionPool) -> None:
    """The pipeline's replay may store a closing before its opening; both orders leave the event closed."""
    started = NOW - timedelta(minutes=9)
    with pool.connection() as conn:
        conn.execute("INSERT INTO event_close (ts, hall_id, kind, subject, ended_at) VALUES"
                     " (%s, 'cc-nanguan', 'queue_over_limit', 'q1', %s)", (started, NOW))
    early_close = event(pool, kind="queue_over_limit", subject="q1", started=started)
    later_close = event(pool, subject="w3", started=started)
    still_open = event(pool, subject="w1", started=started)
    with pool.connection() as conn:
        conn.execute("INSERT INTO event_close (ts, hall_id, kind, subject, ended_at) VALUES"
                     " (%s, 'cc-nanguan', 'unstaffed_while_waiting', 'w3', %s)", (started, NOW))
        live = {r[0] for r in conn.execute("SELECT event_ref(hall_id, kind, subject, ts) FROM event_live")}
        state = dict(conn.execute("SELECT event_ref(hall_id, kind, subject, started_at), ended_at IS NULL"
                                  " FROM event_span").fetchall())
    assert live == {still_open}
    assert state == {early_close: False, later_close: False, still_open: True}


def test_acknowledge_once_and_turn_into_case(app, pool: ConnectionPool, people) -> None:
    alert = event(pool)
    op, boss, staff = api_client(app, "op"), api_client(app, "boss"), api_client(app, "staff")
    assert staff.post(f"/api/v1/alerts/{alert}/ack", json={"note": "me"}).status_code == 403
    acked = op.post(f"/api/v1/alerts/{alert}/ack", json={"note": "called the hall; officer back"})
    assert acked.status_code == 200, acked.text
    assert (acked.json()["acked_by"], acked.json()["ack_note"]) == ("op", "called the hall; officer back")
    again = boss.post(f"/api/v1/alerts/{alert}/ack", json={})
    assert again.status_code == 409 and "acknowledged by op" in again.json()["detail"]
    assert [a["id"] for a in op.get("/api/v1/alerts", params={"acknowledged": False}).json()["data"]] == []
    assert staff.get(f"/api/v1/alerts/{alert}").json()["acked_by"] == "op"  # hall staff see who handled it

    assert staff.post(f"/api/v1/alerts/{alert}/case", json={}).status_code == 403
    made = boss.post(f"/api/v1/alerts/{alert}/case", json={"owner": "staff"})
    assert made.status_code == 201, made.text
    case = made.json()
    assert (case["source_kind"], case["source_ref"], case["owner"], case["hall_id"]) == (
        "event", alert, "staff", "cc-nanguan")
    linked = op.get(f"/api/v1/alerts/{alert}").json()
    assert (linked["case_id"], linked["case_status"]) == (case["id"], "open")
    twice = op.post(f"/api/v1/alerts/{alert}/case", json={})
    assert twice.status_code == 409 and f"case {case['id']}" in twice.json()["detail"]
    assert [a for _, a, _ in audit_actions(pool)] == ["alert.acknowledge", "case.create"]

    with pool.connection() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE event_ack SET note = 'rewritten'")
    with pool.connection() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM event_ack")
    with pool.connection() as conn:
        assert conn.execute("SELECT note FROM event_ack").fetchone() == ("called the hall; officer back",)


def test_unstaffed_window_inside_an_absence_is_shown_excused(app, pool: ConnectionPool, people) -> None:
    """The event stays on the list (people waited) but carries the absence that excuses it, and so does its case;
    the same window outside the absence, and other kinds of alert, are not excused."""
    from storage.records import rosters

    with pool.connection() as conn:
        rosters.add_absence(conn, hall_id="cc-nanguan", window_id="w2", officer_id=None, reason="leader_duty",
                            note="daily duty", starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=1))
    excused = event(pool, subject="w2", started=NOW - timedelta(minutes=20))  # open: judged up to now
    before = event(pool, subject="w2", started=NOW - timedelta(hours=2), ended=NOW - timedelta(minutes=50))
    other_window = event(pool, subject="w1", started=NOW - timedelta(minutes=10))
    queue = event(pool, kind="queue_over_limit", subject="q1", started=NOW - timedelta(minutes=15))
    op, staff = api_client(app, "op"), api_client(app, "staff")

    listed = {a["id"]: a["excused_by"] for a in op.get("/api/v1/alerts").json()["data"]}
    assert set(listed) == {excused, before, other_window, queue}
    (why,) = listed[excused]
    assert (why["reason"], why["note"], why["officer"]) == ("leader_duty", "daily duty", None)
    assert listed[before] is None and listed[other_window] is None and listed[queue] is None
    assert staff.get(f"/api/v1/alerts/{excused}").json()["excused_by"] == listed[excused]

    case = op.post(f"/api/v1/alerts/{excused}/case", json={}).json()
    assert case["excused_by"] == listed[excused]
    counted = op.post(f"/api/v1/alerts/{other_window}/case", json={}).json()
    assert counted["excused_by"] is None
    cases = {c["id"]: c["excused_by"] for c in staff.get("/api/v1/cases").json()["data"]}
    assert cases == {case["id"]: listed[excused], counted["id"]: None}
    page = browser_login(app, "staff").get("/cases").text
    row = page[page.index(f'data-case="{case["id"]}"'):]
    assert "excused (absence: Leader duty)" in row[:row.index("</tr>")]
    other = page[page.index(f'data-case="{counted["id"]}"'):]
    assert "excused" not in other[:other.index("</tr>")]
    detail = browser_login(app, "op").get(f"/cases/{case['id']}").text
    assert "excused (absence: Leader duty)" in detail and "Leader duty: daily duty" in detail


def test_schemathesis_no_server_errors_on_case_and_alert_api(app, pool: ConnectionPool, people) -> None:
    """Generated (valid and invalid) requests to every case and alert operation, by an admin, with records to
    hit: no 5xx, and every 422 names its field."""

    root = api_client(app, "root")
    root.post("/api/v1/cases", json={"source_kind": "complaint", "source_ref": str(complaint(pool))})
    root.post(f"/api/v1/alerts/{event(pool)}/case", json={})
    token = root.headers["Authorization"]
    checked = fuzz_api(app, token, prefixes=("/api/v1/cases", "/api/v1/alerts"), max_examples=30)
    assert len(checked) == 9, checked
