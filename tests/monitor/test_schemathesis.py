"""Property-based API testing with schemathesis against /openapi.json: every operation, fed generated
(valid and invalid) input by an admin, answers without a server error (no 5xx), on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from monitor.app import create_app
from storage.migrate import apply_migrations
from storage.samples import sync_site
from tests.fix_auth import add_user, api_client
from tests.fix_sites import SITE
from tests.fix_web import fuzz_api

# Every operation of the whole app (all areas' routes, all migrations).


@pytest.fixture
def token_and_app(fresh_dsn: str) -> Iterator[tuple[str, object]]:
    with ConnectionPool(fresh_dsn, min_size=1, max_size=4) as pool:
        apply_migrations(pool)
        with pool.connection() as conn:
            sync_site(conn, SITE)
        add_user(pool, "root", "admin")
        app = create_app(SITE, pool)
        client = api_client(app, "root")
        # Something to find: one complaint and one inspection, so generated ids sometimes hit.
        client.post("/api/v1/complaints", json={"hall_id": "cc-nanguan", "channel": "web", "category": "delay",
                                                "summary": "slow"})
        client.post("/api/v1/inspections", json={"kind": "spot_check", "hall_id": "cc-nanguan",
                                                 "planned_at": "2026-03-01T10:00:00+08:00", "inspector": "x"})
        yield client.headers["Authorization"], app


def test_no_server_errors(token_and_app: tuple[str, object]) -> None:
    token, app = token_and_app
    checked = fuzz_api(app, token)
    assert "POST /api/v1/complaints" in checked and "GET /api/v1/inspections/{inspection_id}" in checked
