"""Long-running commands: `run` (pipeline + web app on one database) and `demo` (the same, fed by
the camera simulator in a child process)."""

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

from hallwatch.config import SiteConfig
from hallwatch.db import open_database
from hallwatch.db.samples import sync_site
from hallwatch.db.writer import SampleWriter
from hallwatch.errors import HallwatchError
from hallwatch.pipeline import Pipeline
from models import load_detector
from monitor.app import create_app

log = logging.getLogger(__name__)

EXAMPLE_SITE = Path(__file__).resolve().parent.parent / "examples" / "site.yaml"


def run_service(site: SiteConfig, *, host: str, port: int, data_dir: Path | None) -> None:
    detector = load_detector(site.detector)  # fail fast on a bad model, before anything starts
    with open_database(data_dir=data_dir) as db:
        log.info("database: %s", db.safe_dsn)
        with db.pool.connection() as conn:
            sync_site(conn, site)
        writer = SampleWriter(db.pool).start()
        pipeline = Pipeline(site, detector, writer.put)
        stop = threading.Event()
        worker = threading.Thread(target=pipeline.run, args=(stop,), name="pipeline", daemon=True)
        worker.start()
        server = uvicorn.Server(uvicorn.Config(create_app(site, db.pool), host=host, port=port,
                                               log_level="warning", access_log=False))
        log.info("web app: http://%s:%d", host, port)
        try:
            server.run()
        finally:
            stop.set()
            worker.join(10.0)
            writer.close()
            log.info("stopped; %d frames analysed, %d samples written", pipeline.frames_analysed, writer.written)


@contextmanager
def simulator_process(site_path: Path, truth_dir: Path, seed: int) -> Iterator[subprocess.Popen[str]]:
    """Start `hallwatch simulate` as a child and wait until its RTSP servers listen."""
    cmd = [sys.executable, "-m", "hallwatch", "simulate", "--site", str(site_path),
           "--truth-dir", str(truth_dir), "--seed", str(seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
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
