"""The operations dashboard over Prometheus: every panel's PromQL parses (promql-parser, Prometheus's own
grammar) and names only metrics that a real scrape of the web app (with an analysing pipeline beside it, as
under `hallwatch run` and in every worker) exports; export and provisioning hand over its data source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import promql_parser
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool

from dashboards.metrics_dashboard import PROMETHEUS_UID, metrics_dashboards, prometheus_datasource
from dashboards.provision import DatabaseTarget, export
from models.detections import Detections
from monitor.metrics import AnalysisCollector
from pipeline.loop import Pipeline
from storage.writer import SampleWriter
from tests.fix_auth import add_user, api_client
from tests.fix_sites import SITE

DASHBOARD = metrics_dashboards()["operations"]
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def expressions(dashboard: dict[str, Any]) -> list[str]:
    targets = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    return targets + [v["query"] for v in dashboard["templating"]["list"]]


def metric_names(node: Any) -> set[str]:
    """The metric names a parsed PromQL expression selects."""
    found = set()
    if isinstance(node, promql_parser.VectorSelector):
        found.add(node.name)
    for attr in ("expr", "lhs", "rhs", "vector_selector"):
        child = getattr(node, attr, None)
        if child is not None:
            found |= metric_names(child)
    for arg in getattr(node, "args", None) or []:
        found |= metric_names(arg)
    return found


class NoPeople:
    def detect(self, frame: np.ndarray) -> Detections:
        return Detections.empty()


@pytest.fixture
def exported(app, pool: ConnectionPool, tmp_path: Path) -> set[str]:
    """Every series name a scrape of the web app gives, its analysis included."""
    writer = SampleWriter(pool, spool_dir=tmp_path / "spool").start()
    try:
        app.state.metrics_collectors = [AnalysisCollector(Pipeline(SITE, NoPeople(), writer.put, cameras=()), writer)]
        add_user(pool, "prometheus", "center_operator", "province")
        response = api_client(app, "prometheus").get("/metrics")
    finally:
        writer.close()
    assert response.status_code == 200
    names = set()
    for family in text_string_to_metric_families(response.text):
        names |= {family.name} | {family.name + s for s in SUFFIXES.get(family.type, ())}
        names |= {sample.name for sample in family.samples}
    return names


def test_every_panel_asks_for_metrics_that_are_exported(exported: set[str]) -> None:
    asked: set[str] = set()
    for expr in expressions(DASHBOARD):
        if expr.startswith("label_values("):  # a Grafana variable function: its first argument is a metric
            expr = expr.removeprefix("label_values(").split(",")[0]
        asked |= metric_names(promql_parser.parse(expr))  # raises on a syntax error
    assert asked, "no metric found in the panels"
    assert asked - exported == set()
    hallwatch = {name for name in exported if name.startswith("hallwatch_")}
    # Every family the app exports is on the dashboard (a family counts as charted by any of its series).
    charted = {name.removesuffix(s) for name in asked for s in ("_total", "_bucket", "") if name.endswith(s)}
    families = {name for name in hallwatch if not name.endswith(("_total", "_bucket", "_sum", "_count", "_created"))}
    assert families - charted <= {"hallwatch_reader_state", "hallwatch_camera_received_fps",
                                  "hallwatch_camera_frame_age_seconds", "hallwatch_camera_lag_seconds",
                                  "hallwatch_camera_sample_age_seconds", "hallwatch_cameras_analysed",
                                  "hallwatch_camera_decode_errors", "hallwatch_frames_reused"}


def test_operations_dashboard_structure() -> None:
    assert DASHBOARD["uid"] == "hallwatch-operations" and "hallwatch" in DASHBOARD["tags"]
    titles = [p["title"] for p in DASHBOARD["panels"]]
    assert len(titles) == len(set(titles))
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == PROMETHEUS_UID and panel["targets"]
        assert all(t["datasource"]["uid"] == PROMETHEUS_UID and t["expr"].strip() for t in panel["targets"])
        assert panel["gridPos"]["w"] > 0 and isinstance(panel["options"], dict)


def test_export_with_prometheus_adds_its_data_source_and_dashboard(tmp_path: Path) -> None:
    target = DatabaseTarget.from_url("postgresql://grafana_ro:s3cret-pw@db.example:6543/hallwatch")
    written = {p.relative_to(tmp_path).as_posix() for p in export(tmp_path, target,
                                                                  prometheus_url="http://prometheus:9090")}
    assert "dashboards/operations.json" in written and "dashboards/camera-health.json" in written
    sources = yaml.safe_load((tmp_path / "provisioning/datasources/hallwatch.yaml").read_text())["datasources"]
    assert [s["type"] for s in sources] == ["grafana-postgresql-datasource", "prometheus"]
    assert sources[1] == {**prometheus_datasource("http://prometheus:9090"), "editable": False}
    assert json.loads((tmp_path / "dashboards/operations.json").read_text()) == DASHBOARD
    assert all("s3cret-pw" not in (tmp_path / p).read_text() for p in written)
