"""The web app for tests: on the example site's database, on a real socket, in Debian's headless Chromium,
and fuzzed through its OpenAPI schema with schemathesis. Screenshots go to ARTIFACTS."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from psycopg_pool import ConnectionPool

from monitor.app import create_app
from tests.fix_sites import REPO, SITE, free_port

ARTIFACTS = REPO / "artifacts"

# Debian's Chromium, headless, with nothing that phones home (the machine's closed network refuses it).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]


@contextmanager
def serving(app: object) -> Iterator[str]:
    """An ASGI app on a real socket in a thread, for browsers and other processes: its base URL."""
    # As the service runs it (hallwatch.service): the app alone decides whom X-Forwarded-For is believed from.
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning",
                                           proxy_headers=False))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("web server did not start")
            thread.join(0.05)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture
def app(pool: ConnectionPool):
    """The web app of the example site on `pool`."""
    return create_app(SITE, pool)


@pytest.fixture
def served(app) -> Iterator[str]:
    """`app` on a real socket: its base URL."""
    with serving(app) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


# -- schemathesis


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
    schema = schemathesis.openapi.from_dict(app.openapi())  # not from /openapi.json, which needs a login
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
