"""Workers share the cameras through leases in PostgreSQL: the share rule as a pure function, the
lease keeper stepped by hand against a real database, and real `hallwatch worker` processes on the
simulator's RTSP cameras, killed and stopped while they run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import psycopg
import pytest

from core.config import SiteConfig, load_site
from hallwatch.leases import HEARTBEAT_S, LEASE_TTL_S, LeaseKeeper, LeaseTimings, fair_share
from hallwatch.service import simulator_process
from models.detections import Detections
from pipeline.loop import Pipeline
from pipeline.rows import HealthSample, Sample
from storage import Database, open_database
from storage.leases import CameraKey, LeaseEvent, lease_history, lease_holders
from storage.samples import sync_site
from tests.fix_sites import EXAMPLE_SITE, free_port, site_with_port, write_site
from tests.fix_wait import await_true
from tests.fix_web import ARTIFACTS

SITE = load_site(EXAMPLE_SITE)
CAMERAS = [(hall.id, camera.id) for hall, camera in SITE.cameras()]
HANDOVER_LIMIT_S = 30.0  # the process test runs workers with the default heartbeat and TTL


@pytest.mark.parametrize(
    ("cameras", "workers", "shares"),
    [
        (4, 1, [4]),
        (4, 2, [2, 2]),
        (4, 3, [2, 1, 1]),       # the oldest worker keeps the odd camera
        (4, 4, [1, 1, 1, 1]),
        (4, 6, [1, 1, 1, 1, 0, 0]),
        (0, 2, [0, 0]),
        (3000, 7, [429, 429, 429, 429, 428, 428, 428]),
    ],
)
def test_fair_shares_add_up_to_the_cameras(cameras: int, workers: int, shares: list[int]) -> None:
    assert [fair_share(cameras, workers, rank) for rank in range(workers)] == shares
    assert sum(shares) == cameras


@pytest.mark.parametrize(("cameras", "workers", "rank"), [(4, 0, 0), (4, 2, 2), (4, 2, -1), (-1, 1, 0)])
def test_fair_share_rejects_impossible_arguments(cameras: int, workers: int, rank: int) -> None:
    with pytest.raises(ValueError):
        fair_share(cameras, workers, rank)


@pytest.mark.parametrize(("heartbeat_s", "ttl_s"), [(5.0, 10.0), (0.0, 20.0), (120.0, 600.0)])
def test_lease_timings_are_checked(heartbeat_s: float, ttl_s: float) -> None:
    with pytest.raises(ValueError):
        LeaseTimings(heartbeat_s=heartbeat_s, ttl_s=ttl_s)


# --- the pipeline, told which cameras to analyse while it runs ----------------------------------------

class NoPeople:
    def detect(self, frame: np.ndarray) -> Detections:
        return Detections.empty()


def test_pipeline_starts_and_stops_cameras_while_it_runs() -> None:
    site = SiteConfig.model_validate(site_with_port(free_port()))  # nothing listens: readers only retry
    stored: list[Sample] = []
    pipeline = Pipeline(site, NoPeople(), stored.extend, cameras=())
    first, second = CAMERAS[:2]
    pipeline.set_cameras([first])
    assert pipeline.readers == {}  # nothing is read before the pipeline runs
    stop = threading.Event()
    thread = threading.Thread(target=pipeline.run, args=(stop,))
    thread.start()
    try:
        await_true(lambda: set(pipeline.readers) == {first}, 5, "the first camera's reader")
        await_true(lambda: any(isinstance(s, HealthSample) and s.camera_id == first[1] for s in stored), 5,
                   "a health row of the first camera")
        pipeline.set_cameras([second])
        assert set(pipeline.readers) == {second}
        moved = len(stored)
        await_true(lambda: any(isinstance(s, HealthSample) and s.hall_id == second[0] and s.camera_id == second[1]
                               for s in stored[moved:]), 5, "a health row of the second camera")
        time.sleep(1.2)
        assert all((s.hall_id, s.camera_id) == second for s in stored[moved:])
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive() and pipeline.readers == {}
    with pytest.raises(ValueError, match="not cameras of the site"):
        pipeline.set_cameras([("nowhere", "cam1")])


# --- the lease keeper, stepped by hand ------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def database(fresh_dsn: str) -> Iterator[Database]:
    with open_database(dsn=fresh_dsn) as db:
        with db.pool.connection() as conn:
            sync_site(conn, SITE)
        yield db


def keeper(database: Database, worker_id: str, timings: LeaseTimings | None = None,
           clock: Callable[[], float] = time.monotonic) -> tuple[LeaseKeeper, list[set[CameraKey]]]:
    """A registered keeper whose `apply` calls are recorded."""
    applied: list[set[CameraKey]] = [set()]
    k = LeaseKeeper(database.pool, worker_id=worker_id, cameras=CAMERAS, timings=timings or LeaseTimings(),
                    clock=clock, apply=lambda keys: applied.append(set(keys)))
    assert k.register(threading.Event())
    return k, applied


def holders(dsn: str) -> dict[CameraKey, str | None]:
    with psycopg.connect(dsn) as conn:
        try:
            return lease_holders(conn)
        except psycopg.errors.UndefinedTable:  # the first worker has not migrated the database yet
            return {}


def counts(dsn: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for worker in holders(dsn).values():
        if worker is not None:
            found[worker] = found.get(worker, 0) + 1
    return found


def test_keepers_split_the_cameras_and_make_room_for_a_new_one(database: Database, fresh_dsn: str) -> None:
    a, applied_a = keeper(database, "a")
    a.beat()
    assert counts(fresh_dsn) == {"a": 4} and applied_a[-1] == set(CAMERAS)
    b, applied_b = keeper(database, "b")
    b.beat()                        # nothing free yet
    a.beat()                        # a sees two workers and releases half
    b.beat()                        # b claims what a released
    assert counts(fresh_dsn) == {"a": 2, "b": 2}
    assert applied_a[-1] | applied_b[-1] == set(CAMERAS) and not applied_a[-1] & applied_b[-1]
    c, applied_c = keeper(database, "c")
    for k in (c, a, b, c):
        k.beat()
    assert counts(fresh_dsn) == {"a": 2, "b": 1, "c": 1}
    c.release_all()                 # a clean stop frees the cameras at once
    assert counts(fresh_dsn) == {"a": 2, "b": 1} and applied_c[-1] == set()
    b.beat()
    assert counts(fresh_dsn) == {"a": 2, "b": 2}
    assert_no_overlap(history(fresh_dsn))


def test_unrenewed_leases_stop_analysis_before_they_expire(database: Database, fresh_dsn: str) -> None:
    clock = FakeClock()
    timings = LeaseTimings(heartbeat_s=5.0, ttl_s=20.0)
    a, applied = keeper(database, "a", timings, clock)
    a.beat()
    assert applied[-1] == set(CAMERAS)
    clock.now += timings.ttl_s - timings.margin_s - 0.1  # no renewal since: still inside the lease
    a.enforce()
    assert applied[-1] == set(CAMERAS)
    clock.now += 0.2                                     # `margin_s` before the lease could expire
    a.enforce()
    assert applied[-1] == set()
    assert counts(fresh_dsn) == {"a": 4}                 # the database still has them: nobody else took them
    a.beat()                                             # the database answers again: renewed, resumed
    assert applied[-1] == set(CAMERAS)


def test_leases_that_expired_go_to_another_worker(database: Database, fresh_dsn: str) -> None:
    timings = LeaseTimings(heartbeat_s=0.1, ttl_s=0.5)
    a, applied_a = keeper(database, "a", timings)
    a.beat()
    assert counts(fresh_dsn) == {"a": 4}
    time.sleep(0.6)                                      # a stops beating, as if it hung
    a.enforce()
    assert applied_a[-1] == set()                        # fenced on its own clock
    b, applied_b = keeper(database, "b", timings)
    b.beat()
    assert counts(fresh_dsn) == {"b": 4} and applied_b[-1] == set(CAMERAS)
    a.beat()                                             # a is back: it learns it lost them
    assert applied_a[-1] == set() and a.held() == set()
    events = history(fresh_dsn)
    assert [(e.worker_id, e.event) for e in events if e.camera_id == "cam2"] == [
        ("a", "acquired"), ("a", "expired"), ("b", "acquired")]
    assert_no_overlap(events)


def history(dsn: str) -> list[LeaseEvent]:
    with psycopg.connect(dsn) as conn:
        return lease_history(conn)


def assert_no_overlap(events: list[LeaseEvent]) -> dict[CameraKey, list[tuple[str, datetime, datetime | None]]]:
    """Every camera's holding intervals from the history are disjoint; returns them."""
    open_: dict[CameraKey, tuple[str, datetime]] = {}
    intervals: dict[CameraKey, list[tuple[str, datetime, datetime | None]]] = {}
    for e in events:
        key = (e.hall_id, e.camera_id)
        if e.event == "acquired":
            assert key not in open_, f"{key} acquired by {e.worker_id} at {e.ts} while {open_[key]} held it"
            open_[key] = (e.worker_id, e.ts)
        else:
            holder, since = open_.pop(key)
            assert holder == e.worker_id and since <= e.ts, (key, holder, e)
            intervals.setdefault(key, []).append((holder, since, e.ts))
    for key, (holder, since) in open_.items():
        intervals.setdefault(key, []).append((holder, since, None))
    return intervals


