"""The operations dashboard (grafana-foundation-sdk) over Prometheus: what the web app's `/metrics` and
each worker's metrics port export (`monitor.metrics`): cameras by state, frame rates, detector latency
and queue, spool and writer, write and rollup lag, failed logins, and the processes themselves.

Prometheus scrapes the web app with a bearer token (see docs/deploy.md); the web app's job gives the
site-wide figures read from the database, every worker's job its own analysis."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from dashboards.grafana import TAG, to_json

PROMETHEUS_UID = "hallwatch-prometheus"
PROMETHEUS_TYPE = "prometheus"
UID = "hallwatch-operations"
HALLS = 'hall=~"$hall"'


def prometheus_ref() -> model.DataSourceRef:
    return model.DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_UID)


def _query(expr: str, legend: str = "", *, fmt: PromQueryFormat = PromQueryFormat.TIME_SERIES,
           instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).legend_format(legend or "__auto").format(fmt).datasource(prometheus_ref())
    return query.instant() if instant else query.range()


def _trend(title: str, unit: str, *queries: tuple[str, str], w: int = 12) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).datasource(prometheus_ref()).unit(unit).min(0).span(w).height(8)
    for ref, (expr, legend) in zip("ABCDEFGH", queries, strict=False):
        panel = panel.with_target(_query(expr, legend).ref_id(ref))
    return panel


def _stat(title: str, expr: str, unit: str = "short", *, w: int = 6) -> stat.Panel:
    return (stat.Panel().title(title).datasource(prometheus_ref()).unit(unit).span(w).height(4)
            .with_target(_query(expr, instant=True)))


def _table(title: str, expr: str, *, w: int = 24) -> table.Panel:
    return (table.Panel().title(title).datasource(prometheus_ref()).span(w).height(8)
            .with_target(_query(expr, fmt=PromQueryFormat.TABLE, instant=True)))


def _quantiles(metric: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket[5m])))", f"p{round(q * 100)}")
                 for q in (0.5, 0.95))


def operations() -> db.Dashboard:
    hall = (db.QueryVariable("hall").label("Hall").query("label_values(hallwatch_camera_state, hall)")
            .datasource(prometheus_ref()).multi(True).include_all(True).all_value(".*")
            .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD))
    panels: list[Any] = [
        _stat("Cameras live", 'sum(hallwatch_cameras{state="live"})'),
        _stat("Cameras not live", 'sum(hallwatch_cameras{state!="live"})'),
        _stat("Samples in spools", "sum(hallwatch_spool_samples)"),
        _stat("Newest desk sample age", 'max(hallwatch_write_lag_seconds{table="desk_sample"})', "s"),
        _trend("Cameras by state", "short", ("sum by (state) (hallwatch_cameras)", "{{state}}")),
        _trend("Frames per second sent, per camera", "short",
               (f"hallwatch_camera_fps{{{HALLS}}}", "{{hall}}/{{camera}}")),
        _table("Cameras not live now", f'hallwatch_camera_state{{state!="live", {HALLS}}} == 1'),
        _trend("Frames decoded per second, per worker", "short",
               ("sum by (instance) (hallwatch_camera_decoded_fps)", "{{instance}}")),
        _trend("Detector latency, capture to rows", "s", *_quantiles("hallwatch_detector_latency_seconds")),
        _trend("Analysis latency, every analysed frame", "s", *_quantiles("hallwatch_analysis_latency_seconds")),
        _trend("Detector queue per worker", "short", ("hallwatch_detector_queue_depth", "{{instance}}")),
        _trend("Share of frames the detector saw", "percentunit",
               ("sum(rate(hallwatch_frames_detected_total[5m])) / sum(rate(hallwatch_frames_analysed_total[5m]))",
                "detected")),
        _trend("Write lag: age of the newest sample", "s", ("hallwatch_write_lag_seconds", "{{table}}")),
        _trend("Rollup lag", "s", ("hallwatch_rollup_lag_seconds", "{{source}}")),
        _trend("Spool per worker", "short", ("hallwatch_spool_samples", "{{instance}} samples"),
               ("hallwatch_spool_bytes", "{{instance}} bytes")),
        _trend("Samples stored, spooled and lost per second", "short",
               ("sum(rate(hallwatch_samples_written_total[5m]))", "written"),
               ("sum(rate(hallwatch_samples_spooled_total[5m]))", "spooled"),
               ("sum(rate(hallwatch_samples_dropped_total[5m]))", "dropped"),
               ("sum(rate(hallwatch_samples_rejected_total[5m]))", "rejected")),
        _trend("Failed logins (recent window)", "short", ("hallwatch_login_failures", "{{kind}}")),
        _trend("Camera reconnects per minute, per worker", "short",
               ("sum by (instance) (rate(hallwatch_camera_reconnects_total[5m])) * 60", "{{instance}}")),
        _trend("CPU per process", "percentunit", ("rate(process_cpu_seconds_total[5m])", "{{job}} {{instance}}")),
        _trend("Memory per process", "bytes", ("process_resident_memory_bytes", "{{job}} {{instance}}")),
    ]
    dash = (db.Dashboard("Hallwatch: operations").uid(UID).tags([TAG]).time("now-6h", "now").refresh("30s")
            .timezone("browser").editable().with_variable(hall))
    for panel in panels:
        dash = dash.with_panel(panel)
    return dash


def metrics_dashboards() -> dict[str, dict[str, Any]]:
    """File stem -> dashboard JSON of the dashboards over Prometheus."""
    return {"operations": to_json(operations())}


def prometheus_datasource(url: str) -> dict[str, Any]:
    """The Prometheus data source as Grafana's API and provisioning files take it."""
    return {"name": "hallwatch-prometheus", "uid": PROMETHEUS_UID, "type": PROMETHEUS_TYPE, "access": "proxy",
            "url": url, "isDefault": False, "jsonData": {"httpMethod": "POST", "timeInterval": "30s"}}
