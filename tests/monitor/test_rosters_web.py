"""Officers, roster, absences and scorecards through the web app against a real PostgreSQL: the API with
its 422s naming the field, roles and scope, the audit trail, and one page flow in headless Chromium."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from PIL import Image
from psycopg_pool import ConnectionPool

from pipeline.rows import DeskSample
from storage.auth.model import Role
from storage.samples import insert_samples
from tests.fix_auth import PASSWORD, add_user, api_client, browser_login
from tests.fix_records import unstaffed
from tests.fix_web import ARTIFACTS, fuzz_api

TZ = ZoneInfo("Asia/Shanghai")
TODAY = datetime.now(TZ).date()
MONDAY = TODAY - timedelta(days=TODAY.weekday() + 7)  # last week: every slot has begun


def audit_actions(pool: ConnectionPool) -> list[tuple[str, str, str]]:
    """The roster area's audit rows (not logins and tokens), oldest first."""
    with pool.connection() as conn:
        rows = conn.execute("SELECT user_name, action, subject FROM audit_log WHERE split_part(action, '.', 1)"
                            " IN ('officer', 'shift', 'roster', 'absence') ORDER BY id")
        return [(r[0], r[1], r[2]) for r in rows]


def field_of(response) -> str:
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"][-1]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def test_officers_api_roles_scope_and_photo(app, pool: ConnectionPool) -> None:
    add_user(pool, "boss", "manager")
    add_user(pool, "chaoyang-mgr", "manager", "hall/cc-chaoyang")
    add_user(pool, "staff", "hall_staff", "hall/cc-nanguan")
    boss, local_mgr, staff = api_client(app, "boss"), api_client(app, "chaoyang-mgr"), api_client(app, "staff")

    created = boss.post("/api/v1/officers", json={"hall_id": "cc-nanguan", "badge": "JL0001", "name": "Li Wei"})
    assert created.status_code == 201, created.text
    officer = created.json()
    assert officer["badge"] == "JL0001" and officer["has_photo"] is False
    assert field_of(boss.post("/api/v1/officers", json={"hall_id": "cc-nanguan", "badge": "JL 1", "name": "X"})) \
        == "badge"
    assert field_of(boss.post("/api/v1/officers", json={"hall_id": "nowhere", "badge": "JL2", "name": "X"})) \
        == "hall_id"
    assert field_of(boss.post("/api/v1/officers", json={"hall_id": "cc-nanguan", "badge": "JL0001",
                                                       "name": "Again"})) == "badge"
    assert staff.post("/api/v1/officers", json={"hall_id": "cc-nanguan", "badge": "JL3", "name": "X"}).status_code \
        == 403
    assert local_mgr.post("/api/v1/officers", json={"hall_id": "cc-nanguan", "badge": "JL3",
                                                    "name": "X"}).status_code == 403

    assert staff.get(f"/api/v1/officers/{officer['id']}").json()["name"] == "Li Wei"
    assert local_mgr.get(f"/api/v1/officers/{officer['id']}").status_code == 404
    assert local_mgr.get("/api/v1/officers").json()["count"] == 0
    assert local_mgr.get("/api/v1/officers", params={"hall_id": "cc-nanguan"}).status_code == 403
    listed = boss.get("/api/v1/officers", params={"q": "li", "limit": 1}).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == officer["id"]

    bad = boss.put(f"/api/v1/officers/{officer['id']}/photo", files={"photo": ("x.gif", b"GIF89a", "image/gif")})
    assert field_of(bad) == "photo"
    uploaded = boss.put(f"/api/v1/officers/{officer['id']}/photo", files={"photo": ("p.png", png(), "image/png")})
    assert uploaded.status_code == 200 and uploaded.json()["has_photo"] is True
    photo = staff.get(f"/api/v1/officers/{officer['id']}/photo")
    assert photo.status_code == 200 and photo.content == png() and photo.headers["content-type"] == "image/png"
    assert local_mgr.get(f"/api/v1/officers/{officer['id']}/photo").status_code == 404
    assert boss.patch(f"/api/v1/officers/{officer['id']}", json={"active": False}).json()["active"] is False
    assert [a for _, a, _ in audit_actions(pool) if a.startswith("officer.")] == [
        "officer.create", "officer.photo", "officer.update"]


