"""Users, login with session cookie and CSRF, bearer tokens, lockout, and `hallwatch users`, against a
real PostgreSQL. The users and clients are made by tests/fix_auth.py, which the other web tests share."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from storage.auth.model import Role, Scope
from storage.auth.passwords import hash_password, verify_password
from storage.auth.users import UserError, create_user, find_user
from tests.fix_auth import PASSWORD, add_user, api_client, meta_csrf
from tests.fix_sites import EXAMPLE_SITE


def test_password_hashing() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")


@pytest.mark.parametrize(("path", "expected"), [
    ("province", Scope("province")), ("city/cc", Scope("city", "cc")), ("hall/cc-nanguan", Scope("hall", "cc-nanguan")),
    ("/city/cc/", Scope("city", "cc")), ("city", None), ("hall/", None), ("town/x", None), ("hall/UP", None),
])
def test_scope_parse(path: str, expected: Scope | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="scope"):
            Scope.parse(path)
    else:
        assert Scope.parse(path) == expected and Scope.parse(expected.path) == expected


@pytest.mark.parametrize(("scope", "hall", "city", "allowed"), [
    ("province", "cc-nanguan", "cc", True), ("city/cc", "cc-nanguan", "cc", True),
    ("city/cc", "jlc-chuanying", "jlc", False), ("hall/cc-nanguan", "cc-nanguan", "cc", True),
    ("hall/cc-nanguan", "cc-chaoyang", "cc", False),
])
def test_scope_allows(scope: str, hall: str, city: str, allowed: bool) -> None:
    assert Scope.parse(scope).allows(hall, city) is allowed


def test_create_user_rules(pool: ConnectionPool) -> None:
    add_user(pool, "ana", "inspector", "city/cc")
    with pool.connection() as conn:
        with pytest.raises(UserError, match="exists already"):
            create_user(conn, name="ana", role=Role.admin, scope=Scope("province"), password=PASSWORD)
        with pytest.raises(UserError, match="no hall 'nowhere'"):
            create_user(conn, name="bob", role=Role.admin, scope=Scope("hall", "nowhere"), password=PASSWORD)
        with pytest.raises(UserError, match="at least 8"):
            create_user(conn, name="bob", role=Role.admin, scope=Scope("province"), password="short")
        stored = conn.execute("SELECT password_hash FROM app_user WHERE name = 'ana'").fetchone()
        assert stored is not None and stored[0].startswith("$argon2id$")
        found = find_user(conn, name="ana")
        assert found is not None and found.scope == Scope("city", "cc") and found.role is Role.inspector


def test_pages_redirect_to_login_and_api_answers_401(app) -> None:
    client = TestClient(app, follow_redirects=False)
    response = client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2F"
    response = client.get("/api/v1/status")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert client.get("/login").status_code == 200


def test_login_session_csrf_and_logout(app, pool: ConnectionPool) -> None:
    add_user(pool, "ana", "admin")
    client = TestClient(app, follow_redirects=False)
    wrong = client.post("/login", data={"name": "ana", "password": "nope-nope", "next": "/"})
    assert wrong.status_code == 401 and "Wrong name or password." in wrong.text
    ok = client.post("/login", data={"name": "ana", "password": PASSWORD, "next": "//evil.example/x"})
    assert ok.status_code == 303 and ok.headers["location"] == "/"  # no open redirect
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    page = client.get("/")
    assert page.status_code == 200 and "ana" in page.text
    csrf = meta_csrf(page.text)
    assert len(csrf) > 20
    # A state-changing request without the token is refused, with it accepted.
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    out = client.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/api/v1/me").status_code == 401
    with pool.connection() as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["auth.login_failed", "auth.login", "auth.logout"]


def test_bearer_token(app, pool: ConnectionPool) -> None:
    add_user(pool, "op", "center_operator", "city/cc")
    client = api_client(app, "op")
    me = client.get("/api/v1/me").json()
    assert me == {"id": me["id"], "name": "op", "role": "center_operator", "scope": "city/cc", "active": True}
    halls = [h["id"] for h in client.get("/api/v1/status").json()["halls"]]
    assert halls == ["cc-nanguan", "cc-chaoyang"]  # scope: the Jilin City hall is not shown
    bad = TestClient(app).get("/api/v1/me", headers={"Authorization": "Bearer hwt_not-a-token"})
    assert bad.status_code == 401


def test_lockout_after_repeated_failures(app, pool: ConnectionPool) -> None:
    add_user(pool, "ana", "manager")
    client = TestClient(app)
    for _ in range(5):
        response = client.post("/api/v1/auth/token", json={"name": "ana", "password": "wrong-password"})
        assert response.status_code == 401
    # Locked: even the right password is refused within the window.
    response = client.post("/api/v1/auth/token", json={"name": "ana", "password": PASSWORD})
    assert response.status_code == 429 and "too many" in response.json()["detail"].lower()
    page = client.post("/login", data={"name": "ana", "password": PASSWORD})
    assert page.status_code == 429


def test_disabled_user_loses_sessions_and_tokens(app, pool: ConnectionPool) -> None:
    add_user(pool, "root", "admin")
    add_user(pool, "ana", "manager")
    ana = api_client(app, "ana")
    assert ana.get("/api/v1/me").status_code == 200
    admin = api_client(app, "root")
    assert admin.post("/api/v1/users/ana/disable").json()["active"] is False
    assert ana.get("/api/v1/me").status_code == 401
    refused = TestClient(app).post("/api/v1/auth/token", json={"name": "ana", "password": PASSWORD})
    assert refused.status_code == 401


def test_users_api_validation_names_the_field(app, pool: ConnectionPool) -> None:
    add_user(pool, "root", "admin")
    admin = api_client(app, "root")
    response = admin.post("/api/v1/users", json={"name": "x", "role": "boss", "scope": "province",
                                                 "password": PASSWORD})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "role"]]
    created = admin.post("/api/v1/users", json={"name": "hs", "role": "hall_staff", "scope": "hall/cc-chaoyang",
                                                "password": PASSWORD})
    assert created.status_code == 201 and created.json()["scope"] == "hall/cc-chaoyang"
    assert admin.post("/api/v1/users", json={"name": "hs", "role": "hall_staff", "scope": "province",
                                             "password": PASSWORD}).status_code == 409


def test_users_cli(fresh_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from hallwatch.cli import main

    monkeypatch.setenv("HALLWATCH_DATABASE_URL", fresh_dsn)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["users", "add", "chief", "--role", "admin", "--scope", "city/cc", "--site", str(EXAMPLE_SITE)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "weak", "--role", "admin", "--scope", "province"]) == 1
    assert main(["users", "add", "x", "--role", "admin", "--scope", "town/x"]) == 1
    assert main(["users", "list"]) == 0
    assert main(["users", "disable", "chief"]) == 0
    assert main(["users", "disable", "nobody"]) == 1
    assert main(["users", "list"]) == 0
    out, err = capsys.readouterr()
    assert "added chief (admin, city/cc)" in out
    assert "chief\tadmin\tcity/cc\tactive" in out and "chief\tadmin\tcity/cc\tdisabled" in out
    assert "at least 8" in err and "town/x" in err and "no user 'nobody'" in err
