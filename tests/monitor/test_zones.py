"""Cameras and zones edited in the browser (issue 15): the zone editor's API and page on a real site file (the
example's, comments and all) with the example's first hall served by the RTSP simulator; saving keeps the file
valid and its comments, refuses invalid zones naming the field, is audited and applied without a restart (the
running pipeline restarts only the changed camera); "test" runs the detector on the current frame; adding a
camera checks its URL live; only admins, inside their scope."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg_pool import ConnectionPool

from core.config import SiteConfig, load_site
from core.config.sitefile import SiteFile
from hallwatch.leases import LeaseKeeper
from hallwatch.service import SiteReloader, simulator_process
from models import load_detector
from monitor.app import create_app
from pipeline.loop import Pipeline
from storage.leases import lease_holders
from tests.fix_auth import add_user, api_client, page_login
from tests.fix_sites import EXAMPLE_SITE, free_port, site_with_port, write_site
from tests.fix_web import ARTIFACTS, serving

HALL, CAMERA = "cc-nanguan", "cam2"
ZONES = f"/api/v1/cameras/{HALL}/{CAMERA}/zones"
WAIT_MS = 30_000
QUEUE = {"id": "q9", "kind": "queue", "window": "w3", "limit": 5,
         "polygon": [[0.1, 0.55], [0.6, 0.55], [0.6, 0.98], [0.1, 0.98]]}


@pytest.fixture(scope="module")
def served_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The example site's first hall served by the simulator (the other halls' cameras are dead)."""
    tmp = tmp_path_factory.mktemp("zones-sim")
    port = free_port()
    raw = site_with_port(port)
    raw["halls"] = raw["halls"][:1]
    with simulator_process(write_site(tmp / "served.yaml", raw), tmp / "truth", seed=5):
        yield port


@pytest.fixture
def site_path(tmp_path: Path, served_port: int) -> Path:
    """The example site file as written by hand (with its comments), its cameras on the simulator's port."""
    path = tmp_path / "site.yaml"
    path.write_text(EXAMPLE_SITE.read_text().replace(":8554/", f":{served_port}/")
                    .replace("locale: zh_CN", "locale: en"))
    return path


@pytest.fixture
def zones_app(pool: ConnectionPool, site_path: Path):  # type: ignore[no-untyped-def]
    for name, role, scope in [("admin", "admin", "province"), ("jlcadmin", "admin", "city/jlc"),
                              ("operator", "center_operator", "province"), ("manager", "manager", "hall/cc-nanguan")]:
        add_user(pool, name, role, scope)
    app = create_app(load_site(site_path), pool)
    app.state.site_path = site_path
    return app


def _audited(pool: ConnectionPool) -> list[tuple[str, str, str]]:
    with pool.connection() as conn:
        rows = conn.execute("SELECT user_name, action, subject FROM audit_log WHERE action LIKE 'camera.%' ORDER BY id")
        return [(r[0], r[1], r[2]) for r in rows]


def _zone_ids(path: Path, ref: str = f"{HALL}/{CAMERA}") -> list[str]:
    return [z.id for z in load_site(path).find_camera(ref)[1].zones]


# -- the API -----------------------------------------------------------------------------------------------

