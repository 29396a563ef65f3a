"""Property-based API testing with schemathesis against /openapi.json: every operation, fed generated
(valid and invalid) input by an admin, answers without a server error (no 5xx), on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from psycopg_pool import ConnectionPool

from monitor.app import create_app
from storage.migrate import apply_migrations
from storage.samples import sync_site
from tests.test_auth import SITE, add_user, api_client

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


def send(client: TestClient, case, token: str):  # type: ignore[no-untyped-def]
    """The generated request, sent through Starlette's test client: schemathesis' own requests transport
    fails with the installed urllib3 (it iterates `PoolManager.pools.keys()`)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers={"Authorization": token})
    data = kwargs.get("data")
    content = data if isinstance(data, bytes | str) else None
    return client.request(kwargs["method"], kwargs["url"], headers=kwargs.get("headers"), params=kwargs.get("params"),
                          cookies=kwargs.get("cookies"), json=kwargs.get("json"), content=content,
                          data=None if content is not None else data, files=kwargs.get("files"))


def fuzz_api(app: object, token: str, *, prefixes: tuple[str, ...] = (), max_examples: int = 20,
             field_errors_only: bool = False) -> list[str]:
    """Schemathesis over the app's operations (those whose path starts with one of `prefixes`, or
    all): no server error, and every 422 names its field. Returns the operations checked. Driven by
    hand rather than schemathesis' pytest plugin, which does not run under this pytest."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    client = TestClient(app, follow_redirects=False)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if prefixes and not operation.path.startswith(prefixes):
            continue
        checked.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(max_examples=max_examples, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case) -> None:  # type: ignore[no-untyped-def]
            response = send(client, case, token)
            assert response.status_code < 500, (case.method, case.formatted_path, response.status_code,
                                                response.text[:500])
            if response.status_code == 422:
                detail = response.json()["detail"]
                # A validation error names the field: FastAPI's list of {loc, msg}, or a plain sentence.
                named = all(isinstance(item, dict) and item.get("loc") for item in detail) \
                    if isinstance(detail, list) else not field_errors_only
                assert named, detail

        no_server_error()
    return checked


def test_no_server_errors(token_and_app: tuple[str, object]) -> None:
    token, app = token_and_app
    checked = fuzz_api(app, token)
    assert "POST /api/v1/complaints" in checked and "GET /api/v1/inspections/{inspection_id}" in checked
