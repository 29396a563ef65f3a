"""Prometheus metrics, as collectors read at scrape time (nothing is counted on the frame's path).

Two kinds, because the numbers live in different places:
- `AnalysisCollector`: what one process's analysis knows (its cameras' readers, the detector queue and
  latency, the sample writer and its spool). Every process that analyses has one: `hallwatch worker`
  serves it on its own port (`serve_worker_metrics`), `hallwatch run` adds it to the web app's `/metrics`.
- `SiteCollector`: the whole site, read from the database by the web app: every camera's state as last
  stored (as the status page shows it), the age of the newest samples (write lag), how far the rollups
  trail, failed logins.

Labels carry the configured hall and camera ids only: never URLs, credentials or error texts (which may
name hosts). Names start with `hallwatch_`; `dashboards/metrics_dashboard.py` charts them."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIServer

import numpy as np
import psycopg
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from core.config import SiteConfig
from core.config.metrics import MetricsConfig
from core.errors import HallwatchError
from ingest.health import CameraState
from monitor.status import site_status  # the status page's rule for stale rows, shared
from pipeline.loop import Pipeline, PipelineStats
from storage.metrics import login_failures, rollup_lag_seconds
from storage.status import latest_samples
from storage.writer import SampleWriter

log = logging.getLogger(__name__)

# Frame capture to rows, seconds: the analysis target is 1 s, the limit 2 s at p95.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
NO_DATA = "no_data"  # no camera health row newer than monitor.status.STALE_S
CAMERA_STATES = (*(state.value for state in CameraState), NO_DATA)
SAMPLE_TABLES = ("desk_sample", "zone_sample", "camera_health")


def process_registry(*collectors: Collector) -> CollectorRegistry:
    """A registry of this process's standard metrics (CPU, memory, file descriptors, GC) and `collectors`."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    for collector in collectors:
        registry.register(collector)
    return registry


# -- one process's analysis -----------------------------------------------------------------------------

@dataclass
class _Histogram:
    """Cumulative bucket counts of latencies the pipeline keeps in a bounded deque beside a running total:
    each scrape adds the values that came since the last one (values that fell out of the deque between
    two scrapes, more than its length, are not counted)."""

    bounds: np.ndarray = field(default_factory=lambda: np.array(LATENCY_BUCKETS))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(len(LATENCY_BUCKETS) + 1, dtype=np.int64))
    total: float = 0.0
    seen: int = 0
    source: object = None

    def add_new(self, stats: PipelineStats, values: deque[float], count: int) -> None:
        if stats is not self.source:  # started afresh (Pipeline.reset_stats): the counts go on
            self.source, self.seen = stats, 0
        new = count - self.seen
        if new <= 0:
            return
        recent = np.array(_snapshot(values)[-new:], dtype=float)
        self.seen = count
        np.add.at(self.counts, np.searchsorted(self.bounds, recent, side="left"), 1)
        self.total += float(recent.sum())

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        cumulative = np.cumsum(self.counts)
        buckets = [(str(bound), int(n)) for bound, n in zip(self.bounds, cumulative[:-1], strict=True)]
        return HistogramMetricFamily(name, documentation, buckets=[*buckets, ("+Inf", int(cumulative[-1]))],
                                     sum_value=self.total)


def _snapshot(values: deque[float]) -> list[float]:
    """A copy of a deque another thread appends to (a copy made while it changes raises: try again)."""
    for _ in range(5):
        try:
            return list(values.copy())
        except RuntimeError:
            continue
    return []