def test_saved_zones_are_in_the_file_with_its_comments_and_live_in_the_app(zones_app, site_path: Path,
                                                                          pool: ConnectionPool) -> None:
    client = api_client(zones_app, "admin")
    before = site_path.read_text()

    def live_zones() -> list[str]:
        cameras = client.get("/api/v1/live/cameras").json()["data"]
        return [z["id"] for c in cameras if c["key"] == f"{HALL}/{CAMERA}" for z in c["zones"]]

    assert live_zones() == ["w3-desk", "q3"]  # the live wall is made, with the zones as they were
    shown = client.get(ZONES).json()
    assert [z["id"] for z in shown["zones"]] == ["w3-desk", "q3"]
    assert shown["windows"][2] == {"id": "w3", "name": "Window 3"} and "demo-secret" not in str(shown)
    assert shown["version"] == SiteFile.read(site_path).version
    zones = [shown["zones"][0], QUEUE]
    response = client.put(ZONES, json={"version": shown["version"], "zones": zones})
    assert response.status_code == 200, response.text
    assert [z["id"] for z in response.json()["zones"]] == ["w3-desk", "q9"]
    text = site_path.read_text()
    # Comments, the other cameras and the rest of the file are as they were; only cam2's queue changed.
    assert text.startswith(before[:before.index("halls:")])
    assert text.count("#") == before.count("#")
    assert [line for line in before.splitlines() if "q3" not in line] == \
        [line for line in text.splitlines() if "q9" not in line]
    assert "- {id: q9, kind: queue, window: w3, limit: 5, polygon: [[0.1, 0.55], [0.6, 0.55]" in text
    assert _zone_ids(site_path) == ["w3-desk", "q9"]
    # The web app uses the new zones at once (no restart), and the database knows the new zone.
    assert [z.id for z in zones_app.state.site.find_camera(f"{HALL}/{CAMERA}")[1].zones] == ["w3-desk", "q9"]
    assert live_zones() == ["w3-desk", "q9"]  # the live wall's overlays too
    with pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM zone WHERE hall_id = %s AND id = 'q9'", (HALL,)).fetchone()[0] == 1
    assert _audited(pool)[-1] == ("admin", "camera.zones_saved", f"camera/{HALL}/{CAMERA}")
    # A save made from the version before is refused: the file changed meanwhile.
    stale = client.put(ZONES, json={"version": shown["version"], "zones": zones[:1]})
    assert stale.status_code == 409 and "changed meanwhile" in stale.json()["detail"]
    assert _zone_ids(site_path) == ["w3-desk", "q9"]


@pytest.mark.parametrize(("zone", "loc", "words"), [
    ({**QUEUE, "polygon": [[0.1, 0.5], [1.5, 0.5], [0.6, 0.9]]}, ["body", "zones", 1, "polygon", 1, 0],
     "less than or equal to 1"),
    ({**QUEUE, "polygon": [[0.1, 0.5], [0.6, 0.5]]}, ["body", "zones", 1, "polygon"], "at least 3"),
    ({**QUEUE, "polygon": [[0.1, 0.5], [0.3, 0.5], [0.5, 0.5]]}, ["body", "zones", 1, "polygon"], "no area"),
    ({"id": "d9", "kind": "desk", "polygon": QUEUE["polygon"]}, ["body", "zones", 1], "needs `window`"),
    ({**QUEUE, "window": "w9"}, ["body", "zones"], "halls[cc-nanguan]: Value error, camera cam2 zone q9: window 'w9'"),
    ({**QUEUE, "id": "q1"}, ["body", "zones"], "duplicate id 'q1' in zones"),  # q1 is on cam1
    ({"id": "d9", "kind": "desk", "window": "w1", "polygon": QUEUE["polygon"]}, ["body", "zones"],
     "one desk zone per window"),
])
def test_invalid_zones_are_refused_naming_the_field(zones_app, site_path: Path, zone: dict, loc: list,
                                                    words: str) -> None:
    client = api_client(zones_app, "admin")
    before = site_path.read_text()

    def live_zones() -> list[str]:
        cameras = client.get("/api/v1/live/cameras").json()["data"]
        return [z["id"] for c in cameras if c["key"] == f"{HALL}/{CAMERA}" for z in c["zones"]]

    assert live_zones() == ["w3-desk", "q3"]  # the live wall is made, with the zones as they were
    shown = client.get(ZONES).json()
    response = client.put(ZONES, json={"version": shown["version"], "zones": [shown["zones"][0], zone]})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(d["loc"][:len(loc)] == loc and words in d["msg"] for d in detail), detail
    assert site_path.read_text() == before


