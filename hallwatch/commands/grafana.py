"""`hallwatch grafana export DIR` and `hallwatch grafana provision --url URL --token-stdin`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashboards.provision import DatabaseTarget

DB_URL_ENV = "HALLWATCH_GRAFANA_DB_URL"


def register(commands: argparse._SubParsersAction) -> None:
    grafana = commands.add_parser("grafana", help="Grafana dashboards as code: export files or provision a server")
    sub = grafana.add_subparsers(dest="grafana_command", required=True, metavar="GRAFANA_COMMAND")

    export = sub.add_parser("export", help="write file-provisioning YAML and dashboard JSON into DIR")
    export.add_argument("dir", type=Path)
    export.add_argument("--dashboards-path",
                        help="where Grafana will read the dashboard JSON (default: DIR/dashboards, absolute)")
    _add_common(export)
    export.set_defaults(func=cmd_grafana_export)

    provision = sub.add_parser("provision", help="create or update the data source and dashboards in a Grafana")
    provision.add_argument("--url", required=True, help="Grafana's base URL, e.g. http://grafana:3000")
    provision.add_argument("--token-stdin", action="store_true", required=True,
                           help="read a Grafana service-account token from standard input")
    provision.add_argument("--timeout-s", type=float, default=10.0, help="per request (default: %(default)s)")
    _add_common(provision)
    provision.set_defaults(func=cmd_grafana_provision)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db-url", help=f"the database as Grafana reaches it, ideally a read-only role "
                                         f"(default: ${DB_URL_ENV}, else $HALLWATCH_DATABASE_URL)")
    parser.add_argument("--datasource-type", default=None,
                        help="Grafana's PostgreSQL plugin id: grafana-postgresql-datasource (default, "
                             "Grafana >= 10.2.3) or postgres (older)")
    parser.add_argument("--timescaledb", action="store_true", help="tell Grafana the database has TimescaleDB")
    parser.add_argument("--prometheus-url", help="Prometheus as Grafana reaches it, e.g. http://prometheus:9090: "
                                                 "adds its data source and the operations dashboard")


def _target(args: argparse.Namespace) -> DatabaseTarget:
    from dashboards.provision import DatabaseTarget

    url = args.db_url or os.environ.get(DB_URL_ENV) or os.environ.get("HALLWATCH_DATABASE_URL")
    return DatabaseTarget.from_url(url) if url else DatabaseTarget()


def _type(args: argparse.Namespace) -> str:
    from dashboards.grafana import DATASOURCE_TYPE

    return str(args.datasource_type or DATASOURCE_TYPE)


def cmd_grafana_export(args: argparse.Namespace) -> int:
    from dashboards.provision import PASSWORD_ENV, export

    written = export(args.dir, _target(args), dashboards_path=args.dashboards_path, type_=_type(args),
                     timescaledb=args.timescaledb, prometheus_url=args.prometheus_url)
    for path in written:
        print(path)
    print(f"the data source reads its password from ${PASSWORD_ENV} when Grafana starts", file=sys.stderr)
    return 0


def cmd_grafana_provision(args: argparse.Namespace) -> int:
    from grafana_client import GrafanaApi

    from core.errors import HallwatchError
    from dashboards.provision import provision

    token = sys.stdin.readline().strip()
    if not token:
        raise HallwatchError("no token on standard input (--token-stdin)")
    target = _target(args)
    if target.password is None:
        raise HallwatchError("the database URL for Grafana has no password (--db-url or $" + DB_URL_ENV + ")")
    api = GrafanaApi.from_url(args.url, credential=token, timeout=args.timeout_s)
    for line in provision(api, target, type_=_type(args), timescaledb=args.timescaledb,
                          prometheus_url=args.prometheus_url):
        print(line)
    return 0
