"""`hallwatch demo` as a new user meets it: simulated cameras, analysis and the web app on an
embedded database of its own, an administrator login it made itself (password in a file, not in the
log), and cameras that come up live."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fix_sites import free_port, site_with_port, write_site

pytestmark = pytest.mark.slow


def test_demo_comes_up_with_a_working_login_and_live_cameras(tmp_path: Path) -> None:
    port, web_port = free_port(), free_port()
    site = write_site(tmp_path / "site.yaml", site_with_port(port))
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "HALLWATCH_DATABASE_URL"}  # the demo's own database
    log_path = tmp_path / "demo.log"
    with open(log_path, "w") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "hallwatch", "demo", "--site", str(site), "--port", str(web_port),
             "--data-dir", str(data_dir)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{web_port}"
    try:
        _await(lambda: _get(base + "/healthz") == 200, demo, log_path, "the web app to answer")
        secret = data_dir / "demo-login.txt"
        name, password = secret.read_text().split()
        assert secret.stat().st_mode & 0o077 == 0, "the password file is readable by others"
        assert password not in log_path.read_text()
        assert httpx.get(base + "/api/v1/status", timeout=5).status_code == 401
        token = httpx.post(base + "/api/v1/auth/token", json={"name": name, "password": password},
                           timeout=10).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        def all_live() -> bool:
            status = httpx.get(base + "/api/v1/status", headers=headers, timeout=5).json()
            cameras = [c for hall in status["halls"] for c in hall["cameras"]]
            return bool(cameras) and all(c["state"] == "live" for c in cameras)

        _await(all_live, demo, log_path, "every simulated camera to be live")
        with httpx.Client(base_url=base, timeout=10) as browser:  # the login form, as a browser sends it
            page = browser.get("/login")
            assert page.status_code == 200
            form = browser.post("/login", data={"name": name, "password": password, "next": "/"},
                                follow_redirects=True)
            assert form.status_code == 200 and "cc-nanguan" in form.text
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        assert demo.wait(60) in (0, -signal.SIGTERM), log_path.read_text()[-3000:]


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


def _await(ready, proc: subprocess.Popen, log_path: Path, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"demo exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
        if ready():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n{log_path.read_text()[-3000:]}")