def test_only_admins_inside_their_scope(zones_app, site_path: Path) -> None:
    for name in ("operator", "manager"):
        client = api_client(zones_app, name)
        assert client.get(ZONES).status_code == 403
        assert client.get("/api/v1/cameras").status_code == 403
        assert client.put(ZONES, json={"version": "0" * 64, "zones": []}).status_code == 403
        assert client.post(f"/api/v1/cameras/{HALL}/{CAMERA}/test").status_code == 403
        assert client.post(f"/api/v1/halls/{HALL}/cameras/probe", json={"url": "rtsp://127.0.0.1/x"}).status_code == 403
        assert client.get(f"/cameras/{HALL}/{CAMERA}", headers={"accept": "text/html"}).status_code == 403
    admin = api_client(zones_app, "admin")
    listing = admin.get("/cameras", headers={"accept": "text/html"})
    assert listing.status_code == 200 and "rtsp://viewer:***@127.0.0.1" in listing.text
    assert "demo-secret" not in listing.text and f'href="/cameras/{HALL}/{CAMERA}"' in listing.text
    assert admin.get(f"/cameras/{HALL}/{CAMERA}").status_code == 200
    # A city's admin edits that city's halls only; another city's camera does not exist for them.
    city = api_client(zones_app, "jlcadmin")
    assert city.get(ZONES).status_code == 404
    assert city.post(f"/api/v1/cameras/{HALL}/{CAMERA}/test").status_code == 404
    assert city.get(f"/cameras/{HALL}/{CAMERA}").status_code == 404
    assert city.post(f"/api/v1/halls/{HALL}/cameras/probe", json={"url": "rtsp://127.0.0.1/x"}).status_code == 404
    assert city.get("/api/v1/cameras/jlc-chuanying/cam1/zones").status_code == 200
    assert [h["hall"] for h in city.get("/api/v1/cameras").json()["data"]] == ["jlc-chuanying"]


def test_test_shows_what_the_analysis_sees_on_the_current_frame(zones_app, pool: ConnectionPool) -> None:
    client = api_client(zones_app, "admin")
    whole = {"id": "floor", "kind": "self_service", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    response = client.post(f"/api/v1/cameras/{HALL}/{CAMERA}/test", json={"zones": [whole]})
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["width"], result["height"]) == (1280, 720)
    assert result["people"] == len(result["boxes"]) > 0  # the simulator's hall has people in it
    for person in result["boxes"]:
        x1, y1, x2, y2 = person["box"]
        assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1 and person["foot"] == [pytest.approx((x1 + x2) / 2), y2]
    # A zone over the whole frame counts everyone the analysis counts; each box says where it counted.
    assert result["zones"] == {"floor": sum("floor" in p["zones"] for p in result["boxes"])}
    assert result["image"].startswith("data:image/jpeg;base64,")
    wrong = client.post(f"/api/v1/cameras/{HALL}/{CAMERA}/test", json={"zones": [{**whole, "kind": "desk"}]})
    assert wrong.status_code == 422 and "needs `window`" in wrong.text and "demo-secret" not in wrong.text
    elsewhere = client.post(f"/api/v1/cameras/{HALL}/{CAMERA}/test", json={"zones": [{**QUEUE, "window": "w9"}]})
    assert elsewhere.status_code == 422 and "'w9' is not one of" in elsewhere.text
    assert "demo-secret" not in elsewhere.text
    saved = client.post(f"/api/v1/cameras/{HALL}/{CAMERA}/test").json()  # the saved zones
    assert set(saved["zones"]) == {"q3"} and set(saved["desks"]) == {"w3"}
    assert _audited(pool)[-1] == ("admin", "camera.zones_tested", f"camera/{HALL}/{CAMERA}")


