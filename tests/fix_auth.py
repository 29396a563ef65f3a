"""Users and their ways in, for tests of the web app: a user added straight to the database (every one with
PASSWORD), the records tests' cast of users (`people`), a test client logged in with a session cookie (and its
CSRF token) or holding a bearer token, and a Chromium page logged in through the form."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from storage.auth.model import Role, Scope, User
from storage.auth.users import create_user

PASSWORD = "correct horse battery"


def add_user(pool: ConnectionPool, name: str, role: Role | str, scope: str = "province") -> User:
    with pool.connection() as conn:
        return create_user(conn, name=name, role=Role(role), scope=Scope.parse(scope), password=PASSWORD)


@pytest.fixture
def people(pool: ConnectionPool) -> None:
    """One user of each kind the case and alert tests act as, in and out of hall cc-nanguan."""
    for name, role, scope in [("root", "admin", "province"), ("insp", "inspector", "city/cc"),
                              ("op", "center_operator", "province"), ("boss", "manager", "province"),
                              ("staff", "hall_staff", "hall/cc-nanguan"), ("hallboss", "manager", "hall/cc-nanguan"),
                              ("other", "hall_staff", "hall/cc-chaoyang"), ("desk", "complaints_officer", "province")]:
        add_user(pool, name, role, scope)


def browser_login(app, name: str, password: str = PASSWORD) -> TestClient:
    """A client holding a session cookie; `.csrf` is the session's CSRF token."""
    client = TestClient(app, follow_redirects=False)
    response = client.post("/login", data={"name": name, "password": password, "next": "/"})
    assert response.status_code == 303, response.text
    page = client.get("/")  # every page carries the token in <meta name="csrf-token">
    assert page.status_code == 200
    client.csrf = meta_csrf(page.text)  # type: ignore[attr-defined]
    return client


def meta_csrf(html: str) -> str:
    """The CSRF token a page carries in <meta name="csrf-token">."""
    marker = '<meta name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def api_client(app, name: str, password: str = PASSWORD) -> TestClient:
    """A client holding a bearer token of its own."""
    client = TestClient(app, follow_redirects=False)
    response = client.post("/api/v1/auth/token", json={"name": name, "password": password, "label": "test"})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return client


def page_login(page, base: str, path: str, name: str) -> None:
    """A Chromium page sent to `path` logs in there as `name` and is back on `path`."""
    page.goto(f"{base}{path}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{path}")
