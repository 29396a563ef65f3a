"""A worker's own metrics: the analysis of a simulated RTSP camera with the real detector, its rows going to
a real database, served by `serve_worker_metrics` (what `hallwatch worker` starts when `metrics.worker_port`
is set) on this machine only, scraped over HTTP and parsed with prometheus_client's parser."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool

from core.config import SiteConfig
from core.config.metrics import MetricsConfig
from core.errors import HallwatchError
from models import load_detector
from monitor.metrics import AnalysisCollector, serve_worker_metrics
from pipeline.loop import Pipeline
from storage.samples import sync_site
from storage.writer import SampleWriter
from tests.fix_sites import free_port
from tests.fix_wait import await_true
from tools.bench.trial import bench_site


def with_credentials(site: SiteConfig) -> SiteConfig:
    """The camera's URL with a user and password in it (the clip server asks for none)."""
    raw = site.model_dump(mode="json")
    for hall in raw["halls"]:
        for camera in hall["cameras"]:
            camera["url"] = camera["url"].replace("rtsp://", "rtsp://viewer:worker-secret@")
    return SiteConfig.model_validate(raw)


@pytest.mark.slow
def test_a_worker_serves_its_analysis_metrics(clip_server: int, pool: ConnectionPool, tmp_path: Path) -> None:
    site = with_credentials(bench_site(1, clip_server))
    with pool.connection() as conn:
        sync_site(conn, site)
    writer = SampleWriter(pool, spool_dir=tmp_path / "spool", flush_interval_s=0.05).start()
    pipeline = Pipeline(site, load_detector(site.detector), writer.put)
    port = free_port()
    served = serve_worker_metrics(MetricsConfig(worker_port=port), AnalysisCollector(pipeline, writer))
    assert served is not None
    server, _ = served
    stop = threading.Event()
    thread = threading.Thread(target=pipeline.run, args=(stop,), name="pipeline")
    thread.start()
    try:
        await_true(lambda: pipeline.stats.detected >= 3 and writer.written > 0, 60, "frames detected and rows stored")
        assert server.server_address[0] == "127.0.0.1"  # this machine only, by default
        with pytest.raises(HallwatchError, match=f"metrics.worker_port {port}: cannot listen"):
            serve_worker_metrics(MetricsConfig(worker_port=port), AnalysisCollector(pipeline, writer))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        stop.set()
        thread.join(30)
        writer.close()
        server.shutdown()
        server.server_close()
    assert "rtsp://" not in text and "worker-secret" not in text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    camera = {"hall": "bench-0", "camera": "cam0"}

    def one(name: str, **labels: str) -> float:
        found = [s.value for s in samples if s.name == name and s.labels == labels]
        assert len(found) == 1, (name, labels)
        return found[0]

    assert one("hallwatch_reader_state", **camera, state="live") == 1
    assert one("hallwatch_camera_decoded_fps", **camera) > 0
    assert one("hallwatch_camera_received_fps", **camera) > 0
    assert one("hallwatch_cameras_analysed") == 1
    assert one("hallwatch_detector_queue_depth") >= 0
    detected = one("hallwatch_frames_detected_total")
    assert detected >= 3 and one("hallwatch_frames_analysed_total") >= detected
    assert one("hallwatch_detector_latency_seconds_count") == detected  # every frame the detector saw, once
    assert one("hallwatch_detector_latency_seconds_bucket", le="+Inf") == detected
    assert one("hallwatch_detector_latency_seconds_sum") > 0
    assert one("hallwatch_samples_written_total") > 0
    assert one("hallwatch_samples_dropped_total") == 0
    assert one("hallwatch_spool_samples") == 0
    assert one("process_resident_memory_bytes") > 0