def test_a_camera_is_added_after_its_url_is_checked(zones_app, site_path: Path, served_port: int,
                                                    pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch) -> None:
    client = api_client(zones_app, "admin")
    # A password from the environment, as the site file may say it.
    monkeypatch.setenv("ZONES_TEST_PASSWORD", "demo-secret")
    env = client.post("/api/v1/halls/jlc-chuanying/cameras/probe",
                      json={"url": f"rtsp://viewer:${{ZONES_TEST_PASSWORD}}@127.0.0.1:{served_port}/cc-nanguan-1"})
    assert env.json()["ok"] and "demo-secret" not in env.text
    unset = client.post("/api/v1/halls/jlc-chuanying/cameras/probe", json={"url": "rtsp://u:${NOT_SET_9}@h/x"})
    assert unset.status_code == 422 and unset.json()["detail"][0]["loc"] == ["body", "url"]
    assert "NOT_SET_9 is not set" in unset.json()["detail"][0]["msg"]
    live = f"rtsp://viewer:demo-secret@127.0.0.1:{served_port}/cc-nanguan-2"
    dead = f"rtsp://viewer:Hidden-Pass-7@127.0.0.1:{free_port()}/nowhere"
    found = client.post("/api/v1/halls/jlc-chuanying/cameras/probe", json={"url": live}).json()
    assert found["ok"] and found["codec"] == "h264" and (found["width"], found["height"]) == (1280, 720)
    assert found["keyframe_interval_s"] == pytest.approx(1.0, abs=0.1) and found["image"].startswith("data:image/jpeg")
    assert found["url"] == live.replace("demo-secret", "***")
    refused = client.post("/api/v1/halls/jlc-chuanying/cameras/probe", json={"url": dead}).json()
    assert not refused["ok"] and refused["state"] == "offline" and "Hidden-Pass-7" not in str(refused)
    version = client.get("/api/v1/cameras").json()["version"]
    body = {"version": version, "id": "cam2", "name": "Door", "url": dead}
    not_added = client.post("/api/v1/halls/jlc-chuanying/cameras", json=body)
    assert not_added.status_code == 422 and not_added.json()["detail"][0]["loc"] == ["body", "url"]
    assert "Hidden-Pass-7" not in not_added.text
    added = client.post("/api/v1/halls/jlc-chuanying/cameras", json={**body, "url": live})
    assert added.status_code == 201, added.text
    assert added.json()["editor"] == "/cameras/jlc-chuanying/cam2" and "demo-secret" not in added.text
    site = load_site(site_path)
    assert [c.id for c in site.find_camera("jlc-chuanying/cam1")[0].cameras] == ["cam1", "cam2"]
    assert "# Demo site" in site_path.read_text()
    listed = client.get("/api/v1/cameras").json()["data"]
    assert {"id": "cam2", "name": "Door", "url": live.replace("demo-secret", "***"), "zones": 0,
            "analysis_fps": 1.0} in listed[-1]["cameras"]
    # The new camera, unknown to the live wall until a restart, is tested through its own address.
    tested = client.post("/api/v1/cameras/jlc-chuanying/cam2/test").json()
    assert tested["width"] == 1280
    assert [a for _, a, _ in _audited(pool)] == ["camera.probe"] * 3 + ["camera.create", "camera.zones_tested"]


# -- applied without a restart ------------------------------------------------------------------------------

def test_a_saved_zone_restarts_only_its_camera_in_the_running_pipeline(site_path: Path, pool: ConnectionPool) -> None:
    site: SiteConfig = load_site(site_path)
    cameras = [(HALL, "cam1"), (HALL, CAMERA)]
    pipeline = Pipeline(site, load_detector(site.detector), lambda rows: None, cameras=cameras)
    reloader = SiteReloader(site_path, site, pipeline, pool)
    stop = threading.Event()
    runner = threading.Thread(target=pipeline.run, args=(stop,), daemon=True)
    runner.start()
    try:
        while set(pipeline.readers) != set(cameras):
            runner.join(0.05)
        readers = dict(pipeline.readers)
        assert reloader.poll() == set()  # nothing changed
        edit = SiteFile.read(site_path)
        edit.set_zones(HALL, CAMERA, [QUEUE])
        edit.save()
        assert reloader.poll() == {(HALL, CAMERA)}
        assert pipeline.readers[(HALL, "cam1")] is readers[(HALL, "cam1")]        # untouched
        assert pipeline.readers[(HALL, CAMERA)] is not readers[(HALL, CAMERA)]    # restarted
        assert [z.id for z in pipeline.work[(HALL, CAMERA)].camera.zones] == ["q9"]
        assert [z.id for z in pipeline.work[(HALL, CAMERA)].analyzer.camera.zones] == ["q9"]
        assert pipeline.site.find_camera(f"{HALL}/{CAMERA}")[1].zones[0].limit == 5
        # The restarted camera is analysed again with its new zones.
        analysed = pipeline.stats.per_camera[(HALL, CAMERA)]
        deadline = time.monotonic() + 30
        while pipeline.stats.per_camera[(HALL, CAMERA)] <= analysed and time.monotonic() < deadline:
            runner.join(0.1)
        assert pipeline.stats.per_camera[(HALL, CAMERA)] > analysed
        # A file that is not a valid site is ignored; the running site stays.
        site_path.write_text(site_path.read_text().replace("kind: queue, window: w3", "kind: queue, window: w99"))
        assert reloader.poll() == set() and reloader.site == pipeline.site
    finally:
        stop.set()
        runner.join(30)


