"""`hallwatch demo --days N` as a new user starts it: the web app comes up, the history is seeded beside it in a
process of its own and then shows (complaints, inspections, cases, alerts), `--empty` starts without one, and a
stopped demo stops the history's process too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.fix_sites import free_port, site_with_port, write_site

pytestmark = pytest.mark.slow
DAYS = "3"  # a working day's open hours whatever the weekday: two days back from a Monday morning are a weekend


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0


def _demo(tmp_path: Path, *flags: str) -> tuple[subprocess.Popen[bytes], str, Path, Path]:
    port, web_port = free_port(), free_port()
    site = write_site(tmp_path / "site.yaml", site_with_port(port))
    env = {k: v for k, v in os.environ.items() if k != "HALLWATCH_DATABASE_URL"}  # the demo's own database
    log_path = tmp_path / "demo.log"
    with open(log_path, "w") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "hallwatch", "demo", "--site", str(site), "--port", str(web_port),
             "--data-dir", str(tmp_path / "data"), *flags], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    base = f"http://127.0.0.1:{web_port}"
    deadline = time.monotonic() + 600
    while _get(base + "/healthz") != 200:
        assert demo.poll() is None, f"demo exited with {demo.returncode}:\n{log_path.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"the web app did not come up:\n{log_path.read_text()[-3000:]}"
        time.sleep(0.5)
    return demo, base, tmp_path / "data" / "demo-login.txt", log_path


def _counts(base: str, secret: Path) -> dict[str, int]:
    name, password = secret.read_text().split()
    token = httpx.post(base + "/api/v1/auth/token", json={"name": name, "password": password},
                       timeout=10).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    return {what: httpx.get(f"{base}/api/v1/{what}", params=params, headers=headers, timeout=30).json()["count"]
            for what, params in (("complaints", {}), ("inspections", {}), ("cases", {"include_closed": "true"}),
                                 ("alerts", {}))}


def _stop(demo: subprocess.Popen[bytes], log_path: Path) -> None:
    os.killpg(demo.pid, signal.SIGTERM)
    assert demo.wait(60) in (0, -signal.SIGTERM), log_path.read_text()[-3000:]


def _wait_for_line(demo: subprocess.Popen[bytes], log_path: Path, text: str) -> None:
    deadline = time.monotonic() + 600
    while text not in log_path.read_text():
        assert demo.poll() is None, f"demo exited with {demo.returncode}:\n{log_path.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{log_path.read_text()[-3000:]}"
        time.sleep(0.5)


def _history_processes(demo: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The demo's children that seed its history (multiprocessing's spawned interpreters, not its resource
    tracker)."""
    return [p for p in psutil.Process(demo.pid).children() if any("spawn_main" in part for part in p.cmdline())]


@pytest.mark.parametrize("flags", [("--days", DAYS), ("--days", DAYS, "--empty")], ids=["history", "empty"])
def test_demo_starts_with_a_history_unless_empty(tmp_path: Path, flags: tuple[str, ...]) -> None:
    demo, base, secret, log_path = _demo(tmp_path, *flags)
    try:
        if "--empty" in flags:
            assert "no demo history" in log_path.read_text()
            assert not _history_processes(demo)
            assert _counts(base, secret) == {"complaints": 0, "inspections": 0, "cases": 0, "alerts": 0}
        else:
            _wait_for_line(demo, log_path, f"demo history of {DAYS} days seeded")
            counts = _counts(base, secret)
            assert all(n > 0 for n in counts.values()), counts
    finally:
        _stop(demo, log_path)


def test_a_demo_stopped_while_seeding_stops_the_history_too(tmp_path: Path) -> None:
    demo, base, secret, log_path = _demo(tmp_path, "--days", "30")
    try:
        _wait_for_line(demo, log_path, "seeding 30 days of demo history in the background")
        history = _history_processes(demo)
        assert len(history) == 1 and "demo history of 30 days seeded" not in log_path.read_text()
        assert _get(base + "/healthz") == 200  # the web app answers while the history is seeded
    finally:
        _stop(demo, log_path)
    assert not history[0].is_running() or history[0].status() == psutil.STATUS_ZOMBIE
    assert "demo history stopped before it was complete" in log_path.read_text()
    postgres = [p for p in psutil.process_iter(["name", "cwd"])
                if p.info["name"] == "postgres" and str(tmp_path) in (p.info["cwd"] or "")]
    assert not postgres, "the embedded database was left running"