class AnalysisCollector(Collector):
    """The analysis of this process: `pipeline`'s cameras, detector queue and latencies, and `writer`."""

    def __init__(self, pipeline: Pipeline, writer: SampleWriter) -> None:
        self.pipeline, self.writer = pipeline, writer
        self._detect = _Histogram()
        self._analyse = _Histogram()

    def collect(self) -> Iterator[Metric]:
        yield from self._cameras()
        yield from self._analysis()
        yield from self._writer()

    def _cameras(self) -> Iterator[Metric]:
        labels = ["hall", "camera"]
        state = GaugeMetricFamily("hallwatch_reader_state", "This process's camera readers: 1 for the state "
                                  "each is in", labels=[*labels, "state"])
        decoded = GaugeMetricFamily("hallwatch_camera_decoded_fps", "Frames decoded per second, per camera "
                                    "this process reads", labels=labels)
        received = GaugeMetricFamily("hallwatch_camera_received_fps", "Frames the camera sent per second",
                                     labels=labels)
        age = GaugeMetricFamily("hallwatch_camera_frame_age_seconds", "Seconds since the newest decoded frame",
                                labels=labels)
        behind = GaugeMetricFamily("hallwatch_camera_lag_seconds", "How far behind live the newest frame arrived",
                                   labels=labels)
        reconnects = CounterMetricFamily("hallwatch_camera_reconnects", "Reconnects since the reader started",
                                         labels=labels)
        errors = CounterMetricFamily("hallwatch_camera_decode_errors", "Packets refused and frames marked "
                                     "corrupt by the decoder since the reader started", labels=labels)
        readers = dict(self.pipeline.readers)  # a copy: set_cameras may change it meanwhile
        for (hall, camera), reader in sorted(readers.items()):
            health, key = reader.health(), [hall, camera]
            state.add_metric([*key, health.state.value], 1)
            decoded.add_metric(key, health.decoded_fps)
            received.add_metric(key, health.fps)
            if health.last_frame_age_s is not None:
                age.add_metric(key, health.last_frame_age_s)
            behind.add_metric(key, health.lag_s)
            reconnects.add_metric(key, health.reconnects)
            errors.add_metric(key, health.decode_errors)
        yield from (state, decoded, received, age, behind, reconnects, errors)
        yield GaugeMetricFamily("hallwatch_cameras_analysed", "Cameras this process analyses now",
                                value=len(readers))

    def _analysis(self) -> Iterator[Metric]:
        pipeline, stats = self.pipeline, self.pipeline.stats
        analysed, detected = stats.analysed, stats.detected  # read once: the histograms' counts match them
        yield GaugeMetricFamily("hallwatch_detector_queue_depth", "Frames waiting for the detector",
                                value=pipeline.queued)
        for name, value, what in (("analysed", analysed, "Frames analysed (rows made)"),
                                  ("detected", detected, "Frames the detector looked at"),
                                  ("reused", stats.reused, "Frames the motion gate let through on the last boxes")):
            yield CounterMetricFamily(f"hallwatch_frames_{name}", what, value=value)
        self._detect.add_new(stats, stats.detect_latencies, detected)
        self._analyse.add_new(stats, stats.latencies, analysed)
        yield self._detect.family("hallwatch_detector_latency_seconds", "Frame capture to rows, for frames the "
                                  "detector looked at (queue wait and inference included)")
        yield self._analyse.family("hallwatch_analysis_latency_seconds", "Frame capture to rows, every analysed "
                                   "frame")

    def _writer(self) -> Iterator[Metric]:
        writer = self.writer
        yield GaugeMetricFamily("hallwatch_spool_samples", "Samples in the spool on local disk, waiting for the "
                                "database", value=writer.spool_pending)
        yield GaugeMetricFamily("hallwatch_spool_bytes", "Bytes of this writer's spool files",
                                value=_bytes_under(writer.spool_dir.iterdir() if writer.spool_dir.is_dir() else ()))
        for name, value, what in (("written", writer.written, "Samples stored (replayed ones included)"),
                                  ("spooled", writer.spooled, "Samples put into the spool"),
                                  ("dropped", writer.dropped, "Samples lost: a full memory buffer or spool"),
                                  ("rejected", writer.rejected, "Samples the database refused as invalid")):
            yield CounterMetricFamily(f"hallwatch_samples_{name}", what, value=value)


