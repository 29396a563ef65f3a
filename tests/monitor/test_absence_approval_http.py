"""Excuses after the fact need approval from above the hall, through the web app against a real PostgreSQL:
the absences API and page show each absence's approval, `POST /api/v1/absences/{id}/approve` and the page's
Approve button work for a manager above the hall only, and only then does the absence excuse an unstaffed
window in the alerts and the scorecards. One flow in headless Chromium."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from psycopg_pool import ConnectionPool

from storage.records.officers import create_officer
from storage.records.rosters import Shift, add_shift
from tests.fix_auth import add_user, api_client, browser_login, page_login
from tests.fix_records import unstaffed
from tests.fix_web import ARTIFACTS

HALL = "cc-nanguan"  # in city cc
TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 2)  # a Monday long past: an absence recorded about it now is after the fact
STARTS, ENDS = datetime.combine(DAY, time(11), TZ), datetime.combine(DAY, time(12), TZ)
PENDING = "pending approval</span> — entered after it began"


@pytest.fixture
def hall(pool: ConnectionPool) -> int:
    """Users in, at and beside the hall; Li Wei alone at w1 09:00-12:00 on DAY, the window unstaffed 11:10-11:20
    while people waited. Li Wei's id."""
    for name, role, scope in [("staff", "hall_staff", f"hall/{HALL}"), ("hallboss", "manager", f"hall/{HALL}"),
                              ("cityboss", "manager", "city/cc"), ("jlcboss", "manager", "city/jlc"),
                              ("insp", "inspector", "province")]:
        add_user(pool, name, role, scope)
    with pool.connection() as conn:
        officer = create_officer(conn, hall_id=HALL, badge="A1", name="Li Wei")
        add_shift(conn, Shift(HALL, "w1", officer, time(9), time(12), on_date=DAY))
        unstaffed(conn, "w1", datetime.combine(DAY, time(11, 10), TZ), datetime.combine(DAY, time(11, 20), TZ))
    return officer


def training(officer: int, starts: datetime = STARTS, ends: datetime = ENDS) -> dict[str, object]:
    return {"hall_id": HALL, "officer_id": officer, "reason": "training", "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(), "note": "first aid"}


def w1_unstaffed(app) -> tuple[tuple[int, int], bool]:
    """w1's (unstaffed, unstaffed_excused) in November's scorecards, and whether its alert is excused."""
    boss = api_client(app, "cityboss")
    rows = boss.get("/api/v1/scorecards", params={"month": "2026-11", "level": "window", "hall_id": HALL}).json()
    (w1,) = [r for r in rows["data"] if r["window_id"] == "w1"]
    (alert,) = boss.get("/api/v1/alerts", params={"hall_id": HALL, "kind": "unstaffed_while_waiting"}).json()["data"]
    return (w1["unstaffed"], w1["unstaffed_excused"]), alert["excused_by"] is not None


def test_api_shows_the_approval_and_only_a_manager_above_the_hall_approves(app, pool: ConnectionPool,
                                                                           hall: int) -> None:
    staff, hallboss, cityboss = api_client(app, "staff"), api_client(app, "hallboss"), api_client(app, "cityboss")
    recorded = staff.post("/api/v1/absences", json=training(hall))
    assert recorded.status_code == 201, recorded.text
    absence = recorded.json()
    assert (absence["approval"], absence["approved_at"], absence["approved_by"]) == ("pending", None, None)
    assert w1_unstaffed(app) == ((1, 0), False)

    tomorrow = datetime.now(TZ) + timedelta(days=1)
    planned = staff.post("/api/v1/absences", json=training(hall, tomorrow, tomorrow + timedelta(hours=2))).json()
    assert (planned["approval"], planned["approved_by"]) == ("approved", None) and planned["approved_at"]
    above = cityboss.post("/api/v1/absences", json=training(hall) | {"officer_id": None, "window_id": "w2"}).json()
    assert (above["approval"], above["approved_by"]) == ("approved", "cityboss")
    listed = cityboss.get("/api/v1/absences", params={"approval": "pending"}).json()
    assert [a["id"] for a in listed["data"]] == [absence["id"]] and listed["count"] == 1

    url = f"/api/v1/absences/{absence['id']}/approve"
    assert staff.post(url).status_code == 403
    assert api_client(app, "insp").post(url).status_code == 403
    own = hallboss.post(url)
    assert own.status_code == 403 and "the hall may not approve its own absences" in own.json()["detail"]
    assert api_client(app, "jlcboss").post(url).status_code == 404
    assert cityboss.post("/api/v1/absences/999999/approve").status_code == 404
    assert staff.get("/api/v1/absences", params={"approval": "pending"}).json()["count"] == 1
    assert w1_unstaffed(app) == ((1, 0), False)

    approved = cityboss.post(url)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["approval"], approved.json()["approved_by"]) == ("approved", "cityboss")
    assert staff.get("/api/v1/absences", params={"approval": "pending"}).json()["count"] == 0
    assert w1_unstaffed(app) == ((0, 1), True)
    with pool.connection() as conn:
        rows = conn.execute("SELECT user_name, subject FROM audit_log WHERE action = 'absence.approve'").fetchall()
    assert rows == [("cityboss", f"absence/{absence['id']}")]