def test_shifts_absences_and_week_presence(app, pool: ConnectionPool) -> None:
    add_user(pool, "boss", "manager")
    add_user(pool, "staff", "hall_staff", "hall/cc-nanguan")
    add_user(pool, "other-staff", "hall_staff", "hall/cc-chaoyang")
    boss, staff, other = api_client(app, "boss"), api_client(app, "staff"), api_client(app, "other-staff")
    officer = boss.post("/api/v1/officers", json={"hall_id": "cc-nanguan", "badge": "A1", "name": "Li Wei"}).json()
    elsewhere = boss.post("/api/v1/officers", json={"hall_id": "cc-chaoyang", "badge": "B1", "name": "Wu"}).json()
    shift = {"hall_id": "cc-nanguan", "window_id": "w1", "officer_id": officer["id"], "weekday": 1,
             "starts": "09:00", "ends": "10:00"}
    created = boss.post("/api/v1/shifts", json=shift)
    assert created.status_code == 201, created.text
    assert boss.post("/api/v1/shifts", json=shift).status_code == 409
    for change, field in [({"on_date": "2026-12-01"}, "weekday"), ({"ends": "09:00"}, "ends"),
                          ({"officer_id": elsewhere["id"]}, "officer_id"), ({"window_id": "w9"}, "window_id"),
                          ({"weekday": 8}, "weekday"), ({"starts": "25:00"}, "starts"),
                          ({"valid_from": "2026-12-02", "valid_to": "2026-12-01"}, "valid_to")]:
        assert field_of(boss.post("/api/v1/shifts", json=shift | change)) == field, change
    assert staff.post("/api/v1/shifts", json=shift | {"starts": "11:00"}).status_code == 403
    assert boss.get("/api/v1/shifts", params={"hall_id": "cc-nanguan"}).json()["count"] == 1

    # Monday 09:00-10:00: present for 40 minutes, absent for 20 (the last 10 of them excused)
    start = datetime.combine(MONDAY, datetime.min.time().replace(hour=9), TZ).astimezone(UTC)
    with pool.connection() as conn:
        insert_samples(conn, [DeskSample(start + timedelta(seconds=s), "cc-nanguan", "w1", "cam1",
                                         "present" if s < 2400 else "absent", start, 1) for s in range(0, 3600, 2)])
    absence = {"hall_id": "cc-nanguan", "officer_id": officer["id"], "reason": "leader_duty",
               "starts_at": (start + timedelta(minutes=50)).isoformat(),
               "ends_at": (start + timedelta(minutes=70)).isoformat(), "note": "duty leader"}
    assert field_of(staff.post("/api/v1/absences", json=absence | {"reason": "holiday"})) == "reason"
    assert field_of(staff.post("/api/v1/absences", json=absence | {"starts_at": "2026-11-30T09:00"})) == "starts_at"
    assert field_of(staff.post("/api/v1/absences", json=absence | {"ends_at": absence["starts_at"]})) == "ends_at"
    assert field_of(staff.post("/api/v1/absences", json=absence | {"officer_id": elsewhere["id"]})) == "officer_id"
    assert other.post("/api/v1/absences", json=absence).status_code == 403
    recorded = staff.post("/api/v1/absences", json=absence)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["approval"] == "pending"  # the hall's excuse after the fact waits for approval
    assert boss.post(f"/api/v1/absences/{recorded.json()['id']}/approve").status_code == 200
    assert recorded.json()["recorded_by"] == "staff" and recorded.json()["officer_name"] == "Li Wei"
    assert other.get("/api/v1/absences").json()["count"] == 0

    week = staff.get("/api/v1/rosters/week", params={"hall_id": "cc-nanguan", "week": MONDAY.isoformat()}).json()
    assert [(s["day"], s["window_id"], s["officer_name"]) for s in week["slots"]] == [
        (MONDAY.isoformat(), "w1", "Li Wei")]
    presence = week["slots"][0]["presence"]
    assert (presence["present_s"], presence["absent_s"], presence["excused_s"], presence["unknown_s"]) == (
        2400, 600, 600, 0)
    assert presence["presence"] == 0.8
    assert other.get("/api/v1/rosters/week", params={"hall_id": "cc-nanguan"}).status_code == 403
    assert field_of(boss.get("/api/v1/rosters/week", params={"hall_id": "nowhere"})) == "hall_id"
    assert field_of(boss.get("/api/v1/rosters/week", params={"hall_id": "cc-nanguan", "week": "0001-01-01"})) == "week"
    assert field_of(staff.post("/api/v1/absences", json=absence | {"starts_at": "0001-01-01T00:00:00+14:00"})) \
        == "starts_at"

    assert staff.delete(f"/api/v1/absences/{recorded.json()['id']}").status_code == 204
    assert boss.delete(f"/api/v1/shifts/{created.json()['id']}").status_code == 204
    assert boss.delete(f"/api/v1/shifts/{created.json()['id']}").status_code == 404
    actions = [(who, action) for who, action, _ in audit_actions(pool) if not action.startswith("officer.")]
    assert actions == [("boss", "shift.create"), ("staff", "absence.excuse"), ("boss", "absence.approve"),
                       ("staff", "absence.withdraw"), ("boss", "shift.delete")]


