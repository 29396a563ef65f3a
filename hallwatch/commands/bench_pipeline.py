"""`hallwatch bench pipeline`: cameras one box analyses, against a naive baseline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(commands: argparse._SubParsersAction, bench_commands: argparse._SubParsersAction) -> None:
    bench = bench_commands.add_parser(
        "pipeline", help="most cameras analysed at their rate with p95 latency <= 2 s, vs a naive baseline")
    bench.add_argument("--cameras", type=int, default=128, help="most simulated cameras to try (default: %(default)s)")
    bench.add_argument("--duration", type=float, default=30.0, help="measured seconds per trial (default: %(default)s)")
    bench.add_argument("--warmup", type=float, default=15.0, help="seconds before measuring (default: %(default)s)")
    bench.add_argument("--processes", type=int, help="pipeline worker processes sharing the cameras, as "
                                                     "`hallwatch worker`s do (default: one per core)")
    bench.add_argument("--no-baseline", action="store_true", help="skip the Ultralytics baseline")
    bench.add_argument("--plot", type=Path, help="PNG to draw (default: docs/bench-pipeline.png in the repository)")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a table")
    bench.set_defaults(func=cmd_bench_pipeline)


def cmd_bench_pipeline(args: argparse.Namespace) -> int:
    from hallwatch.bench.pipeline import PLOT, bench_pipeline, summary

    report = bench_pipeline(max_cameras=args.cameras, warmup_s=args.warmup, duration_s=args.duration,
                            baseline=not args.no_baseline, plot=args.plot or PLOT, processes=args.processes)
    print(json.dumps(report, indent=2) if args.json else summary(report))
    return 0
