"""`hallwatch bench db | detector | pipeline | queries | scorecards | soak`: the benchmarks in `tools.bench`,
each measuring one number `docs/benchmarks.md` reports."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hallwatch.commands import data_dir_option


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    from tools.bench.pipeline import add_camera_options, add_mode_options

    add_camera_options(parser)
    add_mode_options(parser)


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="measure parts of hallwatch on this machine")
    sub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCH_COMMAND")

    db = sub.add_parser("db", help="sample-writer throughput against raw COPY")
    db.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    db.add_argument("--rows", type=int, default=200_000, help="samples to write (default: %(default)s)")
    data_dir_option(db, "a temporary directory")
    db.set_defaults(func=cmd_bench_db)

    detector = sub.add_parser("detector", help="ms per frame and recall per way of detecting")
    detector.add_argument("--json", action="store_true", help="print JSON instead of a table")
    detector.add_argument("--frames", type=int, default=20, help="timed frames per mode (default: %(default)s)")
    detector.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    detector.set_defaults(func=cmd_bench_detector)

    pipeline = sub.add_parser(
        "pipeline", help="most cameras analysed at their rate with p95 latency <= 2 s, vs a naive baseline")
    pipeline.add_argument("--cameras", type=int, default=128,
                          help="most simulated cameras to try (default: %(default)s)")
    pipeline.add_argument("--duration", type=float, default=30.0,
                          help="measured seconds per trial (default: %(default)s)")
    pipeline.add_argument("--warmup", type=float, default=15.0, help="seconds before measuring (default: %(default)s)")
    pipeline.add_argument("--processes", type=int, help="pipeline worker processes sharing the cameras, as "
                                                        "`hallwatch worker`s do (default: one per core)")
    pipeline.add_argument("--no-baseline", action="store_true", help="skip the Ultralytics baseline")
    pipeline.add_argument("--plot", type=Path, help="PNG to draw (default: docs/bench-pipeline.png in the repository)")
    pipeline.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_pipeline_options(pipeline)
    pipeline.set_defaults(func=cmd_bench_pipeline)

    soak = sub.add_parser("soak", help="cameras for an hour through workers and a database, with restarts: "
                                       "leaks and losses")
    from tools.bench.soak import add_soak_options

    add_soak_options(soak)
    soak.set_defaults(func=cmd_bench_soak)

    queries = sub.add_parser("queries", help="dashboard query time over 90 days of minute data (rollups)")
    queries.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    queries.add_argument("--days", type=float, default=90, help="days of minute data (default: %(default)s)")
    queries.add_argument("--windows", type=int, default=200, help="service windows (default: %(default)s)")
    queries.add_argument("--repeats", type=int, default=20, help="timed runs per query (default: %(default)s)")
    data_dir_option(queries, "a temporary directory")
    queries.set_defaults(func=cmd_bench_queries)

    scorecards = sub.add_parser("scorecards", help="time a month's scorecards over synthetic desk samples")
    scorecards.add_argument("--windows", type=int, default=20, help="rostered windows (default: %(default)s)")
    scorecards.add_argument("--days", type=int, default=30,
                            help="days of 1 Hz samples, 08:30-17:00 (default: %(default)s)")
    scorecards.add_argument("--json", action="store_true")
    data_dir_option(scorecards, "a temporary directory")
    scorecards.set_defaults(func=cmd_bench_scorecards)



def cmd_bench_db(args: argparse.Namespace) -> int:
    from tools.bench.db import run_db_bench

    run_db_bench(dsn=None, data_dir=args.data_dir, rows=args.rows, as_json=args.json)
    return 0


def cmd_bench_detector(args: argparse.Namespace) -> int:
    from tools.bench.detector import run_detector_bench

    run_detector_bench(frames=args.frames, threads=args.threads, as_json=args.json)
    return 0


def cmd_bench_pipeline(args: argparse.Namespace) -> int:
    from tools.bench.pipeline import PLOT, bench_pipeline, cameras_option, summary

    report = bench_pipeline(max_cameras=args.cameras, warmup_s=args.warmup, duration_s=args.duration,
                            baseline=not args.no_baseline, plot=args.plot or PLOT, processes=args.processes,
                            clip=cameras_option(args), end_to_end=args.end_to_end, start=args.start)
    print(json.dumps(report, indent=2) if args.json else summary(report))
    return 0


def cmd_bench_soak(args: argparse.Namespace) -> int:
    from tools.bench.soak import run_from_args

    return run_from_args(args)


def cmd_bench_queries(args: argparse.Namespace) -> int:
    from tools.bench.queries import run_queries_bench

    run_queries_bench(dsn=None, data_dir=args.data_dir, days=args.days, windows=args.windows, repeats=args.repeats,
                      as_json=args.json)
    return 0


def cmd_bench_scorecards(args: argparse.Namespace) -> int:
    from tools.bench.scorecards import run_scorecards_bench

    run_scorecards_bench(data_dir=args.data_dir, windows=args.windows, days=args.days, as_json=args.json)
    return 0