CSV = """hall,window,badge,name,days,start,end
cc-nanguan,w1,JL0001,Li Wei,mon-fri,08:30,12:00
cc-nanguan,w2,JL0002,Wang Fang,sat sun,9:00,15:00
cc-nanguan,w2,JL0002,,tue,08:00,
cc-chaoyang,w1,JL0009,Wu Ming,mon,08:00,12:00
"""


def test_roster_upload_api(app, pool: ConnectionPool) -> None:
    add_user(pool, "nanguan-mgr", "manager", "hall/cc-nanguan")
    client = api_client(app, "nanguan-mgr")
    result = client.post("/api/v1/rosters/import", files={"file": ("roster.csv", CSV.encode(), "text/csv")}).json()
    assert (result["shifts_added"], result["officers_added"]) == (7, 2)
    assert result["errors"] == [{"line": 4, "error": "end is empty"},
                                {"line": 5, "error": "hall 'cc-chaoyang' is outside your scope"}]
    binary = client.post("/api/v1/rosters/import", files={"file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")})
    assert field_of(binary) == "file"
    assert ("nanguan-mgr", "roster.import", "roster/roster.csv") in audit_actions(pool)


def test_scorecards_api_levels_and_scope(app, pool: ConnectionPool) -> None:
    add_user(pool, "boss", "manager")
    add_user(pool, "chaoyang-staff", "hall_staff", "hall/cc-chaoyang")
    boss, staff = api_client(app, "boss"), api_client(app, "chaoyang-staff")
    month = MONDAY.strftime("%Y-%m")
    with pool.connection() as conn:
        conn.execute("INSERT INTO complaint (hall_id, window_id, channel, category, summary, received_at, status,"
                     " assign_due_at, resolve_due_at, resolution, upheld) VALUES ('cc-nanguan', 'w2', 'web',"
                     " 'attitude', 'rude', %(t)s, 'closed', %(t)s, %(t)s, 'checked', true)",
                     {"t": datetime.combine(MONDAY, datetime.min.time(), TZ) + timedelta(hours=10)})
    halls = boss.get("/api/v1/scorecards", params={"month": month, "level": "hall"}).json()
    assert [(r["hall_id"], r["complaints"], r["stars"]) for r in halls["data"]] == [
        ("cc-chaoyang", 0, 5), ("jlc-chuanying", 0, 5), ("cc-nanguan", 1, 5)]
    windows = boss.get("/api/v1/scorecards", params={"month": month, "level": "window",
                                                     "hall_id": "cc-nanguan"}).json()
    assert [r["window_id"] for r in windows["data"]][-1] == "w2" and windows["count"] == 3
    assert windows["data"][-1]["three_zeros"] is False and windows["data"][0]["three_zeros"] is True
    province = boss.get("/api/v1/scorecards", params={"month": month, "level": "province"}).json()
    assert province["data"][0]["windows"] == 6 and province["data"][0]["complaints"] == 1
    mine = staff.get("/api/v1/scorecards", params={"month": month, "level": "window"}).json()
    assert {r["hall_id"] for r in mine["data"]} == {"cc-chaoyang"}
    assert staff.get("/api/v1/scorecards", params={"hall_id": "cc-nanguan"}).status_code == 403
    assert staff.get("/api/v1/scorecards", params={"city_id": "jlc"}).status_code == 403
    assert field_of(boss.get("/api/v1/scorecards", params={"month": "2026-13"})) == "month"
    assert field_of(boss.get("/api/v1/scorecards", params={"level": "street"})) == "level"
    assert TestClient(app).get("/api/v1/scorecards").status_code == 401