# --- real worker processes ------------------------------------------------------------------------

class Workers:
    def __init__(self, site: Path, dsn: str, logs: Path) -> None:
        self.site, self.dsn, self.logs = site, dsn, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, worker_id: str) -> None:
        env = {**os.environ, "HALLWATCH_DATABASE_URL": self.dsn}
        with open(self.logs / f"{worker_id}.log", "wb") as log:
            self.procs[worker_id] = subprocess.Popen(
                [sys.executable, "-m", "hallwatch", "worker", "--site", str(self.site), "--worker-id", worker_id],
                env=env, stdout=log, stderr=subprocess.STDOUT)

    def log(self, worker_id: str) -> str:
        return (self.logs / f"{worker_id}.log").read_text(errors="replace")

    def logs_tail(self) -> str:
        return "\n".join(f"--- {w}\n{self.log(w)[-1500:]}" for w in self.procs)

    def wait_until(self, what: str, check: Callable[[], bool], timeout_s: float) -> float:
        """Poll `check` until true; returns the seconds it took. Running workers must stay up."""
        started = time.monotonic()
        while not check():
            for worker_id, proc in self.procs.items():
                assert proc.returncode is not None or proc.poll() is None, f"{worker_id} exited\n{self.logs_tail()}"
            assert time.monotonic() - started < timeout_s, f"not within {timeout_s} s: {what}\n{self.logs_tail()}"
            time.sleep(0.2)
        return time.monotonic() - started

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def analysed_since(dsn: str, since: float) -> set[CameraKey]:
    """Cameras with desk results captured after `since` (unix seconds)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT DISTINCT hall_id, camera_id FROM desk_sample"
                            " WHERE ts > to_timestamp(%s) AND state <> 'unknown'", (since,)).fetchall()
    return {(hall, camera) for hall, camera in rows}


@pytest.fixture
def workers(tmp_path: Path, fresh_dsn: str) -> Iterator[Workers]:
    site = write_site(tmp_path / "site.yaml", site_with_port(free_port()))
    group = Workers(site, fresh_dsn, tmp_path)
    with simulator_process(site, tmp_path / "truth", seed=5):
        try:
            yield group
        finally:
            group.stop_all()


@pytest.mark.slow
def test_workers_share_cameras_and_hand_them_over(workers: Workers, fresh_dsn: str) -> None:
    timings: dict[str, float] = {}

    # Two workers split the four cameras, and every camera is analysed.
    workers.start("a")
    workers.start("b")
    timings["split_s"] = workers.wait_until("a and b hold 2 cameras each",
                                            lambda: counts(fresh_dsn) == {"a": 2, "b": 2}, 90)
    since = time.time()
    workers.wait_until("every camera analysed", lambda: analysed_since(fresh_dsn, since) == set(CAMERAS), 20)

    # kill -9 b: its cameras move to a within 30 s, and are analysed again.
    b_cameras = {key for key, worker in holders(fresh_dsn).items() if worker == "b"}
    killed_at = time.time()
    workers.procs["b"].send_signal(signal.SIGKILL)
    workers.procs["b"].wait()
    timings["handover_after_kill_s"] = workers.wait_until(
        "a holds b's cameras", lambda: counts(fresh_dsn) == {"a": 4}, HANDOVER_LIMIT_S)
    since = time.time()
    workers.wait_until("b's cameras analysed by a", lambda: analysed_since(fresh_dsn, since) >= b_cameras, 20)
    workers.wait_until("every camera analysed", lambda: analysed_since(fresh_dsn, since) == set(CAMERAS), 20)

    # A third worker takes its share from a.
    workers.start("c")
    timings["new_worker_share_s"] = workers.wait_until(
        "c holds 2 cameras", lambda: counts(fresh_dsn) == {"a": 2, "c": 2}, 60)
    c_cameras = {key for key, worker in holders(fresh_dsn).items() if worker == "c"}
    since = time.time()
    workers.wait_until("c's cameras analysed", lambda: analysed_since(fresh_dsn, since) >= c_cameras, 20)

    # SIGTERM c: its leases are free at once, far inside the TTL, and a takes them at its next beat.
    workers.procs["c"].send_signal(signal.SIGTERM)
    timings["release_after_sigterm_s"] = workers.wait_until(
        "c's leases released", lambda: "c" not in counts(fresh_dsn), LEASE_TTL_S / 3)
    assert workers.procs["c"].wait(15) == 0, workers.log("c")
    timings["taken_after_sigterm_s"] = workers.wait_until(
        "a holds everything", lambda: counts(fresh_dsn) == {"a": 4}, HEARTBEAT_S + 5)

    # The history: nobody held a camera while another held it; b's leases ended by expiry.
    events = history(fresh_dsn)
    intervals = assert_no_overlap(events)
    assert {(e.hall_id, e.camera_id) for e in events if e.event == "expired" and e.worker_id == "b"} == b_cameras
    assert {(e.hall_id, e.camera_id) for e in events if e.event == "released" and e.worker_id == "c"} == c_cameras
    assert all(len(spans) >= 2 for key, spans in intervals.items() if key in b_cameras | c_cameras)
    expiries = [(i, e) for i, e in enumerate(events) if e.event == "expired"]
    claims = [next(later for later in events[i + 1:] if later.event == "acquired"
                   and (later.hall_id, later.camera_id) == (e.hall_id, e.camera_id)) for i, e in expiries]
    timings["expiry_after_kill_s"] = max(e.ts.timestamp() for _, e in expiries) - killed_at  # at most the TTL
    timings["claim_after_expiry_s"] = max((claim.ts - e.ts).total_seconds()              # at most a heartbeat
                                          for (_, e), claim in zip(expiries, claims, strict=True))

    workers.procs["a"].send_signal(signal.SIGTERM)
    assert workers.procs["a"].wait(15) == 0, workers.log("a")
    assert all(worker is None for worker in holders(fresh_dsn).values())
    for worker_id in ("a", "c"):
        assert "Traceback" not in workers.log(worker_id), workers.log(worker_id)
        assert "demo-secret" not in workers.log(worker_id)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "workers-timings.json").write_text(json.dumps({k: round(v, 2) for k, v in timings.items()},
                                                               indent=2))