def test_a_worker_takes_up_a_camera_added_to_the_site_and_drops_a_removed_one(site_path: Path,
                                                                               pool: ConnectionPool) -> None:
    site: SiteConfig = load_site(site_path)
    pipeline = Pipeline(site, load_detector(site.detector), lambda rows: None, cameras=())
    applied: list[set[tuple[str, str]]] = []

    def apply(keys: set[tuple[str, str]]) -> None:
        applied.append(set(keys))
        pipeline.set_cameras(keys)

    keeper = LeaseKeeper(pool, worker_id="w1", cameras=[(h.id, c.id) for h, c in site.cameras()], apply=apply)
    assert keeper.register(threading.Event())
    keeper.beat()
    assert len(keeper.held()) == 4
    reloader = SiteReloader(site_path, site, pipeline, pool, keeper=keeper)
    original = site_path.read_text()
    edit = SiteFile.read(site_path)
    edit.add_camera("jlc-chuanying", {"id": "cam2", "url": "rtsp://127.0.0.1:9/door"})
    edit.set_zones(HALL, CAMERA, [QUEUE])
    edit.save()
    new = ("jlc-chuanying", "cam2")
    assert reloader.poll() == {(HALL, CAMERA), new}
    assert [z.id for z in pipeline.work[(HALL, CAMERA)].camera.zones] == ["q9"]
    keeper.beat()  # the new camera gets its lease row, and this worker (the only one) claims it
    with pool.connection() as conn:
        assert lease_holders(conn)[new] == "w1"
    assert new in applied[-1] and len(keeper.held()) == 5
    site_path.write_text(original)  # the camera is taken out of the site again
    assert reloader.poll() == {(HALL, CAMERA)}
    with pool.connection() as conn:
        assert lease_holders(conn)[new] is None
    assert new not in applied[-1] and new not in pipeline.work and len(keeper.held()) == 4
    keeper.release_all()


# -- the page, in Chromium ----------------------------------------------------------------------------------

