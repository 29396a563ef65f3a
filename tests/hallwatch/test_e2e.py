"""End to end on real parts: the GStreamer RTSP simulator, `hallwatch run` (readers, ONNX detector,
analytics, writer, web app) as a separate process, and a real PostgreSQL. What the pipeline stores
is compared with the simulator's ground truth.

Tolerances, and why:
- Around every change of the scripted scene, samples are not compared: the reader's capture time
  lags the simulator's clock by up to a second, and a desk that empties turns `absent` only after
  `absent_after_s` by design. Desk samples are skipped from 1 s before a change of that desk to
  `absent_after_s` + 2 s after it; zone samples from 1 s before to 2 s after a change of that zone.
- Of the samples left, at least 95% of desk states must match, and zone counts must have a mean
  absolute error of at most 0.5 person (the foundation's detector misses some partly hidden people;
  accuracy proper is the models issue's work).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from core.config import load_site
from hallwatch.service import simulator_process
from tests.fix_sites import free_port, site_with_port, write_site
from tests.fix_web import ARTIFACTS
from tools.simulator import load_truth, truth_at

pytestmark = pytest.mark.slow

RUN_SECONDS = 75
ANALYZE_FRAMES = 30
ABSENT_AFTER_S = 4.0


def offline_cameras(port: int, dead_port: int) -> list[dict]:
    return [
        {"id": "cam-dead", "url": f"rtsp://viewer:demo-secret@127.0.0.1:{dead_port}/nothing-here", "zones": []},
        {"id": "cam-badpw", "url": f"rtsp://viewer:wrong-secret@127.0.0.1:{port}/cc-nanguan-1", "zones": []},
    ]


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory, pg_server: str) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("e2e")
    port, web_port = free_port(), free_port()
    raw = site_with_port(port)
    simulated_path = write_site(tmp / "simulated.yaml", raw)
    raw["halls"][2]["cameras"] += offline_cameras(port, free_port())  # the pipeline also has two broken cameras
    site_path = write_site(tmp / "site.yaml", raw)
    truth_dir = tmp / "truth"
    dbname = "e2e"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {dbname}")
    dsn = psycopg.conninfo.make_conninfo(pg_server, dbname=dbname)
    env = {**os.environ, "HALLWATCH_DATABASE_URL": dsn}
    log_path = tmp / "run.log"
    with simulator_process(simulated_path, truth_dir, seed=11), open(log_path, "w") as log:
        run = subprocess.Popen(
            [sys.executable, "-m", "hallwatch", "run", "--site", str(site_path), "--port", str(web_port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{web_port}"
        try:
            wait_for_http(base + "/healthz", run)
            headers = {"Authorization": f"Bearer {operator_token(site_path, env)}"}
            started = time.time()
            # `analyze` reads the same live camera as the pipeline, at the same time.
            analyze = subprocess.Popen(
                [sys.executable, "-m", "hallwatch", "analyze", "--site", str(site_path), "--camera",
                 "cc-chaoyang/cam1", "--json", "--max-frames", str(ANALYZE_FRAMES),
                 load_site(site_path).find_camera("cc-chaoyang/cam1")[1].url],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            )
            statuses = []
            while time.time() - started < RUN_SECONDS:
                assert run.poll() is None, log_path.read_text()
                statuses.append(httpx.get(base + "/api/v1/status", headers=headers, timeout=5).json())
                time.sleep(5)
            out, err = analyze.communicate(timeout=120)
            analyzed = subprocess.CompletedProcess(analyze.args, analyze.returncode, out, err)
        finally:
            run.terminate()
            run.wait(30)
        yield {"site": site_path, "truth": truth_dir, "dsn": dsn, "statuses": statuses, "analyze": analyzed,
               "log": log_path.read_text(), "returncode": run.returncode}


def operator_token(site_path: Path, env: dict[str, str]) -> str:
    """A center operator added and given an API token through the CLI, as an administrator would."""
    cli = [sys.executable, "-m", "hallwatch", "users"]
    added = subprocess.run([*cli, "add", "operator", "--role", "center_operator", "--scope", "province",
                            "--site", str(site_path)], input="e2e-operator-pass\n", env=env,
                           capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    token = subprocess.run([*cli, "token", "operator"], env=env, capture_output=True, text=True, timeout=60)
    assert token.returncode == 0, token.stderr
    return token.stdout.strip().splitlines()[-1].split()[-1]


def wait_for_http(url: str, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"hallwatch run exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {timeout_s} s")


def changes_near(changes, ts: float, key, before: float, after: float) -> bool:
    """Whether the truth of `key` changed within [ts - after, ts + before]."""
    previous = None
    for change in changes:
        value = key(change.truth)
        if previous is not None and value != previous and ts - after <= change.ts <= ts + before:
            return True
        previous = value
    return False


def zone_count(truth, zone: str) -> int:
    return {**truth.queues, **truth.self_service}[zone]


def test_stored_states_match_ground_truth(e2e: dict) -> None:
    truth = {p.stem: load_truth(p) for p in e2e["truth"].glob("*.jsonl")}
    assert set(truth) == {"cc-nanguan__cam1", "cc-nanguan__cam2", "cc-chaoyang__cam1", "jlc-chuanying__cam1"}
    site = load_site(e2e["site"])
    with psycopg.connect(e2e["dsn"]) as conn:
        desks = conn.execute("SELECT hall_id, camera_id, window_id, extract(epoch FROM ts), state"
                             " FROM desk_sample WHERE state <> 'unknown' ORDER BY ts").fetchall()
        desk_states = dict(conn.execute("SELECT state, count(*) FROM desk_sample GROUP BY state").fetchall())
        span = conn.execute("SELECT extract(epoch FROM max(ts) - min(ts)) FROM desk_sample").fetchone()[0]
        zones = conn.execute("SELECT hall_id, camera_id, zone_id, extract(epoch FROM ts), people"
                             " FROM zone_sample ORDER BY ts").fetchall()
    desk_hits = desk_total = 0
    for hall, camera, window, ts, state in desks:
        changes = truth[f"{hall}__{camera}"]
        expected = truth_at(changes, float(ts))
        if expected is None or changes_near(changes, float(ts), lambda t, w=window: t.desks[w],
                                            before=1.0, after=ABSENT_AFTER_S + 2.0):
            continue
        desk_total += 1
        desk_hits += state == ("present" if expected.desks[window] else "absent")
    errors = []
    for hall, camera, zone, ts, people in zones:
        changes = truth[f"{hall}__{camera}"]
        expected = truth_at(changes, float(ts))
        near_change = changes_near(changes, float(ts), lambda t, z=zone: zone_count(t, z), before=1.0, after=2.0)
        if expected is None or near_change:
            continue
        errors.append(abs(people - zone_count(expected, zone)))
    windows = sum(len(h.windows) for h in site.halls)
    report = {
        "desk_rows_by_state": desk_states, "desk_span_s": float(span or 0),
        "desk_samples": desk_total, "desk_agreement": desk_hits / max(desk_total, 1),
        "zone_samples": len(errors), "zone_mae": sum(errors) / max(len(errors), 1),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "e2e-accuracy.json").write_text(json.dumps(report, indent=2))
    assert desk_total >= windows * (RUN_SECONDS // 3), report  # most seconds of every window compared
    assert report["desk_agreement"] >= 0.95, report
    assert len(errors) >= 100, report
    assert report["zone_mae"] <= 0.5, report


def test_dead_and_unauthorized_cameras_show_in_status_while_the_rest_runs(e2e: dict) -> None:
    last = e2e["statuses"][-1]
    cameras = {(h["id"], c["id"]): c for h in last["halls"] for c in h["cameras"]}
    assert cameras[("jlc-chuanying", "cam-dead")]["state"] == "offline"
    assert cameras[("jlc-chuanying", "cam-badpw")]["state"] == "unauthorized"
    live = [key for key, c in cameras.items() if c["state"] == "live"]
    assert len(live) == 4, cameras
    assert all(c["last_frame_age_s"] < 5 for c in cameras.values() if c["state"] == "live")
    windows = [w for h in last["halls"] for w in h["windows"]]
    assert all(w["state"] in ("present", "absent") for w in windows), windows
    text = json.dumps(e2e["statuses"]) + e2e["log"]
    assert "demo-secret" not in text and "wrong-secret" not in text
    with psycopg.connect(e2e["dsn"]) as conn:
        stored = conn.execute("SELECT string_agg(coalesce(error, ''), ' ') FROM camera_health").fetchone()[0]
        urls = conn.execute("SELECT string_agg(url_redacted, ' ') FROM camera").fetchone()[0]
    assert "secret" not in (stored or "") and "demo-secret" not in urls


def test_analyze_agrees_with_ground_truth_on_the_live_stream(e2e: dict) -> None:
    result = e2e["analyze"]
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == ANALYZE_FRAMES
    changes = load_truth(e2e["truth"] / "cc-chaoyang__cam1.jsonl")
    desk_compared = desk_agreed = 0
    queue_errors = []
    for record in records:
        assert set(record) >= {"ts", "camera", "people", "queues", "desks"}
        assert record["camera"] == "cam1"
        ts = record["ts"]
        expected = truth_at(changes, ts)
        assert expected is not None
        if not changes_near(changes, ts, lambda t: t.queues, before=1.0, after=2.0):
            queue_errors.append(abs(record["queues"]["q1"] - expected.queues["q1"]))
        if not changes_near(changes, ts, lambda t: t.desks, before=1.0, after=ABSENT_AFTER_S + 2):
            desk_compared += 1
            desk_agreed += record["desks"] == {w: "present" if s else "absent" for w, s in expected.desks.items()}
    assert len(queue_errors) >= 10, records
    assert sum(queue_errors) / len(queue_errors) <= 0.5, (queue_errors, records)
    assert desk_compared >= 5 and desk_agreed / desk_compared >= 0.9, records
    assert "demo-secret" not in result.stdout + result.stderr


def test_run_stops_cleanly(e2e: dict) -> None:
    assert e2e["returncode"] in (0, -15), e2e["log"][-2000:]
    assert "Traceback" not in e2e["log"], e2e["log"][-4000:]
