"""`/metrics` of the web app: rows stored in a real database come out as Prometheus metrics (parsed with
prometheus_client's own parser), only for a province admin or centre operator, and without URLs or
credentials."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool

from models.detections import Detections
from monitor.app import create_app
from monitor.metrics import AnalysisCollector
from pipeline.loop import Pipeline
from pipeline.rows import DeskSample, HealthSample, ZoneSample
from storage.rollups import refresh_rollups
from storage.writer import SampleWriter
from tests.fix_auth import PASSWORD, add_user, api_client, browser_login
from tests.fix_records import put
from tests.fix_sites import SITE
from tests.fix_timescale import TimescaleDatabase

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    for secret in ("rtsp://", "demo-secret", PASSWORD, client.headers.get("Authorization", "Bearer ")[7:] or "x"):
        assert secret not in response.text, secret
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
def scraper(app, pool: ConnectionPool) -> TestClient:
    add_user(pool, "prometheus", "center_operator", "province")
    return api_client(app, "prometheus")


def test_metrics_give_what_the_database_holds(app, pool: ConnectionPool, scraper: TestClient) -> None:
    now = datetime.now(UTC)
    put(pool,
        HealthSample(now, "cc-nanguan", "cam1", "live", 10.0, now, 0, None),
        HealthSample(now, "cc-nanguan", "cam2", "unauthorized", 0.0, None, 3,
                     "rtsp://viewer:demo-secret@127.0.0.1:8554/cc-nanguan-2: 401"),
        HealthSample(now - timedelta(minutes=5), "cc-chaoyang", "cam1", "live", 25.0, now, 0, None),  # stale
        DeskSample(now - timedelta(seconds=300), "cc-nanguan", "w1", "cam1", "present", now, 1),
        ZoneSample(now - timedelta(seconds=30), "cc-nanguan", "q1", "cam1", "queue", 4))
    for _ in range(2):
        assert TestClient(app).post("/login", data={"name": "prometheus", "password": "wrong"}).status_code != 303
    assert TestClient(app).post("/api/v1/auth/token", json={"name": "nobody", "password": "x"}).status_code == 401

    before = scrape(scraper)
    assert not [key for key in before if key[0] == "hallwatch_rollup_lag_seconds"]  # never refreshed yet
    with pool.connection() as conn:
        conn.autocommit = True
        refresh_rollups(conn)
    samples = scrape(scraper)

    assert value(samples, "hallwatch_camera_state", hall="cc-nanguan", camera="cam1", state="live") == 1
    assert value(samples, "hallwatch_camera_state", hall="cc-nanguan", camera="cam2", state="unauthorized") == 1
    assert value(samples, "hallwatch_camera_state", hall="cc-chaoyang", camera="cam1", state="no_data") == 1
    assert value(samples, "hallwatch_camera_state", hall="jlc-chuanying", camera="cam1", state="no_data") == 1
    assert value(samples, "hallwatch_cameras", state="live") == 1
    assert value(samples, "hallwatch_cameras", state="no_data") == 2
    assert value(samples, "hallwatch_cameras", state="offline") == 0
    assert value(samples, "hallwatch_camera_fps", hall="cc-nanguan", camera="cam1") == 10.0
    assert value(samples, "hallwatch_camera_fps", hall="cc-chaoyang", camera="cam1") is None  # stale: no value
    assert value(samples, "hallwatch_camera_sample_age_seconds", hall="cc-chaoyang", camera="cam1") >= 300
    camera_labels = {dict(labels)["camera"] for name, labels in samples if name == "hallwatch_camera_state"}
    assert camera_labels == {camera.id for _, camera in SITE.cameras()}
    assert value(samples, "hallwatch_write_lag_seconds", table="desk_sample") >= 300
    assert 30 <= value(samples, "hallwatch_write_lag_seconds", table="zone_sample") < 300
    assert value(samples, "hallwatch_write_lag_seconds", table="camera_health") < 300
    assert {dict(labels)["source"] for name, labels in samples if name == "hallwatch_rollup_lag_seconds"} == \
        {"desk_sample", "zone_sample", "camera_health"}
    assert value(samples, "hallwatch_login_failures", kind="login") == 2
    assert value(samples, "hallwatch_login_failures", kind="token") == 1
    assert value(samples, "process_open_fds") > 0  # the web process's own
    assert not [key for key in samples if key[0] == "hallwatch_detector_queue_depth"]  # no analysis here


@pytest.mark.parametrize(("role", "scope", "status"), [
    ("center_operator", "province", 200),
    ("admin", "province", 200),
    ("manager", "province", 403),
    ("admin", "city/cc", 403),
    ("center_operator", "hall/cc-nanguan", 403),
    ("hall_staff", "hall/cc-nanguan", 403),
])
def test_metrics_are_for_province_admins_and_operators(app, pool: ConnectionPool, role: str, scope: str,
                                                       status: int) -> None:
    add_user(pool, "someone", role, scope)
    assert api_client(app, "someone").get("/metrics").status_code == status
    assert browser_login(app, "someone").get("/metrics").status_code == status


def test_metrics_refuse_no_or_a_wrong_token(app) -> None:
    anonymous = TestClient(app, follow_redirects=False)
    response = anonymous.get("/metrics")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert anonymous.get("/metrics", headers={"Authorization": "Bearer not-a-token"}).status_code == 401


class NoPeople:
    def detect(self, frame: np.ndarray) -> Detections:
        return Detections.empty()


def test_metrics_add_the_analysis_of_the_web_process(app, pool: ConnectionPool, scraper: TestClient,
                                                     tmp_path: Path) -> None:
    """Under `hallwatch run` the web app's own pipeline and writer are on its `/metrics` too."""
    writer = SampleWriter(pool, spool_dir=tmp_path / "spool").start()
    try:
        now = datetime.now(UTC)
        writer.put([HealthSample(now - timedelta(seconds=i), "cc-nanguan", "cam1", "live", 10.0, now, 0, None)
                    for i in range(7)])
        assert writer.flush()
        app.state.metrics_collectors = [AnalysisCollector(Pipeline(SITE, NoPeople(), writer.put, cameras=()), writer)]
        samples = scrape(scraper)
    finally:
        writer.close()
    assert value(samples, "hallwatch_samples_written_total") == 7
    assert value(samples, "hallwatch_spool_samples") == 0
    assert value(samples, "hallwatch_detector_queue_depth") == 0
    assert value(samples, "hallwatch_cameras_analysed") == 0
    assert value(samples, "hallwatch_detector_latency_seconds_count") == 0