def test_draw_a_zone_with_pointer_events_and_save_it(browser, zones_app, site_path: Path) -> None:
    with serving(zones_app) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, has_touch=True)
        page = context.new_page()
        page_login(page, base, f"/cameras/{HALL}/{CAMERA}", "admin")
        page.wait_for_selector("#zone-editor[data-ready=true][data-picture=live]", timeout=WAIT_MS)
        assert page.locator(".zone-item").all_inner_texts() == ["w3-desk · Desk · Window 3", "q3 · Queue"]
        box = page.locator("#zones-svg").bounding_box()
        at = lambda x, y: (box["x"] + x * box["width"], box["y"] + y * box["height"])  # noqa: E731
        page.click("#draw")
        corners = [(0.70, 0.55), (0.95, 0.55), (0.95, 0.95), (0.70, 0.95)]
        for x, y in corners[:3]:
            page.mouse.click(*at(x, y))
        page.touchscreen.tap(*at(*corners[3]))  # a finger draws as the mouse does
        page.mouse.click(*at(*corners[0]))      # the first corner again closes the zone
        # Drag the new zone's second corner a little further right.
        page.mouse.move(*at(0.95, 0.55))
        page.mouse.down()
        page.mouse.move(*at(0.97, 0.50), steps=5)
        page.mouse.up()
        page.select_option("#zone-kind", "queue")
        page.select_option("#zone-window", "w3")
        page.fill("#zone-id", "corner")
        page.fill("#zone-limit", "4")
        page.locator("#zone-limit").dispatch_event("change")
        page.click("#save")
        page.wait_for_selector("#zone-editor[data-saved='1']", timeout=WAIT_MS)
        page.screenshot(path=str(ARTIFACTS / "zones-editor.png"))
        zone = load_site(site_path).find_camera(f"{HALL}/{CAMERA}")[1].zones[-1]
        assert (zone.id, zone.kind.value, zone.window, zone.limit) == ("corner", "queue", "w3", 4)
        expected = [(0.70, 0.55), (0.97, 0.50), (0.95, 0.95), (0.70, 0.95)]
        assert [c for p in zone.polygon for c in p] == pytest.approx([c for p in expected for c in p], abs=0.01)
        assert "# Demo site" in site_path.read_text()
        # A reload shows the saved zone; the test button draws what the detector found.
        page.reload()
        page.wait_for_selector("#zone-editor[data-ready=true]", timeout=WAIT_MS)
        assert page.locator(".zone-item").all_inner_texts()[-1] == "corner · Queue · Window 3"
        page.click("#test")
        page.wait_for_selector("#zone-editor[data-tested='1']", timeout=WAIT_MS)
        found = page.evaluate("() => window.hallwatchZones.test.boxes.length")
        assert found > 0 and page.locator(".test-layer rect.box").count() == found
        assert page.locator("#test-rows tr").count() == 3
        page.screenshot(path=str(ARTIFACTS / "zones-test.png"))
        context.close()


def test_without_a_site_file_nothing_is_saved(app, pool: ConnectionPool) -> None:
    """The web app as tests and `run` without a file to edit make it: cameras are listed, changes refused."""
    add_user(pool, "admin", "admin", "province")
    client = api_client(app, "admin")
    assert client.get("/api/v1/cameras").json()["version"] is None
    page = client.get("/cameras", headers={"accept": "text/html"})
    assert "started without a site file" in page.text and 'id="camera-form"' not in page.text
    assert client.get(ZONES).status_code == 409
    assert client.put(ZONES, json={"version": "0" * 64, "zones": [QUEUE]}).status_code == 409
    assert client.post(f"/api/v1/halls/{HALL}/cameras/probe", json={"url": "rtsp://127.0.0.1/x"}).status_code == 409
    assert client.post(f"/api/v1/cameras/{HALL}/{CAMERA}/test").status_code == 409


def test_add_a_camera_in_the_browser_after_checking_its_address(browser, zones_app, site_path: Path,
                                                                served_port: int) -> None:
    live = f"rtsp://viewer:demo-secret@127.0.0.1:{served_port}/cc-nanguan-2"
    with serving(zones_app) as base:
        page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        page_login(page, base, "/cameras", "admin")
        page.select_option("#camera-hall", "jlc-chuanying")
        page.fill("#camera-id", "cam2")
        page.fill("#camera-name", "Door")
        page.fill("#camera-url", live)
        assert page.locator("#add-camera").is_disabled()  # not before the address was checked
        page.click("#probe")
        page.wait_for_selector("#camera-form[data-probed=live]", timeout=WAIT_MS)
        rows = dict(zip(page.locator("#probe-rows th").all_inner_texts(),
                        page.locator("#probe-rows td").all_inner_texts(), strict=True))
        assert rows["Codec"].startswith("H264") and rows["Picture size"] == "1280 × 720"
        assert rows["Keyframes"].startswith("every 10 frames") and rows["Address"].startswith("rtsp://viewer:***@")
        assert page.locator("#probe-picture").evaluate("img => img.naturalWidth") == 1280
        page.screenshot(path=str(ARTIFACTS / "zones-add-camera.png"), full_page=True)
        page.click("#add-camera")
        page.wait_for_url(f"{base}/cameras/jlc-chuanying/cam2", timeout=WAIT_MS)
        page.wait_for_selector("#zone-editor[data-ready=true]", timeout=WAIT_MS)
        camera = load_site(site_path).find_camera("jlc-chuanying/cam2")[1]
        assert (camera.name, camera.url, camera.zones) == ("Door", live, [])
