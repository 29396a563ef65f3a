"""`hallwatch bench queries [--json]`: the dashboards' province trends over months of minute data."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction, bench_commands: argparse._SubParsersAction) -> None:
    bench = bench_commands.add_parser("queries", help="dashboard query time over 90 days of minute data (rollups)")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    bench.add_argument("--days", type=float, default=90, help="days of minute data (default: %(default)s)")
    bench.add_argument("--windows", type=int, default=200, help="service windows (default: %(default)s)")
    bench.add_argument("--repeats", type=int, default=20, help="timed runs per query (default: %(default)s)")
    bench.add_argument("--data-dir", type=Path, help="embedded database location (default: a temporary directory); "
                                                     "ignored when HALLWATCH_DATABASE_URL is set")
    bench.set_defaults(func=cmd_bench_queries)


def cmd_bench_queries(args: argparse.Namespace) -> int:
    from hallwatch.bench.queries import run_queries_bench

    run_queries_bench(dsn=None, data_dir=args.data_dir, days=args.days, windows=args.windows, repeats=args.repeats,
                      as_json=args.json)
    return 0
