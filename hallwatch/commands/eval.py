"""`hallwatch eval DATASET`: presence, queue-count and waiting-time accuracy on labelled clips."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("eval", help="score the analytics on a labelled evaluation set (e.g. eval/)")
    parser.add_argument("dataset", type=Path, help="dataset directory (with dataset.yaml) or one clip directory")
    parser.add_argument("--subset", help="a subset named in dataset.yaml, e.g. ci")
    parser.add_argument("--clip", nargs="+", metavar="ID", help="only these clips")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--check", action="store_true", help="exit with 3 when a target is missed")
    parser.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from tools.evaluate.dataset import load_dataset
    from tools.evaluate.runner import evaluate

    clips = load_dataset(args.dataset, subset=args.subset, only=args.clip)
    report = evaluate(clips, progress=not args.no_progress)
    report = {"dataset": str(args.dataset), "subset": args.subset, **report}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 3 if args.check and not report["meets_targets"] else 0


def format_report(report: dict[str, Any]) -> str:
    def number(value: float | None, digits: int = 3) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    lines = [f"{'clip':<24} {'seconds':>7} {'presence':>8} {'absent runs':>11} {'queue MAE':>9} "
             f"{'self-serv MAE':>13} {'wait err s':>10} {'ms/frame':>8}"]
    for clip in report["per_clip"]:
        lines.append(f"{clip['clip']:<24} {clip['seconds']:>7} {number(clip['presence_accuracy']):>8} "
                     f"{clip['absent_flicker_episodes']:>11} {number(clip['queue_mae']):>9} "
                     f"{number(clip['self_service_mae']):>13} {number(clip['wait_error_s'], 1):>10} "
                     f"{number(clip['ms_per_frame'], 0):>8}")
    targets = report["targets"]
    lines += [
        "",
        f"presence accuracy {number(report['presence_accuracy'])} over {report['window_seconds']} window-seconds "
        f"(target >= {targets['presence_accuracy']})",
        f"false absent episodes {report['absent_flicker_episodes']}, of still officers "
        f"{report['still_officer_absent_episodes']} (target {targets['still_officer_absent_episodes']})",
        f"queue MAE {number(report['queue_mae'])} over {report['queue_seconds']} zone-seconds "
        f"(target <= {targets['queue_mae']}); self-service MAE {number(report['self_service_mae'])}",
        f"waiting time p50 error {number(report['wait_error_s'], 1)} s, Little's law error "
        f"{number(report['littles_error_s'], 1)} s over {report['wait_minutes']} minutes"
        + ("" if report["waits_reported"] else " (the analyzer reports no waiting times)"),
        f"targets {'met' if report['meets_targets'] else 'MISSED'}; {report['elapsed_s']} s",
    ]
    return "\n".join(lines)
