"""Records stored as the pipeline and the record routes store them, for tests of the web app: complaints,
events (alerts), inspection plans, rostered officers, desk and zone samples, the overview's live scene and the
trends' two minutes of a hall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from pipeline.rows import DeskSample, HealthSample, ZoneSample
from storage.auth.model import Role
from storage.records.officers import create_officer
from storage.records.rosters import Shift, add_shift
from storage.samples import insert_samples
from tests.fix_auth import add_user, api_client
from tests.fix_sites import SITE

NOW = datetime.now(UTC).replace(microsecond=0)
TRENDS_BASE = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # seed_trends' samples begin here


def complaint(db: ConnectionPool, hall: str = "cc-nanguan", summary: str = "rude at window 2") -> int:
    with db.connection() as conn:
        row = conn.execute(
            "INSERT INTO complaint (hall_id, channel, category, summary, received_at, assign_due_at, resolve_due_at)"
            " VALUES (%s, 'hotline', 'attitude', %s, %s, %s, %s) RETURNING id",
            (hall, summary, NOW, NOW + timedelta(days=1), NOW + timedelta(days=5))).fetchone()
    assert row is not None
    return int(row[0])


def event(db: ConnectionPool, hall: str = "cc-nanguan", kind: str = "unstaffed_while_waiting",
          subject: str = "w1", started: datetime | None = None, ended: datetime | None = None) -> str:
    """Inserts an event as the pipeline stores it; returns its alert id."""
    started = started or NOW - timedelta(minutes=5)
    with db.connection() as conn:
        conn.execute("INSERT INTO event_open (ts, hall_id, camera_id, kind, subject, details)"
                     " VALUES (%s, %s, 'cam1', %s, %s, '{\"waiting\": 3}')", (started, hall, kind, subject))
        if ended is not None:
            conn.execute("INSERT INTO event_close (ts, hall_id, kind, subject, ended_at) VALUES (%s, %s, %s, %s, %s)",
                         (started, hall, kind, subject, ended))
        row = conn.execute("SELECT event_ref(%s, %s, %s, %s)", (hall, kind, subject, started)).fetchone()
    assert row is not None
    return str(row[0])


def audit_actions(db: ConnectionPool) -> list[tuple[str, str, str]]:
    with db.connection() as conn:
        rows = conn.execute("SELECT user_name, action, subject FROM audit_log WHERE split_part(action, '.', 1)"
                            " IN ('case', 'alert') ORDER BY id")
        return [(r[0], r[1], r[2]) for r in rows]


def plan(client: TestClient, hall: str = "cc-nanguan", covert: bool = True, **extra: object) -> int:
    when = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = {"kind": "secret_shopper", "hall_id": hall, "planned_at": when, "inspector": "third party",
            "covert": covert, **extra}
    response = client.post("/api/v1/inspections", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def unstaffed(conn: psycopg.Connection, window: str, starts: datetime, ends: datetime | None,
              hall: str = "cc-nanguan") -> None:
    conn.execute("INSERT INTO event_open (ts, hall_id, camera_id, kind, subject) VALUES"
                 " (%s, %s, 'cam1', 'unstaffed_while_waiting', %s)", (starts, hall, window))
    if ends is not None:
        conn.execute("INSERT INTO event_close (ts, hall_id, kind, subject, ended_at) VALUES"
                     " (%s, %s, 'unstaffed_while_waiting', %s, %s)", (starts, hall, window, ends))


def roster_now(pool: ConnectionPool, hall: str, window: str, badge: str, name: str) -> int:
    """An officer rostered at `window` from an hour ago to an hour from now (hall time)."""
    tz = SITE.scorecards.tz
    now = datetime.now(tz)
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    with pool.connection() as conn:
        officer = create_officer(conn, hall_id=hall, badge=badge, name=name)
        add_shift(conn, Shift(hall, window, officer, start.time().replace(microsecond=0),
                              end.time().replace(microsecond=0), on_date=start.date()))
    return officer


def desk(pool: ConnectionPool, hall: str, window: str, state: str) -> None:
    t = datetime.now(UTC)
    with pool.connection() as conn:
        insert_samples(conn, [DeskSample(t, hall, window, "cam1", state, t, 1 if state == "present" else 0)])


def put(pool: ConnectionPool, *samples) -> None:
    with pool.connection() as conn:
        insert_samples(conn, samples)


def open_event(pool: ConnectionPool, hall: str, camera: str, kind: str, subject: str, ts: datetime,
               ended: datetime | None = None) -> None:
    with pool.connection() as conn:
        conn.execute("INSERT INTO event_open (ts, hall_id, camera_id, kind, subject) VALUES (%s, %s, %s, %s, %s)",
                     (ts, hall, camera, kind, subject))
        if ended is not None:
            conn.execute("INSERT INTO event_close (ts, hall_id, kind, subject, ended_at) VALUES (%s, %s, %s, %s, %s)",
                         (ts, hall, kind, subject, ended))


def live_scene(pool: ConnectionPool) -> datetime:
    """Nanguan: w1 present, w2 absent, q1 over its limit of 10, cam2 offline, a wait over SLA open on q1
    and an old closed one on q3. Chaoyang: w1 present and both its desks' camera live."""
    t = datetime.now(UTC)
    put(pool,
        DeskSample(t, "cc-nanguan", "w1", "cam1", "present", t - timedelta(minutes=30), 1),
        DeskSample(t, "cc-nanguan", "w2", "cam1", "absent", t - timedelta(minutes=3), 0),
        DeskSample(t, "cc-nanguan", "w3", "cam2", "present", t - timedelta(minutes=3), 1),
        ZoneSample(t, "cc-nanguan", "q1", "cam1", "queue", 12),
        ZoneSample(t, "cc-nanguan", "q3", "cam2", "queue", 2),
        HealthSample(t, "cc-nanguan", "cam1", "live", 10.0, t, 0, None),
        HealthSample(t, "cc-nanguan", "cam2", "offline", 0.0, t - timedelta(minutes=1), 4, "timeout"),
        DeskSample(t, "cc-chaoyang", "w1", "cam1", "present", t - timedelta(hours=1), 1),
        DeskSample(t, "cc-chaoyang", "w2", "cam1", "present", t - timedelta(hours=1), 1),
        HealthSample(t, "cc-chaoyang", "cam1", "live", 10.0, t, 0, None))
    open_event(pool, "cc-nanguan", "cam1", "wait_over_sla", "q1", t - timedelta(minutes=5))
    open_event(pool, "cc-nanguan", "cam2", "wait_over_sla", "q3", t - timedelta(hours=2), t - timedelta(hours=1))
    return t


