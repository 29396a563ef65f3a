"""`hallwatch eval DATASET`: presence, queue-count and waiting-time accuracy on labelled clips."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("eval", help="score the analytics on a labelled evaluation set (e.g. eval/)")
    parser.add_argument("dataset", type=Path, help="dataset directory (with dataset.yaml) or one clip directory")
    parser.add_argument("--subset", help="a subset named in dataset.yaml, e.g. ci or real")
    parser.add_argument("--clip", nargs="+", metavar="ID", help="only these clips")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--model", help="run this detector instead of each clip's own: a registered id "
                                                   "(`hallwatch models list`) or an ONNX file")
    parser.add_argument("--input-side", type=int, help="the detector input's longer side (detector.input_side)")
    parser.add_argument("--mode", choices=["frame", "zones"], help="whole frame or zone crops (detector.mode)")
    parser.add_argument("--check", action="store_true",
                        help="exit with 3 when a target is missed or a real clip counts worse than the plain detector")
    parser.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from tools.evaluate.dataset import load_dataset
    from tools.evaluate.runner import evaluate

    clips = load_dataset(args.dataset, subset=args.subset, only=args.clip)
    detector = {key: value for key, value in (("model", args.model), ("input_side", args.input_side),
                                               ("mode", args.mode)) if value is not None}
    report = evaluate(clips, progress=not args.no_progress, detector=detector)
    report = {"dataset": str(args.dataset), "subset": args.subset, "detector": detector, **report}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 3 if args.check and not report["meets_targets"] else 0


def format_report(report: dict[str, Any]) -> str:
    """Per clip the analytics' scores with the plain detector's on the same frames beside them
    ("analytics / plain"), real clips first; then the totals of each group."""
    def number(value: float | None, digits: int = 3) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    def pair(ours: float | None, plain: float | None, digits: int = 3) -> str:
        return f"{number(ours, digits)} / {number(plain, digits)}"

    lines = [f"{'clip':<24} {'labelled s':>10} {'presence (plain)':>17} {'false absent s':>14} "
             f"{'queue MAE (plain)':>17} {'no harm':>7} {'wait err s':>10} {'ms/frame':>8}"]
    for clip in sorted(report["per_clip"], key=lambda c: not c["real"]):
        plain = clip["plain"] or {}
        harm = {True: "yes", False: "NO", None: "n/a"}[clip["no_harm"]]
        lines.append(f"{clip['clip']:<24} {clip['labelled_seconds']:>10} "
                     f"{pair(clip['presence_accuracy'], plain.get('presence_accuracy')):>17} "
                     f"{str(clip['false_absent_s']) + ' / ' + str(plain.get('false_absent_s', 'n/a')):>14} "
                     f"{pair(clip['queue_mae'], plain.get('queue_mae')):>17} {harm:>7} "
                     f"{number(clip['wait_error_s'], 1):>10} {number(clip['ms_per_frame'], 0):>8}")
    targets = report["targets"]
    lines.append("")
    for name, group in report.get("groups", {}).items():
        plain = group["plain"] or {}
        lines.append(f"{name} ({len(group['clips'])} clips): presence "
                     f"{pair(group['presence_accuracy'], plain.get('presence_accuracy'))}, queue MAE "
                     f"{pair(group['queue_mae'], plain.get('queue_mae'))} (analytics / plain detector); "
                     f"no harm on every clip: {'yes' if group['no_harm'] else 'NO'}")
    lines += [
        f"all clips: presence accuracy {number(report['presence_accuracy'])} over {report['window_seconds']} "
        f"window-seconds (target on synthetic and labelled real desks >= {targets['presence_accuracy']})",
        f"false absent episodes {report['absent_flicker_episodes']}, of still officers "
        f"{report['still_officer_absent_episodes']} (target {targets['still_officer_absent_episodes']})",
        f"queue MAE {number(report['queue_mae'])} over {report['queue_seconds']} zone-seconds "
        f"(target on synthetic <= {targets['queue_mae']}, on real: no worse than the plain detector); "
        f"self-service MAE {number(report['self_service_mae'])}",
        f"waiting time p50 error {number(report['wait_error_s'], 1)} s, Little's law error "
        f"{number(report['littles_error_s'], 1)} s over {report['wait_minutes']} minutes"
        + ("" if report["waits_reported"] else " (the analyzer reports no waiting times)"),
        f"targets {'met' if report['meets_targets'] else 'MISSED'}; {report['elapsed_s']} s",
    ]
    return "\n".join(lines)
