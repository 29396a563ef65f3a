"""Cases against a real PostgreSQL: one case per finding, complaint or event, the open → rectified → verified →
closed workflow with its roles, covert cases hidden as their inspection is, scope (404 / 403), the filters of
the one list of open work, the audit trail, and a role × route matrix over the case and alert routes."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from storage.auth.model import Role
from tests.fix_auth import add_user, api_client, browser_login
from tests.fix_records import NOW, audit_actions, complaint, event, plan


def test_case_from_each_source_once(app, pool: ConnectionPool, people) -> None:
    desk, op, insp = api_client(app, "desk"), api_client(app, "op"), api_client(app, "insp")
    cid = complaint(pool)
    created = desk.post("/api/v1/cases", json={"source_kind": "complaint", "source_ref": str(cid), "owner": "staff"})
    assert created.status_code == 201, created.text
    case = created.json()
    assert (case["hall_id"], case["owner"], case["status"], case["source_url"]) == (
        "cc-nanguan", "staff", "open", f"/complaints/{cid}")
    assert case["title"].startswith(f"complaint {cid} (attitude): rude")
    due = datetime.fromisoformat(case["due_at"]) - datetime.fromisoformat(case["created_at"])
    assert abs(due - timedelta(days=14)) < timedelta(minutes=1)  # records.case_due_days
    again = desk.post("/api/v1/cases", json={"source_kind": "complaint", "source_ref": str(cid)})
    assert again.status_code == 409 and f"case {case['id']}" in again.json()["detail"]

    alert = event(pool)
    from_event = op.post("/api/v1/cases", json={"source_kind": "event", "source_ref": alert,
                                               "due_at": (NOW + timedelta(days=2)).isoformat()})
    assert from_event.status_code == 201, from_event.text
    assert from_event.json()["title"].startswith("unstaffed while waiting w1 at")
    assert from_event.json()["source_url"].endswith(f"#alert-{alert}")

    inspection = plan(insp, covert=False, kind="spot_check")
    finding = insp.post(f"/api/v1/inspections/{inspection}/findings", json={
        "category": "discipline", "severity": "high", "description": "officer on the phone", "window_id": "w2"})
    from_finding = insp.post("/api/v1/cases", json={"source_kind": "finding", "source_ref": str(finding.json()["id"]),
                                                    "title": "Phone at window 2"})
    assert from_finding.status_code == 201, from_finding.text
    assert from_finding.json()["inspection_id"] == inspection and from_finding.json()["title"] == "Phone at window 2"

    for body, status, field in [
        ({"source_kind": "complaint", "source_ref": "999999"}, 404, None),
        ({"source_kind": "finding", "source_ref": "abc"}, 404, None),
        ({"source_kind": "event", "source_ref": "cc-nanguan:queue_over_limit:q1:1"}, 404, None),
        ({"source_kind": "event", "source_ref": "not an alert"}, 404, None),
        ({"source_kind": "petition", "source_ref": "1"}, 422, "source_kind"),
        ({"source_kind": "complaint", "source_ref": str(complaint(pool)), "owner": "nobody"}, 422, "owner"),
        ({"source_kind": "complaint", "source_ref": str(complaint(pool)), "owner": "other"}, 422, "owner"),
        ({"source_kind": "complaint", "source_ref": str(complaint(pool)), "due_at": "2026-12-01T00:00"}, 422,
         "due_at"),
    ]:
        response = desk.post("/api/v1/cases", json=body)
        assert response.status_code == status, (body, response.text)
        if field:
            assert response.json()["detail"][0]["loc"][-1] == field, response.text
    assert api_client(app, "staff").post("/api/v1/cases", json={"source_kind": "complaint",
                                                                "source_ref": str(cid)}).status_code == 403
    assert [a for _, a, _ in audit_actions(pool)] == ["case.create"] * 3


# (who, to, body, expected status) in order, on one case made from a complaint
WORKFLOW = [
    ("staff", "verified", {"verification": "checked"}, 409),  # allowed: rectified
    ("staff", "closed", {}, 409),
    ("staff", "rectified", {}, 409),                          # what was done is required
    ("insp", "rectified", {"rectification": "talked to him"}, 403),  # the hall rectifies, not the inspector
    ("staff", "rectified", {"rectification": "officer retrained"}, 200),
    ("staff", "verified", {"verification": "seen it myself"}, 403),  # the hall does not verify itself
    ("insp", "open", {}, 409),                                # sending back needs a note
    ("insp", "open", {"note": "still on the phone on Tuesday"}, 200),
    ("staff", "rectified", {"rectification": "phones kept in lockers"}, 200),
    ("insp", "verified", {}, 409),
    ("insp", "verified", {"verification": "unannounced check, no phones"}, 200),
    ("insp", "closed", {}, 403),                              # a manager closes
    ("hallboss", "closed", {}, 403),  # the hall does not close its own case (docs/cases.md)
    ("root", "closed", {}, 200),
    ("root", "open", {"note": "again"}, 409),                 # final
]


def test_workflow_transitions_enforced(app, pool: ConnectionPool, people) -> None:
    desk = api_client(app, "desk")
    case = desk.post("/api/v1/cases", json={"source_kind": "complaint", "source_ref": str(complaint(pool))}).json()
    clients = {name: api_client(app, name) for name in ("staff", "insp", "hallboss", "root")}
    for who, to, body, expected in WORKFLOW:
        response = clients[who].post(f"/api/v1/cases/{case['id']}/transition", json={"to": to, **body})
        assert response.status_code == expected, (who, to, response.text)
    first = clients["root"].post(f"/api/v1/cases/{case['id']}/transition", json={"to": "closed"})
    assert first.json()["detail"].endswith("(allowed: none (final))")
    wrong = clients["staff"].post(f"/api/v1/cases/{case['id']}/transition", json={"to": "verified"})
    assert "allowed" in wrong.json()["detail"]
    done = clients["root"].get(f"/api/v1/cases/{case['id']}").json()
    assert done["status"] == "closed" and done["closed_at"] is not None
    assert done["rectification"] == "phones kept in lockers" and done["verification"].startswith("unannounced")
    assert [(s["user_name"], s["from_status"], s["to_status"]) for s in done["steps"]] == [
        ("desk", None, "open"), ("staff", "open", "rectified"), ("insp", "rectified", "open"),
        ("staff", "open", "rectified"), ("insp", "rectified", "verified"), ("root", "verified", "closed")]
    transitions = [(who, action) for who, action, _ in audit_actions(pool) if action == "case.transition"]
    assert transitions == [(s["user_name"], "case.transition") for s in done["steps"][1:]]
    assert clients["root"].patch(f"/api/v1/cases/{case['id']}", json={"title": "late"}).status_code == 409


def test_owner_may_rectify_and_update_is_audited(app, pool: ConnectionPool, people) -> None:
    boss = api_client(app, "boss")
    case = boss.post("/api/v1/cases", json={"source_kind": "complaint", "source_ref": str(complaint(pool))}).json()
    op = api_client(app, "op")
    assert op.post(f"/api/v1/cases/{case['id']}/transition", json={"to": "rectified", "rectification": "x"}
                   ).status_code == 403
    changed = boss.patch(f"/api/v1/cases/{case['id']}", json={"owner": "op", "due_at": "2026-12-24T18:00:00+08:00"})
    assert changed.status_code == 200 and changed.json()["owner"] == "op"
    assert datetime.fromisoformat(changed.json()["due_at"]) == datetime(2026, 12, 24, 10, tzinfo=UTC)
    assert op.post(f"/api/v1/cases/{case['id']}/transition", json={"to": "rectified", "rectification": "called"}
                   ).json()["status"] == "rectified"
    assert boss.patch(f"/api/v1/cases/{case['id']}", json={"owner": "other"}).json()["detail"][0]["loc"] == [
        "body", "owner"]
    assert ("boss", "case.update", f"case/{case['id']}") in audit_actions(pool)


def test_covert_case_hidden_from_the_checked_hall(app, pool: ConnectionPool, people) -> None:
    insp = api_client(app, "insp")
    covert = plan(insp, covert=True)
    finding = insp.post(f"/api/v1/inspections/{covert}/findings", json={
        "category": "error", "severity": "medium", "description": "wrong fee charged"}).json()["id"]
    case = insp.post("/api/v1/cases", json={"source_kind": "finding", "source_ref": str(finding)}).json()
    staff, hallboss, boss = api_client(app, "staff"), api_client(app, "hallboss"), api_client(app, "boss")
    browser_staff = browser_login(app, "staff")
    for client in (staff, hallboss):
        assert client.get("/api/v1/cases").json()["count"] == 0
        assert client.get("/api/v1/cases", params={"source_kind": "finding", "include_closed": True}
                          ).json()["count"] == 0
        assert client.get(f"/api/v1/cases/{case['id']}").status_code == 404
        assert client.post(f"/api/v1/cases/{case['id']}/transition",
                           json={"to": "rectified", "rectification": "x"}).status_code == 404
    assert hallboss.patch(f"/api/v1/cases/{case['id']}", json={"title": "x"}).status_code == 404
    assert f'data-case="{case["id"]}"' not in browser_staff.get("/cases").text
    assert browser_staff.get(f"/cases/{case['id']}").status_code == 404
    assert [c["id"] for c in boss.get("/api/v1/cases").json()["data"]] == [case["id"]]

    insp.post(f"/api/v1/inspections/{covert}/visit", json={"carried_out_at": datetime.now(UTC).isoformat()})
    assert staff.get(f"/api/v1/cases/{case['id']}").status_code == 404   # carried out, not yet published
    assert hallboss.get(f"/api/v1/cases/{case['id']}").status_code == 404
    insp.post(f"/api/v1/inspections/{covert}/status", json={"to": "published"})
    assert staff.get(f"/api/v1/cases/{case['id']}").status_code == 200
    assert f'data-case="{case["id"]}"' in browser_staff.get("/cases").text


def test_open_work_list_filters_and_scope(app, pool: ConnectionPool, people) -> None:
    boss = api_client(app, "boss")

    def make(hall: str, kind: str, **extra: object) -> int:
        ref = str(complaint(pool, hall)) if kind == "complaint" else event(pool, hall, subject=f"s{next(serial)}")
        response = boss.post("/api/v1/cases", json={"source_kind": kind, "source_ref": ref, **extra})
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    serial = itertools.count()
    late = make("cc-nanguan", "complaint", due_at=(NOW - timedelta(days=1)).isoformat(), owner="staff")
    soon = make("cc-chaoyang", "event", due_at=(NOW + timedelta(days=1)).isoformat())
    later = make("jlc-chuanying", "complaint", owner="boss")
    closed = make("cc-nanguan", "event")
    with pool.connection() as conn:  # a case closed long ago, straight in the table
        conn.execute("UPDATE work_case SET status = 'closed', rectification = 'r', verification = 'v',"
                     " closed_at = now() WHERE id = %s", (closed,))

    def ids(client: TestClient, **params: object) -> list[int]:
        response = client.get("/api/v1/cases", params=params)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["data"]]

    assert ids(boss) == [late, soon, later]                     # open work, soonest due first
    assert ids(boss, include_closed=True) == [late, soon, later, closed]
    assert ids(boss, status="closed") == [closed]
    assert ids(boss, overdue=True) == [late] and ids(boss, overdue=False) == [soon, later]
    assert ids(boss, owner="staff") == [late] and ids(boss, owner="boss") == [later]
    assert ids(boss, source_kind="event") == [soon]
    assert ids(boss, hall_id="cc-chaoyang") == [soon]
    assert ids(boss, city_id="cc") == [late, soon] and ids(boss, city_id="jlc") == [later]
    assert ids(boss, limit=1, offset=1) == [soon]
    assert boss.get("/api/v1/cases", params={"limit": 1}).json()["count"] == 3
    assert boss.get("/api/v1/cases", params={"overdue": "maybe"}).json()["detail"][0]["loc"][-1] == "overdue"

    staff, other = api_client(app, "staff"), api_client(app, "other")
    assert ids(staff) == [late] and ids(other) == [soon]
    assert other.get(f"/api/v1/cases/{late}").status_code == 404
    assert other.get("/api/v1/cases", params={"hall_id": "cc-nanguan"}).status_code == 403
    assert other.get("/api/v1/cases", params={"city_id": "jlc"}).status_code == 403
    page = browser_login(app, "boss").get("/cases", params={"overdue": "true"})
    assert page.status_code == 200 and f'data-case="{late}"' in page.text and f'data-case="{soon}"' not in page.text


def test_case_pages_flow(app, pool: ConnectionPool, people) -> None:
    boss, staff = browser_login(app, "boss"), browser_login(app, "staff")
    cid = complaint(pool)
    form = boss.get("/cases/new", params={"source_kind": "complaint", "source_ref": cid})
    assert form.status_code == 200 and f'value="{cid}"' in form.text
    bad = boss.post("/cases/new", data={"csrf_token": boss.csrf, "source_kind": "complaint", "source_ref": str(cid),
                                        "due_date": "someday"})
    assert bad.status_code == 422 and "not a date" in bad.text
    made = boss.post("/cases/new", data={"csrf_token": boss.csrf, "source_kind": "complaint", "source_ref": str(cid),
                                         "owner": "staff", "due_date": "2026-12-31"})
    assert made.status_code == 303, made.text
    url = made.headers["location"]
    detail = staff.get(url)
    assert detail.status_code == 200 and 'id="transition"' in detail.text and 'id="edit-case"' not in detail.text
    moved = staff.post(f"{url}/transition", data={"csrf_token": staff.csrf, "to": "rectified",
                                                  "rectification": "apologised to the citizen"})
    assert moved.status_code == 303
    assert 'class="badge rectified" id="status"' in boss.get(url).text
    assert staff.post(f"{url}/transition", data={"to": "open", "note": "x"}).status_code == 403  # no CSRF token
    assert boss.post(url, data={"csrf_token": boss.csrf, "owner": "", "due_date": "2027-01-15"}).status_code == 303
    page = boss.get(url).text
    assert '<dd id="owner">–</dd>' in page and "2027-01-15" in page


# ---- role x route matrix over the case and alert routes -------------------------------------------------

ALL_ROLES = frozenset(Role)
CREATORS = frozenset({Role.admin, Role.manager, Role.center_operator, Role.inspector, Role.complaints_officer})
HANDLERS = frozenset({Role.admin, Role.center_operator, Role.manager})
RECTIFIERS = frozenset({Role.admin, Role.manager, Role.hall_staff})
POLICY = {
    "read_cases": ALL_ROLES, "read_case": ALL_ROLES, "cases_page": ALL_ROLES, "case_page": ALL_ROLES,
    "create_case_api": CREATORS, "update_case_api": CREATORS, "new_case_page": CREATORS,
    "create_case_form": CREATORS, "update_case_form": CREATORS,
    "transition_case": RECTIFIERS, "transition_case_form": RECTIFIERS,  # the matrix asks for `rectified`
    "read_alerts": ALL_ROLES, "read_alert": ALL_ROLES, "alerts_page": ALL_ROLES,
    "acknowledge_alert": HANDLERS, "alert_to_case": HANDLERS,
}
OUT_OF_SCOPE_404 = {"read_case", "case_page", "update_case_api", "update_case_form", "transition_case",
                    "transition_case_form", "read_alert", "acknowledge_alert", "alert_to_case",
                    "create_case_api", "create_case_form"}  # the source record is not found outside the scope
NOT_ABOUT_A_HALL = {"new_case_page"}


def my_routes() -> list[tuple[str, str, str]]:
    from fastapi.routing import APIRoute

    import monitor.routes.alerts
    import monitor.routes.cases

    found = []
    for module in (monitor.routes.cases, monitor.routes.alerts):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            found += [(route.endpoint.__name__, m, route.path) for m in sorted((route.methods or set()) - {"HEAD"})]
    return found


class Records:
    """Fresh records about hall cc-nanguan for each request that consumes one."""

    def __init__(self, app, pool: ConnectionPool) -> None:
        self.pool, self.seed = pool, api_client(app, "seed")
        self.serial = itertools.count(1)

    def case(self) -> int:
        ref = str(complaint(self.pool))
        return int(self.seed.post("/api/v1/cases", json={"source_kind": "complaint", "source_ref": ref}).json()["id"])

    def alert(self) -> str:
        return event(self.pool, subject=f"m{next(self.serial)}")


def request_for(client: TestClient, records: Records, endpoint: str, method: str, path: str):
    """A well-formed request for `endpoint` about hall cc-nanguan, on records of its own."""
    ids = {"case_id": records.case() if "{case_id}" in path else 0,
           "alert_id": records.alert() if "{alert_id}" in path else ""}
    url = path.format(**ids)
    csrf = getattr(client, "csrf", "")
    bodies: dict[str, Callable[[], dict[str, Any]]] = {
        "create_case_api": lambda: {"json": {"source_kind": "complaint", "source_ref": str(complaint(records.pool))}},
        "create_case_form": lambda: {"data": {"csrf_token": csrf, "source_kind": "complaint",
                                              "source_ref": str(complaint(records.pool))}},
        "update_case_api": lambda: {"json": {"title": "renamed"}},
        "update_case_form": lambda: {"data": {"csrf_token": csrf, "title": "renamed", "due_date": "2027-01-01"}},
        "transition_case": lambda: {"json": {"to": "rectified", "rectification": "done"}},
        "transition_case_form": lambda: {"data": {"csrf_token": csrf, "to": "rectified", "rectification": "done"}},
        "acknowledge_alert": lambda: {"json": {"note": "seen"}},
        "alert_to_case": lambda: {"json": {}},
        "read_cases": lambda: {"params": {"hall_id": "cc-nanguan"}},
        "cases_page": lambda: {"params": {"hall_id": "cc-nanguan"}},
        "read_alerts": lambda: {"params": {"hall_id": "cc-nanguan"}},
        "alerts_page": lambda: {"params": {"hall_id": "cc-nanguan"}},
    }
    return client.request(method, url, headers={"X-CSRF-Token": csrf}, **bodies.get(endpoint, dict)())


def test_role_route_matrix(app, pool: ConnectionPool) -> None:
    add_user(pool, "seed", "admin")
    records = Records(app, pool)
    routes = my_routes()
    assert {name for name, _, _ in routes} == set(POLICY), "every route has a policy"
    for role in Role:
        add_user(pool, f"p-{role.value}", role)
        add_user(pool, f"h-{role.value}", role, "hall/cc-chaoyang")
        inside, outside = browser_login(app, f"p-{role.value}"), browser_login(app, f"h-{role.value}")
        for name, method, path in routes:
            allowed = role in POLICY[name]
            if allowed and name not in NOT_ABOUT_A_HALL:
                response = request_for(outside, records, name, method, path)
                expected = 404 if name in OUT_OF_SCOPE_404 else 403
                assert response.status_code == expected, (role, name, response.status_code, response.text)
            response = request_for(inside, records, name, method, path)
            if allowed:
                assert response.status_code < 400, (role, name, response.status_code, response.text)
            else:
                assert response.status_code == 403, (role, name, response.status_code)
    anonymous = TestClient(app, follow_redirects=False)
    for name, method, path in routes:
        response = request_for(anonymous, records, name, method, path)
        assert response.status_code == (401 if path.startswith("/api/") else 303), (name, response.status_code)
