"""Complaints against a real PostgreSQL: workflow rules, SLA overdue flags, masking, scope, CSV import."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg_pool import ConnectionPool

from storage.records.common import mask_name, mask_phone
from tests.fix_auth import add_user, api_client


@pytest.mark.parametrize(("phone", "expected"), [
    ("13812345678", "138****5678"), ("0431-8888", "043**8888"), ("12", "12"), ("123", "*23"), ("", ""),
])
def test_mask_phone(phone: str, expected: str) -> None:
    assert mask_phone(phone) == expected


def test_mask_name() -> None:
    assert mask_name("张三丰") == "张**" and mask_name("Smith") == "S****" and mask_name("") == ""


def complaint(hall: str = "cc-nanguan", **extra: object) -> dict:
    return {"hall_id": hall, "window_id": "w1", "channel": "hotline", "category": "attitude",
            "summary": "The officer at window 1 was rude.", "contact_name": "张三丰",
            "contact_phone": "13812345678", "responsible_officer": "Li Wei", **extra}


def test_workflow_enforced(app, pool: ConnectionPool) -> None:
    add_user(pool, "desk", "complaints_officer", "city/cc")
    add_user(pool, "handler", "manager", "hall/cc-nanguan")
    client = api_client(app, "desk")
    created = client.post("/api/v1/complaints", json=complaint())
    assert created.status_code == 201, created.text
    body = created.json()
    cid = body["id"]
    assert body["status"] == "received" and body["overdue"] is False
    assert body["contact_phone"] == "13812345678"  # the complaints desk sees the contact

    def move(to: str, **extra: object):
        return client.post(f"/api/v1/complaints/{cid}/transition", json={"to": to, **extra})

    assert move("resolved", resolution="x", upheld=True).status_code == 409    # skipping steps
    assert move("assigned").status_code == 409                                 # nobody named
    assert move("assigned", assignee="ghost").status_code == 409
    assert move("assigned", assignee="handler").json()["assignee"] == "handler"
    assert move("in_progress").status_code == 200
    assert move("resolved").status_code == 409                                 # no resolution
    resolved = move("resolved", resolution="apologised; officer retrained", upheld=True)
    assert resolved.status_code == 200 and resolved.json()["upheld"] is True
    assert move("closed").json()["status"] == "closed"
    final = move("in_progress")
    assert final.status_code == 409 and "closed" in final.json()["detail"]
    steps = client.get(f"/api/v1/complaints/{cid}").json()["steps"]
    assert [s["to_status"] for s in steps] == ["received", "assigned", "in_progress", "resolved", "closed"]

    other = client.post("/api/v1/complaints", json=complaint()).json()["id"]
    no_reason = client.post(f"/api/v1/complaints/{other}/transition", json={"to": "rejected"})
    assert no_reason.status_code == 409 and "reason" in no_reason.json()["detail"]
    rejected = client.post(f"/api/v1/complaints/{other}/transition",
                           json={"to": "rejected", "reason": "not about our hall"})
    assert rejected.json()["status"] == "rejected" and rejected.json()["reject_reason"] == "not about our hall"
    with pool.connection() as conn:
        actions = [r[0] for r in conn.execute(
            "SELECT action FROM audit_log WHERE subject = %s AND action <> 'complaint.view_contact' ORDER BY id",
            (f"complaint/{cid}",))]
    assert actions == ["complaint.create"] + ["complaint.transition"] * 4


def test_overdue_flags_and_filters(app, pool: ConnectionPool) -> None:
    add_user(pool, "desk", "complaints_officer")
    client = api_client(app, "desk")
    now = datetime.now(UTC)
    late = client.post("/api/v1/complaints", json=complaint(received_at=(now - timedelta(hours=30)).isoformat()))
    fresh = client.post("/api/v1/complaints", json=complaint("jlc-chuanying", window_id=None, channel="letter"))
    assert late.json()["overdue"] is True and fresh.json()["overdue"] is False
    overdue = client.get("/api/v1/complaints", params={"overdue": "true"}).json()
    assert [c["id"] for c in overdue["data"]] == [late.json()["id"]] and overdue["count"] == 1
    letters = client.get("/api/v1/complaints", params={"channel": "letter"}).json()
    assert [c["id"] for c in letters["data"]] == [fresh.json()["id"]]
    page = client.get("/api/v1/complaints", params={"limit": 1}).json()
    assert page["count"] == 2 and len(page["data"]) == 1 and page["limit"] == 1


def test_lists_mask_contacts_and_respect_scope(app, pool: ConnectionPool) -> None:
    add_user(pool, "desk", "complaints_officer")
    add_user(pool, "staff", "hall_staff", "hall/cc-nanguan")
    desk = api_client(app, "desk")
    mine = desk.post("/api/v1/complaints", json=complaint()).json()["id"]
    elsewhere = desk.post("/api/v1/complaints", json=complaint("cc-chaoyang")).json()["id"]
    staff = api_client(app, "staff")
    listed = staff.get("/api/v1/complaints").json()
    assert [c["id"] for c in listed["data"]] == [mine]
    assert listed["data"][0]["contact_phone"] == "138****5678" and listed["data"][0]["contact_name"] == "张**"
    assert staff.get(f"/api/v1/complaints/{mine}").json()["contact_phone"] == "138****5678"
    assert staff.get(f"/api/v1/complaints/{elsewhere}").status_code == 404
    assert staff.get("/api/v1/complaints", params={"hall_id": "cc-chaoyang"}).status_code == 403
    assert staff.get("/api/v1/complaints", params={"city_id": "jlc"}).status_code == 403
    assert staff.post("/api/v1/complaints", json=complaint()).status_code == 403
    assert desk.get("/api/v1/complaints").json()["data"][0]["contact_phone"] == "138****5678"


def test_create_validation_names_the_field(app, pool: ConnectionPool) -> None:
    add_user(pool, "desk", "complaints_officer", "city/cc")
    client = api_client(app, "desk")
    bad = client.post("/api/v1/complaints", json=complaint(channel="pigeon"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "channel"]
    naive = client.post("/api/v1/complaints", json=complaint(received_at="2026-03-01T10:00:00"))
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["body", "received_at"]
    window = client.post("/api/v1/complaints", json=complaint(window_id="w9"))
    assert window.status_code == 422 and window.json()["detail"][0]["loc"] == ["body", "window_id"]
    outside = client.post("/api/v1/complaints", json=complaint("jlc-chuanying", window_id=None))
    assert outside.status_code == 403


CSV = """external_ref,received_at,hall_id,window_id,channel,category,summary,contact_name,contact_phone
H-1,2026-03-01T09:00:00+08:00,cc-nanguan,w1,hotline,delay,Waited two hours,王五,13900001111
H-2,2026-03-01T09:05:00+08:00,cc-nanguan,w9,hotline,delay,Wrong window,赵六,13900002222
H-3,yesterday,cc-nanguan,,hotline,delay,Bad date,,
H-4,2026-03-01T09:10:00+08:00,nowhere,,web,error,Unknown hall,,
H-5,2026-03-01T09:20:00+08:00,cc-chaoyang,,letter,pigeon,Bad category,,
H-6,2026-03-01T09:30:00+08:00,cc-chaoyang,w2,in_person,error,Wrong fee charged,钱七,0431-5555
H-1,2026-03-01T09:00:00+08:00,cc-nanguan,w1,hotline,delay,Waited two hours,王五,13900001111
"""


def test_csv_import_reports_bad_lines_and_keeps_good_rows(app, pool: ConnectionPool) -> None:
    add_user(pool, "desk", "complaints_officer")
    client = api_client(app, "desk")
    response = client.post("/api/v1/complaints/import", files={"file": ("hotline.csv", CSV.encode(), "text/csv")})
    assert response.status_code == 200, response.text
    result = response.json()
    assert len(result["imported"]) == 2 and result["duplicate_lines"] == [8]
    errors = {e["line"]: e["error"] for e in result["errors"]}
    assert sorted(errors) == [3, 4, 5, 6]
    assert "no window 'w9'" in errors[3] and "received_at" in errors[4] and "no hall 'nowhere'" in errors[5]
    assert "category" in errors[6]
    listed = client.get("/api/v1/complaints").json()["data"]
    assert sorted(c["external_ref"] for c in listed) == ["H-1", "H-6"]
    again = client.post("/api/v1/complaints/import", files={"file": ("hotline.csv", CSV.encode(), "text/csv")})
    assert again.json()["imported"] == [] and again.json()["duplicate_lines"] == [2, 7, 8]
    header = client.post("/api/v1/complaints/import", files={"file": ("x.csv", b"hall,what\nx,y\n", "text/csv")})
    assert header.json()["errors"][0]["line"] == 1 and "missing columns" in header.json()["errors"][0]["error"]
    binary = client.post("/api/v1/complaints/import", files={"file": ("x.csv", b"\xff\xfe\x00", "text/csv")})
    assert binary.status_code == 422 and binary.json()["detail"][0]["loc"] == ["body", "file"]