def test_scorecards_show_unstaffed_events_and_those_excused(app, pool: ConnectionPool) -> None:
    add_user(pool, "boss", "manager")
    boss, month = api_client(app, "boss"), MONDAY.strftime("%Y-%m")
    at = datetime.combine(MONDAY, datetime.min.time(), TZ) + timedelta(hours=10)
    with pool.connection() as conn:
        conn.execute("INSERT INTO absence (hall_id, window_id, reason, starts_at, ends_at, approved_at) VALUES"
                     " ('cc-nanguan', 'w2', 'training', %s, %s, now())", (at, at + timedelta(hours=1)))
        for start in (at + timedelta(minutes=10), at + timedelta(hours=2)):  # inside the training, and after it
            unstaffed(conn, "w2", start, start + timedelta(minutes=5))
    windows = boss.get("/api/v1/scorecards", params={"month": month, "level": "window",
                                                     "hall_id": "cc-nanguan"}).json()["data"]
    assert {r["window_id"]: (r["unstaffed"], r["unstaffed_excused"]) for r in windows} == {
        "w1": (0, 0), "w2": (1, 1), "w3": (0, 0)}
    page = browser_login(app, "boss").get("/scorecards", params={"month": month, "level": "window"}).text
    row = page[page.index('data-unit="cc-nanguan/w2"'):]
    assert "(+1 excused)" in row[:row.index("</tr>")]


def test_pages_need_login_and_roles(app, pool: ConnectionPool) -> None:
    add_user(pool, "staff", "hall_staff", "hall/cc-nanguan")
    anonymous = TestClient(app, follow_redirects=False)
    for path in ("/officers", "/rosters", "/absences", "/scorecards"):
        assert anonymous.get(path).status_code == 303
    staff = browser_login(app, "staff")
    for path in ("/officers", "/rosters", "/absences", "/scorecards"):
        assert staff.get(path).status_code == 200, path
    assert staff.get("/officers/new").status_code == 403
    assert staff.get("/rosters", params={"hall_id": "cc-chaoyang"}).status_code == 403
    no_token = staff.post("/absences", data={"hall_id": "cc-nanguan", "reason": "leave",
                                             "starts_at": "2026-11-30T09:00", "ends_at": "2026-11-30T10:00",
                                             "window_id": "w1"})
    assert no_token.status_code == 403  # no CSRF token


