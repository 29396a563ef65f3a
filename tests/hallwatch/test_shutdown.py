"""`hallwatch demo` stopped with SIGTERM to its own process only, as `docker stop` and service
managers do: it stops its camera simulator and its embedded PostgreSQL, and starts again in the
same data directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.fix_sites import free_port, site_with_port, write_site

pytestmark = pytest.mark.slow


def start_demo(site: Path, data_dir: Path, web_port: int, log_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "HALLWATCH_DATABASE_URL"}
    with open(log_path, "a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "hallwatch", "demo", "--site", str(site), "--port", str(web_port),
             "--data-dir", str(data_dir)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def await_up(proc: subprocess.Popen[bytes], base: str, log_path: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"demo exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the demo did not come up:\n{log_path.read_text()[-3000:]}")


def children_of(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_sigterm_to_the_demo_alone_stops_everything_and_it_starts_again(tmp_path: Path) -> None:
    camera_port, web_port = free_port(), free_port()
    site = write_site(tmp_path / "site.yaml", site_with_port(camera_port))
    data_dir, log_path = tmp_path / "data", tmp_path / "demo.log"
    base = f"http://127.0.0.1:{web_port}"
    for round_ in range(2):  # the second start proves nothing was left holding the data dir or the ports
        demo = start_demo(site, data_dir, web_port, log_path)
        try:
            await_up(demo, base, log_path)
            spawned = children_of(demo)
            postmasters = [p for p in psutil.process_iter(["cmdline"])
                           if p.info["cmdline"] and str(data_dir / "postgres") in " ".join(p.info["cmdline"])]
            assert spawned and postmasters, "the demo should run a simulator child and a PostgreSQL"
            demo.send_signal(signal.SIGTERM)  # to the demo's own process, not its group
            assert demo.wait(60) == 0, log_path.read_text()[-3000:]
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
        gone, alive = psutil.wait_procs(spawned + postmasters, timeout=30)
        assert not alive, f"round {round_}: left running: {[p.pid for p in alive]}"
        assert port_free(camera_port) and port_free(web_port)


def test_after_the_demo_is_killed_the_next_start_reuses_its_database_and_stops_it(tmp_path: Path) -> None:
    """kill -9 of the demo: its simulator follows it at once (its ports are free for the next start); its
    PostgreSQL is left running, joined by the next start, and stopped when that one stops."""
    camera_port, web_port = free_port(), free_port()
    site = write_site(tmp_path / "site.yaml", site_with_port(camera_port))
    data_dir, log_path = tmp_path / "data", tmp_path / "demo.log"
    base = f"http://127.0.0.1:{web_port}"
    killed = start_demo(site, data_dir, web_port, log_path)
    try:
        await_up(killed, base, log_path)
        simulator = children_of(killed)
        killed.kill()
        assert killed.wait(30) == -signal.SIGKILL
        _, alive = psutil.wait_procs(simulator, timeout=30)
        assert not alive, "the simulator outlived the demo that started it"
        assert port_free(camera_port)
    finally:
        if killed.poll() is None:
            os.killpg(killed.pid, signal.SIGKILL)
    again = start_demo(site, data_dir, web_port, log_path)
    try:
        await_up(again, base, log_path)
        postmasters = [p for p in psutil.process_iter(["cmdline"])
                       if p.info["cmdline"] and str(data_dir / "postgres") in " ".join(p.info["cmdline"])]
        assert len(postmasters) == 1, "one server for the data directory, the one left behind, joined"
        again.send_signal(signal.SIGTERM)
        assert again.wait(60) == 0, log_path.read_text()[-3000:]
    finally:
        if again.poll() is None:
            os.killpg(again.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs(postmasters, timeout=30)
    assert not alive, "the server left by the killed demo was not stopped by the next one"
