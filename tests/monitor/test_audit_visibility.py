"""The audit log applies the visibility rules of the records it describes, against a real PostgreSQL through the
app: a reader sees a row only while they could see its record, and a covert inspection of hall cc-nanguan
(planned, viewed, scored, with a finding, evidence and a case) leaves no trace in `/api/v1/audit` or the `/audit`
pages (Chromium, every page and filter) for anyone scoped to that hall, while the province admin and the admin of
the planning inspector's city see all of it."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from storage.auth.audit import audit, audit_rows
from storage.auth.model import Role, Scope, User
from storage.records.officers import create_officer
from tests.fix_auth import add_user, api_client, browser_login, page_login
from tests.fix_records import HALL, assert_no_trace, complaint, event

READERS = {"prov": "province", "cc": "city/cc", "jlc": "city/jlc", "nanguan": f"hall/{HALL}",
           "chaoyang": "hall/cc-chaoyang"}
ALL = frozenset(READERS)
PROVINCE = frozenset({"prov"})
IN_NANGUAN = frozenset({"prov", "cc", "nanguan"})

# (record the row is about, action, the readers who see the row)
VISIBILITY = [
    ("complaint in nanguan", "complaint.create", IN_NANGUAN),
    ("complaint in chuanying", "complaint.create", frozenset({"prov", "jlc"})),
    ("complaint import", "complaint.import", PROVINCE),                 # no one record: the province only
    ("camera of nanguan", "live.view", IN_NANGUAN),
    ("alert of nanguan", "alert.acknowledge", IN_NANGUAN),
    ("officer of nanguan", "officer.update", IN_NANGUAN),
    ("removed shift of chaoyang", "shift.delete", frozenset({"prov", "cc", "chaoyang"})),
    ("user of nanguan", "user.create", IN_NANGUAN),
    ("user of city cc", "auth.login", frozenset({"prov", "cc"})),       # wider than a hall
    ("failed login of a nanguan user", "auth.login_failed", IN_NANGUAN),
    ("failed login of no user", "auth.login_failed", PROVINCE),
    ("roster import", "roster.import", PROVINCE),
    ("checklist", "checklist.create", ALL),                            # belongs to no hall
    ("open inspection of nanguan", "inspection.plan", IN_NANGUAN),
    ("covert inspection of nanguan", "inspection.plan", frozenset({"prov", "cc"})),
    ("covert finding of nanguan", "finding.create", frozenset({"prov", "cc"})),
    ("kind nobody knows", "thing.do", PROVINCE),
]


def records(pool: ConnectionPool) -> dict[str, tuple[str, dict[str, Any]]]:
    """The subject (and details) of a row about each record of VISIBILITY, made in the database."""
    nanguan_user, city_user = add_user(pool, "ng-staff", "hall_staff", f"hall/{HALL}"), add_user(pool, "cc-mgr",
                                                                                                 "manager", "city/cc")
    alert = event(pool, HALL)
    with pool.connection() as conn:
        officer = create_officer(conn, hall_id=HALL, badge="N-1", name="Li Si")
        template = conn.execute("INSERT INTO checklist_template (name) VALUES ('Window service') RETURNING id"
                                ).fetchone()
        inspections = [conn.execute("INSERT INTO inspection (kind, hall_id, planned_at, inspector, covert)"
                                    " VALUES ('spot_check', %s, now(), 'x', %s) RETURNING id", (HALL, covert)
                                    ).fetchone() for covert in (False, True)]
        finding = conn.execute("INSERT INTO finding (inspection_id, category, severity, description)"
                               " VALUES (%s, 'error', 'low', 'x') RETURNING id", (inspections[1][0],)).fetchone()
    assert template and inspections[0] and inspections[1] and finding
    return {
        "complaint in nanguan": (f"complaint/{complaint(pool, HALL)}", {}),
        "complaint in chuanying": (f"complaint/{complaint(pool, 'jlc-chuanying')}", {}),
        "complaint import": ("complaint/import", {"imported": 3}),
        "camera of nanguan": (f"camera/{HALL}/cam1", {}),
        "alert of nanguan": (f"alert/{alert}", {}),
        "officer of nanguan": (f"officer/{officer}", {}),
        "removed shift of chaoyang": ("shift/987654", {"hall_id": "cc-chaoyang", "window_id": "w1"}),
        "user of nanguan": (f"user/{nanguan_user.id}", {}),
        "user of city cc": (f"user/{city_user.id}", {}),
        "failed login of a nanguan user": ("user/ng-staff", {}),
        "failed login of no user": ("user/ghost", {}),
        "roster import": ("roster/week.csv", {}),
        "checklist": (f"checklist/{template[0]}", {}),
        "open inspection of nanguan": (f"inspection/{inspections[0][0]}", {}),
        "covert inspection of nanguan": (f"inspection/{inspections[1][0]}", {}),
        "covert finding of nanguan": (f"finding/{finding[0]}", {}),
        "kind nobody knows": ("thing/1", {}),
    }


def test_each_row_shows_to_who_may_see_its_record(pool: ConnectionPool) -> None:
    subjects = records(pool)
    with pool.connection() as conn:
        for record, action, _ in VISIBILITY:
            subject, details = subjects[record]
            audit(conn, user=None, action=action, subject=subject, details=details)
    admins = {key: User(id=0, name=key, role=Role.admin, scope=Scope.parse(path)) for key, path in READERS.items()}
    with pool.connection() as conn:
        seen = {key: {(r["action"], r["subject"]) for r in audit_rows(conn, reader=admin, limit=500)}
                for key, admin in admins.items()}
    for record, action, expected in VISIBILITY:
        shown = {key for key in READERS if (action, subjects[record][0]) in seen[key]}
        assert shown == expected, record


# -- the probe: a covert inspection of nanguan, through the API and the pages


def every_row(client: TestClient, **filters: str) -> list[dict[str, Any]]:
    """Every audit row the client may read, page by page."""
    rows: list[dict[str, Any]] = []
    while True:
        response = client.get("/api/v1/audit", params={**filters, "limit": 40, "offset": len(rows)})
        assert response.status_code == 200, response.text
        rows += response.json()
        if len(response.json()) < 40:
            return rows


def audit_pages(page, base: str, query: str = "") -> str:
    """The text of every page of `/audit` (following "Older") in Chromium."""
    page.goto(f"{base}/audit{query}")
    texts = [page.locator("main").inner_text()]
    while page.locator("a", has_text="Older").count():
        with page.expect_navigation():
            page.locator("a", has_text="Older").click()
        texts.append(page.locator("main").inner_text())
    return "\n".join(texts)


def test_covert_plans_hidden_from_the_hall_only(app, pool: ConnectionPool, covert: dict[str, Any]) -> None:
    root = api_client(app, "root")
    for name in ("root", "cityadm"):   # the province, and the planning inspector's city, see every row
        client = api_client(app, name)
        hidden = [r for r in every_row(client) if r["subject"] in covert["subjects"]]
        assert {r["subject"] for r in hidden} == set(covert["subjects"]), name
        assert {r["action"] for r in hidden} == set(covert["actions"]), name
        viewed = client.get("/api/v1/audit", params={"action": "inspection.view_covert"}).json()
        assert f"inspection/{covert['iid']}" in {r["subject"] for r in viewed}, name
    with pool.connection() as conn:
        nanguan_users = {r[0] for r in conn.execute("SELECT id FROM app_user WHERE scope = %s", (f"hall/{HALL}",))}

    def nanguan_sees(row: dict[str, Any]) -> bool:
        kind, _, ref = row["subject"].partition("/")
        return kind in ("complaint", "checklist") and ref != "import" or kind == "user" and int(ref) in nanguan_users

    for role in Role:
        name = f"ng-{role.value}"
        client = api_client(app, name)
        response = client.get("/api/v1/audit", params={"limit": 500})
        page = browser_login(app, name).get("/audit")
        if role is not Role.admin:   # only admins read the log at all
            assert response.status_code == 403 and page.status_code == 403, name
            assert_no_trace(response.text + page.text, covert, name)
            continue
        rows, everything = every_row(client), every_row(root)
        assert_no_trace(json.dumps(rows), covert, name)
        # exactly the rows about what nanguan may see, no fewer: the count betrays nothing either
        assert [r["id"] for r in rows] == [r["id"] for r in everything if nanguan_sees(r)]
        assert len(rows) > 100   # more than one page of the log
        for subject in covert["subjects"]:
            assert client.get("/api/v1/audit", params={"subject": subject}).json() == [], subject
        for action in covert["actions"]:
            assert client.get("/api/v1/audit", params={"action": action}).json() == [], action
        for offset in (0, 1, 50, 100, 10_000):
            chunk = client.get("/api/v1/audit", params={"limit": 3, "offset": offset}).json()
            assert [r["id"] for r in chunk] == [r["id"] for r in rows[offset:offset + 3]]


def test_audit_pages_show_no_trace_to_the_hall_admin(served: str, browser, covert: dict[str, Any]) -> None:
    hall_admin = browser.new_context().new_page()
    page_login(hall_admin, served, "/audit", f"ng-{Role.admin.value}")
    text = audit_pages(hall_admin, served)
    assert "ng-new" in text   # the user its admin made
    assert text.count("complaint.create") == 110   # on more than one page, all of them
    assert_no_trace(text, covert, "pages")
    for subject in covert["subjects"]:
        filtered = audit_pages(hall_admin, served, f"?subject={subject}")
        assert_no_trace(filtered, covert, subject)
        assert hall_admin.locator("tbody tr").count() == 0
    province = browser.new_context().new_page()
    page_login(province, served, "/audit", "root")
    assert all(s in audit_pages(province, served) for s in covert["subjects"])
    province.goto(f"{served}/audit?subject={covert['subjects'][0]}")
    assert "inspection.view_covert" in province.locator("tbody").inner_text()


def test_rows_follow_the_record_once_published(app, covert: dict[str, Any]) -> None:
    iid = covert["iid"]
    hall_admin = api_client(app, f"ng-{Role.admin.value}")
    assert hall_admin.get("/api/v1/audit", params={"subject": f"inspection/{iid}"}).json() == []
    published = api_client(app, "insp").post(f"/api/v1/inspections/{iid}/status", json={"to": "published"})
    assert published.status_code == 200
    seen = {r["action"] for r in hall_admin.get("/api/v1/audit", params={"subject": f"inspection/{iid}"}).json()}
    assert seen >= {"inspection.plan", "inspection.record_visit", "inspection.published"}
    cancelled = covert["subjects"][1]   # a covert plan never published stays hidden
    assert hall_admin.get("/api/v1/audit", params={"subject": cancelled}).json() == []