def test_roster_flow_in_a_phone_browser(pool: ConnectionPool, served: str, browser, tmp_path) -> None:
    """A hall manager on a phone: adds an officer, puts them on the roster, uploads a CSV with a bad line,
    records an absence, and opens the scorecards."""
    add_user(pool, "mgr", "manager", "hall/cc-nanguan")
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(f"{served}/officers")
    page.fill("input[name=name]", "mgr")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{served}/officers")

    page.goto(f"{served}/officers/new")
    page.fill("input[name=badge]", "JL0100")
    page.fill("input[name=name]", "Chen Jing")
    page.click("form.form button[type=submit]")
    page.wait_for_url("**/officers/*")
    assert page.locator("h1").inner_text().startswith("Chen Jing")
    page.set_input_files("input[name=photo]", files=[{"name": "me.png", "mimeType": "image/png", "buffer": png()}])
    page.click("form[action$='/photo'] button[type=submit]")
    page.wait_for_selector("img[alt='photo of Chen Jing']")

    page.goto(f"{served}/rosters?hall_id=cc-nanguan&week={MONDAY.isoformat()}")
    form = page.locator("#add-shift")
    form.locator("select[name=window_id]").select_option("w2")
    form.locator("input[name=starts]").fill("13:30")
    form.locator("input[name=ends]").fill("17:00")
    form.locator("input[name=weekday][value='2']").check()
    form.locator("input[name=weekday][value='4']").check()
    form.locator("button[type=submit]").click()
    page.wait_for_selector(f"tr[data-window=w2] td[data-day='{(MONDAY + timedelta(days=3)).isoformat()}'] .slot")
    assert "Chen Jing" in page.locator(f"tr[data-window=w2] td[data-day='{(MONDAY + timedelta(days=1)).isoformat()}']"
                                       ).inner_text()
    page.screenshot(path=str(ARTIFACTS / "rosters-week-phone.png"), full_page=True)

    csv_file = tmp_path / "roster.csv"
    csv_file.write_text("hall,window,badge,days,start,end\ncc-nanguan,w1,JL0100,mon,08:30,12:00\n"
                        "cc-nanguan,w1,JL0100,someday,08:30,12:00\n")
    page.goto(f"{served}/rosters/import")
    page.set_input_files("input[name=file]", str(csv_file))
    page.click("form.form button[type=submit]")
    page.wait_for_selector("#import-report")
    assert page.locator("li[data-line='3']").inner_text().startswith("line 3: days 'someday'")
    assert "1 shifts added" in page.locator("#import-report").inner_text().replace("\n", " ")

    page.goto(f"{served}/absences?hall_id=cc-nanguan")
    form = page.locator("#add-absence")
    form.locator("select[name=officer_id]").select_option(label="Chen Jing (JL0100, cc-nanguan)")
    form.locator("select[name=reason]").select_option("training")
    form.locator("input[name=starts_at]").fill(f"{MONDAY.isoformat()}T08:00")
    form.locator("input[name=ends_at]").fill(f"{MONDAY.isoformat()}T18:00")
    form.locator("input[name=note]").fill("provincial training")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#absences tr[data-absence]")
    assert "training" in page.locator("#absences tr[data-absence]").inner_text()
    page.screenshot(path=str(ARTIFACTS / "rosters-absences-phone.png"), full_page=True)

    page.goto(f"{served}/scorecards?level=window&month={MONDAY.strftime('%Y-%m')}")
    rows = page.locator("#league tbody tr[data-unit]")
    assert rows.count() == 3  # the manager's hall only
    assert page.locator("#league tr[data-unit='cc-nanguan/w1']").count() == 1
    page.screenshot(path=str(ARTIFACTS / "scorecards-phone.png"), full_page=True)
    with pool.connection() as conn:
        actions = {r[0] for r in conn.execute("SELECT action FROM audit_log WHERE user_name = 'mgr'")}
    assert {"officer.create", "officer.photo", "shift.create", "roster.import", "absence.excuse"} <= actions


# ---- role x route matrix ---------------------------------------------------------------------------------

