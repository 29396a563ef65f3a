"""The three Grafana dashboards as code (grafana-foundation-sdk): province overview, hall detail and
camera health, over hallwatch's PostgreSQL data source. `all_dashboards()` gives their JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from dashboards import panel_sql as q

DATASOURCE_UID = "hallwatch-pg"
DATASOURCE_TYPE = "grafana-postgresql-datasource"  # Grafana >= 10.2.3; "postgres" before (still an alias)
FOLDER_UID = "hallwatch"
TAG = "hallwatch"


def datasource_ref(type_: str = DATASOURCE_TYPE) -> model.DataSourceRef:
    return model.DataSourceRef(type_val=type_, uid=DATASOURCE_UID)


class SqlQuery(cogvariants.Dataquery):
    """A PostgreSQL data source query (the SDK has no typed one): raw SQL and a result format."""

    def __init__(self, raw_sql: str, fmt: Literal["time_series", "table"], ref_id: str = "A",
                 datasource: model.DataSourceRef | None = None) -> None:
        self.raw_sql, self.format, self.ref_id = raw_sql, fmt, ref_id
        self.datasource = datasource or datasource_ref()

    def to_json(self) -> dict[str, object]:
        return {"refId": self.ref_id, "datasource": self.datasource, "editorMode": "code",
                "format": self.format, "rawQuery": True, "rawSql": self.raw_sql}


class Sql(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, raw_sql: str, fmt: Literal["time_series", "table"]) -> None:
        self._query = SqlQuery(raw_sql, fmt)

    def build(self) -> cogvariants.Dataquery:
        return self._query


@dataclass(frozen=True)
class VariableSpec:
    name: str
    label: str
    sql: str
    multi: bool = False
    include_all: bool = False

    def builder(self) -> db.QueryVariable:
        return (db.QueryVariable(self.name).label(self.label).query(self.sql).datasource(datasource_ref())
                .multi(self.multi).include_all(self.include_all)
                .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD))


CITY_MULTI = VariableSpec("city", "City", q.VAR_CITY, multi=True, include_all=True)
CITY_ONE = VariableSpec("city", "City", q.VAR_CITY)
HALL_ONE = VariableSpec("hall", "Hall", q.VAR_HALL_OF_CITY)
HALL_MULTI = VariableSpec("hall", "Hall", q.VAR_HALLS_OF_CITIES, multi=True, include_all=True)
WINDOW_MULTI = VariableSpec("window", "Window", q.VAR_WINDOW, multi=True, include_all=True)


def _pos(w: int, h: int) -> model.GridPos:
    return model.GridPos(h=h, w=w, x=0, y=0)


def _trend(title: str, sql: str, unit: str, *, w: int = 12, max_: float | None = None) -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).datasource(datasource_ref()).with_target(Sql(sql, "time_series"))
             .unit(unit).min(0).span(w).height(8).interval("1m").span_nulls(False))
    return panel.max(max_) if max_ is not None else panel


def _table(title: str, sql: str, *, w: int = 12, h: int = 8) -> table.Panel:
    return table.Panel().title(title).datasource(datasource_ref()).with_target(Sql(sql, "table")).span(w).height(h)


def _stat(title: str, sql: str, *, w: int = 12) -> stat.Panel:
    return stat.Panel().title(title).datasource(datasource_ref()).with_target(Sql(sql, "table")).span(w).height(4)


def _dashboard(uid: str, title: str, variables: list[VariableSpec], panels: list[Any]) -> db.Dashboard:
    dash = (db.Dashboard(title).uid(uid).tags([TAG]).time("now-24h", "now").refresh("1m").timezone("browser")
            .editable())
    for variable in variables:
        dash = dash.with_variable(variable.builder())
    for panel in panels:
        dash = dash.with_panel(panel)
    return dash


def province_overview() -> db.Dashboard:
    return _dashboard("hallwatch-province", "Hallwatch: province overview", [CITY_MULTI], [
        _stat("Windows now", q.PROVINCE_WINDOWS_NOW),
        _stat("Cameras now", q.PROVINCE_CAMERAS_NOW),
        _trend("Windows staffed, by city", q.PROVINCE_STAFFED, "percent", max_=100),
        _trend("Mean queue length per queue zone, by city", q.PROVINCE_QUEUE, "short"),
        _trend("Cameras live, by city", q.PROVINCE_LIVE, "percent", max_=100),
        _table("Halls over the range (whole hours)", q.PROVINCE_HALLS),
    ])


def hall_detail() -> db.Dashboard:
    staffed = (statetimeline.Panel().title("Staffed share per window").datasource(datasource_ref())
               .with_target(Sql(q.HALL_STAFFED, "time_series")).unit("percent").min(0).max(100).span(24).height(8)
               .thresholds(db.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps([
                   model.Threshold(value=None, color="red"), model.Threshold(value=50, color="orange"),
                   model.Threshold(value=80, color="green")])))
    return _dashboard("hallwatch-hall", "Hallwatch: hall detail", [CITY_ONE, HALL_ONE, WINDOW_MULTI], [
        _table("Windows now", q.HALL_WINDOWS_NOW, w=24, h=6),
        staffed,
        _trend("Queue length per zone (mean, max)", q.HALL_QUEUE, "short"),
        _trend("Waiting time per zone (p50, p90 of people served)", q.HALL_WAIT, "s"),
    ])


def camera_health() -> db.Dashboard:
    return _dashboard("hallwatch-cameras", "Hallwatch: camera health", [CITY_MULTI, HALL_MULTI], [
        _table("Cameras now", q.CAMERAS_NOW, w=24),
        _trend("Live share per camera", q.CAMERAS_LIVE, "percent", w=24, max_=100),
        _table("Offline spells in the range", q.CAMERAS_OFFLINE_SPELLS, w=24),
    ])


DASHBOARDS = {"province-overview": province_overview, "hall-detail": hall_detail, "camera-health": camera_health}


def to_json(builder: cogbuilder.Builder[Any], *, datasource_type: str = DATASOURCE_TYPE) -> dict[str, Any]:
    """A dashboard as plain JSON, with the data source type set to `datasource_type`."""
    data: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    _retype(data, datasource_type)
    data["annotations"] = data.get("annotations") or {"list": []}
    for panel in data.get("panels", []):
        if panel.get("options") is None:  # Grafana's panel code expects an object
            panel["options"] = {}
    return data


def _retype(node: Any, type_: str) -> None:
    if isinstance(node, dict):
        if node.get("uid") == DATASOURCE_UID and "type" in node:
            node["type"] = type_
        for value in node.values():
            _retype(value, type_)
    elif isinstance(node, list):
        for value in node:
            _retype(value, type_)


def all_dashboards(*, datasource_type: str = DATASOURCE_TYPE) -> dict[str, dict[str, Any]]:
    """File stem -> dashboard JSON."""
    return {name: to_json(make(), datasource_type=datasource_type) for name, make in DASHBOARDS.items()}


def variable_specs(dashboard_json: dict[str, Any]) -> dict[str, VariableSpec]:
    """The template variables a dashboard JSON defines (name -> spec), as Grafana reads them."""
    return {v["name"]: VariableSpec(v["name"], v.get("label", ""), v["query"], bool(v.get("multi")),
                                    bool(v.get("includeAll")))
            for v in dashboard_json.get("templating", {}).get("list", [])}
