"""Shared fixtures: a real PostgreSQL for the session (embedded unless HALLWATCH_DATABASE_URL names
one), a fresh database per test, free ports, and site files pointing at local simulated cameras."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import uvicorn
import yaml
from psycopg.conninfo import make_conninfo

from storage.server import DATABASE_URL_ENV, embedded_server

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_SITE = REPO / "examples" / "site.yaml"
ARTIFACTS = REPO / "artifacts"


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """DSN of a running PostgreSQL server for the whole session."""
    external = os.environ.get(DATABASE_URL_ENV)
    if external:
        yield external
        return
    with embedded_server(tmp_path_factory.mktemp("pg")) as dsn:
        yield dsn


@pytest.fixture
def fresh_dsn(pg_server: str) -> Iterator[str]:
    """An empty database of its own for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_conninfo(pg_server, dbname=name)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def site_with_port(port: int, *, source: Path = EXAMPLE_SITE, **top_level: object) -> dict:
    """The example site with every camera served on `port` (and any top-level keys replaced)."""
    site = yaml.safe_load(source.read_text())
    for hall in site["halls"]:
        for camera in hall["cameras"]:
            camera["url"] = camera["url"].replace(":8554/", f":{port}/")
    site.update(top_level)
    return site


def write_site(path: Path, site: dict) -> Path:
    path.write_text(yaml.safe_dump(site, sort_keys=False))
    return path


# Debian's Chromium, headless, with nothing that phones home (the machine's closed network refuses it).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]


@contextmanager
def serving(app: object) -> Iterator[str]:
    """An ASGI app on a real socket in a thread, for browsers and other processes: its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
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
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