def test_rollup_lag_with_timescaledb(tsdb: TimescaleDatabase) -> None:
    """With TimescaleDB the lag is read from the continuous aggregates' own watermarks."""
    app = create_app(SITE, tsdb.pool)
    add_user(tsdb.pool, "prometheus", "center_operator", "province")
    scraper = api_client(app, "prometheus")
    now = datetime.now(UTC)
    put(tsdb.pool, HealthSample(now - timedelta(minutes=10), "cc-nanguan", "cam1", "live", 10.0, now, 0, None),
        DeskSample(now - timedelta(minutes=10), "cc-nanguan", "w1", "cam1", "present", now, 1),
        ZoneSample(now - timedelta(minutes=10), "cc-nanguan", "q1", "cam1", "queue", 4))
    assert not [key for key in scrape(scraper) if key[0] == "hallwatch_rollup_lag_seconds"]  # never refreshed
    with psycopg.connect(tsdb.owner_dsn, autocommit=True) as owner:
        assert refresh_rollups(owner).mode == "timescaledb"
    lags = {dict(labels)["source"]: v for (name, labels), v in scrape(scraper).items()
            if name == "hallwatch_rollup_lag_seconds"}
    assert set(lags) == {"desk_sample", "zone_sample", "camera_health"}
    assert all(0 <= lag < 600 for lag in lags.values()), lags  # materialized up to the last whole minute
