"""Hand the dashboards to Grafana: as files for Grafana's file provisioning (`export`), or through
its HTTP API with grafana-client (`provision`), creating or updating the PostgreSQL data source, a
folder and the dashboards, each by a fixed uid so that running it again changes nothing new. Given a
Prometheus URL, both also hand over the Prometheus data source and the operations dashboard over it
(`dashboards.metrics_dashboard`).

The database password never goes into a file: the exported data source reads it from the
environment variable PASSWORD_ENV when Grafana starts; `provision` sends it to Grafana's API only."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from psycopg.conninfo import conninfo_to_dict

from core.errors import HallwatchError
from core.redact import redact_text
from dashboards.grafana import DATASOURCE_TYPE, DATASOURCE_UID, FOLDER_UID, all_dashboards
from dashboards.metrics_dashboard import metrics_dashboards, prometheus_datasource

log = logging.getLogger(__name__)

DATASOURCE_NAME = "hallwatch"
FOLDER_TITLE = "Hallwatch"
PASSWORD_ENV = "HALLWATCH_GRAFANA_DB_PASSWORD"


class GrafanaError(HallwatchError):
    """Grafana cannot be reached or refused a request."""


@dataclass(frozen=True)
class DatabaseTarget:
    """Where Grafana's data source connects (preferably as a read-only role)."""

    host: str = "localhost"
    port: int = 5432
    database: str = "hallwatch"
    user: str = "hallwatch_grafana"
    password: str | None = field(default=None, repr=False)
    sslmode: str = "prefer"

    @classmethod
    def from_url(cls, url: str) -> DatabaseTarget:
        try:
            parts = conninfo_to_dict(url)
        except Exception as exc:
            raise HallwatchError(f"not a PostgreSQL URL: {redact_text(str(exc))}") from None
        host = str(parts.get("host") or "localhost")
        if host.startswith("/"):
            raise HallwatchError("Grafana connects over TCP: give the database URL a host name, not a socket")
        return cls(host=host, port=int(parts.get("port") or 5432), database=str(parts.get("dbname") or "hallwatch"),
                   user=str(parts.get("user") or "hallwatch_grafana"),
                   password=str(parts["password"]) if parts.get("password") else None,
                   sslmode=str(parts.get("sslmode") or "prefer"))


def datasource_payload(target: DatabaseTarget, *, type_: str = DATASOURCE_TYPE, timescaledb: bool = False,
                       password: str | None = None) -> dict[str, Any]:
    """The data source as Grafana's API and provisioning files take it (database in jsonData and
    the password in secureJsonData: Grafana 12 ignores the old top-level fields)."""
    payload: dict[str, Any] = {
        "name": DATASOURCE_NAME, "uid": DATASOURCE_UID, "type": type_, "access": "proxy",
        "url": f"{target.host}:{target.port}", "user": target.user, "isDefault": False,
        "jsonData": {"database": target.database, "sslmode": target.sslmode, "postgresVersion": 1500,
                     "timescaledb": timescaledb, "maxOpenConns": 10},
    }
    if password is not None:
        payload["secureJsonData"] = {"password": password}
    return payload


def dashboards_for(type_: str, prometheus_url: str | None) -> dict[str, dict[str, Any]]:
    """File stem -> JSON of the dashboards to hand over: those over Prometheus only with its URL."""
    return {**all_dashboards(datasource_type=type_), **(metrics_dashboards() if prometheus_url else {})}


def export(directory: Path, target: DatabaseTarget, *, dashboards_path: str | None = None,
           type_: str = DATASOURCE_TYPE, timescaledb: bool = False, prometheus_url: str | None = None) -> list[Path]:
    """Write provisioning/datasources, provisioning/dashboards and dashboards/*.json under
    `directory`; `dashboards_path` is where Grafana will find the JSON (default: the exported
    folder); `prometheus_url` (as Grafana reaches it) adds Prometheus and its dashboard. Returns the
    files written."""
    dash_dir = directory / "dashboards"
    ds_dir = directory / "provisioning" / "datasources"
    prov_dir = directory / "provisioning" / "dashboards"
    for d in (dash_dir, ds_dir, prov_dir):
        d.mkdir(parents=True, exist_ok=True)
    written = []
    for name, dashboard in dashboards_for(type_, prometheus_url).items():
        path = dash_dir / f"{name}.json"
        path.write_text(json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    source = datasource_payload(target, type_=type_, timescaledb=timescaledb, password=f"${PASSWORD_ENV}")
    sources = [source, *([prometheus_datasource(prometheus_url)] if prometheus_url else [])]
    for each in sources:
        each["editable"] = False
    datasources = {"apiVersion": 1, "datasources": sources}
    providers = {"apiVersion": 1, "providers": [{
        "name": "hallwatch", "orgId": 1, "folder": FOLDER_TITLE, "folderUid": FOLDER_UID, "type": "file",
        "disableDeletion": False, "allowUiUpdates": False, "updateIntervalSeconds": 60,
        "options": {"path": dashboards_path or str(dash_dir.resolve()), "foldersFromFilesStructure": False},
    }]}
    for path, content in ((ds_dir / "hallwatch.yaml", datasources), (prov_dir / "hallwatch.yaml", providers)):
        path.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8")
        written.append(path)
    return written


def dashboard_request(dashboard: dict[str, Any]) -> dict[str, Any]:
    """The body of POST /api/dashboards/db that creates or replaces a dashboard by its uid."""
    body = dict(dashboard)
    body.pop("id", None)  # matched by uid; an id would have to be that Grafana's own
    return {"dashboard": body, "folderUid": FOLDER_UID, "overwrite": True,
            "message": "hallwatch grafana provision"}


def _put_datasource(api: Any, payload: dict[str, Any]) -> str:
    """Create or update one data source by its uid; what was done."""
    from grafana_client.client import GrafanaClientError

    uid = payload["uid"]
    try:
        api.datasource.get_datasource_by_uid(uid)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.datasource.create_datasource(payload)
        return f"data source {uid}: created"
    api.datasource.update_datasource_by_uid(uid, payload)
    return f"data source {uid}: updated"


def provision(api: Any, target: DatabaseTarget, *, type_: str = DATASOURCE_TYPE,
              timescaledb: bool = False, prometheus_url: str | None = None) -> list[str]:
    """Create or update the data source(s), the folder and the dashboards through a
    `grafana_client.GrafanaApi`; returns what was done, one line each."""
    from grafana_client.client import GrafanaClientError, GrafanaException

    done = []
    payload = datasource_payload(target, type_=type_, timescaledb=timescaledb, password=target.password)
    try:
        done.append(_put_datasource(api, payload))
        if prometheus_url:
            done.append(_put_datasource(api, prometheus_datasource(prometheus_url)))
        try:
            api.folder.get_folder(FOLDER_UID)
            done.append(f"folder {FOLDER_UID}: kept")
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                raise
            api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            done.append(f"folder {FOLDER_UID}: created")
        for name, dashboard in dashboards_for(type_, prometheus_url).items():
            result = api.dashboard.update_dashboard(dashboard_request(dashboard))
            done.append(f"dashboard {dashboard['uid']} ({name}): {result.get('status', 'saved')}")
    except GrafanaException as exc:
        raise GrafanaError(f"Grafana refused a request ({exc.status_code}): {redact_text(str(exc.message))}") from None
    except Exception as exc:  # connection refused, DNS, TLS, timeouts from the HTTP client
        raise GrafanaError(f"cannot reach Grafana: {redact_text(str(exc))}") from None
    return done
