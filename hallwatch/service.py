"""Long-running commands: `run` (pipeline + web app on one database), `demo` (the same, fed by
the camera simulator in a child process) and `worker` (a share of the cameras, leased through the
database, without the web app)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from core.config import DetectorConfig, SiteConfig
from core.errors import HallwatchError
from hallwatch.leases import FENCE_TICK_S, LeaseKeeper, LeaseTimings
from models import load_detector
from monitor.app import create_app
from monitor.live.overlay import OverlayHub, publish_results
from monitor.metrics import AnalysisCollector, serve_worker_metrics
from monitor.notify import Dispatcher
from pipeline.loop import Pipeline
from storage import Database, open_database
from storage.retention import RetentionScheduler
from storage.rollups import RollupScheduler
from storage.samples import sync_site
from storage.server import default_data_dir
from storage.writer import SampleWriter

log = logging.getLogger(__name__)

EXAMPLE_SITE = Path(__file__).resolve().parent.parent / "examples" / "site.yaml"


def sample_writer(db: Database, data_dir: Path | None) -> SampleWriter:
    """The writer, spooling to disk beside the data it belongs to while the database is down."""
    return SampleWriter(db.pool, spool_dir=(data_dir or default_data_dir()) / "spool").start()


def web_detector_config(config: DetectorConfig) -> DetectorConfig:
    """Beside the web app the detector leaves a core free (when `threads` is 0 and there are several)."""
    if config.threads:
        return config
    return config.model_copy(update={"threads": max(1, (os.cpu_count() or 1) - 1)})


def run_service(site: SiteConfig, *, host: str, port: int, data_dir: Path | None, analyse: bool = True) -> None:
    """The web app, and unless `analyse` is off (when workers analyse the cameras), the pipeline."""
    detector = load_detector(web_detector_config(site.detector))  # fail fast on a bad model, before anything starts
    with open_database(data_dir=data_dir) as db:
        log.info("database: %s", db.safe_dsn)
        with db.pool.connection() as conn:
            sync_site(conn, site)
        writer = sample_writer(db, data_dir)
        overlays = OverlayHub()  # the live wall draws what this process's pipeline sees
        pipeline = Pipeline(site, detector, writer.put, cameras=None if analyse else (),
                            on_result=publish_results(overlays))
        stop = threading.Event()
        worker = threading.Thread(target=pipeline.run, args=(stop,), name="pipeline", daemon=True)
        worker.start()
        # One process per site keeps the rollups fresh for long-range trends (workers do not need to;
        # concurrent refreshes would take turns on an advisory lock anyway).
        rollups = threading.Thread(target=RollupScheduler(db.pool).run, args=(stop,), name="rollups", daemon=True)
        rollups.start()
        # Raw samples older than the site's retention go (partitions dropped, or TimescaleDB's policies set);
        # it acts as the tables' owner, since the service's own role may not drop tables.
        retention = threading.Thread(target=RetentionScheduler(db.migration_dsn, site.retention).run, args=(stop,),
                                     name="retention", daemon=True)
        retention.start()
        # Alerts to the notification channels: several services may run, each change is sent once.
        notifier = threading.Thread(target=Dispatcher(site, db.pool).run, args=(stop,), name="notify", daemon=True)
        notifier.start()
        app = create_app(site, db.pool)
        app.state.overlay_hub = overlays
        app.state.metrics_collectors = [AnalysisCollector(pipeline, writer)]  # beside the site's, on /metrics
        # log_config=None: uvicorn's records (tracebacks of failed requests among them) go to our
        # handler, which masks credentials, rather than to handlers of its own. proxy_headers=False:
        # the app itself honours X-Forwarded-For, and only from `auth.trusted_proxies`.
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None, proxy_headers=False,
                                               log_level="warning", access_log=False))
        log.info("web app: http://%s:%d", host, port)
        try:
            server.run()
        finally:
            stop.set()
            worker.join(10.0)
            writer.close()
            log.info("stopped; %d frames analysed, %d samples written", pipeline.frames_analysed, writer.written)


def run_worker(site: SiteConfig, *, worker_id: str, data_dir: Path | None, timings: LeaseTimings) -> None:
    """Analyse the cameras this worker holds leases on until SIGTERM or SIGINT, then release them."""
    detector = load_detector(site.detector)
    with open_database(data_dir=data_dir) as db:
        log.info("worker %s: database %s%s", worker_id, db.safe_dsn,
                 " (embedded: only workers on this machine can join)" if db.embedded else "")
        with db.pool.connection() as conn:
            sync_site(conn, site)
        writer = sample_writer(db, data_dir)
        pipeline = Pipeline(site, detector, writer.put, cameras=())
        keeper = LeaseKeeper(db.pool, worker_id=worker_id, cameras=[(h.id, c.id) for h, c in site.cameras()],
                             apply=pipeline.set_cameras, timings=timings)
        metrics = serve_worker_metrics(site.metrics, AnalysisCollector(pipeline, writer))
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        analysis = threading.Thread(target=pipeline.run, args=(stop,), name="pipeline", daemon=True)
        leases = threading.Thread(target=keeper.run, args=(stop,), name="leases", daemon=True)
        analysis.start()
        leases.start()
        try:
            while not stop.wait(FENCE_TICK_S):
                keeper.enforce()  # fencing does not wait for the database
                if not leases.is_alive() or not analysis.is_alive():
                    raise HallwatchError(f"worker {worker_id}: a worker thread died; see the log above")
        finally:
            stop.set()
            leases.join(timings.heartbeat_s + 10.0)  # it releases the leases on its way out
            analysis.join(10.0)
            writer.close()
            if metrics is not None:
                metrics[0].shutdown()
                metrics[0].server_close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            log.info("worker %s: stopped; %d frames analysed, %d samples written",
                     worker_id, pipeline.frames_analysed, writer.written)


@contextmanager
def simulator_process(site_path: Path, truth_dir: Path, seed: int,
                      story: Path | None = None) -> Iterator[subprocess.Popen[str]]:
    """Start `hallwatch simulate` as a child and wait until its RTSP servers listen."""
    cmd = [sys.executable, "-m", "hallwatch", "simulate", "--site", str(site_path),
           "--truth-dir", str(truth_dir), "--seed", str(seed)] + (["--story", str(story)] if story else [])
    env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}  # the child dies with us (die_with_parent)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == READY_LINE:
                break
        else:
            raise HallwatchError(f"the camera simulator exited ({proc.wait()}) before it was ready")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


READY_LINE = "hallwatch simulate: ready"
PARENT_PID_ENV = "HALLWATCH_PARENT_PID"


def die_with_parent() -> None:
    """In a child started by `simulator_process`: be sent SIGTERM when the parent dies, even by SIGKILL,
    so a killed demo leaves no simulator holding its ports (Linux's PR_SET_PDEATHSIG; elsewhere nothing).
    A parent already gone before this ran ends the child at once."""
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != int(parent):
        raise SystemExit(0)