def test_page_shows_the_approval_and_the_approve_button_to_those_who_may(app, hall: int) -> None:
    absence = api_client(app, "staff").post("/api/v1/absences", json=training(hall)).json()
    form = f'action="/absences/{absence["id"]}/approve"'
    staff, hallboss, cityboss = (browser_login(app, n) for n in ("staff", "hallboss", "cityboss"))

    for client in (staff, hallboss, cityboss):
        page = client.get("/absences", params={"hall_id": HALL, "approval": ""}).text  # approval: any
        row = page[page.index(f'data-absence="{absence["id"]}"'):]
        row = row[:row.index("</tr>")]
        assert 'data-approval="pending"' in row and PENDING in row
        assert (form in row) == (client is cityboss)
    assert cityboss.get("/absences", params={"approval": "approved"}).text.count("data-absence=") == 0

    for client in (staff, hallboss):
        refused = client.post(f"/absences/{absence['id']}/approve", data={"csrf_token": client.csrf})
        assert refused.status_code == 403
    done = cityboss.post(f"/absences/{absence['id']}/approve", data={"csrf_token": cityboss.csrf})
    assert (done.status_code, done.headers["location"]) == (303, f"/absences?hall_id={HALL}")
    page = staff.get("/absences", params={"hall_id": HALL}).text
    row = page[page.index(f'data-absence="{absence["id"]}"'):]
    row = row[:row.index("</tr>")]
    assert 'data-approval="approved"' in row and re.search(r"approved</span> by cityboss, 2\d{3}-", row)
    assert PENDING not in row and "/approve" not in cityboss.get("/absences").text


def test_the_hall_records_an_excuse_and_the_city_approves_it_in_a_browser(pool: ConnectionPool, served: str,
                                                                          browser, hall: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    staff = browser.new_context().new_page()
    page_login(staff, served, "/absences", "staff")
    form = staff.locator("#add-absence")
    form.locator("select[name=officer_id]").select_option(label=f"Li Wei (A1, {HALL})")
    form.locator("select[name=reason]").select_option("training")
    form.locator("input[name=starts_at]").fill(f"{DAY.isoformat()}T11:00")
    form.locator("input[name=ends_at]").fill(f"{DAY.isoformat()}T12:00")
    form.locator("button[type=submit]").click()
    staff.wait_for_selector("#absences tr[data-approval=pending]")
    row = staff.locator("#absences tr[data-absence]")
    assert "pending approval — entered after it began" in row.inner_text()
    assert row.locator("button", has_text="Approve").count() == 0

    boss = browser.new_context().new_page()
    page_login(boss, served, "/absences", "cityboss")
    boss.screenshot(path=str(ARTIFACTS / "absences-pending.png"), full_page=True)
    boss.locator("#absences tr[data-approval=pending] button", has_text="Approve").click()
    boss.wait_for_selector("#absences tr[data-approval=approved]")
    assert "approved by cityboss" in boss.locator("#absences tr[data-absence]").inner_text()
    boss.screenshot(path=str(ARTIFACTS / "absences-approved.png"), full_page=True)
    staff.reload()
    assert staff.locator("#absences tr[data-approval=approved]").count() == 1
