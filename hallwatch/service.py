"""Long-running commands: `run` (pipeline + web app on one database), `demo` (the same, fed by
the camera simulator in a child process) and `worker` (a share of the cameras, leased through the
database, without the web app)."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from psycopg_pool import ConnectionPool

from core.config import DetectorConfig, SiteConfig, load_site
from core.errors import ConfigError, HallwatchError
from hallwatch.heap import start_heap_trimming
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
SITE_POLL_S = 2.0  # how often the site file is looked at for changes


CameraKey = tuple[str, str]


class SiteReloader:
    """Applies changes of the site file to the running service without a restart: the zone editor's saves
    (handed over at once through `apply`) and any other edit of the file (seen by `run`, which compares the
    file's sha256 every SITE_POLL_S). A new file that is not a valid site is logged and ignored; the service
    keeps the site it has.

    Only the cameras whose configuration (or hall) changed are restarted, with fresh analysis state:
    their readers reconnect and their analyzers start over with the new zones. Cameras added to the site
    start (`run`: at once; a worker: when its lease keeper gives it their leases), removed ones stop. A
    change of the analytics, presence or ingest settings restarts every camera; a change of the detector
    needs a restart of the service (logged)."""

    def __init__(self, path: Path, site: SiteConfig, pipeline: Pipeline, pool: ConnectionPool, *,
                 keeper: LeaseKeeper | None = None, on_site: Callable[[SiteConfig], None] | None = None,
                 analyse_new: bool = True) -> None:
        """`keeper`: a worker's, which decides which cameras it analyses; without one the pipeline analyses
        the cameras it runs now and, when `analyse_new`, the cameras added to the site."""
        self.path = path
        self._analyse_new = analyse_new
        self.site = site
        self._pipeline = pipeline
        self._pool = pool
        self._keeper = keeper
        self._on_site = on_site
        self._lock = threading.Lock()
        self._digest = self._read_digest()
        self.reloads = 0

    def _read_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None

    def poll(self) -> set[CameraKey]:
        """Reload the file if its bytes changed; the cameras restarted."""
        digest = self._read_digest()
        if digest is None or digest == self._digest:
            return set()
        previous, self._digest = self._digest, digest
        try:
            site = load_site(self.path)
        except ConfigError as exc:
            log.error("the site file changed but is not valid; keeping the running site:\n%s", exc)
            return set()
        try:
            return self.apply(site)
        except BaseException:
            self._digest = previous  # not applied (the database may be down): try again at the next poll
            raise

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(SITE_POLL_S):
            try:
                self.poll()
            except Exception:  # a failed reload must not end the watch
                log.exception("applying the changed site file failed")

    def apply(self, site: SiteConfig) -> set[CameraKey]:
        """Make `site` the running one; returns the cameras restarted (or started)."""
        with self._lock:
            old = self.site
            if site == old:
                return set()
            if site.detector != old.detector:
                log.warning("the site file's detector settings changed: restart the service to apply them")
            self.site = site
            with self._pool.connection(timeout=10.0) as conn:
                sync_site(conn, site)
            restarted = self._restart(old, site)
            if self._on_site is not None:
                self._on_site(site)
            self.reloads += 1
            log.info("site file applied: %d camera(s) restarted%s", len(restarted),
                     f" ({', '.join('/'.join(k) for k in sorted(restarted))})" if restarted else "")
            return restarted

    def _restart(self, old: SiteConfig, new: SiteConfig) -> set[CameraKey]:
        pipeline = self._pipeline
        before = {(h.id, c.id): (h.model_copy(update={"cameras": []}), c) for h, c in old.cameras()}
        after = {(h.id, c.id): (h.model_copy(update={"cameras": []}), c) for h, c in new.cameras()}
        everything = (old.analytics, old.presence, old.ingest) != (new.analytics, new.presence, new.ingest)
        changed = {key for key in before.keys() & after.keys() if everything or before[key] != after[key]}
        added, removed = after.keys() - before.keys(), before.keys() - after.keys()
        # Work first, so that a camera started by anyone from here on starts with the new site.
        pipeline.update_site(new, changed | added)
        if self._keeper is not None:
            self._keeper.set_cameras(after)  # stops and releases the removed cameras
            pipeline.set_cameras(self._keeper.held() - changed)
            self._keeper.enforce()  # and starts the changed ones again
        else:
            running = set(pipeline.readers) - removed
            pipeline.set_cameras(running - changed)
            pipeline.set_cameras(running | (added if self._analyse_new else set()))
        pipeline.forget(removed)
        return changed | added


def sample_writer(db: Database, data_dir: Path | None) -> SampleWriter:
    """The writer, spooling to disk beside the data it belongs to while the database is down."""
    return SampleWriter(db.pool, spool_dir=(data_dir or default_data_dir()) / "spool").start()


def web_detector_config(config: DetectorConfig) -> DetectorConfig:
    """Beside the web app the detector leaves a core free (when `threads` is 0 and there are several)."""
    if config.threads:
        return config
    return config.model_copy(update={"threads": max(1, (os.cpu_count() or 1) - 1)})


def run_service(site: SiteConfig, *, host: str, port: int, data_dir: Path | None, analyse: bool = True,
                site_path: Path | None = None) -> None:
    """The web app, and unless `analyse` is off (when workers analyse the cameras), the pipeline. With
    `site_path` (the file `site` was read from) the admins' zone editor may change that file, and every
    change of it is applied without a restart (`SiteReloader`)."""
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
        start_heap_trimming(stop)
        app = create_app(site, db.pool)
        app.state.overlay_hub = overlays
        if site_path is not None:
            reloader = SiteReloader(site_path, site, pipeline, db.pool, on_site=_web_site(app), analyse_new=analyse)
            app.state.site_path = site_path
            app.state.on_site_change = reloader.apply
            threading.Thread(target=reloader.run, args=(stop,), name="site-reload", daemon=True).start()
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


def _web_site(app: Any) -> Callable[[SiteConfig], None]:
    def use(site: SiteConfig) -> None:
        app.state.site = site  # pages and the API read the site from here on every request
        wall = getattr(app.state, "live_wall", None)
        if wall is not None:  # the live wall's cameras and zone overlays follow
            wall.update_site(site)
    return use


def run_worker(site: SiteConfig, *, worker_id: str, data_dir: Path | None, timings: LeaseTimings,
               site_path: Path | None = None) -> None:
    """Analyse the cameras this worker holds leases on until SIGTERM or SIGINT, then release them. With
    `site_path`, changes of that file are applied without a restart (`SiteReloader`)."""
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
        reloader = SiteReloader(site_path, site, pipeline, db.pool, keeper=keeper) if site_path else None
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        analysis = threading.Thread(target=pipeline.run, args=(stop,), name="pipeline", daemon=True)
        leases = threading.Thread(target=keeper.run, args=(stop,), name="leases", daemon=True)
        analysis.start()
        leases.start()
        start_heap_trimming(stop)
        if reloader is not None:  # its own thread: a reload waits for the database, fencing must not
            threading.Thread(target=reloader.run, args=(stop,), name="site-reload", daemon=True).start()
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
