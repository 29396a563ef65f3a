"""Property-based API testing with schemathesis against the OpenAPI document: every operation, fed generated
(valid and invalid) input by an admin of the province and by one of a hall, answers without a server error
(no 5xx), on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from monitor.app import create_app
from tests.fix_auth import add_user, api_client
from tests.fix_sites import SITE
from tests.fix_web import fuzz_api

# Every operation of the whole app (all areas' routes, all migrations), as the province's admin and as an
# admin scoped to one hall (whose answers take the scope and covert rules' other paths).


@pytest.fixture(params=[("root", "province"), ("hall-admin", "hall/cc-nanguan")], ids=["province", "hall"])
def token_and_app(pool: ConnectionPool, request: pytest.FixtureRequest) -> Iterator[tuple[str, object]]:
    name, scope = request.param
    add_user(pool, "root", "admin")
    if name != "root":
        add_user(pool, name, "admin", scope)
    app = create_app(SITE, pool)
    root = api_client(app, "root")
    # Something to find: a complaint, an open and a covert inspection, so generated ids sometimes hit.
    root.post("/api/v1/complaints", json={"hall_id": "cc-nanguan", "channel": "web", "category": "delay",
                                          "summary": "slow"})
    for covert in (False, True):
        root.post("/api/v1/inspections", json={"kind": "spot_check", "hall_id": "cc-nanguan", "covert": covert,
                                               "planned_at": "2026-03-01T10:00:00+08:00", "inspector": "x"})
    yield api_client(app, name).headers["Authorization"], app


def test_no_server_errors(token_and_app: tuple[str, object]) -> None:
    token, app = token_and_app
    checked = fuzz_api(app, token)
    assert "POST /api/v1/complaints" in checked and "GET /api/v1/inspections/{inspection_id}" in checked
