"""The record pages in headless Chromium on a phone-sized screen: an inspector logs an unannounced
check standing in the hall (plan, checklist, finding, photo, publish), the complaints desk registers a
complaint, and hall staff see the published inspection but never a covert plan."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from psycopg_pool import ConnectionPool

from monitor.app import create_app
from tests.fix_auth import PASSWORD, add_user, api_client
from tests.fix_sites import SITE
from tests.fix_web import ARTIFACTS, serving

BUS = Path(str(metadata.distribution("ultralytics").locate_file("ultralytics/assets/bus.jpg")))
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def served(pool: ConnectionPool) -> Iterator[str]:
    app = create_app(SITE, pool)
    for name, role, scope in [("root", "admin", "province"), ("insp", "inspector", "city/cc"),
                              ("desk", "complaints_officer", "province"), ("staff", "hall_staff", "hall/cc-nanguan")]:
        add_user(pool, name, role, scope)
    root = api_client(app, "root")
    root.post("/api/v1/checklists", json={"name": "Spot check", "items": [
        {"text": "Officer at the window", "weight": 3}, {"text": "Duty board up to date", "weight": 1}]})
    with serving(app) as url:
        yield url





def login(browser, base: str, name: str):  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport=PHONE, is_mobile=True).new_page()
    page.goto(base + "/inspections")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/inspections")
    return page


def test_inspector_logs_a_spot_check_on_a_phone(served: str, browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = login(browser, served, "insp")
    page.click("text=Plan or log an inspection")
    page.select_option("select[name=kind]", "spot_check")
    page.select_option("select[name=hall_id]", "cc-nanguan")
    page.select_option("select[name=template_id]", label="Spot check")
    page.check("input[name=covert]")
    assert page.input_value("#planned_at")            # filled with "now" in the phone's time zone
    page.screenshot(path=str(ARTIFACTS / "records-plan-phone.png"), full_page=True)
    page.click("#plan button[type=submit]")
    page.wait_for_url("**/inspections/*")
    inspection_url = page.url
    assert page.locator(".badge.covert").count() == 1

    # Hall staff cannot see the covert plan, not in the list and not by its address.
    staff = login(browser, served, "staff")
    assert staff.locator("#inspections [data-inspection]").count() == 0
    assert staff.goto(inspection_url).status == 404

    page.select_option("select[name=score_1]", "1")
    page.select_option("select[name=score_2]", "0")
    page.click("#visit button[type=submit]")
    page.wait_for_selector("#score:has-text('75.0')")
    page.select_option("#finding select[name=category]", "process")
    page.select_option("#finding select[name=severity]", "medium")
    page.fill("#finding input[name=window_id]", "w1")
    page.fill("#finding textarea[name=description]", "Duty board shows last week's roster")
    page.click("#finding button[type=submit]")
    page.wait_for_selector("#findings :text('Duty board shows last week')")
    page.set_input_files("input[name=photo]", str(BUS))
    page.click("form[action$='/photo'] button[type=submit]")
    page.wait_for_selector("[data-evidence] img")
    page.wait_for_function("() => document.querySelector('[data-evidence] img').naturalWidth > 0")
    page.click("#publish button[value=published]")
    page.wait_for_selector("#status:has-text('published')")
    page.screenshot(path=str(ARTIFACTS / "records-inspection-phone.png"), full_page=True)

    staff.goto(served + "/inspections")
    assert staff.locator("#inspections [data-inspection]").count() == 1
    staff.goto(inspection_url)
    assert staff.locator("#findings").inner_text().count("Duty board") == 1
    assert staff.locator("#visit").count() == 0 and staff.locator("#publish").count() == 0


def test_complaints_desk_registers_and_moves_a_complaint(served: str, browser) -> None:
    page = login(browser, served, "desk")
    page.goto(served + "/complaints/new")
    page.select_option("select[name=hall_id]", "cc-chaoyang")
    page.select_option("select[name=channel]", "in_person")
    page.select_option("select[name=category]", "attitude")
    page.fill("textarea[name=summary]", "Officer shouted at an elderly applicant")
    page.fill("input[name=contact_name]", "张三丰")
    page.fill("input[name=contact_phone]", "13812345678")
    page.click("form.form button[type=submit]")
    page.wait_for_url("**/complaints/*")
    assert page.locator("#status").inner_text() == "Received"
    assert "13812345678" in page.locator(".contact").inner_text()   # the desk sees the full contact
    page.select_option("#transition select[name=to]", "rejected")
    page.click("#transition button[type=submit]")                   # no reason: refused
    assert "reason" in page.content()
    page.go_back()
    page.select_option("#transition select[name=to]", "assigned")
    page.fill("#transition input[name=assignee]", "desk")
    page.click("#transition button[type=submit]")
    page.wait_for_selector("#status:has-text('assigned')")
    page.goto(served + "/complaints")
    assert page.locator("#complaints .contact").inner_text().strip() == "张** 138****5678"
    page.screenshot(path=str(ARTIFACTS / "records-complaints-phone.png"), full_page=True)
