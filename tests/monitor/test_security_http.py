"""What every request meets before a route: security headers, a gated OpenAPI document, body limits,
the client's address from trusted proxies only; and inputs that used to give a 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from monitor.app import create_app
from monitor.security import UNAUTHENTICATED_BODY_BYTES
from tests.fix_auth import PASSWORD, api_client, browser_login, page_login
from tests.fix_records import plan
from tests.fix_sites import SITE
from tests.fix_web import serving

PAGES = ["/", "/overview", "/alerts", "/complaints", "/inspections", "/cases", "/officers", "/rosters", "/scorecards",
         "/trends", "/rankings", "/live", "/users", "/audit", "/complaints/new", "/inspections/new", "/cases/new"]


def test_pages_and_api_carry_the_security_headers(app, people) -> None:
    client = browser_login(app, "root")
    responses = [client.get(p) for p in PAGES] + [client.get("/api/v1/me"), client.get("/login"),
                                                  client.get("/board/cc-nanguan"), client.get("/healthz")]
    for response in responses:
        assert response.status_code < 500, (response.url, response.status_code)
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["cache-control"] == "no-store", response.url
    static = client.get("/static/app.css")
    assert static.status_code == 200 and static.headers.get("cache-control") != "no-store"
    assert "strict-transport-security" not in static.headers


def test_hsts_when_served_over_https(pool: ConnectionPool) -> None:
    site = SITE.model_copy(update={"auth": SITE.auth.model_copy(update={"secure_cookies": True})})
    response = TestClient(create_app(site, pool)).get("/login")
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_api_documentation_is_for_logged_in_users_only(app, people) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    assert anonymous.get("/openapi.json").status_code in (401, 303)
    assert anonymous.get("/docs").status_code == 404  # its page would load Swagger UI from a CDN
    assert anonymous.get("/redoc").status_code == 404
    document = api_client(app, "root").get("/openapi.json")
    assert document.status_code == 200 and "/api/v1/status" in document.json()["paths"]


def test_an_oversize_body_is_refused_before_login_is_checked(app, people) -> None:
    client = TestClient(app, follow_redirects=False)
    big = b"x" * (UNAUTHENTICATED_BODY_BYTES + 1)
    response = client.post("/api/v1/inspections/1/photo", content=big,
                           headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413
    assert client.post("/login", data={"name": "root", "password": "p" * (UNAUTHENTICATED_BODY_BYTES + 10)}
                       ).status_code == 413


def test_a_chunked_oversize_body_is_cut_off(served: str, people) -> None:
    chunk = b"y" * 16384

    def chunks():
        for _ in range(UNAUTHENTICATED_BODY_BYTES // len(chunk) + 4):
            yield chunk

    response = httpx.post(f"{served}/login", content=chunks(), timeout=30,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_a_logged_in_body_over_the_anonymous_limit_still_reaches_the_route(app, people) -> None:
    client = api_client(app, "root")
    body = {"kind": "spot_check", "hall_id": "cc-nanguan", "planned_at": "2026-12-01T10:00:00+08:00",
            "inspector": "x" * 50, "notes": "n" * (UNAUTHENTICATED_BODY_BYTES * 2)}
    assert client.post("/api/v1/inspections", json=body).status_code != 413


def test_a_csrf_header_with_non_ascii_characters_is_refused_not_a_server_error(app, people) -> None:
    client = browser_login(app, "root")
    response = client.post("/api/v1/complaints", json={}, headers={"X-CSRF-Token": "tökén".encode()})
    assert response.status_code == 403


def test_a_checklist_score_under_a_non_numeric_key_is_a_422(app, people) -> None:
    client = browser_login(app, "insp")
    inspection = plan(api_client(app, "insp"), covert=False)
    response = client.post(f"/inspections/{inspection}/visit",
                           data={"csrf_token": client.csrf, "score_abc": "3", "notes": ""})  # type: ignore[attr-defined]
    assert response.status_code == 422
    huge = client.post(f"/inspections/{inspection}/visit",
                       data={"csrf_token": client.csrf, "score_" + "9" * 5000: "3"})  # type: ignore[attr-defined]
    assert huge.status_code == 422


@pytest.mark.parametrize("formula", ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd"])
def test_the_csv_export_cannot_carry_a_formula(app, people, formula: str) -> None:
    client = api_client(app, "insp")
    plan(client, covert=False, inspector=formula)
    lines = client.get("/api/v1/inspections.csv").text.splitlines()
    cells = [cell for line in lines[1:] for cell in line.split(",")]
    assert not any(cell.lstrip('"').startswith(("=", "+", "-", "@", "\t")) for cell in cells if cell), lines


def _login_clients(app_url: str, forwarded: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return httpx.post(f"{app_url}/api/v1/auth/token", json={"name": "root", "password": "wrong"}, headers=headers,
                      timeout=10).status_code


def test_forwarded_addresses_count_only_from_trusted_proxies(pool: ConnectionPool, people) -> None:
    limit = SITE.auth.max_failures
    trusting = SITE.model_copy(update={"auth": SITE.auth.model_copy(update={"trusted_proxies": ["127.0.0.1/32"]})})
    with serving(create_app(trusting, pool)) as url:
        for _ in range(limit):
            _login_clients(url, "198.51.100.1")
        # The lockout holds for that forwarded client, not for another one behind the same proxy.
        locked = httpx.post(f"{url}/api/v1/auth/token", json={"name": "root", "password": PASSWORD},
                            headers={"X-Forwarded-For": "198.51.100.1"}, timeout=10)
        other = httpx.post(f"{url}/api/v1/auth/token", json={"name": "root", "password": PASSWORD},
                           headers={"X-Forwarded-For": "198.51.100.2"}, timeout=10)
        assert locked.status_code != 200 and other.status_code == 200
    with serving(create_app(SITE, pool)) as url:  # no trusted proxy: the header is not believed
        for i in range(limit):
            _login_clients(url, f"203.0.113.{i}")
        spoofed = httpx.post(f"{url}/api/v1/auth/token", json={"name": "root", "password": PASSWORD},
                             headers={"X-Forwarded-For": "203.0.113.200"}, timeout=10)
        assert spoofed.status_code != 200  # all those tries came from 127.0.0.1, whatever the header said


def test_pages_run_under_the_policy_without_violations(served: str, people, browser) -> None:
    page = browser.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page_login(page, served, "/", "root")
    for path in PAGES + ["/board/cc-nanguan"]:
        page.goto(f"{served}{path}")
        page.wait_for_load_state("load")
    assert violations == []
    page.goto(f"{served}/inspections/new")
    assert page.input_value("#planned_at") != ""  # the page's own script filled it under the policy
    page.close()