def trends_at(seconds: float) -> datetime:
    return TRENDS_BASE + timedelta(seconds=seconds)


def seed_trends(pool: ConnectionPool) -> None:
    """Chaoyang over two minutes: q1 holds 2 then 4 people (minute 0) and 6 (minute 1); w1 is present,
    w2 absent then present; cam1 live then offline; waits from tracked dwell, then from Little's law.
    A complaint about w1 at 08:10 and a covert spot check with a finding at 08:20, not yet published."""
    samples = [
        ZoneSample(trends_at(0), "cc-chaoyang", "q1", "cam1", "queue", 2),
        ZoneSample(trends_at(30), "cc-chaoyang", "q1", "cam1", "queue", 4),
        ZoneSample(trends_at(60), "cc-chaoyang", "q1", "cam1", "queue", 6),
        DeskSample(trends_at(0), "cc-chaoyang", "w1", "cam1", "present", trends_at(0), 1),
        DeskSample(trends_at(30), "cc-chaoyang", "w1", "cam1", "present", trends_at(0), 1),
        DeskSample(trends_at(60), "cc-chaoyang", "w1", "cam1", "present", trends_at(0), 1),
        DeskSample(trends_at(0), "cc-chaoyang", "w2", "cam1", "absent", trends_at(0), 0),
        DeskSample(trends_at(30), "cc-chaoyang", "w2", "cam1", "present", trends_at(30), 1),
        DeskSample(trends_at(60), "cc-chaoyang", "w2", "cam1", "present", trends_at(30), 1),
        HealthSample(trends_at(0), "cc-chaoyang", "cam1", "live", 10.0, trends_at(0), 0, None),
        HealthSample(trends_at(30), "cc-chaoyang", "cam1", "offline", 0.0, trends_at(0), 1, "timeout"),
        HealthSample(trends_at(60), "cc-chaoyang", "cam1", "live", 10.0, trends_at(60), 1, None),
        ZoneSample(trends_at(0), "cc-nanguan", "q1", "cam1", "queue", 50),  # another hall: never mixed in
    ]
    with pool.connection() as conn:
        insert_samples(conn, samples)
        conn.execute(
            "INSERT INTO wait_sample (ts, hall_id, zone_id, camera_id, served, dwell_p50_s, dwell_p90_s, littles_s,"
            " mean_queue) VALUES (%s, 'cc-chaoyang', 'q1', 'cam1', 3, 60, 120, 80, 3),"
            " (%s, 'cc-chaoyang', 'q1', 'cam1', 2, NULL, NULL, 90, 6)", (trends_at(0), trends_at(60)))
        conn.execute(
            "INSERT INTO complaint (hall_id, window_id, channel, category, summary, contact_name, contact_phone,"
            " received_at, assign_due_at, resolve_due_at) VALUES ('cc-chaoyang', 'w1', 'hotline', 'delay', 'slow',"
            " 'Zhang San', '13800000000', %s, %s, %s)", (trends_at(600), trends_at(90000), trends_at(500000)))
        row = conn.execute(
            "INSERT INTO inspection (kind, hall_id, planned_at, inspector, covert, status, carried_out_at)"
            " VALUES ('secret_shopper', 'cc-chaoyang', %s, 'shopper', true, 'carried_out', %s) RETURNING id",
            (trends_at(1200), trends_at(1200))).fetchone()
        assert row is not None
        conn.execute("INSERT INTO finding (inspection_id, window_id, category, severity, description)"
                     " VALUES (%s, 'w2', 'attitude', 'medium', 'ignored a citizen')", (row[0],))


