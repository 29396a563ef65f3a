"""Inspections against a real PostgreSQL: plans, weighted checklists, findings, publication, covert
plans hidden from the checked hall through every route, and evidence (uploaded photos of real people
and a snapshot from the real RTSP simulator) with blurring and sha256 checked on read."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from core.config import load_site
from monitor.app import create_app
from pipeline.rows import DeskSample, ZoneSample
from storage.records.common import RecordError
from storage.records.inspections import weighted_score
from storage.samples import insert_samples, sync_site
from tests.fix_auth import add_user, api_client, browser_login
from tests.fix_records import plan
from tests.fix_sites import free_port, site_with_port, write_site

BUS = Path(str(metadata.distribution("ultralytics").locate_file("ultralytics/assets/bus.jpg")))


@pytest.mark.parametrize(("weights", "values", "expected"), [
    ({1: 1.0, 2: 1.0}, {1: 1.0, 2: 0.0}, 50.0),
    ({1: 3.0, 2: 1.0}, {1: 1.0, 2: 0.0}, 75.0),
    ({1: 2.0, 2: 1.0, 3: 1.0}, {1: 0.5, 2: 1.0, 3: 1.0}, 75.0),
    ({1: 1.0}, {1: 1.0, 2: 1.0}, RecordError),
    ({1: 1.0, 2: 1.0}, {1: 1.0}, RecordError),
    ({1: 1.0}, {1: 1.5}, RecordError),
])
def test_weighted_score(weights: dict, values: dict, expected: float | type) -> None:
    if expected is RecordError:
        with pytest.raises(RecordError):
            weighted_score(weights, values)
    else:
        assert weighted_score(weights, values) == expected


def checklist(client: TestClient) -> int:
    response = client.post("/api/v1/checklists", json={"name": "Spot check", "kind": "spot_check", "items": [
        {"text": "Officer at the window", "weight": 3}, {"text": "Duty board shows who is on duty", "weight": 1}]})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
def people(pool: ConnectionPool):
    """The inspections' cast (with a city manager, without the case workers): overrides tests/fix_auth.py's."""
    for name, role, scope in [("root", "admin", "province"), ("insp", "inspector", "city/cc"),
                              ("staff", "hall_staff", "hall/cc-nanguan"), ("hallboss", "manager", "hall/cc-nanguan"),
                              ("cityboss", "manager", "city/cc"), ("other", "hall_staff", "hall/cc-chaoyang")]:
        add_user(pool, name, role, scope)


def test_visit_scores_and_publication(app, pool: ConnectionPool, people) -> None:
    root, insp = api_client(app, "root"), api_client(app, "insp")
    template = checklist(root)
    iid = plan(insp, covert=False, template_id=template, kind="spot_check")
    at = datetime.now(UTC) - timedelta(minutes=1)
    with pool.connection() as conn:
        insert_samples(conn, [DeskSample(at - timedelta(seconds=20), "cc-nanguan", "w3", "cam2", "absent", at, 0),
                              ZoneSample(at - timedelta(seconds=10), "cc-nanguan", "q3", "cam2", "queue", 4)])
    missing = insp.post(f"/api/v1/inspections/{iid}/visit", json={"carried_out_at": at.isoformat(), "scores": {"1": 1}})
    assert missing.status_code == 422 and "missing [2]" in missing.json()["detail"][0]["msg"]
    visit = insp.post(f"/api/v1/inspections/{iid}/visit",
                      json={"carried_out_at": at.isoformat(), "scores": {"1": 1, "2": 0}})
    assert visit.status_code == 200, visit.text
    body = visit.json()
    assert body["status"] == "carried_out" and body["score"] == 75.0
    assert [c["value"] for c in body["checklist"]] == [1.0, 0.0]
    video = {w["window_id"]: w["state"] for w in body["video"]["windows"]}
    assert video == {"w1": None, "w2": None, "w3": "absent"}   # was window 3 staffed at that moment? no
    assert body["video"]["zones"] == [{"zone_id": "q3", "kind": "queue", "people": 4,
                                       "sampled_at": body["video"]["zones"][0]["sampled_at"]}]
    again = insp.post(f"/api/v1/inspections/{iid}/visit", json={"carried_out_at": at.isoformat(),
                                                                "scores": {"1": 1, "2": 1}})
    assert again.status_code == 409
    finding = insp.post(f"/api/v1/inspections/{iid}/findings", json={
        "category": "absence", "severity": "high", "description": "Window 3 empty with 4 waiting", "window_id": "w3"})
    assert finding.status_code == 201
    bad_window = insp.post(f"/api/v1/inspections/{iid}/findings", json={
        "category": "absence", "severity": "high", "description": "x", "window_id": "w9"})
    assert bad_window.status_code == 422 and bad_window.json()["detail"][0]["loc"] == ["body", "window_id"]
    staff = api_client(app, "staff")
    assert staff.get(f"/api/v1/inspections/{iid}").status_code == 404    # not published yet
    assert staff.post(f"/api/v1/inspections/{iid}/status", json={"to": "published"}).status_code == 403
    assert insp.post(f"/api/v1/inspections/{iid}/status", json={"to": "cancelled"}).status_code == 409
    assert insp.post(f"/api/v1/inspections/{iid}/status", json={"to": "published"}).json()["status"] == "published"
    seen = staff.get(f"/api/v1/inspections/{iid}").json()
    assert seen["finding_list"][0]["description"] == "Window 3 empty with 4 waiting"
    late = insp.post(f"/api/v1/inspections/{iid}/findings", json={
        "category": "error", "severity": "low", "description": "too late"})
    assert late.status_code == 409


def visible_ids(client: TestClient) -> dict[str, set[int]]:
    """Inspection ids a user can reach through each route: list, filters, detail, export."""
    listed = {i["id"] for i in client.get("/api/v1/inspections", params={"limit": 500}).json()["data"]}
    covert = {i["id"] for i in client.get("/api/v1/inspections", params={"covert": "true"}).json()["data"]}
    planned = {i["id"] for i in client.get("/api/v1/inspections", params={"status": "planned"}).json()["data"]}
    export = client.get("/api/v1/inspections.csv").text.splitlines()[1:]
    exported = {int(line.split(",")[0]) for line in export}
    return {"list": listed, "covert": covert, "planned": planned, "export": exported}


def test_covert_plans_never_reach_the_checked_hall(app, pool: ConnectionPool, people) -> None:
    insp = api_client(app, "insp")
    covert = plan(insp, covert=True)
    open_plan = plan(insp, covert=False, kind="spot_check")
    elsewhere = plan(insp, hall="cc-chaoyang", covert=True)
    insp.post(f"/api/v1/inspections/{covert}/findings", json={"category": "error", "severity": "medium",
                                                               "description": "wrong fee"})
    upload = insp.post(f"/api/v1/inspections/{covert}/evidence",
                       files={"photo": ("bus.jpg", BUS.read_bytes(), "image/jpeg")})
    assert upload.status_code == 201, upload.text
    evidence = upload.json()["id"]

    staff, hallboss = api_client(app, "staff"), api_client(app, "hallboss")
    cityboss, browser_staff = api_client(app, "cityboss"), browser_login(app, "staff")
    for client in (staff, hallboss):
        reach = visible_ids(client)
        assert all(covert not in ids and elsewhere not in ids for ids in reach.values()), reach
        assert client.get(f"/api/v1/inspections/{covert}").status_code == 404
        assert client.get(f"/api/v1/evidence/{evidence}").status_code == 404
    assert open_plan in visible_ids(hallboss)["list"]          # a hall manager may see announced plans
    assert open_plan not in visible_ids(staff)["list"]         # hall staff see only published work
    page = browser_staff.get("/inspections")
    assert page.status_code == 200 and f'data-inspection="{covert}"' not in page.text
    assert browser_staff.get(f"/inspections/{covert}").status_code == 404
    assert {covert, elsewhere} <= visible_ids(cityboss)["list"]  # city managers see covert plans (audited)
    cityboss.get(f"/api/v1/inspections/{covert}")
    with pool.connection() as conn:
        viewers = [r[0] for r in conn.execute(
            "SELECT user_name FROM audit_log WHERE action = 'inspection.view_covert' AND subject = %s",
            (f"inspection/{covert}",))]
    assert "cityboss" in viewers and "staff" not in viewers

    # Carried out and published: now the hall may see it, with its findings and (blurred) evidence.
    insp.post(f"/api/v1/inspections/{covert}/visit", json={"carried_out_at": datetime.now(UTC).isoformat()})
    assert covert not in visible_ids(staff)["list"]
    insp.post(f"/api/v1/inspections/{covert}/status", json={"to": "published"})
    assert covert in visible_ids(staff)["list"] and covert in visible_ids(staff)["export"]
    photo = staff.get(f"/api/v1/evidence/{evidence}")
    assert photo.status_code == 200 and photo.headers["x-faces-blurred"] == "true"


def test_evidence_blur_hash_and_audit(app, pool: ConnectionPool, people) -> None:
    insp = api_client(app, "insp")
    iid = plan(insp, covert=False, kind="spot_check")
    original = BUS.read_bytes()
    upload = insp.post(f"/api/v1/inspections/{iid}/evidence", files={"photo": ("bus.jpg", original, "image/jpeg")})
    assert upload.status_code == 201, upload.text
    eid = upload.json()["id"]
    detail = insp.get(f"/api/v1/inspections/{iid}").json()["evidence"][0]
    assert detail["sha256"] == hashlib.sha256(original).hexdigest() and detail["size"] == len(original)
    assert detail["faces_blurred"] >= 3   # bus.jpg: 4 people, the detector finds 3 or more

    unblurred = insp.get(f"/api/v1/evidence/{eid}")
    assert unblurred.content == original and unblurred.headers["x-faces-blurred"] == "false"
    hallboss = api_client(app, "hallboss")    # managers may not see faces
    blurred = hallboss.get(f"/api/v1/evidence/{eid}")
    assert blurred.status_code == 200 and blurred.headers["x-faces-blurred"] == "true"
    assert blurred.headers["x-content-sha256"] == hashlib.sha256(blurred.content).hexdigest()
    a = cv2.imdecode(np.frombuffer(original, np.uint8), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    b = cv2.imdecode(np.frombuffer(blurred.content, np.uint8), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    changed = np.abs(a - b) > 25
    assert 0.005 < changed.mean() < 0.4   # heads changed, most of the picture did not
    with pool.connection() as conn:
        views = conn.execute("SELECT user_name FROM audit_log WHERE action = 'evidence.view_unblurred'"
                             " AND subject = %s", (f"evidence/{eid}",)).fetchall()
        assert [v[0] for v in views] == ["insp"]
        conn.execute("UPDATE evidence SET data = set_byte(data, 1000, get_byte(data, 1000) # 1) WHERE id = %s",
                     (eid,))
    tampered = insp.get(f"/api/v1/evidence/{eid}")
    assert tampered.status_code == 500 and "sha256" in tampered.json()["detail"]
    with pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'evidence.hash_mismatch'").fetchone() == (1,)


@pytest.mark.parametrize(("payload", "problem"), [
    (b"GIF89a" + b"\x00" * 100, "only JPEG and PNG"),
    (b"\xff\xd8\xff" + b"\x00" * 100, "cannot be decoded"),
    (b"", "empty"),
])
def test_bad_uploads_are_refused(app, pool: ConnectionPool, people, payload: bytes, problem: str) -> None:
    insp = api_client(app, "insp")
    iid = plan(insp, covert=False)
    response = insp.post(f"/api/v1/inspections/{iid}/evidence", files={"photo": ("x.jpg", payload, "image/jpeg")})
    assert response.status_code == 422 and problem in response.json()["detail"][0]["msg"]
    assert response.json()["detail"][0]["loc"] == ["body", "photo"]


@pytest.mark.slow
def test_snapshot_from_the_live_camera(pool: ConnectionPool, tmp_path: Path) -> None:
    from hallwatch.service import simulator_process

    port = free_port()
    site_file = write_site(tmp_path / "site.yaml", site_with_port(port))
    site = load_site(site_file)
    with pool.connection() as conn:
        sync_site(conn, site)
    add_user(pool, "insp", "inspector")
    app = create_app(site, pool)
    insp = api_client(app, "insp")
    iid = plan(insp, covert=True)
    with simulator_process(site_file, tmp_path / "truth", 7):
        response = insp.post(f"/api/v1/inspections/{iid}/snapshot", json={"camera_id": "cam1"})
    assert response.status_code == 201, response.text
    evidence = insp.get(f"/api/v1/inspections/{iid}").json()["evidence"][0]
    assert evidence["source"] == "camera" and evidence["camera_id"] == "cam1" and evidence["faces_blurred"] >= 1
    image = cv2.imdecode(np.frombuffer(insp.get(f"/api/v1/evidence/{evidence['id']}").content, np.uint8),
                         cv2.IMREAD_COLOR)
    assert image.shape == (720, 1280, 3)
    dead = insp.post(f"/api/v1/inspections/{iid}/snapshot", json={"camera_id": "cam1"})   # simulator gone
    assert dead.status_code == 502 and "demo-secret" not in dead.text
    unknown = insp.post(f"/api/v1/inspections/{iid}/snapshot", json={"camera_id": "cam9"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "camera_id"]
