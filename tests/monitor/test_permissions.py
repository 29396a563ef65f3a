"""The role x route matrix over every route of the records, auth and status modules: each role is
allowed or forbidden as the table says, nobody gets in without a login, and records of a hall outside
the user's scope are not found."""

from __future__ import annotations

import importlib
import re
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from storage.auth.model import Role
from tests.fix_auth import add_user, api_client

BUS = Path(str(metadata.distribution("ultralytics").locate_file("ultralytics/assets/bus.jpg")))
ALL = frozenset(Role)
ADMIN = frozenset({Role.admin})
COMPLAINT_WRITERS = frozenset({Role.admin, Role.complaints_officer})
INSPECTORS = frozenset({Role.admin, Role.inspector})
PUBLISHERS = frozenset({Role.admin, Role.inspector, Role.manager})
PUBLIC = None
WATCHERS = frozenset({Role.admin, Role.center_operator, Role.manager})
MODULES = ("monitor.routes.auth", "monitor.routes.complaints", "monitor.routes.inspections", "monitor.routes.status",
           "monitor.routes.center", "monitor.routes.reports", "monitor.routes.zones")

POLICY: dict[str, frozenset[Role] | None] = {
    "login_page": PUBLIC, "login_submit": PUBLIC, "issue_token": PUBLIC, "read_health": PUBLIC,
    "choose_language": PUBLIC,  # a cookie for anyone; a user's own choice only with their session's CSRF token
    "logout": ALL, "read_me": ALL, "read_status": ALL, "status_page": ALL,
    "read_users": ADMIN, "create_user_api": ADMIN, "disable_user_api": ADMIN, "read_audit": ADMIN,
    "read_user_tokens": ADMIN, "revoke_user_tokens": ADMIN,
    "users_page": ADMIN, "audit_page": ADMIN, "create_checklist": ADMIN,
    "read_complaints": ALL, "read_complaint": ALL, "complaints_page": ALL, "complaint_page": ALL,
    "create_complaint_api": COMPLAINT_WRITERS, "transition_complaint": COMPLAINT_WRITERS,
    "import_complaints": COMPLAINT_WRITERS, "new_complaint_page": COMPLAINT_WRITERS,
    "new_complaint_submit": COMPLAINT_WRITERS, "import_page": COMPLAINT_WRITERS, "import_submit": COMPLAINT_WRITERS,
    "transition_submit": COMPLAINT_WRITERS,
    "read_checklists": INSPECTORS,
    "read_inspections": ALL, "export_inspections": ALL, "read_inspection": ALL, "read_evidence_api": ALL,
    "inspections_page": ALL, "inspection_page": ALL,
    "create_inspection_api": INSPECTORS, "record_visit_api": INSPECTORS, "create_finding": INSPECTORS,
    "upload_evidence": INSPECTORS, "take_snapshot": INSPECTORS, "new_inspection_page": INSPECTORS,
    "new_inspection_submit": INSPECTORS, "visit_submit": INSPECTORS, "finding_submit": INSPECTORS,
    "snapshot_submit": INSPECTORS, "photo_submit": INSPECTORS,
    "change_inspection_status": PUBLISHERS, "status_submit": PUBLISHERS,
    "center_page": WATCHERS,
    "read_monthly_report": ALL, "download_report": ALL, "reports_page": ALL,  # each inside the reader's scope
    "cameras_page": ADMIN, "zones_page": ADMIN, "read_cameras": ADMIN, "read_camera_zones": ADMIN,
    "update_camera_zones": ADMIN, "test_camera_zones": ADMIN, "probe_camera_url": ADMIN, "create_camera": ADMIN,
}
# Routes that show one record of a hall: out of scope they answer 404.
DETAIL = {"read_complaint", "complaint_page", "read_inspection", "inspection_page", "read_evidence_api",
          "zones_page", "read_camera_zones", "test_camera_zones"}


def routes(app) -> list[tuple[str, str, str]]:
    """(endpoint name, method, path) of every route the app includes from MODULES."""
    from monitor.app import route_modules

    assert set(MODULES) <= set(route_modules())
    found = []
    for module in MODULES:
        for route in importlib.import_module(module).router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods - {"HEAD"}):
                found.append((route.endpoint.__name__, method, route.path))
    return found


@pytest.fixture
def records(app, pool: ConnectionPool) -> dict[str, str]:
    """A complaint, a published inspection and its evidence in cc-nanguan; ids for the paths."""
    add_user(pool, "seed", "admin")
    seed = api_client(app, "seed")
    complaint = seed.post("/api/v1/complaints", json={"hall_id": "cc-nanguan", "channel": "web",
                                                      "category": "delay", "summary": "slow"}).json()["id"]
    inspection = seed.post("/api/v1/inspections", json={
        "kind": "spot_check", "hall_id": "cc-nanguan", "planned_at": datetime.now(UTC).isoformat(),
        "inspector": "seed"}).json()["id"]
    evidence = seed.post(f"/api/v1/inspections/{inspection}/evidence",
                         files={"photo": ("bus.jpg", BUS.read_bytes(), "image/jpeg")}).json()["id"]
    seed.post(f"/api/v1/inspections/{inspection}/visit", json={"carried_out_at": datetime.now(UTC).isoformat()})
    assert seed.post(f"/api/v1/inspections/{inspection}/status", json={"to": "published"}).status_code == 200
    return {"complaint_id": str(complaint), "inspection_id": str(inspection), "evidence_id": str(evidence),
            "name": "nobody", "hall_id": "cc-nanguan", "camera_id": "cam1"}


def fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


def test_policy_covers_every_route(app) -> None:
    names = {name for name, _, _ in routes(app)}
    assert names == set(POLICY), f"unlisted: {names - set(POLICY)}, stale: {set(POLICY) - names}"


def test_nobody_gets_in_without_a_login(app, records: dict[str, str]) -> None:
    client = TestClient(app, follow_redirects=False)
    for name, method, path in routes(app):
        if POLICY[name] is PUBLIC:
            continue
        response = client.request(method, fill(path, records))
        expected = 401 if path.startswith("/api/") else 303
        assert response.status_code == expected, (name, method, path, response.status_code)


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(app, pool: ConnectionPool, records: dict[str, str], role: Role) -> None:
    add_user(pool, f"p-{role.value}", role, "province")
    add_user(pool, f"h-{role.value}", role, "hall/cc-chaoyang")
    inside, outside = api_client(app, f"p-{role.value}"), api_client(app, f"h-{role.value}")
    for name, method, path in routes(app):
        allowed = POLICY[name]
        if allowed is PUBLIC or name == "logout":
            continue
        url = fill(path, records)
        status = inside.request(method, url).status_code
        if role in allowed:
            assert status not in (401, 403), (role, name, method, url, status)
            assert status < 500, (role, name, method, url, status)
        else:
            assert status == 403, (role, name, method, url, status)
        if name in DETAIL:
            out = outside.request(method, url).status_code
            assert out == (404 if role in allowed else 403), (role, name, "out of scope", out)
    # Filters naming a hall or city outside the scope are refused, not silently empty.
    assert outside.get("/api/v1/complaints", params={"hall_id": "cc-nanguan"}).status_code == 403
    assert outside.get("/api/v1/complaints", params={"city_id": "jlc"}).status_code == 403
    assert outside.get("/api/v1/inspections", params={"hall_id": "cc-nanguan"}).status_code == 403
    assert outside.get("/api/v1/complaints").json()["count"] == 0
    assert [h["id"] for h in outside.get("/api/v1/status").json()["halls"]] == ["cc-chaoyang"]