ALL_ROLES = frozenset(Role)
ROSTER_WRITERS = frozenset({Role.admin, Role.manager})
ABSENCE_WRITERS = frozenset({Role.admin, Role.manager, Role.hall_staff})
POLICY = {
    "read_officers": ALL_ROLES, "read_officer": ALL_ROLES, "read_officer_photo": ALL_ROLES,
    "officers_page": ALL_ROLES, "officer_page": ALL_ROLES, "read_shifts": ALL_ROLES, "read_week": ALL_ROLES,
    "read_absences": ALL_ROLES, "roster_page": ALL_ROLES, "absences_page": ALL_ROLES,
    "read_scorecards": ALL_ROLES, "scorecards_page": ALL_ROLES,
    "create_officer": ROSTER_WRITERS, "update_officer": ROSTER_WRITERS, "upload_officer_photo": ROSTER_WRITERS,
    "new_officer_page": ROSTER_WRITERS, "create_officer_form": ROSTER_WRITERS, "update_officer_form": ROSTER_WRITERS,
    "upload_photo_form": ROSTER_WRITERS, "create_shift": ROSTER_WRITERS, "delete_shift": ROSTER_WRITERS,
    "import_roster": ROSTER_WRITERS, "create_shift_form": ROSTER_WRITERS, "delete_shift_form": ROSTER_WRITERS,
    "roster_import_page": ROSTER_WRITERS, "roster_import_form": ROSTER_WRITERS,
    "create_absence": ABSENCE_WRITERS, "delete_absence": ABSENCE_WRITERS, "create_absence_form": ABSENCE_WRITERS,
    "delete_absence_form": ABSENCE_WRITERS, "approve_absence": ROSTER_WRITERS, "approve_absence_form": ROSTER_WRITERS,
}
# Out of scope (a user of another hall): one record answers 404, a filter or a write naming the hall 403.
OUT_OF_SCOPE_404 = {"read_officer", "read_officer_photo", "officer_page", "update_officer", "upload_officer_photo",
                    "update_officer_form", "upload_photo_form", "delete_shift", "delete_shift_form",
                    "delete_absence", "delete_absence_form", "approve_absence", "approve_absence_form"}


def my_routes() -> list[tuple[str, str, str]]:
    from fastapi.routing import APIRoute

    import monitor.routes.officers
    import monitor.routes.rosters
    import monitor.routes.scorecards

    found = []
    for module in (monitor.routes.officers, monitor.routes.rosters, monitor.routes.scorecards):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            found += [(route.endpoint.__name__, m, route.path) for m in sorted(route.methods - {"HEAD"})]
    return found


def request_for(client: TestClient, endpoint: str, method: str, path: str, ids: dict[str, int], serial: int):
    """A well-formed request for `endpoint` about hall cc-nanguan; `serial` keeps created records apart."""
    url = path.format(**ids)
    week = MONDAY.isoformat()
    ends = f"{7 + serial // 60:02d}:{serial % 60:02d}"  # a different shift for every serial
    csv = f"hall,window,badge,days,start,end\ncc-nanguan,w1,S1,mon,05:00,{ends}\n".encode()
    hall = {"params": {"hall_id": "cc-nanguan"}}
    bodies = {
        "create_officer": {"json": {"hall_id": "cc-nanguan", "badge": f"M{serial}", "name": "New"}},
        "update_officer": {"json": {"name": "Renamed"}},
        "upload_officer_photo": {"files": {"photo": ("p.png", png(), "image/png")}},
        "upload_photo_form": {"files": {"photo": ("p.png", png(), "image/png")}},
        "create_officer_form": {"data": {"hall_id": "cc-nanguan", "badge": f"F{serial}", "name": "Form"}},
        "update_officer_form": {"data": {"name": "Renamed", "active": "true"}},
        "create_shift": {"json": {"hall_id": "cc-nanguan", "window_id": "w3", "officer_id": ids["officer_id"],
                                  "on_date": week, "starts": "06:00", "ends": ends}},
        "create_shift_form": {"data": {"hall_id": "cc-nanguan", "window_id": "w3", "officer_id": ids["officer_id"],
                                       "on_date": week, "starts": "05:00", "ends": ends}},
        "import_roster": {"files": {"file": ("r.csv", csv, "text/csv")}},
        "roster_import_form": {"files": {"file": ("r.csv", csv, "text/csv")}},
        "create_absence": {"json": {"hall_id": "cc-nanguan", "window_id": "w1", "reason": "leave",
                                    "starts_at": "2026-11-30T09:00:00+08:00", "ends_at": "2026-11-30T10:00:00+08:00"}},
        "create_absence_form": {"data": {"hall_id": "cc-nanguan", "window_id": "w1", "reason": "leave",
                                         "starts_at": "2026-11-30T09:00", "ends_at": "2026-11-30T10:00"}},
        "read_week": {"params": {"hall_id": "cc-nanguan", "week": week}},
        "roster_page": hall, "read_officers": hall, "officers_page": hall, "read_shifts": hall, "read_absences": hall,
        "absences_page": hall, "read_scorecards": hall, "scorecards_page": hall,
    }
    return client.request(method, url, **bodies.get(endpoint, {}))