# -- a covert visit, for the tests that look for any trace of it where its hall looks

HALL = "cc-nanguan"
BUS = Path(str(metadata.distribution("ultralytics").locate_file("ultralytics/assets/bus.jpg")))


@pytest.fixture
def covert(app, pool: ConnectionPool) -> dict[str, Any]:
    """A covert visit of cc-nanguan and everything that could betray it. Nanguan's hall-scoped users of every
    role (its admin among them), the province admin, the city admin and
    inspector; over a hundred rows nanguan may see (complaints, a user its admin made), then a covert secret
    shopper visit of nanguan: planned, viewed, a finding, evidence viewed unblurred, scored, a case made and
    changed; and a second covert plan, cancelled."""
    for name, role, scope in [("root", "admin", "province"), ("cityadm", "admin", "city/cc"),
                              ("insp", "inspector", "city/cc"),
                              *[(f"ng-{r.value}", r.value, f"hall/{HALL}") for r in Role]]:
        add_user(pool, name, role, scope)
    root, insp = api_client(app, "root"), api_client(app, "insp")
    template = root.post("/api/v1/checklists", json={"name": "Window service", "items": [
        {"text": "Officer at the window", "weight": 1}]}).json()["id"]
    csv = "received_at,hall_id,channel,category,summary\n" + "".join(
        f"2026-03-01T09:{n % 60:02d}:00+08:00,{HALL},hotline,delay,waited {n}\n" for n in range(110))
    imported = root.post("/api/v1/complaints/import", files={"file": ("hotline.csv", csv.encode(), "text/csv")})
    assert len(imported.json()["imported"]) == 110
    made = api_client(app, f"ng-{Role.admin.value}").post("/api/v1/users", json={
        "name": "ng-new", "role": "hall_staff", "scope": f"hall/{HALL}", "password": "a good long password"})
    assert made.status_code == 201

    iid = plan(insp, HALL, covert=True, template_id=template, inspector="SHOPPER-X")
    assert insp.get(f"/api/v1/inspections/{iid}").status_code == 200
    finding = insp.post(f"/api/v1/inspections/{iid}/findings", json={
        "category": "error", "severity": "high", "description": "SECRET-FINDING fee overcharged"}).json()["id"]
    evidence = insp.post(f"/api/v1/inspections/{iid}/evidence",
                         files={"photo": ("bus.jpg", BUS.read_bytes(), "image/jpeg")}).json()["id"]
    assert insp.get(f"/api/v1/evidence/{evidence}").status_code == 200
    visit = insp.post(f"/api/v1/inspections/{iid}/visit", json={
        "carried_out_at": datetime.now(UTC).isoformat(), "scores": {"1": 0.25}})
    assert visit.status_code == 200 and visit.json()["score"] == 25.0
    case = insp.post("/api/v1/cases", json={"source_kind": "finding", "source_ref": str(finding),
                                            "title": "SECRET-CASE fee overcharged"}).json()["id"]
    assert insp.patch(f"/api/v1/cases/{case}", json={
        "due_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()}).status_code == 200
    cancelled = plan(insp, HALL, covert=True, kind="spot_check")
    assert insp.post(f"/api/v1/inspections/{cancelled}/status", json={"to": "cancelled"}).status_code == 200
    assert insp.get("/api/v1/inspections").status_code == 200   # a list showing the covert plan
    actions = {"inspection.plan", "inspection.view_covert", "finding.create", "evidence.create",
               "evidence.view_unblurred", "inspection.record_visit", "case.create", "case.update",
               "inspection.cancelled"}
    with pool.connection() as conn:
        logged = {r[0] for r in conn.execute("SELECT action FROM audit_log WHERE user_name = 'insp'")}
    assert logged >= actions
    subjects = [f"inspection/{iid}", f"inspection/{cancelled}", f"finding/{finding}", f"evidence/{evidence}",
                f"case/{case}"]
    return {"iid": iid, "subjects": subjects, "actions": sorted(actions)}


def traces(covert: dict[str, Any]) -> list[str]:
    """What would betray the covert visits in a response: their subjects, ids in details, titles, texts."""
    return [*covert["subjects"], f'"inspection": {covert["iid"]}', f'"inspection":{covert["iid"]}',
            "SECRET-", "SHOPPER-X", "secret_shopper", "view_covert", "record_visit", "finding.create", "evidence.",
            "case.", "inspection.plan", "inspection.cancelled", "list_covert", "inspection/list"]


def assert_no_trace(text: str, covert: dict[str, Any], who: str) -> None:
    found = [t for t in traces(covert) if t in text]
    assert not found, (who, found)