def _bytes_under(paths: Iterable[Any]) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:  # a segment removed meanwhile
            continue
    return total


def serve_worker_metrics(config: MetricsConfig, collector: Collector) -> tuple[WSGIServer, Thread] | None:
    """Serve this worker's metrics on `config.worker_port` (None when it is not set); stop with
    `server.shutdown()` and `server.server_close()`."""
    if config.worker_port is None:
        return None
    try:
        served = start_http_server(config.worker_port, addr=config.worker_host,
                                   registry=process_registry(collector))
    except OSError as exc:
        raise HallwatchError(f"metrics.worker_port {config.worker_port}: cannot listen on {config.worker_host}: "
                             f"{exc.strerror}") from None
    log.info("metrics: http://%s:%d/metrics", config.worker_host, config.worker_port)
    return served


# -- the site, from the database --------------------------------------------------------------------------

class SiteCollector(Collector):
    """Site-wide figures read through `conn` when collected: one scrape of the web app."""

    def __init__(self, site: SiteConfig, conn: psycopg.Connection, config: MetricsConfig) -> None:
        self.site, self.conn, self.config = site, conn, config

    def collect(self) -> Iterator[Metric]:
        latest = latest_samples(self.conn)
        status = site_status(self.site, latest)
        labels = ["hall", "camera"]
        state = GaugeMetricFamily("hallwatch_camera_state", "Every configured camera: 1 for its state as last "
                                  "stored (no_data when nothing came lately)", labels=[*labels, "state"])
        fps = GaugeMetricFamily("hallwatch_camera_fps", "Frames per second each camera sent, as last stored",
                                labels=labels)
        age = GaugeMetricFamily("hallwatch_camera_sample_age_seconds", "Seconds since each camera's newest health "
                                "row", labels=labels)
        per_state = dict.fromkeys(CAMERA_STATES, 0)
        for hall in status.halls:
            for camera in hall.cameras:
                key = [hall.id, camera.id]
                state.add_metric([*key, camera.state], 1)
                per_state[camera.state] = per_state.get(camera.state, 0) + 1
                if camera.fps is not None:
                    fps.add_metric(key, camera.fps)
                row = latest.cameras.get((hall.id, camera.id))
                if row is not None:
                    age.add_metric(key, _age(latest.now, row["ts"]))
        cameras = GaugeMetricFamily("hallwatch_cameras", "Configured cameras by state", labels=["state"])
        for name, count in per_state.items():
            cameras.add_metric([name], count)
        yield from (state, cameras, fps, age)
        yield self._write_lag(latest.now, (latest.desks.values(), latest.zones.values(), latest.cameras.values()))
        rollups = GaugeMetricFamily("hallwatch_rollup_lag_seconds", "Seconds the rollups trail the raw samples",
                                    labels=["source"])
        for source, lag in rollup_lag_seconds(self.conn).items():
            rollups.add_metric([source], lag)
        yield rollups
        failures = GaugeMetricFamily("hallwatch_login_failures", f"Failed logins (form) and token requests in the "
                                     f"last {self.config.login_window_s:g} s", labels=["kind"])
        for kind, count in login_failures(self.conn, window_s=self.config.login_window_s).items():
            failures.add_metric([kind], count)
        yield failures

    @staticmethod
    def _write_lag(now: datetime, tables: Sequence[Iterable[dict[str, Any]]]) -> Metric:
        lag = GaugeMetricFamily("hallwatch_write_lag_seconds", "Seconds since the newest stored sample of each "
                                "table (none in the last hour: no value)", labels=["table"])
        for table, rows in zip(SAMPLE_TABLES, tables, strict=True):
            newest = max((row["ts"] for row in rows), default=None)
            if newest is not None:
                lag.add_metric([table], _age(now, newest))
        return lag


def _age(now: datetime, ts: datetime) -> float:
    return max(0.0, (now - ts).total_seconds())
