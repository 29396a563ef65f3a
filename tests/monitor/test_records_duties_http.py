"""The records' duty rules through the web app (real PostgreSQL, real HTTP through the app): a hall does not
verify or close its own case, a complaint goes only to someone who can act on it, and every list showing covert
plans (API, page, CSV export) is audited once."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from tests.fix_auth import api_client, browser_login
from tests.fix_records import complaint, plan


def test_a_hall_manager_cannot_verify_or_close_their_own_hall_case(app, pool: ConnectionPool, people) -> None:
    desk, hallboss, insp, boss = (api_client(app, n) for n in ("desk", "hallboss", "insp", "boss"))
    case = desk.post("/api/v1/cases", json={"source_kind": "complaint", "source_ref": str(complaint(pool))}).json()
    url = f"/api/v1/cases/{case['id']}/transition"
    assert hallboss.post(url, json={"to": "rectified", "rectification": "officer retrained"}).status_code == 200
    refused = hallboss.post(url, json={"to": "verified", "verification": "I checked it myself"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == "the hall may not verify its own case: someone above hall cc-nanguan does"
    assert hallboss.post(url, json={"to": "open", "note": "x"}).status_code == 403
    page = browser_login(app, "hallboss").get(f"/cases/{case['id']}")
    assert page.status_code == 200 and 'id="transition"' not in page.text  # no step offered to the hall

    assert insp.post(url, json={"to": "verified", "verification": "unannounced visit"}).status_code == 200
    assert hallboss.post(url, json={"to": "closed"}).status_code == 403
    assert boss.post(url, json={"to": "closed"}).json()["status"] == "closed"
    steps = boss.get(f"/api/v1/cases/{case['id']}").json()["steps"]
    assert [(s["user_name"], s["to_status"]) for s in steps] == [
        ("desk", "open"), ("hallboss", "rectified"), ("insp", "verified"), ("boss", "closed")]


def test_a_complaint_is_assigned_only_to_someone_who_can_act_on_it(app, pool: ConnectionPool, people) -> None:
    desk = api_client(app, "desk")
    created = desk.post("/api/v1/complaints", json={"hall_id": "cc-nanguan", "channel": "hotline",
                                                    "category": "attitude", "summary": "rude at window 1"})
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    url = f"/api/v1/complaints/{cid}/transition"
    assert api_client(app, "other").get(f"/api/v1/complaints/{cid}").status_code == 404  # hall B's staff
    refused = desk.post(url, json={"to": "assigned", "assignee": "other"})
    assert refused.status_code == 409 and "'other' cannot see hall 'cc-nanguan'" in refused.json()["detail"]
    assert desk.post(url, json={"to": "assigned", "assignee": "staff"}).status_code == 409  # hall staff
    assert desk.get(f"/api/v1/complaints/{cid}").json()["assignee"] is None
    assert desk.post(url, json={"to": "assigned", "assignee": "hallboss"}).json()["assignee"] == "hallboss"
    assert desk.post(url, json={"to": "assigned", "assignee": "other"}).status_code == 409  # nor handed over
    assert api_client(app, "hallboss").get(f"/api/v1/complaints/{cid}").json()["assignee"] == "hallboss"


def test_every_list_showing_covert_plans_is_audited_once(app, pool: ConnectionPool, people) -> None:
    insp = api_client(app, "insp")
    covert, other_covert = plan(insp, covert=True), plan(insp, "cc-chaoyang", covert=True)
    plan(insp, covert=False)
    boss, browser_boss = api_client(app, "boss"), browser_login(app, "boss")
    assert boss.get("/api/v1/inspections").json()["count"] == 3
    assert browser_boss.get("/inspections").status_code == 200
    assert boss.get("/api/v1/inspections.csv").status_code == 200
    assert api_client(app, "hallboss").get("/api/v1/inspections").json()["count"] == 1  # no covert plan: no row
    assert browser_login(app, "staff").get("/inspections").status_code == 200
    with pool.connection() as conn:
        rows = conn.execute("SELECT user_name, subject, details->'ids' FROM audit_log"
                            " WHERE action = 'inspection.list_covert' ORDER BY id").fetchall()
    shown = [other_covert, covert]  # in list order: the later plan first
    assert [tuple(r) for r in rows] == [("boss", "inspection/list", shown)] * 3  # API, page, CSV: one row each
