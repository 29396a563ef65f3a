"""`hallwatch models`: the model registry, exporting Ultralytics weights to ONNX, and preparing the
site's detector (building its int8 model) ahead of the first start."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="person detection models")
    sub = models.add_subparsers(dest="models_command", required=True, metavar="MODELS_COMMAND")
    listing = sub.add_parser("list", help="the model registry and which files are present")
    listing.set_defaults(func=cmd_models_list)
    export = sub.add_parser("export", help="export Ultralytics .pt weights to ONNX (needs hallwatch[ultralytics])")
    export.add_argument("weights", type=Path, help="a local .pt file (never downloaded)")
    export.add_argument("--out", type=Path, help="ONNX file to write (default: WEIGHTS with .onnx beside it)")
    export.add_argument("--imgsz", type=int, nargs=2, default=[384, 640], metavar=("HEIGHT", "WIDTH"),
                        help="fixed input size; 384 640 suits 16:9 frames (default: %(default)s)")
    export.set_defaults(func=cmd_models_export)
    prepare = sub.add_parser("prepare", help="load the site's detector once, building what it needs (an int8 "
                                             "model, about a minute, for the models that have one) so that "
                                             "the first start is fast")
    prepare.add_argument("--site", type=Path, help="site file (default: its detector settings' defaults)")
    prepare.set_defaults(func=cmd_models_prepare)


def cmd_models_list(args: argparse.Namespace) -> int:
    from models.registry import load_registry

    registry = load_registry()
    for entry in registry.models:
        path = registry.locate(entry)
        where = str(path) if path is not None else "not installed"
        default = " (default)" if entry.id == registry.default else ""
        print(f"{entry.id}{default}: {entry.input_label}, classes {', '.join(entry.classes)}, "
              f"licence {entry.licence}, sha256 {entry.sha256[:12]}…, {where}")
    return 0


def cmd_models_export(args: argparse.Namespace) -> int:
    from models.onnx_detector import OnnxDetector
    from models.registry import sha256_of
    from models.ultralytics_backend import export_onnx

    out = args.out or args.weights.with_suffix(".onnx")
    written = export_onnx(args.weights, out, imgsz=tuple(args.imgsz))
    detector = OnnxDetector(written, threads=1)  # proves the file loads in the default backend
    print(f"{written}: input {detector.input_size[0]}x{detector.input_size[1]}, "
          f"classes {detector.class_names}, sha256 {sha256_of(written)}")
    print(f"use it with `detector: {{model: {written}}}` in the site file")
    return 0


def cmd_models_prepare(args: argparse.Namespace) -> int:
    from core.config import DetectorConfig, load_site
    from models import load_detector

    config = load_site(args.site).detector if args.site is not None else DetectorConfig()
    detector = load_detector(config)
    print(f"detector ready: {getattr(detector, 'path', type(detector).__name__)}")  # the int8 build's name ends -int8
    return 0