def seed_records(app) -> dict[str, int]:
    seed = api_client(app, "seed")
    officer = seed.post("/api/v1/officers", json={"hall_id": "cc-nanguan", "badge": "S1", "name": "Seed"}).json()
    seed.put(f"/api/v1/officers/{officer['id']}/photo", files={"photo": ("p.png", png(), "image/png")})
    ids = {"officer_id": officer["id"], "shift_id": [], "absence_id": []}
    for minute in range(20):
        shift = seed.post("/api/v1/shifts", json={"hall_id": "cc-nanguan", "window_id": "w2", "weekday": 3,
                                                  "officer_id": officer["id"], "starts": "08:00",
                                                  "ends": f"09:{minute:02d}"})
        absence = seed.post("/api/v1/absences", json={
            "hall_id": "cc-nanguan", "officer_id": officer["id"], "reason": "training",
            "starts_at": f"2026-11-02T08:{minute:02d}:00+08:00", "ends_at": "2026-11-02T12:00:00+08:00"})
        ids["shift_id"].append(shift.json()["id"])
        ids["absence_id"].append(absence.json()["id"])
    return ids


# Routes about no hall in particular, and imports, whose rows outside the scope are reported as bad lines.
OUT_OF_SCOPE_ALLOWED = {"new_officer_page", "roster_import_page", "import_roster", "roster_import_form"}


def test_role_route_matrix(app, pool: ConnectionPool) -> None:
    add_user(pool, "seed", "admin")
    seeded = seed_records(app)
    routes = my_routes()
    assert {name for name, _, _ in routes} == set(POLICY), "every route has a policy"
    serials = itertools.count(1)
    deletions = iter(range(20))
    for role in Role:
        add_user(pool, f"p-{role.value}", role)
        add_user(pool, f"h-{role.value}", role, "hall/cc-chaoyang")
        inside, outside = api_client(app, f"p-{role.value}"), api_client(app, f"h-{role.value}")
        for name, method, path in routes:
            allowed = role in POLICY[name]
            n = next(deletions) if "delete" in name and allowed else 0
            ids = {"officer_id": seeded["officer_id"], "shift_id": seeded["shift_id"][n],
                   "absence_id": seeded["absence_id"][n]}
            if allowed:  # first from the other hall, while the record still exists
                response = request_for(outside, name, method, path, ids, next(serials))
                if name in OUT_OF_SCOPE_ALLOWED:
                    assert response.status_code == 200, (role, name, response.status_code)
                    assert method == "GET" or "outside your scope" in response.text
                else:
                    expected = 404 if name in OUT_OF_SCOPE_404 else 403
                    assert response.status_code == expected, (role, name, response.status_code, response.text)
            response = request_for(inside, name, method, path, ids, next(serials))
            if allowed:
                assert response.status_code < 400, (role, name, response.status_code, response.text)
            else:
                assert response.status_code == 403, (role, name, response.status_code)
    anonymous = TestClient(app, follow_redirects=False)
    ids = {"officer_id": seeded["officer_id"], "shift_id": seeded["shift_id"][0], "absence_id": seeded["absence_id"][0]}
    for name, method, path in routes:
        response = request_for(anonymous, name, method, path, ids, 0)
        assert response.status_code == (401 if path.startswith("/api/") else 303), (name, response.status_code)


def test_schemathesis_no_server_errors_on_roster_api(app, pool: ConnectionPool) -> None:
    """Generated (valid and invalid) requests to every officer, roster, absence and scorecard operation, by an
    admin: no 5xx, and every 422 names its field."""

    add_user(pool, "seed", "admin")
    seed_records(app)
    token = api_client(app, "seed").headers["Authorization"]
    checked = fuzz_api(app, token, prefixes=("/api/v1/officers", "/api/v1/shifts", "/api/v1/rosters",
                                          "/api/v1/absences", "/api/v1/scorecards"),
                       max_examples=30, field_errors_only=True)
    assert len(checked) == 16, checked
