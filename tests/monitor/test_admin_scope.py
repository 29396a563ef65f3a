"""User administration confined to the administrator's scope, against a real PostgreSQL through the app: admins
of the province, of city cc and of hall cc-nanguan create, list, disable and revoke the API tokens of users,
and every attempt beyond their scope (a wider scope, another city or hall, a user outside it) is refused: a
scope too wide with 403, a user outside the scope as not found (404, the same answer as for no such user)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from storage.auth.model import Role, Scope
from storage.auth.users import UserRefused, create_user, list_users
from tests.fix_auth import PASSWORD, add_user, api_client, page_login

ADMINS = {"root": "province", "cityadm": "city/cc", "halladm": "hall/cc-nanguan"}
# The users the admins act on: name -> scope (their roles vary; a user's scope decides who administers them).
TARGETS = {"prov": "province", "mgr-cc": "city/cc", "mgr-jlc": "city/jlc", "staff-ng": "hall/cc-nanguan",
           "staff-cy": "hall/cc-chaoyang", "staff-cyg": "hall/jlc-chuanying", "adm-jlc": "city/jlc"}
ROLES = {"prov": "manager", "mgr-cc": "manager", "mgr-jlc": "manager", "staff-ng": "hall_staff",
         "staff-cy": "hall_staff", "staff-cyg": "hall_staff", "adm-jlc": "admin"}
# Whom each admin administers: the users whose scope lies inside theirs (themselves included).
ADMINISTERS = {
    "root": set(ADMINS) | set(TARGETS),
    "cityadm": {"cityadm", "halladm", "mgr-cc", "staff-ng", "staff-cy"},
    "halladm": {"halladm", "staff-ng"},
}


@pytest.fixture
def cast(pool: ConnectionPool) -> None:
    for name, scope in ADMINS.items():
        add_user(pool, name, "admin", scope)
    for name, scope in TARGETS.items():
        add_user(pool, name, ROLES[name], scope)


def names(client: TestClient) -> set[str]:
    response = client.get("/api/v1/users")
    assert response.status_code == 200, response.text
    return {u["name"] for u in response.json()}


# (admin, role, scope asked for, answer)
CREATES = [
    # the finding: a hall admin made a province admin
    ("halladm", "admin", "province", 403),
    ("halladm", "hall_staff", "province", 403),
    ("halladm", "manager", "city/cc", 403),             # its own city is wider than its hall
    ("halladm", "hall_staff", "hall/cc-chaoyang", 403),  # another hall of the same city
    ("halladm", "hall_staff", "hall/jlc-chuanying", 403),
    ("halladm", "hall_staff", "hall/cc-nanguan", 201),
    ("halladm", "admin", "hall/cc-nanguan", 201),
    ("cityadm", "admin", "province", 403),
    ("cityadm", "manager", "city/jlc", 403),             # another city
    ("cityadm", "hall_staff", "hall/jlc-chuanying", 403),  # a hall of another city
    ("cityadm", "admin", "city/cc", 201),
    ("cityadm", "inspector", "hall/cc-chaoyang", 201),
    ("cityadm", "hall_staff", "hall/cc-nanguan", 201),
    ("root", "admin", "province", 201),
    ("root", "manager", "city/jlc", 201),
    ("root", "hall_staff", "hall/jlc-chuanying", 201),
]


def test_create_only_inside_the_admins_scope(app, cast) -> None:
    clients = {admin: api_client(app, admin) for admin in ADMINS}
    for n, (admin, role, scope, status) in enumerate(CREATES):
        name, client = f"newbie{n}", clients[admin]
        response = client.post("/api/v1/users", json={"name": name, "role": role, "scope": scope,
                                                      "password": PASSWORD})
        assert response.status_code == status, (admin, role, scope, response.text)
        if status == 201:
            assert response.json()["scope"] == scope and name in names(clients["root"])
            assert name in names(client)   # the creator administers whom they made
        else:
            assert response.json()["detail"] == f"scope {scope} is outside your scope {ADMINS[admin]}"
            assert name not in names(clients["root"])
            refused = TestClient(app).post("/api/v1/auth/token", json={"name": name, "password": PASSWORD})
            assert refused.status_code == 401   # nobody was made who could log in


def test_create_refused_in_storage_too(pool: ConnectionPool, cast) -> None:
    """The rule lives in `storage.auth.users`: a caller that skips the route is refused as well, and a role that
    is not admin administers nobody."""
    with pool.connection() as conn:
        halladm = next(u for u in list_users(conn, by=None) if u.name == "halladm")
        manager = next(u for u in list_users(conn, by=None) if u.name == "mgr-cc")
        with pytest.raises(UserRefused, match="outside your scope hall/cc-nanguan"):
            create_user(conn, name="sneaky", role=Role.admin, scope=Scope("province"), password=PASSWORD, by=halladm)
        with pytest.raises(UserRefused, match="role manager may not create users"):
            create_user(conn, name="sneaky", role=Role.hall_staff, scope=Scope("hall", "cc-nanguan"),
                        password=PASSWORD, by=manager)
        assert list_users(conn, by=manager) == []
        assert {u.name for u in list_users(conn, by=halladm)} == ADMINISTERS["halladm"]


def test_list_shows_only_the_users_inside_the_scope(app, cast) -> None:
    for admin in ADMINS:
        assert names(api_client(app, admin)) == ADMINISTERS[admin], admin


@pytest.mark.parametrize("admin", ["cityadm", "halladm"])
def test_disable_inside_the_scope_only(app, cast, admin: str) -> None:
    client = api_client(app, admin)
    assert client.post("/api/v1/users/nobody-at-all/disable").json() == {"detail": "no user 'nobody-at-all'"}
    # outside the scope first, then inside (the admin themselves last: disabling oneself ends one's token)
    for target in sorted([*ADMINS, *TARGETS], key=lambda t: (t in ADMINISTERS[admin], t == admin)):
        victim = api_client(app, target)   # a live token of the target's own
        response = client.post(f"/api/v1/users/{target}/disable")
        if target in ADMINISTERS[admin]:
            assert response.status_code == 200 and response.json()["active"] is False, target
            assert victim.get("/api/v1/me").status_code == 401, target
        else:
            # the same answer as for a name nobody has: the user's existence is not revealed
            assert response.status_code == 404 and response.json() == {"detail": f"no user {target!r}"}, target
            assert victim.get("/api/v1/me").status_code == 200, target
    # what the admin could not, the province admin can
    assert api_client(app, "root").post("/api/v1/users/adm-jlc/disable").json()["active"] is False


@pytest.mark.parametrize("admin", list(ADMINS))
def test_tokens_inside_the_scope_only(app, cast, admin: str) -> None:
    client = api_client(app, admin)
    for target in [t for t in [*ADMINS, *TARGETS] if t != admin]:
        victim = api_client(app, target)
        listed = client.get(f"/api/v1/users/{target}/tokens")
        if target in ADMINISTERS[admin]:
            assert listed.status_code == 200 and [t["label"] for t in listed.json()] == ["test"], target
            assert "token" not in listed.json()[0]   # never the secret
            every = client.post(f"/api/v1/users/{target}/tokens/revoke")
            assert every.status_code == 200 and every.json()["revoked"] == [listed.json()[0]["id"]], target
            assert victim.get("/api/v1/me").status_code == 401, target
            assert client.get(f"/api/v1/users/{target}/tokens").json()[0]["revoked"] is True, target
        else:
            own = victim.get("/api/v1/me").json()["id"]
            one = client.post(f"/api/v1/users/{target}/tokens/revoke", json={"id": 1})
            every = client.post(f"/api/v1/users/{target}/tokens/revoke")
            for response in (listed, one, every):
                assert response.status_code == 404 and response.json() == {"detail": f"no user {target!r}"}, target
            assert victim.get("/api/v1/me").json()["id"] == own, target   # the token still works


def test_revoke_one_token_of_the_user_only(app, pool: ConnectionPool, cast) -> None:
    halladm = api_client(app, "halladm")
    first, second = api_client(app, "staff-ng"), api_client(app, "staff-ng")
    other = api_client(app, "staff-cy")
    tokens = halladm.get("/api/v1/users/staff-ng/tokens").json()
    assert len(tokens) == 2
    foreign = api_client(app, "root").get("/api/v1/users/staff-cy/tokens").json()[0]["id"]
    stolen = halladm.post("/api/v1/users/staff-ng/tokens/revoke", json={"id": foreign})
    assert stolen.status_code == 404   # a token of someone outside the scope, named through an inside user
    assert other.get("/api/v1/me").status_code == 200
    newest = tokens[0]["id"]
    assert halladm.post("/api/v1/users/staff-ng/tokens/revoke", json={"id": newest}).json() == {"revoked": [newest]}
    assert second.get("/api/v1/me").status_code == 401 and first.get("/api/v1/me").status_code == 200


def test_only_admins_administer(app, cast) -> None:
    manager = api_client(app, "mgr-cc")
    assert manager.get("/api/v1/users").status_code == 403
    assert manager.get("/api/v1/users/staff-ng/tokens").status_code == 403
    assert manager.post("/api/v1/users/staff-ng/tokens/revoke").status_code == 403
    assert manager.post("/api/v1/users/staff-ng/disable").status_code == 403


def test_users_page_shows_only_the_scope(served: str, browser, cast) -> None:
    for admin in ADMINS:
        page = browser.new_context().new_page()
        page_login(page, served, "/users", admin)
        shown = set(page.locator("td[data-label=Name]").all_inner_texts())
        assert shown == ADMINISTERS[admin], admin
        assert ADMINS[admin] in page.locator("p.note").inner_text()
